"""Runs one job's command and records how it ended in its ``job.json``.

``python -m acestep_train.job_wrapper <job dir>``. The command is rebuilt from the record's kind
(``KINDS``: which program, which subcommand) and its arguments; a record that is not signed by
this install, or that this process's token does not match (it was not started by the studio for
that record), runs nothing. In a multi-process (DDP) job only the first process records the
result; it then starts the next queued job (``JobStore.tick``).
"""

from __future__ import annotations

import hmac
import os
import sys
from pathlib import Path


def entry(kind: str, args: list[str]):
    """(program name, main function, its arguments) for a job of ``kind``: the studio CLI, or the captioner's."""
    from acestep_train.job_records import KINDS

    program, *lead = KINDS[kind]
    if program == "captioner":
        from captioner.__main__ import main as captioner_main

        return program, captioner_main, [*lead, *args]
    from acestep_train.cli import main as cli

    return program, cli, [*lead, *args]


def run(program: str, cli, command: list[str]) -> int:
    print(f"$ python -m {program} {' '.join(command)}", flush=True)
    try:
        return cli(command)
    except SystemExit as exit_:
        return 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1  # exit("msg"): 1
    except BaseException:
        import traceback

        traceback.print_exc()
        return 1


def main(job_dir: str) -> int:
    from acestep_train.job_records import RUNNING, TOKEN_ENV
    from acestep_train.jobs import JobStore

    folder = Path(job_dir)
    store = JobStore(folder.parent)
    job = store.load(folder.name)
    if job.status not in RUNNING or not job.token or not hmac.compare_digest(os.environ.get(TOKEN_ENV, ""), job.token):
        print(f"refused: {folder} is not a job the studio started ({job.problem or job.status})", file=sys.stderr)
        return 2
    code = run(*entry(job.kind, job.args))
    if os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0":
        job = store.finish(folder.name, code)
        print(f"job {job.status} (exit code {code})", flush=True)
        store.tick()  # the next queued job starts even when no UI is running
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
