"""Keep user-typed paths inside the configured roots when the studio is exposed."""

from __future__ import annotations

from pathlib import Path


def resolve_within(path: str | Path, roots: tuple[Path, ...] | list[Path]) -> Path:
    """Resolve ``path`` (symlinks and ``..`` included); refuse it unless it lies in a root.

    Relative paths are taken relative to the first root.
    """
    if not roots:
        raise ValueError("no roots are configured; start the studio with --root DIR")
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    resolved = candidate.resolve()
    for root in roots:
        if resolved == root.resolve() or resolved.is_relative_to(root.resolve()):
            return resolved
    allowed = ", ".join(str(r) for r in roots)
    raise ValueError(f"{path}: outside the folders this studio serves ({allowed})")
