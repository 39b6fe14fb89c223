"""The Dataset tab's "Hold out for validation" box: shows and writes one song's validation mark."""

from __future__ import annotations

from acestep_train.dataset.holdout import set_holdout
from app import dataset_ops as ops
from app.context import AppContext
from app.errors import UserError


def shown(ctx: AppContext, folder: str, name: str, txt_mode: str) -> bool:
    """The opened song's mark (False when no song is chosen)."""
    if not name:
        return False
    return ops.load_sample(ctx, folder, name, txt_mode).holdout  # its sidecars already read


def mark(ctx: AppContext, folder: str, name: str, txt_mode: str, held: bool) -> str:
    sample = ops.load_sample(ctx, folder, name, txt_mode)  # confined to the roots, named as a scan names it
    try:
        changed = set_holdout(sample.audio_path, bool(held), txt_mode)
    except ValueError as error:
        raise UserError(str(error)) from error
    what = ("held out for validation: it never trains when the run validates (preprocess again to carry the "
            "mark into the tensors)" if held else "trained on again (preprocess again to carry this into the tensors)")
    return f"{name}: {what}." if changed else f"{name}: already {'held out' if held else 'trained on'}."
