"""Two "nodes" on this machine (two CLI processes, NODE_RANK 0 and 1, gloo over loopback) train exactly
what one process trains with the same global batch, and a run resumes on another node count.

Why equal and not merely close: every random draw of a micro-batch is seeded by its place in the epoch
(``train/nodes.py``), so rank r of 2 sees the same windows, noise and timesteps as the single process's
micro-batch r of an accumulation of 2. Each micro-batch's loss and gradient are then the same
computation on the same numbers; DDP sums the two ranks' gradients pre-divided by 2, the single process
adds its two gradients scaled by 1/2: scaling by a power of two is exact and a sum of two floats does not
depend on order. What is left is float32 rounding in a different memory layout (DDP's flat buckets),
at most a few ulp per step; 1e-5 on losses (~1) and on weights (~1e-2) allows hundreds of ulp over the
run, while one changed batch, noise draw or gradient scale moves them by 1e-3 or more.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from acestep_train.events import read_events
from acestep_train.train.config import load_config
from acestep_train.train.nodes import keep_global_batch, shard
from app.train_nodes import nodes_line
from train_data import make_tensors

REPO = Path(__file__).resolve().parents[1]
HANG_GUARD_S = 600  # only a hang guard: each process ends on its own when training ends
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def tensors(tiny_original, tmp_path_factory):
    return make_tensors(tmp_path_factory.mktemp("nodes"), tiny_original, "turbo", seconds=(1.6, 2.6, 2.0, 3.0))


def command(tiny_original, tensors, output, *extra):
    return [sys.executable, "-m", "acestep_train", "train", "--checkpoint-dir", str(tiny_original),
            "--model-variant", "turbo", "--dataset-dir", str(tensors), "--output-dir", str(output),
            "--epochs", "4", "--max-latent-length", "30", "--rank", "4", "--alpha", "4", "--lr", "5e-3",
            "--scheduler", "constant", "--accelerator", "cpu", "--save-every-steps", "1", "--keep-last", "20",
            *extra]


def environment(**values) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK")}
    return {**env, "OMP_NUM_THREADS": "1", **values}  # one thread: the same kernels in every process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_single(tiny_original, tensors, output, *extra) -> subprocess.CompletedProcess:
    result = subprocess.run(command(tiny_original, tensors, output, *extra), cwd=REPO, env=environment(),
                            capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_two_nodes(tiny_original, tensors, outputs) -> list[tuple[int, str, str]]:
    """Node 0 and node 1 side by side, each with its own output folder; (exit code, stdout, stderr) each."""
    port = str(free_port())
    nodes = [subprocess.Popen(command(tiny_original, tensors, outputs[rank], "--num-nodes", "2"), cwd=REPO,
                              env=environment(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, NODE_RANK=str(rank)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    try:
        outputs = [node.communicate(timeout=HANG_GUARD_S) for node in nodes]
        return [(node.returncode, *output) for node, output in zip(nodes, outputs)]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()


def steps_since_last_start(output: Path) -> dict[int, float]:
    events = read_events(output / "events.jsonl")
    start = max(i for i, e in enumerate(events) if e["event"] in ("start", "resumed"))
    return {e["step"]: e["loss"] for e in events[start:] if e["event"] == "step"}


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = load_file(a / "adapter_model.safetensors"), load_file(b / "adapter_model.safetensors")
    assert first.keys() == second.keys()
    worst = max(float((first[k] - second[k]).abs().max()) for k in first)
    assert worst <= TOLERANCE, f"adapter weights differ by {worst}"


@pytest.fixture(scope="module")
def single(tiny_original, tensors, tmp_path_factory):
    """One process, 2 micro-batches per optimizer step: the global batch of 2 nodes x 1 micro-batch."""
    output = tmp_path_factory.mktemp("single") / "run"
    run_single(tiny_original, tensors, output, "--grad-accum", "2")
    return output


@pytest.fixture(scope="module")
def two_nodes(tiny_original, tensors, tmp_path_factory):
    root = tmp_path_factory.mktemp("two-nodes")
    outputs = [root / "node0", root / "node1"]
    results = run_two_nodes(tiny_original, tensors, outputs)
    for code, _, stderr in results:
        assert code == 0, stderr[-3000:]
    return outputs, results


def test_two_nodes_train_what_one_process_trains(single, two_nodes):
    (node0, node1), results = two_nodes
    assert "trained 8 steps" in results[0][1] and "trained" not in results[1][1]  # 4 songs / 2 ranks, 4 epochs
    assert not node1.exists()  # one writer: node 1 never made, read or wrote a run folder
    expected, got = steps_since_last_start(single), steps_since_last_start(node0)
    assert sorted(got) == sorted(expected) == list(range(1, 9))
    assert all(abs(got[s] - expected[s]) <= TOLERANCE for s in expected), (got, expected)
    for folder in ("final", "checkpoints/3", "checkpoints/8"):
        assert_same_weights(node0 / folder, single / folder)


def test_node_zero_records_every_node(two_nodes):
    (node0, _), _ = two_nodes
    events = read_events(node0 / "events.jsonl")
    start = next(e for e in events if e["event"] == "start")
    assert (start["world_size"], start["num_nodes"]) == (2, 2)
    assert sorted((r["rank"], r["node"], r["local_rank"]) for r in start["ranks"]) == [(0, 0, 0), (1, 1, 0)]
    steps = [e for e in events if e["event"] == "step"]
    assert all([row["node"] for row in e["nodes"]] == [0, 1] for e in steps)
    assert all(row["processes"] == 1 and row["seconds"] > 0 for e in steps for row in e["nodes"])
    line = nodes_line(events)  # what the Train tab on node 0 shows
    assert line.startswith("nodes at step 8: node 0 (") and "; node 1 (" in line


def test_resume_from_two_nodes_on_one(tiny_original, tensors, single, two_nodes, tmp_path):
    """Step 3 is the middle of epoch 1 (2 steps an epoch): one process goes on from that batch position
    with accumulation 2 (set from the checkpoint, though --grad-accum 1 is given) and ends where the
    uninterrupted single-process run ended."""
    (node0, _), _ = two_nodes
    resumed = tmp_path / "resumed"
    result = run_single(tiny_original, tensors, resumed, "--grad-accum", "1",
                        "--resume-from", str(node0 / "checkpoints" / "3"))
    assert "gradient accumulation set from 1 to 2" in result.stdout
    event = next(e for e in read_events(resumed / "events.jsonl")[::-1] if e["event"] == "resumed")
    assert (event["step"], event["epoch"], event["batch"], event["saved_world_size"]) == (3, 1, 2, 2)
    assert "trained on 2 process(es) on 2 node(s), now 1 on 1" in event["message"]
    expected, got = steps_since_last_start(single), steps_since_last_start(resumed)
    assert sorted(got) == list(range(4, 9))
    assert all(abs(got[s] - expected[s]) <= TOLERANCE for s in got), (got, expected)
    assert_same_weights(resumed / "checkpoints" / "8", single / "checkpoints" / "8")


def test_plain_multinode_launch_names_what_is_missing(tiny_original, tensors, tmp_path):
    result = subprocess.run(command(tiny_original, tensors, tmp_path / "run", "--num-nodes", "2"), cwd=REPO,
                            env=environment(), capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert result.returncode != 0
    assert "needs MASTER_ADDR, MASTER_PORT, NODE_RANK" in result.stderr
    assert not (tmp_path / "run").exists()


def test_shards_cover_the_rest_of_an_epoch_once_with_equal_work():
    assert shard(5, 0, 2, 0) == [(0, 0), (2, 2), (4, 4)]
    assert shard(5, 0, 2, 1) == [(1, 1), (3, 3), (5, 0)]  # padded with the first batch, at its own position
    assert shard(4, 2, 2, 1) == [(3, 3)] and shard(4, 2, 1, 0) == [(2, 2), (3, 3)]
    ranks = [shard(7, 3, 3, r) for r in range(3)]
    assert sorted(p for pairs in ranks for p, _ in pairs) == list(range(3, 9))
    assert {len(pairs) for pairs in ranks} == {2}


def test_a_resume_on_another_process_count_keeps_or_names_the_global_batch():
    config = load_config(None, {"checkpoint_dirs": ["/ck"], "dataset_dir": "/t", "output_dir": "/o", "loop.num_nodes": 3})
    saved = {"world_size": 2, "num_nodes": 2, "grad_accum": 3}
    kept, message = keep_global_batch(config, saved, 3)
    assert kept.data.grad_accum == 2 and "set from 1 to 2 to keep 6 micro-batches" in message
    same, message = keep_global_batch(config, {**saved, "world_size": 3}, 3)
    assert same is config and message is None
    odd, message = keep_global_batch(config, {**saved, "grad_accum": 1}, 3)
    assert odd.data.grad_accum == 1 and "2 micro-batches per step cannot be split over 3" in message


def test_bad_node_settings_name_the_field():
    with pytest.raises(ValueError, match="loop.num_nodes must be >= 1"):
        load_config(None, {"checkpoint_dirs": ["/ck"], "dataset_dir": "/t", "output_dir": "/o", "loop.num_nodes": 0})
    with pytest.raises(ValueError, match="loop.strategy must be auto or ddp, not 'fsdp'"):
        load_config(None, {"checkpoint_dirs": ["/ck"], "dataset_dir": "/t", "output_dir": "/o", "loop.num_nodes": 2, "loop.strategy": "fsdp"})
