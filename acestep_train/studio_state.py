"""The studio's own state folder: job records and the secret that signs them, outside every root.

Chosen by ``--state-dir``, else ``$ACESTEP_STUDIO_STATE``, else ``$XDG_STATE_HOME/acestep-studio``
(``~/.local/state/acestep-studio``; ``%LOCALAPPDATA%\\acestep-studio`` on Windows). It is created
0700 and must be yours. A folder inside a served root (or holding one) is refused at start-up:
anyone who can write into a root (the UI, another local user, an unpacked project) could
otherwise plant job records there.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_ENV = "ACESTEP_STUDIO_STATE"
JOBS = "jobs"


def default_state_dir() -> Path:
    if os.environ.get(STATE_ENV, "").strip():
        return Path(os.environ[STATE_ENV]).expanduser()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "acestep-studio"
    base = os.environ.get("XDG_STATE_HOME", "").strip() or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "acestep-studio"


def prepare_state_dir(chosen: str | Path | None, roots) -> Path:
    """The state folder (``chosen``, else the default), resolved, created 0700; ValueError when it
    overlaps a served root or belongs to another user."""
    folder = (Path(chosen).expanduser() if chosen else default_state_dir()).resolve()
    for root in map(Path, roots):
        if folder == root or folder.is_relative_to(root) or root.is_relative_to(folder):
            where = "inside" if folder.is_relative_to(root) else "holding"
            raise ValueError(f"state folder {folder}: {where} the served folder {root}. Job records there could be "
                             "written through the UI or by anyone who can write that folder; choose a state folder "
                             "outside every --root with --state-dir DIR")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ValueError(f"state folder {folder}: belongs to another user (uid {info.st_uid}); choose your own "
                         "with --state-dir DIR")
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder


def jobs_folder(state: Path) -> Path:
    """Where the job records live: ``<state folder>/jobs``."""
    return Path(state) / JOBS
