"""What every tab gets: the launch settings and a path check that honours them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acestep_train.jobs import JobStore
from acestep_train.paths import resolve_within
from app.settings import AppSettings


@dataclass(frozen=True)
class AppContext:
    settings: AppSettings
    checkpoint_root: Path
    work_root: Path  # runs, tensors and jobs live here by default

    @property
    def jobs(self) -> JobStore:
        return JobStore(self.work_root / "jobs")

    def user_path(self, typed: str) -> Path:
        """A folder the user typed: confined to the roots when the app is exposed."""
        if self.settings.exposed:
            return resolve_within(typed, self.settings.roots)
        return Path(typed).expanduser().resolve()
