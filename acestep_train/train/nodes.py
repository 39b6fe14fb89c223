"""Training on several machines: rendezvous checks, one reader and writer (global rank 0), work per rank.

Lightning Fabric finds the cluster by its environment (torchrun's ``RANK``/``WORLD_SIZE``/``GROUP_RANK``,
SLURM's ``SLURM_PROCID``/``SLURM_NTASKS``/``SLURM_NODEID``, or a plain ``MASTER_ADDR``/``MASTER_PORT`` +
``NODE_RANK`` launch) and checks that ``devices`` x ``num_nodes`` matches it. What is ours:

- ``check_rendezvous``: a plain launch (no torchrun, no SLURM) on several nodes must name the main
  node and port and this node's rank, or every process would wait for peers that never come.
- ``from_rank_zero``: only global rank 0 reads the run folder (a resume's checkpoint, the control
  requests); the other ranks get what it read, or its error, by broadcast. So other nodes need the
  model and the tensor folder, never the run folder, and nothing is read twice.
- ``shard``: an epoch's batches are one global list; a position in it (``Counters.batch``) counts the
  batches every rank together consumed, so a run resumed on another number of processes goes on
  from the same place, and rank ``r`` of ``W`` takes every ``W``-th batch from there.
- ``batch_seed``: the noise, timesteps and dropout of a batch are drawn from a seed of (seed, epoch,
  batch position), not from a per-rank stream: W processes with accumulation A draw exactly what
  one process with accumulation W x A draws, and a resume on any number of processes draws the same.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import replace

RENDEZVOUS_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK")


def launcher_name() -> str:
    """Which launcher started this process, as Fabric will detect it."""
    from lightning.fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    if TorchElasticEnvironment.detect():
        return "torchrun"
    return "slurm" if SLURMEnvironment.detect() else "plain"


def check_rendezvous(num_nodes: int) -> None:
    """Refuse a multi-node launch that cannot meet its peers, naming what is missing."""
    if num_nodes == 1 or launcher_name() != "plain":
        return  # Fabric checks torchrun's and SLURM's variables against devices x num_nodes itself
    missing = [name for name in RENDEZVOUS_VARIABLES if not os.environ.get(name)]
    if missing:
        raise ValueError(f"--num-nodes {num_nodes} without torchrun or SLURM needs {', '.join(missing)} in the "
                         "environment (the main node's address and a free port, the same on every node, and "
                         "this node's rank 0..N-1)")
    node, port = os.environ["NODE_RANK"], os.environ["MASTER_PORT"]
    if not node.isdigit() or int(node) >= num_nodes:
        raise ValueError(f"NODE_RANK={node!r}: must be a whole number from 0 to {num_nodes - 1} (--num-nodes {num_nodes})")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"MASTER_PORT={port!r}: must be a port number (1-65535)")


def from_rank_zero(fabric, read):
    """``read()`` on global rank 0 only; every rank gets its result, or raises its error."""
    if fabric.world_size == 1:
        return read()
    outcome = None
    if fabric.is_global_zero:
        try:
            outcome = ("ok", read())
        except Exception as error:  # handed to every rank below, then raised everywhere
            outcome = ("error", error)
    kind, value = fabric.broadcast(outcome, src=0)
    if kind == "error":
        raise value
    return value


def shard(count: int, start: int, world: int, rank: int) -> list[tuple[int, int]]:
    """This rank's ``(position, batch index)`` pairs of an epoch of ``count`` batches, from ``start`` on.

    The rest is padded with its own first batches (at positions past ``count``, so with their own
    noise) until every rank has the same number: no rank waits at a collective the others skipped."""
    positions = list(range(start, count))
    positions += [count + k for k in range(-len(positions) % world)]
    pairs = [(p, p if p < count else start + (p - count) % max(count - start, 1)) for p in positions]
    return pairs[rank::world]


def position_after(start: int, taken: int, world: int, count: int) -> int:
    """The epoch position once every rank has taken ``taken`` batches of its shard from ``start``."""
    return min(start + taken * world, count)


def batch_seed(seed: int, epoch: int, position: int) -> int:
    digest = hashlib.sha256(f"{seed}:{epoch}:{position}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def keep_global_batch(config, saved: dict, world: int):
    """(config, message): a run resumed on another number of processes keeps its global batch.

    ``saved``: the checkpoint's ``counters.json``. When the saved micro-batches per optimizer step
    (accumulation x processes) divide by the new process count, the accumulation is set to keep them,
    so the schedule, the step count and the data a step sees stay as they were."""
    saved_world, saved_accum = int(saved.get("world_size", 1)), saved.get("grad_accum")
    if saved_world == world or saved_accum is None:
        return config, None
    per_step, accum = int(saved_accum) * saved_world, config.data.grad_accum
    where = (f"checkpoint of {saved_world} process(es) on {saved.get('num_nodes', 1)} node(s), resumed on "
             f"{world} process(es) on {config.loop.num_nodes} node(s)")
    if accum * world == per_step:
        return config, f"{where}: {per_step} micro-batches per optimizer step, as before"
    if per_step % world == 0:
        config = replace(config, data=replace(config.data, grad_accum=per_step // world))
        return config, (f"{where}: gradient accumulation set from {accum} to {per_step // world} to keep "
                        f"{per_step} micro-batches per optimizer step")
    return config, (f"{where}: {per_step} micro-batches per step cannot be split over {world} processes; "
                    f"steps now take {accum * world} (the schedule's length is recomputed)")


def moved_note(counters, world: int, config) -> str:
    """What a resume on another process count did ('' when the count is the checkpoint's)."""
    if (counters.world_size, counters.num_nodes) == (world, config.loop.num_nodes):
        return ""
    return (f"; trained on {counters.world_size} process(es) on {counters.num_nodes} node(s), now {world} on "
            f"{config.loop.num_nodes}: epoch {counters.epoch} goes on from its batch {counters.batch} with "
            f"{config.data.grad_accum * world} micro-batches per step")


def describe_ranks(fabric) -> list[dict]:
    """Every rank's node, local rank, host and device, gathered on every rank (rank 0 writes them)."""
    mine = {"rank": fabric.global_rank, "node": fabric.node_rank, "local_rank": fabric.local_rank,
            "host": socket.gethostname(), "device": str(fabric.device)}
    if fabric.world_size == 1:
        return [mine]
    import torch.distributed as dist

    gathered: list = [None] * fabric.world_size
    dist.all_gather_object(gathered, mine)
    return gathered


def gather_step(fabric, values: list[float]):
    """Every rank's ``values`` as a [world, len(values)] tensor, on every rank."""
    import torch

    mine = torch.tensor(values, dtype=torch.float64)
    if fabric.world_size == 1:
        return mine[None]
    return fabric.all_gather(mine.to(fabric.device)).cpu().reshape(fabric.world_size, len(values))


def per_node(ranks: list[dict], stats) -> list[dict]:
    """One row per node for the step event: its slowest rank's seconds and its highest memory."""
    rows: dict[int, dict] = {}
    for info, (seconds, memory) in zip(ranks, stats.tolist()):
        row = rows.setdefault(info["node"], {"node": info["node"], "host": info["host"], "processes": 0,
                                             "seconds": 0.0, "peak_memory_gb": 0.0})
        row["processes"] += 1
        row["seconds"] = round(max(row["seconds"], seconds), 3)
        row["peak_memory_gb"] = round(max(row["peak_memory_gb"], memory), 3)
    return [rows[node] for node in sorted(rows)]
