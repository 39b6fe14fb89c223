"""Runs one job's CLI command and records how it ended in its ``job.json``.

``python -m acestep_train.job_wrapper <job dir>``. In a multi-process (DDP) job only the
first process records the result.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from acestep_train.atomic import atomic_write_json


def entry(command: list[str]):
    """(program name, main function, its arguments): the studio CLI, or the captioner's."""
    if command and command[0] == "captioner":
        from captioner.__main__ import main as captioner_main

        return "captioner", captioner_main, command[1:]
    from acestep_train.cli import main as cli

    return "acestep_train", cli, command


def main(job_dir: str) -> int:
    record_file = Path(job_dir) / "job.json"
    program, cli, command = entry(json.loads(record_file.read_text(encoding="utf-8"))["command"])
    print(f"$ python -m {program} {' '.join(command)}", flush=True)
    try:
        code = cli(command)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    if os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0":
        record = json.loads(record_file.read_text(encoding="utf-8"))
        if record.get("stop_requested"):
            status = "stopped" if code == 0 else "failed"  # a graceful stop saved a checkpoint and exited 0
        else:
            status = "finished" if code == 0 else "failed"
        record.update(exit_code=code, ended=time.time(), status=status)
        atomic_write_json(record_file, record)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
