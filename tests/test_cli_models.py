"""The CLI twins of the Service tab: ``models`` and ``demo-model``."""

from __future__ import annotations

import json
import subprocess
import sys

from acestep_train.cli import main


def test_demo_model_then_models_lists_it(tmp_path, capsys):
    assert main(["demo-model", "--output-dir", str(tmp_path), "--layout", "diffusers", "--variants", "base"]) == 0
    assert (tmp_path / "tiny-base" / "model_index.json").is_file()
    capsys.readouterr()
    assert main(["models", "--checkpoint-dir", str(tmp_path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert (row["name"], row["layout"], row["variant"], row["official"]) == ("tiny-base", "diffusers", "base", False)
    assert row["parameters"] > 0 and row["missing"] == [] and row["dtypes"] == ["F32"]


def test_models_fails_loudly_when_nothing_found(tmp_path, capsys):
    assert main(["models", "--checkpoint-dir", str(tmp_path)]) == 1
    assert "no ACE-Step 1.5 models found" in capsys.readouterr().out


def test_models_exit_code_flags_incomplete_models(tmp_path, tiny_original, capsys):
    import shutil

    shutil.copytree(tiny_original, tmp_path / "c")
    (tmp_path / "c" / "vae" / "config.json").unlink()
    assert main(["models", "--checkpoint-dir", str(tmp_path / "c")]) == 1
    assert "missing vae/config.json" in capsys.readouterr().out


def test_bad_layout_choice_is_an_argparse_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "acestep_train", "demo-model", "--output-dir", str(tmp_path), "--layout", "zip"],
        capture_output=True, text=True,
    )
    assert result.returncode == 2 and "invalid choice: 'zip'" in result.stderr


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "acestep_train", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("models", "demo-model", "download"):
        assert command in result.stdout
