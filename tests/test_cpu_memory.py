"""reuse_freed_memory: inside it a freed big buffer is reused without page faults; outside, glibc's defaults."""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from acestep_train.cpu_memory import _glibc, reuse_freed_memory

HERE = Path(__file__).resolve().parent
SIZE = 64 * 1024 * 1024  # above glibc's largest mmap threshold (32 MB)


def filled_buffer(libc) -> None:
    pointer = libc.malloc(SIZE)
    assert pointer
    ctypes.memset(pointer, 1, SIZE)
    libc.free(ctypes.c_void_p(pointer))


def faults_of_second_buffer() -> int:
    """Minor page faults taken by filling a big buffer after an equal one was filled and freed."""
    libc = _glibc()
    libc.malloc.restype = ctypes.c_void_p
    filled_buffer(libc)
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    filled_buffer(libc)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start


def inside_and_outside() -> tuple[int, int]:
    with reuse_freed_memory() as applied:
        assert applied
        inside = faults_of_second_buffer()
    return inside, faults_of_second_buffer()


@pytest.mark.skipif(_glibc() is None, reason="glibc only")
def test_freed_big_buffers_are_reused_inside_and_unmapped_after():
    """In a fresh process: this one's heap holds whatever earlier tests left, and a free hole of 64 MB in it
    is (rightly) reused by glibc's defaults too."""
    code = "import test_cpu_memory as t; print(*t.inside_and_outside())"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    inside, outside = map(int, result.stdout.split())
    pages = SIZE // resource.getpagesize()
    assert inside < pages // 10  # the freed heap block came back: no fresh pages
    assert outside > pages // 4  # defaults again: a fresh mapping faults in


def test_a_no_op_where_glibc_is_missing(monkeypatch):
    import acestep_train.cpu_memory as cpu_memory

    monkeypatch.setattr(cpu_memory, "_glibc", lambda: None)
    with cpu_memory.reuse_freed_memory() as applied:
        assert applied is False
