"""The training code's shape: setup builds, the loop runs; data flows one way."""

import ast
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[1] / "acestep_train" / "train"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_loop_never_imports_setup():
    assert "acestep_train.train.setup" not in imported_modules(TRAIN / "trainer.py")


def test_no_private_fabric_reads():
    for path in TRAIN.glob("*.py"):
        assert "fabric._" not in path.read_text(), path


def test_precision_names_what_it_decides():
    import torch

    from acestep_train.train.precision import resolve_precision

    cpu = resolve_precision(None, "cpu")
    assert (cpu.fabric, cpu.weights, cpu.inputs) == ("32-true", torch.float32, torch.float32)
    bf16 = resolve_precision("bf16-mixed", "cpu")
    assert (bf16.weights, bf16.inputs, bf16.planner_name) == (torch.bfloat16, torch.float32, "bf16")
    assert resolve_precision("16-mixed", "cpu").planner_name == "fp16"
