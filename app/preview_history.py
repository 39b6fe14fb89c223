"""The Train tab's preview history: every preview a run made (``samples`` events), labelled by step and strength.

Each ``samples`` event names the WAVs one preview wrote into ``samples/<step>/``, one per adapter strength.
The history is a table, newest step first: a row per step, a column per strength, a player in each cell
(fetched through Gradio's file route, so only files inside the roots are linked; the others are named).
A run keeping an EMA of the adapter with EMA previews on (``ema.previews``) adds ``ema_files``: drawn as a
second row under its step, "step N · EMA".
At most ``ROWS`` steps are drawn; a step picked from the list shows that step and the ones before it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROWS = 10  # steps drawn at once; an older one is reached by picking it


@dataclass(frozen=True)
class Preview:
    step: int
    clips: dict[str, str]  # adapter strength (as the event writes it, e.g. "1.0") -> WAV path
    ema_clips: dict[str, str] = field(default_factory=dict)  # the same for the EMA of the adapter, if rendered


def preview_history(events: list[dict]) -> list[Preview]:
    """Every preview in the events, newest step first (a step previewed twice, e.g. after a resume: the newest)."""
    by_step: dict[int, Preview] = {}
    for event in events:
        if event["event"] == "samples":
            step = int(event["step"])
            by_step[step] = Preview(step, dict(event["files"]), dict(event.get("ema_files", {})))
    return [by_step[step] for step in sorted(by_step, reverse=True)]


def run_previews(events: list[dict], job_events: list[dict]) -> list[dict]:
    """The ``samples`` events of this job, plus those before it when it resumed in the same folder (the loss
    plot's rule: what came before the job's first step belongs to the run it continues)."""
    first = next((e["step"] for e in job_events if e["event"] == "step"), None)
    current = [e for e in job_events if e["event"] == "samples"]
    if first is None:
        return current
    return [e for e in events if e["event"] == "samples" and e["step"] < first] + current


def shown_rows(history: list[Preview], upto: int | None, rows: int = ROWS) -> list[Preview]:
    """The rows drawn: ``rows`` steps from ``upto`` (a picked step; None or a step not in the run: the newest) back."""
    steps = [preview.step for preview in history]
    start = steps.index(upto) if upto in steps else 0
    return history[start:start + rows]


def strengths(history: list[Preview]) -> list[str]:
    return sorted({scale for preview in history for scale in (*preview.clips, *preview.ema_clips)}, key=float)


def file_url(path: str) -> str:
    """Gradio's file route for ``path`` (relative, so a page served under a sub-path still finds it)."""
    return "gradio_api/file=" + quote(str(Path(path)), safe="/:")


def cell(row: str, scale: str, path: str | None, served: Callable[[Path], bool]) -> str:
    if not path:
        return "<td>—</td>"
    label = html.escape(f"{row}, strength {scale}")
    if not served(Path(path)):
        return f'<td title="{label}">{html.escape(Path(path).name)} (outside the roots)</td>'
    return (f'<td><audio controls preload="none" title="{label}" aria-label="{label}" '
            f'src="{html.escape(file_url(path))}"></audio></td>')


def row(name: str, clips: dict[str, str], scales: list[str], served: Callable[[Path], bool]) -> str:
    return (f"<tr><th>{html.escape(name)}</th>" + "".join(cell(name, scale, clips.get(scale), served) for scale in scales)
            + "</tr>")


def history_html(history: list[Preview], upto: int | None, served: Callable[[Path], bool]) -> str:
    """The table: a row per step (newest first), a column per strength, a player in each cell."""
    if not history:
        return "<p class='preview-history'>No previews yet: set 'Preview every N steps', or press Sample now.</p>"
    rows, scales = shown_rows(history, upto), strengths(history)
    head = "".join(f"<th>strength {html.escape(scale)}</th>" for scale in scales)
    body = "".join(row(f"step {preview.step}", preview.clips, scales, served)
                   + (row(f"step {preview.step} · EMA", preview.ema_clips, scales, served) if preview.ema_clips else "")
                   for preview in rows)
    more = len(history) - len(rows)
    note = (f"<caption>{len(history)} previews; showing steps {rows[0].step} to {rows[-1].step}"
            + (f" ({more} more: pick a step)" if more else "") + "</caption>")
    return f"<table class='preview-history'>{note}<tr><th></th>{head}</tr>{body}</table>"


def step_choices(history: list[Preview]) -> list[tuple[str, int]]:
    """The step picker: (label, step), newest first."""
    return [(f"step {preview.step}", preview.step) for preview in history]


def picked(history: list[Preview], upto: int | None) -> Preview | None:
    """The step the players show: the picked one, else the newest (None before the first preview)."""
    rows = shown_rows(history, upto, 1)
    return rows[0] if rows else None


def player_clips(preview: Preview | None, count: int = 3) -> list[tuple[str | None, str | None]]:
    """(strength, WAV) of ``preview`` for ``count`` players, padded with (None, None)."""
    clips = list(preview.clips.items())[:count] if preview else []
    return clips + [(None, None)] * (count - len(clips))
