"""A project: one folder holding a musician's songs, tensors, runs and exports.

The user picks or creates it once (the Project tab); every tab derives its folder fields from it.
The choice lives in ``<work root>/project.json`` (the studio's state folder), so a reload or a
new browser finds it again. Pure functions of paths: no Gradio here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from acestep_train import safe_json
from acestep_train.atomic import atomic_write_json

FILE = "project.json"
PARTS = ("songs", "tensors", "runs", "exports")


@dataclass(frozen=True)
class Project:
    folder: Path

    @property
    def songs(self) -> Path:
        return self.folder / "songs"

    @property
    def tensors(self) -> Path:
        return self.folder / "tensors"

    @property
    def run(self) -> Path:
        return self.folder / "runs" / "run"

    @property
    def exports(self) -> Path:
        return self.folder / "exports"

    @property
    def latest_run(self) -> Path:
        """The run folder under ``runs/`` that trained last (its ``run.json`` newest), else ``runs/run``."""
        runs = self.folder / "runs"
        found = [p for p in runs.glob("*/run.json") if p.is_file()] if runs.is_dir() else []
        return max(found, key=lambda p: p.stat().st_mtime).parent if found else self.run

    def create(self) -> list[str]:
        """Make the missing parts; returns the names of those made."""
        made = [part for part in PARTS if not (self.folder / part).is_dir()]
        for part in PARTS:
            (self.folder / part).mkdir(parents=True, exist_ok=True)
        return made

    def fields(self) -> dict[str, str]:
        """{"<tab>.<field>": folder} for every path field a tab derives from the project."""
        return {"dataset.folder": str(self.songs), "autolabel.folder": str(self.songs),
                "preprocess.source": str(self.songs), "preprocess.output": str(self.tensors),
                "train.tensors": str(self.tensors), "train.output": str(self.run), "export.run": str(self.run),
                "export.output": str(self.exports), "export.merged": str(self.exports / "merged"),
                "compare.run": str(self.latest_run), "compare.output": str(self.folder / "compare"),
                "compare.folder": str(self.exports / "chosen")}

    def describe(self) -> str:
        songs = sum(1 for p in self.songs.iterdir() if p.is_file()) if self.songs.is_dir() else 0
        tensors = (self.tensors / "manifest.json").is_file()
        runs = (self.run / "final").is_dir()
        return (f"**Project {self.folder.name}** ({self.folder})  \n"
                f"songs/: {songs} files · tensors/: {'ready' if tensors else 'not yet (step 4)'} · "
                f"runs/run: {'a final adapter' if runs else 'no finished run yet (step 5)'} · exports/")


def save_project(state_dir: Path, project: Project) -> None:
    atomic_write_json(state_dir / FILE, {"folder": str(project.folder)})


def load_project(state_dir: Path) -> Project | None:
    """The project chosen last, or None (none chosen yet, or its record is unreadable: said on the console)."""
    record = state_dir / FILE
    if not record.is_file():
        return None
    try:
        return Project(Path(safe_json.load_file(record)["folder"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"{record}: not a project record ({error}); choose the project again", file=sys.stderr, flush=True)
        return None
