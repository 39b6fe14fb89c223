"""Runs one job's CLI command and records how it ended in its ``job.json``.

``python -m acestep_train.job_wrapper <job dir>``. In a multi-process (DDP) job only the
first process records the result; it then starts the next queued job (``JobStore.tick``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def entry(command: list[str]):
    """(program name, main function, its arguments): the studio CLI, or the captioner's."""
    if command and command[0] == "captioner":
        from captioner.__main__ import main as captioner_main

        return "captioner", captioner_main, command[1:]
    from acestep_train.cli import main as cli

    return "acestep_train", cli, command


def main(job_dir: str) -> int:
    folder = Path(job_dir)
    program, cli, command = entry(json.loads((folder / "job.json").read_text(encoding="utf-8"))["command"])
    print(f"$ python -m {program} {' '.join(command)}", flush=True)
    try:
        code = cli(command)
    except SystemExit as exit_:
        code = 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1  # exit("msg"): 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    if os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0":
        from acestep_train.jobs import JobStore

        store = JobStore(folder.parent)
        job = store.finish(folder.name, code)
        print(f"job {job.status} (exit code {code})", flush=True)
        store.tick()  # the next queued job starts even when no UI is running
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
