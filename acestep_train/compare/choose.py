"""The user's pick: mark a favourite cell, and export a checkpoint at the chosen strength.

``at_strength`` bakes the strength into the factors (LoRA: ``up``; LoKr: ``w1`` or ``w1_a``; LoHA: ``hada_w1_a``), so
every consumer loads it at ratio 1.0 and plays exactly what the grid played; the strength is
also recorded in the export's ``acestep_studio`` metadata, and so are the cell's bench scores
(``bench_scores``: distance, loss, style, adherence, KAD, the prompt) when the export comes from
the bench. ``export_choice`` reads the written
file back and checks its deltas equal ``strength x`` the checkpoint's.
"""

from __future__ import annotations

from pathlib import Path

from acestep_train import safe_json
from acestep_train.atomic import atomic_write_json
from acestep_train.compare.score_names import SCORES
from acestep_train.export.adapter_state import Adapter, LoraFactors

TOLERANCE = 1e-5
DORA_STRENGTH = ("a DoRA's strength cannot be baked into its factors: its magnitude rescales the whole weight, so "
                 "strength t means W + t x (W_dora - W), which needs the base weights. Export it at strength 1.0, "
                 "or merge it into the model at this strength (merge --strength)")


def cell_scores(grid: dict, cell: dict) -> dict:
    """What the bench measured for ``cell`` (only the scores it has), with its prompt and the base's scores."""
    scores = {key: cell[key] for key in SCORES if key in cell}
    scores["prompt"] = grid["prompts"][cell["prompt"]]
    base = grid.get("base_scores")
    if base:
        scores["base"] = {**base["clips"][cell["prompt"]], "kad": base["kad"]}
    return scores


def at_strength(adapter: Adapter, strength: float) -> Adapter:
    """A copy whose deltas are ``strength x`` the adapter's, at runtime scale unchanged."""
    if adapter.kind == "dora" and strength != 1.0:
        raise ValueError(DORA_STRENGTH)
    modules: dict = {}
    for name, factors in adapter.modules.items():
        if adapter.kind == "dora":
            modules[name] = factors
        elif isinstance(factors, LoraFactors):
            modules[name] = LoraFactors(factors.down, factors.up * strength, factors.alpha)
        else:
            tensors = dict(factors.tensors)
            key = next(k for k in ("lokr_w1", "lokr_w1_a", "hada_w1_a") if k in tensors)
            tensors[key] = tensors[key] * strength
            modules[name] = type(factors)(tensors, factors.alpha)
    metadata = {**adapter.metadata, "strength": strength, "strength_baked_in": True}
    return Adapter(adapter.kind, modules, metadata, dict(adapter.lokr_config))


def export_choice(checkpoint: str | Path, strength: float, fmt: str, output: str | Path,
                  lokr_to_lora: bool = False, scores: dict | None = None) -> tuple[Path, float]:
    """Export ``checkpoint`` with ``strength`` baked in (and ``scores`` in its metadata, when given);
    returns (file, max |delta error|) after reading back."""
    from acestep_train.export.exporter import export_adapter, read_written
    from acestep_train.export.load import load_adapter

    adapter = load_adapter(checkpoint)
    chosen = at_strength(adapter, strength)
    if scores is not None:
        chosen.metadata["bench_scores"] = scores
    written = export_adapter(chosen, fmt, Path(output), lokr_to_lora=lokr_to_lora)
    back = read_written(written).comparable()
    expected = adapter.comparable() if adapter.kind == "dora" else adapter.deltas(strength)
    error = max((back[k] - expected[k]).abs().max().item() for k in expected)
    if back.keys() != expected.keys() or error > TOLERANCE * max(1.0, max(abs(strength), 1.0)):
        raise RuntimeError(f"{written}: read back, it does not hold the checkpoint at strength {strength}")
    return written, error


def mark_favourite(grid_path: str | Path, checkpoint: str, strength: float, prompt: int = 0) -> dict:
    """Record the favourite cell in ``grid.json``; the cell must exist."""
    grid_path = Path(grid_path)
    grid = safe_json.load_file(grid_path)
    cell = next((c for c in grid["cells"] if c["checkpoint"] == checkpoint and c["strength"] == strength
                 and c["prompt"] == prompt), None)
    if cell is None:
        raise ValueError(f"{grid_path}: no cell {checkpoint} at strength {strength} (prompt {prompt + 1})")
    path = next(c["path"] for c in grid["checkpoints"] if c["label"] == checkpoint)
    grid["favourite"] = {"checkpoint": checkpoint, "strength": strength, "prompt": prompt, "path": path,
                         "scores": cell_scores(grid, cell)}
    atomic_write_json(grid_path, grid)
    return grid["favourite"]


def favourite_scores(grid_folder: str | Path, adapter: str | Path, strength: float) -> dict:
    """The scores of the favourite marked in ``<grid_folder>/grid.json``; it must be ``adapter`` at ``strength``."""
    path = Path(grid_folder)
    path = path / "grid.json" if path.is_dir() else path
    favourite = safe_json.load_file(path).get("favourite")
    if not favourite:
        raise ValueError(f"{path}: no favourite marked yet (Mark favourite on the Compare tab)")
    if Path(favourite["path"]).resolve() != Path(adapter).resolve() or favourite["strength"] != strength:
        raise ValueError(f"{path}: the favourite is {favourite['path']} at strength {favourite['strength']:g}, "
                         f"not {adapter} at {strength:g}")
    if "scores" not in favourite:
        raise ValueError(f"{path}: the favourite was marked before the bench kept scores; mark it again")
    return favourite["scores"]
