"""One run per run folder.

A training process holds ``<run>/.studio-lock`` (an exclusive ``flock``; the file names its pid and a
random token) from before its first write to its exit. The kernel drops the lock when the process
dies, so a lock file left by a killed run is recognised as stale by simply taking the lock. A second
process into a locked folder is refused at once, before it writes anything.

A fresh (non-resume) run into a folder that holds an earlier run (``run.json``, step checkpoints,
``best/`` or ``final/``) is refused unless the user chooses: resume it (``--resume-from latest``), a new
folder (``next_free_folder`` proposes ``run-2``, ``run-3``...), or ``--archive-previous``, which moves
the earlier run's files into ``<run>/archive/<UTC time>/`` (each move a rename: nothing is copied or
lost) before the new run starts; the user's own inputs there (``estimate.json``, ``advanced.json``) stay. So a run's checkpoints, ``best/`` and ``final/`` always come from it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from acestep_train.atomic_dir import fsync_path
from acestep_train.train.errors import TrainingError

LOCK = ".studio-lock"
ARCHIVE = "archive"
TOKEN_ENV = "ACESTEP_STUDIO_RUN_LOCK"  # set for the holder's DDP children: they belong to the held run
EARLIER = ("run.json", "checkpoints", "best", "final")
#: what a run writes into its folder (archived together); the user's inputs there (estimate.json...) stay
RUN_ITEMS = (*EARLIER, "events.jsonl", "samples", "tb", "control")


class RunFolderError(TrainingError):
    """The run folder cannot take this run (busy, or holding an earlier run)."""


@dataclass
class RunLock:
    path: Path
    fd: int | None
    token: str

    def release(self) -> None:
        """Remove the lock file while still holding it, then let go (a no-op for a DDP child's share)."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = None
            os.environ.pop(TOKEN_ENV, None)


def _flock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder_text(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}


def _busy(output: Path, holder: dict) -> RunFolderError:
    pid = holder.get("pid", "unknown")
    return RunFolderError(f"{output}: another training process (pid {pid}) is using this run folder; "
                          "wait for it to end, stop it, or choose another run folder")


def _open_lock(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                       0o666)
    except OSError as error:
        raise RunFolderError(f"{path}: cannot open the run folder's lock file ({error.strerror})") from error


def lock_run_folder(output: Path) -> RunLock:
    """Hold ``output``'s lock until ``release`` or exit; refuse at once when another process holds it."""
    path = output / LOCK
    if os.environ.get(TOKEN_ENV) and holder_of(output).get("token") == os.environ[TOKEN_ENV]:
        return RunLock(path, None, os.environ[TOKEN_ENV])  # a DDP child of the holder
    tries = 0
    while True:
        fd = _open_lock(path)
        if not _flock(fd):
            holder = _holder_text(fd)
            os.close(fd)
            tries += 1
            if "pid" not in holder and tries < 50:  # a UI's look (a shared lock) or a holder still writing its pid
                time.sleep(0.02)
                continue
            raise _busy(output, holder)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file we locked: lock the one now there
    token = secrets.token_hex(16)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "token": token, "started": time.time()}).encode(), 0)
    os.environ[TOKEN_ENV] = token
    return RunLock(path, fd, token)


def holder_of(output: Path) -> dict:
    """What the lock file of a held folder says (pid, token); {} when the folder is free."""
    path = output / LOCK
    if not path.is_file() or path.is_symlink():
        return {}
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return {}  # nobody holds it: a stale file from a run that died
        except BlockingIOError:
            return _holder_text(fd)
    except ImportError:
        return _holder_text(fd)
    finally:
        os.close(fd)


def check_free(output: Path) -> None:
    """For a UI before it queues a run: refuse a folder a training process holds."""
    holder = holder_of(output)
    if holder:
        raise _busy(output, holder)


def earlier_run(output: Path) -> list[str]:
    """What of an earlier run the folder holds (empty when none)."""
    found = [name for name in EARLIER if (output / name).exists()]
    if "checkpoints" in found and not any(p.name.isdigit() for p in (output / "checkpoints").iterdir()):
        found.remove("checkpoints")  # only leftovers of an interrupted save (cleaned at the start)
    return found


def next_free_folder(output: Path) -> Path:
    """``run`` -> ``run-2``; ``run-2`` -> ``run-3``: the first sibling that does not exist."""
    match = re.fullmatch(r"(.+)-(\d+)", output.name)
    base, number = (match.group(1), int(match.group(2)) + 1) if match else (output.name, 2)
    while (output.parent / f"{base}-{number}").exists():
        number += 1
    return output.parent / f"{base}-{number}"


def fresh_start_conflict(output: Path, resume_from: str | None, archive: bool) -> list[str]:
    """What of an earlier run this start would mix with ([] when it is fine: no earlier run, or the user
    chose to resume it or archive it). Resuming from a checkpoint of another folder is not resuming this run."""
    if archive and resume_from:
        raise RunFolderError(f"{output}: archiving the earlier run starts a new run and resuming continues one; "
                             "choose one")
    found = earlier_run(output)
    if archive or (resume_from and (resume_from == "latest" or _inside(Path(resume_from), output))):
        return []
    return found


def check_fresh_start(output: Path, resume_from: str | None, archive: bool) -> None:
    """Refuse a fresh run over an earlier one, unless it resumes that run or archives it."""
    found = fresh_start_conflict(output, resume_from, archive)
    if not found:
        return
    what = ("this run's" if not resume_from else f"resuming from {resume_from}, a checkpoint of another folder, "
            "would mix two runs; this folder's")
    raise RunFolderError(
        f"{output} holds an earlier run ({', '.join(found)}): a new run here would mix its checkpoints with "
        f"{what} files. Choose one: resume it (--resume-from latest), train into a new folder "
        f"({next_free_folder(output)}), or move the earlier run into {output / ARCHIVE}/<time>/ "
        "(--archive-previous)")


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def archive_previous(output: Path) -> Path | None:
    """Move what the earlier run wrote (``RUN_ITEMS``) into ``archive/<time>/``; None when there is nothing."""
    moving = [output / name for name in RUN_ITEMS if (output / name).exists() or (output / name).is_symlink()]
    if not moving:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = output / ARCHIVE / stamp
    number = 2
    while target.exists():
        target, number = output / ARCHIVE / f"{stamp}-{number}", number + 1
    staging = output / ARCHIVE / f".{target.name}.moving"
    staging.mkdir(parents=True)
    for path in moving:
        os.rename(path, staging / path.name)  # same folder tree: a rename, never a copy
    os.rename(staging, target)
    fsync_path(output / ARCHIVE)
    fsync_path(output)
    return target


def prepare_run_folder(output: Path, resume_from: str | None, archive: bool) -> tuple[RunLock, Path | None]:
    """Lock ``output``, refuse a fresh start over an earlier run, archive it when asked. (lock, archive)."""
    lock = lock_run_folder(output)
    if lock.fd is None:
        return lock, None  # a DDP child: its parent did the checks
    try:
        check_fresh_start(output, resume_from, archive)
        return lock, (archive_previous(output) if archive and earlier_run(output) else None)
    except BaseException:
        lock.release()
        raise
