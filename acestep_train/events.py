"""``events.jsonl``: one JSON object per line, the channel from a job to the UI.

Every long job (preprocess, train, estimate, caption, merge) appends events here; the UI
polls the file, so a job survives a closed tab and a reloaded page reattaches to it.
Each line is written whole and flushed, so a reader never sees half an event. A line cut
short by a kill -9 is closed when the log is reopened (a resumed run) and skipped by readers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from acestep_train import safe_json


class EventLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.close_cut_line()

    def close_cut_line(self) -> None:
        """End a last line left unterminated by a killed writer, so the next event starts its own line."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as handle:
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                handle.write(b"\n")

    def emit(self, event: str, **fields) -> dict:
        record = {"time": round(time.time(), 3), "event": event, **fields}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        return record


def read_events(path: str | Path, start_line: int = 0) -> list[dict]:
    """Events from line ``start_line`` on; a partly written last line is left for next time."""
    path = Path(path)
    if not path.is_file():
        return []
    events = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number < start_line or not line.endswith("\n"):
                continue
            try:
                events.append(safe_json.loads(line, str(path)))
            except ValueError:
                continue  # a line cut short by a killed writer, or one too big or nested too deeply
    return events
