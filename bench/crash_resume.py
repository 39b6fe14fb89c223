"""Crash safety: kill -9 a tiny training run at random moments, then resume from "latest".

Each trial starts ``python -m acestep_train train`` (tiny model, a checkpoint every step; forked
from ``bench.crash_worker`` so the imports are paid once) and kills it with SIGKILL at a random
point of its progress, never on a clock: just before a random file-system operation counted from
its first checkpoint (before it there is nothing to resume: ``--resume-from latest`` then fails
loudly rather than start over), and at the latest two steps before its end, so the kill lands
mid-run on a fast or a loaded machine alike. It then counts the half-written folders the kill
left, resumes from ``latest`` in a fresh process and checks that the resume succeeded, used a
complete checkpoint and lost at most one save interval.

    python -m bench crash_resume [--trials 20] [--seed 0] [--max-ops 120]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

SAVE_EVERY = 1
SONGS = 3  # one step per song per epoch (batch size 1)
MAX_OPS = 120  # file-system operations after the first checkpoint: about four steps' saves, prunes and best/
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Trial:
    after_ops: int  # the kill came before this file-system operation after the first checkpoint...
    killed_at: str  # ...or at the fallback step; what the killed run wrote as its last word
    steps_logged: int  # last step the killed run logged
    latest: int | None  # step of the checkpoint "latest" resolved to
    lost_steps: int | None
    partial_folders: int  # half-written folders the kill left (temp folders, unmarked step folders)
    resumed: bool
    resumed_first_step: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.resumed and self.lost_steps is not None and self.lost_steps <= SAVE_EVERY and \
            self.resumed_first_step == (self.latest or 0) + 1


def prepare(root: Path) -> tuple[Path, Path]:
    """The tiny model and a few synthetic tensor files."""
    from acestep_train.models import find_model
    from acestep_train.models.tiny import write_demo_model
    from bench.train_overhead import synthetic_tensors

    models = root / "models"
    write_demo_model(models, "original", ("turbo",), seed=0)
    tensors = root / "tensors"
    tensors.mkdir()
    synthetic_tensors(tensors, find_model([models], "turbo"), songs=SONGS, frames=40, tokens=16)
    return models, tensors


def command(models: Path, tensors: Path, output: Path, epochs: int, resume: bool) -> list[str]:
    """CLI arguments of the run (after ``python -m acestep_train``)."""
    args = ["train", "--checkpoint-dir", str(models),
            "--model-variant", "turbo", "--dataset-dir", str(tensors), "--output-dir", str(output),
            "--epochs", str(epochs), "--batch-size", "1", "--max-latent-length", "30", "--rank", "4",
            "--alpha", "4", "--schedule", "constant", "--save-every-steps", str(SAVE_EVERY), "--keep-last", "2",
            "--save-every", "0"]
    return args + (["--resume-from", "latest"] if resume else [])


def events(output: Path) -> list[dict]:
    path = output / "events.jsonl"
    if not path.is_file():
        return []
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the kill may cut the last line
    return found


def last_step(output: Path) -> int:
    return max((e["step"] for e in events(output) if e.get("event") == "step"), default=0)


def saved(output: Path) -> bool:
    return any(e.get("event") == "checkpoint" for e in events(output))


def partial_folders(output: Path) -> int:
    from acestep_train.atomic_dir import stale_partials
    from acestep_train.train.checkpoints import list_checkpoints

    return (len(stale_partials(output / "checkpoints")) + len(stale_partials(output))
            + len(list_checkpoints(output / "checkpoints").partial))


class Runner:
    """The fork-per-trial worker (``bench.crash_worker``): one import of the training stack for all trials."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "bench.crash_worker"], cwd=REPO, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.read()  # ready

    def read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the crash worker ended (exit status {self.process.wait()})")
        return json.loads(line)

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self.read()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def killed_at(log: str) -> str:
    from bench.crash_worker import KILL_LINE

    lines = [line for line in Path(log).read_text(errors="replace").splitlines() if line.startswith(KILL_LINE)]
    return lines[-1][len(KILL_LINE):] if lines else ""


def run_trial(runner: Runner, models: Path, tensors: Path, output: Path, after_ops: int, epochs: int = 5) -> Trial:
    """One kill -9 before file-system operation ``after_ops`` of the run, then a resume from latest to the end."""
    from acestep_train.train.checkpoints import latest_checkpoint

    log = str(output.with_suffix(".log"))
    kill = {"after_ops": after_ops, "by_step": SONGS * epochs - 2}
    pid = runner.ask(args=command(models, tensors, output, epochs, False), log=log, kill=kill)["pid"]
    killed = runner.ask(reap=pid)["exit"]
    where = killed_at(log)
    logged, partial = last_step(output), partial_folders(output)
    latest = latest_checkpoint(output / "checkpoints", warn=lambda message: None)
    step = int(latest.name) if latest else None
    before = len(events(output))
    runner.ask(args=command(models, tensors, output, epochs, True), log=log, wait=True)
    code = runner.read()["exit"]
    new = events(output)[before:]
    first = next((e["step"] for e in new if e.get("event") == "step"), None)
    finished = any(e.get("event") == "finished" for e in new)
    error = "" if code == 0 else Path(log).read_text(errors="replace")[-3000:]
    if killed != -signal.SIGKILL:
        error = f"the run ended before the kill (exit status {killed}); " + error
    return Trial(after_ops, where, logged, step, None if step is None else logged - step, partial,
                 code == 0 and finished and killed == -signal.SIGKILL, first, error)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-ops", type=int, default=MAX_OPS,
                        help="the kill comes before a random file-system operation up to this one")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    trials = []
    with tempfile.TemporaryDirectory() as tmp:
        models, tensors = prepare(Path(tmp))
        runner = Runner()
        for index in range(args.trials):
            trial = run_trial(runner, models, tensors, Path(tmp) / f"run{index}", rng.randint(1, args.max_ops))
            trials.append(trial)
            print(f"trial {index + 1}: {'ok' if trial.ok else 'FAILED'} {asdict(trial)}", flush=True)
        runner.close()
    from bench.common import write_result

    figures = {"trials": len(trials), "failures": sum(not t.ok for t in trials),
               "partial_folders_left_by_kills": sum(t.partial_folders for t in trials),
               "partial_folders_used": 0 if all(t.ok for t in trials) else None,
               "max_lost_steps": max((t.lost_steps or 0) for t in trials), "save_every_steps": SAVE_EVERY,
               "trial_details": [asdict(t) for t in trials]}
    print(json.dumps({k: v for k, v in figures.items() if k != "trial_details"}, indent=2))
    write_result("crash_resume", figures)
