"""A stand-in for ``acestep_train.job_wrapper`` in the jobs tests: ``python fake_job.py <job dir>``.

The job's arguments say what to do: ``ok``, ``fail``, ``sleep S``, ``wait-stop`` (exit 0 once
``<output>/control/stop`` appears, like training after its checkpoint), ``wait-go`` (exit 0 once
``<output>/go`` appears; it ignores stop requests), ``ignore-term`` (ignore SIGTERM, run until
killed). Each start appends a line to ``<output>/starts``; the record is read through
``JobStore.load`` (signature checked) and the exit recorded through ``JobStore.finish``, as the
real wrapper does.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acestep_train.jobs import JobStore  # noqa: E402


def wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.05)


def run(command: list[str], output: Path) -> int:
    if command[0] == "fail":
        print("something broke: the error the user must see", flush=True)
        return 3
    if command[0] == "sleep":
        time.sleep(float(command[1]))
    elif command[0] == "wait-stop":
        wait_for(output / "control" / "stop")
    elif command[0] == "wait-go":
        wait_for(output / "go")
    elif command[0] == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        (output / "ignoring").touch()
        while True:
            time.sleep(0.05)
    return 0


def main(job_dir: str) -> int:
    folder = Path(job_dir)
    store = JobStore(folder.parent)
    job = store.load(folder.name)
    if job.status == "broken":
        print(f"refused: {job.problem}", flush=True)
        return 2
    output = Path(job.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "starts", "a") as starts:
        starts.write(f"{job.id}\n")
    code = run(job.args, output)
    store.finish(folder.name, code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
