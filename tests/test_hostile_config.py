"""Config input as a hostile user would write it: paths outside the roots in the Advanced JSON,
deeply nested or huge JSON, a weights file with a giant header."""

from __future__ import annotations

import json
import struct

import pytest

from acestep_train.models.safetensors_file import CorruptCheckpointError, read_header
from acestep_train.paths import ROOTS_ENV
from acestep_train.safe_json import MAX_JSON_BYTES, loads
from acestep_train.train.config import load_config
from app.train_settings import advanced_settings


@pytest.fixture
def roots(tmp_path, monkeypatch):
    inside = tmp_path / "root"
    (inside / "tensors").mkdir(parents=True)
    (inside / "models").mkdir()
    monkeypatch.setenv(ROOTS_ENV, str(inside))
    return inside


def base(inside, **extra) -> dict:
    return {"checkpoint_dirs": [str(inside / "models")], "dataset_dir": str(inside / "tensors"),
            "output_dir": str(inside / "run"), **extra}


def test_resume_from_outside_the_roots_is_refused(roots, tmp_path):
    outside = tmp_path / "elsewhere" / "checkpoints" / "10"
    outside.mkdir(parents=True)
    with pytest.raises(ValueError, match="resume_from: .*outside the folders"):
        load_config(None, base(roots, resume_from=str(outside)))
    assert load_config(None, base(roots, resume_from="latest")).resume_from == "latest"


def test_from_estimate_is_never_opened_outside_the_roots(roots, tmp_path, monkeypatch):
    opened = []
    import acestep_train.safe_json as safe_json

    monkeypatch.setattr(safe_json, "load_file", lambda path: opened.append(path) or {})
    with pytest.raises(ValueError, match="from_estimate: .*outside the folders"):
        load_config(None, base(roots, from_estimate="/etc/passwd"))
    assert opened == []


def test_advanced_json_from_a_config_file_is_confined_too(roots, tmp_path):
    config = roots / "advanced.json"
    config.write_text(json.dumps({"output_dir": str(tmp_path / "outside-run")}))
    with pytest.raises(ValueError, match="output_dir: .*outside the folders"):
        load_config(config, {k: v for k, v in base(roots).items() if k != "output_dir"})


def test_deep_and_huge_json_give_clear_errors():
    with pytest.raises(ValueError, match="too deeply nested"):
        advanced_settings("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="over the 16 MB limit"):
        loads(" " * (MAX_JSON_BYTES + 1), "the advanced settings")
    with pytest.raises(ValueError, match="not valid JSON"):
        advanced_settings("{nope")


def test_a_giant_safetensors_header_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "adapter_model.safetensors"
    size = 100 * 1024 * 1024
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", size))
        handle.truncate(8 + size)  # sparse: the header claims 100 MB and the file holds it
    with pytest.raises(CorruptCheckpointError, match="over the 16 MB limit"):
        read_header(path)
    deep = ("[" * 50_000 + "]" * 50_000).encode()
    path.write_bytes(struct.pack("<Q", len(deep)) + deep)
    with pytest.raises(CorruptCheckpointError, match="too deeply nested"):
        read_header(path)


def test_json_a_few_hundred_levels_deep_is_refused_by_the_nesting_limit(tmp_path):
    from acestep_train.safe_json import MAX_JSON_DEPTH, JsonLimitError, load_file

    deep = '{"edited": ' + "[" * 500 + "]" * 500 + "}"  # parses, but str() / json.dumps of it recurse later
    with pytest.raises(JsonLimitError, match="song.json: JSON too deeply nested"):
        loads(deep, "song.json")
    assert loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "fine")
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(MAX_JSON_BYTES + 1)  # sparse: refused from its size, never read
    with pytest.raises(JsonLimitError, match="over the 16 MB limit"):
        load_file(path)
