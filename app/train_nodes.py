"""A run on several machines, seen from the Train tab on node 0.

The studio starts node 0's process (a job like any other); the other machines join by running the same
``train`` command with their ``NODE_RANK`` (or through torchrun / SLURM, README). Node 0 knows the others
only through what its rank 0 gathers each optimizer step (``train/nodes.py``): every node's host, step
time and peak memory. A node that stops answering stops every node at the next step, so the monitor
shows the step those figures belong to: a step count that no longer moves is what a lost node looks like.
"""

from __future__ import annotations

import os
import shlex
import sys

from acestep_train.train.nodes import check_rendezvous
from app.errors import UserError


def check_nodes(num_nodes: int) -> None:
    """Before node 0's job is queued: the rendezvous its process will read from this studio's environment."""
    try:
        check_rendezvous(num_nodes)
    except ValueError as error:
        raise UserError(f"Machines (nodes): {error}. Start the studio on this machine with them set, e.g. "
                        "MASTER_ADDR=<this machine's address> MASTER_PORT=29500 NODE_RANK=0 python launch.py "
                        "(README: Training on several machines)") from error


def other_nodes_text(num_nodes: int, args: list[str]) -> str:
    """What to run on nodes 1..N-1 to join node 0's job (the same arguments, their own NODE_RANK)."""
    if num_nodes == 1:
        return ""
    address, port = os.environ.get("MASTER_ADDR", "<address>"), os.environ.get("MASTER_PORT", "<port>")
    command = shlex.join([sys.executable, "-m", "acestep_train", "train", *args])
    return (f"\nThis machine is node 0 of {num_nodes}. On each other machine (the model and the tensor folder at "
            f"the same paths), run with NODE_RANK=1..{num_nodes - 1}:\n"
            f"MASTER_ADDR={address} MASTER_PORT={port} NODE_RANK=1 {command}")


def nodes_line(events: list[dict]) -> str:
    """``nodes at step 12: node 0 (host-a, 2 processes) 1.20 s, 10.3 GB; node 1 ...`` ('' for one process)."""
    last = next((e for e in reversed(events) if e["event"] == "step"), None)
    if last is None or "nodes" not in last:
        return ""
    rows = [f"node {row['node']} ({row['host']}, {row['processes']} process{'es' if row['processes'] > 1 else ''}) "
            f"{row['seconds']:.2f} s, {row['peak_memory_gb']:.1f} GB" for row in last["nodes"]]
    return f"nodes at step {last['step']}: " + "; ".join(rows)
