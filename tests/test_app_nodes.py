"""The Train tab's Machines (nodes) field: its flag, the rendezvous check before node 0 is queued, and
what it tells the user to run on the other machines."""

from __future__ import annotations

import shlex

import pytest

from app import train_settings as ts
from app.errors import UserError
from app.train_nodes import check_nodes, other_nodes_text
from test_app_status import PATHS, values
from test_app_status import job_config as parsed_config



def test_the_nodes_field_reaches_the_runs_config():
    args = ts.command(values(nodes="2"), PATHS, [])
    assert ["--num-nodes", "2"] == args[args.index("--num-nodes"):args.index("--num-nodes") + 2]
    assert parsed_config(args).loop.num_nodes == 2
    assert parsed_config(ts.command(values(), PATHS, [])).loop.num_nodes == 1
    with pytest.raises(ValueError, match="Machines \\(nodes\\) must be at least 1"):
        ts.chosen(values(nodes="0"))


@pytest.mark.parametrize(("variables", "message"), [
    ({}, "needs MASTER_ADDR, MASTER_PORT, NODE_RANK"),
    ({"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500", "NODE_RANK": "2"}, "NODE_RANK='2': must be a whole number from 0 to 1"),
    ({"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "http", "NODE_RANK": "0"}, "MASTER_PORT='http'")])
def test_node_zero_is_refused_without_a_rendezvous(monkeypatch, variables, message):
    for name in ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "TORCHELASTIC_RUN_ID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UserError, match=f"Machines \\(nodes\\): .*{message}"):
        check_nodes(2)
    check_nodes(1)  # one machine needs no rendezvous


def test_the_other_machines_are_told_what_to_run(monkeypatch):
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    monkeypatch.setenv("NODE_RANK", "0")
    check_nodes(2)
    args = ts.command(values(nodes="2"), PATHS, [])
    text = other_nodes_text(2, args)
    assert "node 0 of 2" in text and "NODE_RANK=1..1" in text
    assert "MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 NODE_RANK=1 " in text
    words = shlex.split(text.splitlines()[-1])  # a shell line: [Instrumental] and the like come back whole
    assert words[4:7] == ["-m", "acestep_train", "train"] and words[7:] == args
    assert other_nodes_text(1, args) == ""
