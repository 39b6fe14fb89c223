"""The VRAM planner agrees with the memory probe's measurement, preset by preset.

The measurement (``python -m bench preset_fit --simulate``) is committed in
``bench/results/preset_fit_simulated.json``; a preset edited since is caught by its settings hash
(re-run the benchmark). One preset is also measured live here, so the file cannot drift from the probe.
"""

import json
from pathlib import Path

import pytest

from acestep_train.presets import TIERS, expected_memory, load_preset
from bench.preset_sim import PLANNER_TOLERANCE, settings_hash

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "preset_fit_simulated.json"


def measured_rows() -> list[dict]:
    return json.loads(RESULTS.read_text())["rows"]


@pytest.mark.parametrize("model", ["2b", "xl"])
@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("adapter", ["lora", "lokr", "loha", "dora"])
def test_planner_within_ten_percent_of_the_measurement(tier, adapter, model):
    preset = load_preset(tier)
    rows = [r for r in measured_rows() if (r["preset"], r["adapter"], r["model"]) == (tier, adapter, model)]
    assert rows, f"{tier}/{adapter}/{model} missing from {RESULTS}: run python -m bench preset_fit --simulate --variants"
    for row in rows:  # the preset as shipped, and with checkpointing flipped
        assert row["settings_hash"] == settings_hash(preset.for_model(adapter, model)), \
            f"{tier}/{adapter}/{model} changed since it was measured: run python -m bench preset_fit --simulate"
        planned = expected_memory(preset, adapter, gradient_checkpointing=row["checkpointing"], model=model,
                                  base_weights=row["base_weights"])["total"]
        measured = row["measured"]["total"]
        assert abs(planned - measured) / measured <= PLANNER_TOLERANCE, (tier, adapter, planned, measured)
        if row["judged"]:
            assert measured + 1.0 <= preset.vram_gb, f"{tier}/{adapter} leaves less than 1 GB: {measured} GB"


def test_the_committed_measurement_matches_a_live_probe():
    from bench.preset_sim import measure_row

    live = measure_row(load_preset("8gb"), "lora")
    stored = next(r for r in measured_rows() if (r["preset"], r["adapter"], r["model"], r["judged"]) ==
                  ("8gb", "lora", "2b", True))
    assert live["measured"] == stored["measured"]


def test_the_committed_xl_int8_measurement_matches_a_live_probe():
    from bench.preset_sim import measure_row

    live = measure_row(load_preset("8gb"), "lora", model="xl")
    stored = next(r for r in measured_rows() if (r["preset"], r["adapter"], r["model"], r["judged"]) ==
                  ("8gb", "lora", "xl", True))
    assert live["base_weights"] == "int8" and live["measured"] == stored["measured"]
