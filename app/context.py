"""What every tab gets: the launch settings, the job store and a path check that honours them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acestep_train.jobs import JobStore
from acestep_train.paths import writable_within
from acestep_train.studio_state import jobs_folder
from app.errors import UserError
from app.settings import AppSettings


@dataclass(frozen=True)
class AppContext:
    settings: AppSettings
    checkpoint_root: Path
    work_root: Path  # runs and tensors live here by default

    @property
    def jobs(self) -> JobStore:
        """The job records, in the studio's own state folder (never inside a root)."""
        if self.settings.state_dir is None:
            raise ValueError("no state folder: build the settings with make_settings")
        return JobStore(jobs_folder(self.settings.state_dir))

    @property
    def data_root(self) -> Path:
        """Where song folders are looked for first: the first root after the checkpoint folder."""
        return self.settings.roots[1] if len(self.settings.roots) > 1 else self.work_root

    def user_path(self, typed: str) -> Path:
        """A path the user typed: inside a root (symlinks followed), on loopback too, and never inside the
        state folder, whose records are the studio's own (ValueError otherwise)."""
        return writable_within(typed, self.settings.roots, [self.settings.state_dir] if self.settings.state_dir else [])

    def path(self, typed: str, what: str = "folder") -> Path:
        """``user_path`` for a handler: an empty or refused path is a readable error in the UI."""
        if not str(typed).strip():
            raise UserError(f"Enter {'an' if what[:1] in 'aeiou' else 'a'} {what}.")
        try:
            return self.user_path(str(typed).strip())
        except ValueError as error:
            raise UserError(str(error)) from error

    def refuse_busy(self, kind: str, output: Path) -> None:
        """Refuse a second ``kind`` job into ``output`` while one is queued or running there (a double click)."""
        busy = [job for job in self.jobs.jobs() if job.kind == kind and job.active
                and Path(job.output_dir).resolve() == output.resolve()]
        if busy:
            raise UserError(f"{kind} job {busy[0].id} ({busy[0].status}) is already writing {output}; "
                            "nothing new was queued. Its progress shows in the status box.")

    def served(self, path: Path) -> bool:
        """Can the browser fetch this file (it lies in a root)?"""
        return any(path.resolve().is_relative_to(root) for root in self.settings.roots)
