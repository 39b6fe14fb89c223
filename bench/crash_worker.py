"""Imports the training stack once, then forks a fresh child per request (the crash trials' runner).

Starting ``python -m acestep_train train`` costs seconds of imports; a trial needs a new process
(it is killed with SIGKILL), not new imports. Requests arrive as JSON lines on stdin:
``{"args": [...cli args], "log": path, "wait": bool}`` starts ``acestep_train.cli.main(args)`` in a
forked child (its own session, output to ``log``) and answers ``{"pid": ...}``, then
``{"exit": code}`` when ``wait``; ``{"reap": pid}`` collects a killed child and answers its status.
No torch computation runs in this process before forking, so each child starts clean.
"""

from __future__ import annotations

import json
import os
import sys


def child(args: list[str], log: str) -> None:
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = 1
    try:
        from acestep_train.cli import main

        code = main(args)
    except BaseException:  # the child must end here whatever happens, never return into the loop
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


def answer(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def main() -> None:
    import acestep_train.cli as cli
    import acestep_train.train.setup  # noqa: F401  (the heavy imports: torch, diffusers, lightning, peft)
    import acestep_train.train.trainer  # noqa: F401

    cli.build_parser()  # imports every command module
    answer({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        if "reap" in request:
            _, status = os.waitpid(request["reap"], 0)
            answer({"exit": os.waitstatus_to_exitcode(status)})
            continue
        pid = os.fork()
        if pid == 0:
            child(request["args"], request["log"])
        answer({"pid": pid})
        if request.get("wait"):
            _, status = os.waitpid(pid, 0)
            answer({"exit": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    main()
