"""The one-shot GPU suite's plumbing, on the CPU at small size (the figures themselves need a GPU)."""

import json


def test_gpu_suite_writes_one_results_file_with_every_section(tmp_path):
    from bench.gpu_suite import main

    figures = main(["--size", "small", "--frames", "32", "--steps", "1", "--warmup", "0", "--presets", "8gb",
                    "--skip", "compile", "--flash-backend", "native", "--workdir", str(tmp_path / "work"),
                    "--budget-s", "3600", "--results-dir", str(tmp_path)])
    saved = json.loads((tmp_path / "gpu_suite_small.json").read_text())
    assert saved["training"] == json.loads(json.dumps(figures["training"]))
    presets = [r for r in saved["training"] if r["kind"] == "preset"]
    assert [(r["preset"], r["adapter"]) for r in presets] == [("8gb", kind) for kind in ("lora", "lokr", "loha", "dora")]
    for row in presets:
        assert "error" not in row, row
        assert row["step_s"] > 0 and row["samples_per_s"] > 0 and row["audio_s_per_s"] > 0
        assert row["adapter_params"] > 0 and row["tflops_per_step"] > 0
    assert presets[0]["checkpointing"] == "on"  # the preset's own setting
    variants = [r for r in saved["training"] if r["kind"] == "variant"]
    assert len(variants) == 3 and all("error" not in r for r in variants)
    assert {r["checkpointing"] for r in variants[:2]} == {"on"}  # 24gb ships without checkpointing: flipped
    assert variants[0]["batch"] == 3  # the 24gb preset's batch, not a default
    assert set(saved["preset_fit"]) == {"8gb/lora", "8gb/lokr", "8gb/loha", "8gb/dora"}
    xl = [r for r in saved["training"] if r["kind"] == "xl"]
    assert [(r["preset"], r["adapter"], r["model"], r["base_weights"]) for r in xl] == \
        [("8gb", "lora", "xl", "int8"), ("8gb", "lokr", "xl", "int8")]  # the 8 GB tier trains the XL on int8
    int8 = [r for r in saved["training"] if r["kind"] == "int8"]
    assert [(r["preset"], r["model"], r["base_weights"]) for r in int8] == [("8gb", "2b", "int8")]
    for row in xl + int8:
        assert "error" not in row, row
        assert row["step_s"] > 0 and row["fits_tier"] is None  # judged on a GPU only (no peak on the CPU)
    assert xl[0]["params"] > presets[0]["params"]  # the small XL is the larger DiT
    assert set(saved["xl_fit"]) == {"8gb/lora", "8gb/lokr"} and set(saved["int8_fit"]) == {"8gb/lora"}
    assert saved["preprocess"]["songs_per_minute"] > 0 and saved["preprocess"]["latent_frames"] == 50
    assert saved["merge"]["merge_seconds"] > 0
    assert saved["suite_seconds"] < saved["budget_s"]


def test_gpu_suite_records_a_spent_budget_instead_of_dropping_rows(tmp_path):
    from bench.gpu_suite import main

    figures = main(["--size", "small", "--frames", "32", "--steps", "1", "--warmup", "0", "--presets", "8gb",
                    "--budget-s", "0", "--skip", "compile", "--results-dir", str(tmp_path),
                    "--workdir", str(tmp_path / "work")])
    assert all(row.get("skipped") for row in figures["training"])
    assert figures["preprocess"]["skipped"] and figures["merge"]["skipped"]
