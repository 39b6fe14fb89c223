"""Imports the training stack once, then forks a fresh child per request (the crash trials' runner).

Starting ``python -m acestep_train train`` costs seconds of imports; a trial needs a new process
(it is killed with SIGKILL), not new imports. Requests arrive as JSON lines on stdin:
``{"args": [...cli args], "log": path, "wait": bool, "kill": {...}}`` starts
``acestep_train.cli.main(args)`` in a forked child (its own session, output to ``log``) and answers
``{"pid": ...}``, then ``{"exit": code}`` when ``wait``; ``{"reap": pid}`` collects a killed child and
answers its status. No torch computation runs in this process before forking, so each child starts clean.

``kill`` = ``{"after_ops": K, "by_step": S}`` makes the child SIGKILL its own process group at a point
of its progress, never on a clock: just before the K-th file-system operation (fsync, rename,
replace, mkdir, unlink, rmdir) counted from its first checkpoint event, or at its step event S,
whichever comes first. A random K lands the kill anywhere in a save (mid-write, before the marker,
before the rename, during a prune) or between saves, on a fast or a loaded machine alike, and S
guarantees the kill lands before the run ends. The child writes where it was killed to its log
(``crash-kill: ...``) first.
"""

from __future__ import annotations

import json
import os
import signal
import sys

KILL_LINE = "crash-kill: "
FILE_OPS = ("fsync", "rename", "replace", "mkdir", "unlink", "rmdir")


class KillSwitch:
    """SIGKILLs this process group at a chosen point of the run's progress (see the module docstring)."""

    def __init__(self, after_ops: int, by_step: int):
        self.after_ops, self.by_step = after_ops, by_step
        self.armed = False  # counting starts at the first checkpoint: before it there is nothing to resume
        self.count = 0

    def install(self) -> None:
        from acestep_train.events import EventLog

        for name in FILE_OPS:
            setattr(os, name, self._counted(name, getattr(os, name)))
        emit = EventLog.emit

        def watched_emit(log, event, **fields):
            if event == "step" and fields.get("step", 0) >= self.by_step:
                self.fire(f"step {fields['step']} reached before file operation {self.after_ops}")
            record = emit(log, event, **fields)
            self.armed = self.armed or event == "checkpoint"
            return record

        EventLog.emit = watched_emit

    def _counted(self, name: str, operation):
        def counted(*args, **kwargs):
            if self.armed:
                self.count += 1
                if self.count >= self.after_ops:
                    self.fire(f"before file operation {self.count} (os.{name} {args[0] if args else ''})")
            return operation(*args, **kwargs)

        return counted

    def fire(self, where: str) -> None:
        os.write(2, f"\n{KILL_LINE}{where}\n".encode())
        os.killpg(os.getpgid(0), signal.SIGKILL)


def child(args: list[str], log: str, kill: dict | None) -> None:
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = 1
    try:
        if kill:
            KillSwitch(kill["after_ops"], kill["by_step"]).install()
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
            child(request["args"], request["log"], request.get("kill"))
        answer({"pid": pid})
        if request.get("wait"):
            _, status = os.waitpid(pid, 0)
            answer({"exit": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    main()
