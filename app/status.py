"""A job's state in words: progress with ETA, the summary of what was skipped or failed, the error.

Pure functions of a job record, its events and its log, so they are tested without a browser.
Only events written since the job started count: an output folder reused by a later job keeps
the earlier job's lines in its ``events.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import re

from acestep_train.events import read_events
from acestep_train.jobs import EXIT_PARTIAL, Job, JobStore
from app.validation_view import validation_lines

SHOWN_FAILURES = 10
ERROR_LINES = 12
#: what a job's exit code means (the CLI's: 2 = refused input, as ``cli.main`` returns it)
EXIT_MEANINGS = {0: "finished", EXIT_PARTIAL: "finished, some songs skipped", 1: "failed: an error, see the log",
                 2: "refused: bad input, see the log"}
#: what audio decoders print to stderr about a damaged MP3 (the song's own status says what matters)
DECODER_NOISE = re.compile(r"libmpg123|Hit end of \(available\) data|Illegal Audio-MPEG-Header|"
                           r"Trying to resync|Skipped \d+ bytes in input")
WRAPPER_LINE = re.compile(r"^job \w+ \((exit code|killed)")  # the job wrapper's own last line


def exit_text(code: int | None) -> str:
    """``10 (finished, some songs skipped)``; a negative code is the signal that ended the process."""
    if code is None:
        return ""
    if code < 0:
        return f"{code} (killed by signal {-code})"
    return f"{code} ({EXIT_MEANINGS.get(code, 'failed: see the log')})"


def result_line(log_tail: str) -> str:
    """The last line a finished job printed itself (e.g. a merge's output folder and strength)."""
    lines = [line.strip() for line in log_tail.splitlines() if line.strip() and not WRAPPER_LINE.match(line.strip())]
    return lines[-1][-300:] if lines else ""


def job_events(job: Job, events: list[dict] | None = None) -> list[dict]:
    """The events this job wrote (its output folder may hold earlier jobs' events too)."""
    if events is None and not job.output_dir:
        return []  # a broken record names no folder
    if events is None:
        events = read_events(Path(job.output_dir) / "events.jsonl")
    since = (job.started or job.created) - 1.0
    return [event for event in events if event["time"] >= since]


def duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_line(events: list[dict], eta: bool = True) -> str:
    """The latest progress: songs done (preprocess, captions) or the training step (ETA only while it runs)."""
    last = next((e for e in reversed(events) if e["event"] in ("progress", "step")), None)
    if last is None:
        return ""
    if last["event"] == "progress":
        line = f"{last['done']}/{last['total']} ({last['stage']})"
        line += f", {last['sample']}" if last.get("sample") else ""
        return line + f", ETA {duration(last['eta_s'])}" if "eta_s" in last and eta else line
    start = next((e for e in reversed(events) if e["event"] == "start" and "total_steps" in e), None)
    total = f"/{start['total_steps']}" if start else ""
    return (f"step {last['step']}{total} (epoch {last['epoch'] + 1}), loss {last['loss']:.4f} "
            f"(smoothed {last['smoothed_loss']:.4f}), lr {last['lr']:.2e}"
            + (f", ETA {duration(last['eta_s'])}" if eta else ""))


@dataclass(frozen=True)
class Progress:
    """How far a job is: ``done`` of ``total`` (songs, clips or training steps), the seconds left if known."""
    done: int
    total: int
    unit: str  # "songs", "steps"...: what done and total count
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, max(0.0, self.done / self.total)) if self.total > 0 else 0.0


def progress_of(events: list[dict]) -> Progress | None:
    """The latest ``progress`` (preprocess, captions, renders) or training ``step`` event as a Progress; None
    before the first one, or for a training run whose ``start`` event (its total steps) is missing."""
    last = next((e for e in reversed(events) if e["event"] in ("progress", "step")), None)
    if last is None:
        return None
    if last["event"] == "progress":
        return Progress(int(last["done"]), int(last["total"]), last.get("stage", ""), last.get("eta_s"))
    start = next((e for e in reversed(events) if e["event"] == "start" and "total_steps" in e), None)
    if start is None:
        return None
    return Progress(int(last["step"]), int(start["total_steps"]), "steps", last.get("eta_s"))


def failure_text(item) -> str:
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return f"{Path(str(item[0])).name}: {item[1]}"
    return str(item)


DONE_WORDS = {"autolabel": "labelled", "caption": "labelled"}  # BPM or key alone is a label, not a caption
SKIP_WORDS = {"preprocess": "unchanged (already preprocessed)", "autolabel": "skipped (already labeled)",
              "caption": "skipped (already labeled)"}


def summary_lines(event: dict, kind: str = "", finished: bool = False) -> list[str]:
    """A ``summary`` event: counts, then the files that were skipped or failed and why.

    In a job that finished, the files it could not use were skipped (the batch went on without them).
    """
    failed = event.get("failed") or []
    bad = "skipped" if finished else "failed"
    counts = [f"{event['done']} {DONE_WORDS.get(kind, 'done')}"]
    counts += [f"{event['skipped']} {SKIP_WORDS.get(kind, 'skipped (unchanged or already done)')}"] \
        if event.get("skipped") else []
    counts += [f"{event['removed']} stale removed"] if event.get("removed") else []
    counts += [f"{len(failed)} {bad}"]
    lines = ["Summary: " + ", ".join(counts)]
    lines += [f"  {bad} {failure_text(item)}" for item in failed[:SHOWN_FAILURES]]
    if len(failed) > SHOWN_FAILURES:
        lines.append(f"  ... and {len(failed) - SHOWN_FAILURES} more (see the log)")
    return lines


def headline(job: Job, summary: dict | None, waiting_for: str | None = None) -> str:
    """``preprocess <id>: finished, 2 skipped`` / ``... failed (exit code 1)`` / ``... queued: waits for ...``."""
    head = f"{job.kind} {job.id}: {job.status}"
    if job.status == "broken":
        return f"{head}: {job.problem}"
    if job.ended_by:
        head += f" ({job.ended_by})"
    elif job.status == "failed":
        head += f" (exit code {job.exit_code})" if job.exit_code is not None else " (the process was killed)"
    if job.status == "finished" and summary and summary.get("failed"):
        head += f", {len(summary['failed'])} skipped"
    if job.status == "queued":
        head += f": waits for {waiting_for} (same GPU); Stop cancels it" if waiting_for else ": starting"
    return head


def notes(events: list[dict]) -> list[str]:
    """Warnings and other messages worth reading (the last few)."""
    kinds = ("warning", "nan", "early_stop", "stopped", "resumed")
    return [f"{e['event']}: {e['message']}" for e in events if e["event"] in kinds and "message" in e][-3:]


def without_noise(log_tail: str) -> str:
    return "\n".join(line for line in log_tail.splitlines() if not DECODER_NOISE.search(line))


def describe(job: Job, events: list[dict], log_tail: str, waiting_for: str | None = None) -> str:
    """Several lines for a status box: the outcome first (it stays), then how far, then what went wrong."""
    log_tail = without_noise(log_tail)
    summary = next((e for e in reversed(events) if e["event"] == "summary"), None)
    lines = [headline(job, summary, waiting_for)]
    if job.status == "broken":
        return lines[0]
    if summary and not job.active:
        lines += summary_lines(summary, job.kind, finished=job.status == "finished")
    progress = progress_line(events, eta=job.active)
    if progress:
        lines.append(progress)
    elif job.status in ("running", "stopping") and log_tail:
        lines.append(log_tail.splitlines()[-1][-200:])  # e.g. a download's progress bar or model loading
    elif job.status == "finished" and not summary and result_line(log_tail):
        lines.append(result_line(log_tail))  # a job without events (merge, download): what it wrote, where
    if summary and job.active:
        lines += summary_lines(summary, job.kind)
    finished = next((e for e in reversed(events) if e["event"] == "finished" and "final" in e), None)
    if finished:
        lines.append(f"adapter: {finished['final']} (from {finished['final_from']})"
                     + (f"; its EMA: {finished['final_ema']}" if "final_ema" in finished else ""))
    lines += validation_lines(events)
    lines += notes(events)
    if job.status == "failed":
        lines += ["Last lines of the log:", *log_tail.splitlines()[-ERROR_LINES:]]
    return "\n".join(lines)


def blocker(store: JobStore, job: Job) -> str | None:
    """The running job a queued ``job`` waits for (one on the same GPU), as ``<kind> <id>``."""
    if job.status != "queued":
        return None
    holder = next((j for j in store.jobs() if j.status in ("running", "stopping") and set(j.gpus) & set(job.gpus)),
                  None)
    return f"{holder.kind} {holder.id}" if holder else None


def job_status(store: JobStore, job: Job) -> str:
    return describe(job, job_events(job), store.log_tail(job.id, 40), blocker(store, job))


def kind_status(store: JobStore, kind: str) -> str:
    """The status box of a tab: the newest job of ``kind``."""
    job = store.latest(kind)
    if job is None:
        return f"No {kind.replace('_', ' ')} job yet."
    return job_status(store, job)


def submitted(store: JobStore, job: Job) -> str:
    """The message after a button submitted ``job``: started, or queued and behind which job."""
    if job.status == "queued":
        return (f"Queued {job.kind} job {job.id}: it waits for {blocker(store, job) or 'its GPU'} to end "
                "(the Jobs panel can cancel it).")
    return f"Started {job.kind} job {job.id}; its progress and summary show below."


def stop_words(job: Job, action: str) -> str:
    """What a press of Stop did, in words (``JobStore.stop``'s action)."""
    return {"cancelled": f"Cancelled {job.id}: it had not started.",
            "asked": f"Stop asked for {job.id}: it saves a checkpoint, then ends.",
            "terminated": f"Stop asked for {job.id}: it is being ended.",
            "already stopping": f"Already stopping {job.id}; nothing more to do (the Jobs panel's 'End now' ends it "
                                "without a checkpoint).",
            "ended": f"{job.id} has ended ({job.status}); nothing to stop."}[action]
