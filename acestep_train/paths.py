"""One confinement rule for every path the UI or a job touches, on loopback or exposed.

A path is resolved (``..`` and symlinks followed) and accepted only when the result lies inside
one of the configured roots; otherwise it is refused with a ``ValueError`` naming it. The
studio's own state (job records, their secret) lives outside every root (``studio_state``);
``writable_within`` refuses it for a user's writes all the same.

The studio's roots reach job processes through ``ACESTEP_STUDIO_ROOTS`` (``os.pathsep``
separated), so config fields that name paths (``resume_from``, ``from_estimate``, profiles,
``dataset.json`` entries) pass the same rule inside a job. Run from a shell with no roots set,
the CLI trusts its user and reads any path.

Writes go through ``acestep_train.atomic`` (a temp file in the target's folder, then
``os.replace``): a symlink at the target is replaced, never followed.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOTS_ENV = "ACESTEP_STUDIO_ROOTS"
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: the status of a song (or a ``dataset.json`` entry) that is a link to a file outside the roots
OUTSIDE_LINK = "a link to a file outside the folders this studio serves: skipped"


def _inside(resolved: Path, root: Path) -> bool:
    root = root.resolve()
    return resolved == root or resolved.is_relative_to(root)


def resolve_within(path: str | Path, roots: tuple[Path, ...] | list[Path]) -> Path:
    """Resolve ``path`` (symlinks and ``..`` included); refuse it unless it lies in a root.

    Relative paths are taken relative to the first root.
    """
    if not roots:
        raise ValueError("no roots are configured; start the studio with --root DIR")
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = Path(roots[0]) / candidate
    resolved = candidate.resolve()
    if any(_inside(resolved, Path(root)) for root in roots):
        return resolved
    allowed = ", ".join(str(r) for r in roots)
    raise ValueError(f"{path}: outside the folders this studio serves ({allowed})")


def writable_within(path: str | Path, roots, reserved=()) -> Path:
    """``resolve_within``, also refusing the reserved folders (job records) for a user's writes."""
    resolved = resolve_within(path, roots)
    for folder in reserved:
        if _inside(resolved, Path(folder)):
            raise ValueError(f"{path}: inside {folder}, which holds the studio's job records and is not "
                             "writable from the UI")
    return resolved


# ----- the roots of this process (set by the UI, inherited by its jobs) ----------------------
def env_roots() -> tuple[Path, ...]:
    value = os.environ.get(ROOTS_ENV, "")
    return tuple(Path(item) for item in value.split(os.pathsep) if item.strip())


def export_roots(roots) -> None:
    """Record the roots in this process's environment, so jobs started from it inherit them (a job's
    environment comes from the studio process, never from its record)."""
    os.environ[ROOTS_ENV] = os.pathsep.join(str(Path(r).resolve()) for r in roots)


def confine(path: str | Path, what: str = "path") -> Path:
    """A path from a config field: held to the studio's roots when it has any, else taken as given."""
    roots = env_roots()
    if not roots:
        return Path(path).expanduser()
    try:
        return resolve_within(path, roots)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None


def named_location(path: str | Path) -> Path:
    """An absolute path with its folder resolved and its own name kept: a symlinked file stays named by
    its link (a song called ``intro.wav`` that links to ``take-7.wav`` is ``intro.wav``)."""
    path = Path(path).absolute()
    return path.parent.resolve() / path.name


def readable_link(path: Path, roots=None) -> bool:
    """May a file (maybe a symlink, or behind one) be read? Only when it resolves inside the roots."""
    roots = env_roots() if roots is None else tuple(roots)
    if not roots:
        return True
    resolved = path.resolve()
    return any(_inside(resolved, Path(root)) for root in roots)


# ----- reads that never follow a symlink ---------------------------------------------------
def read_nofollow(path: str | Path) -> bytes:
    """Read a file, refusing a symlink at ``path`` itself (OSError)."""
    fd = os.open(path, os.O_RDONLY | NOFOLLOW | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()
