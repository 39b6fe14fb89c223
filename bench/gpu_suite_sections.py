"""The GPU suite's non-training sections: the model side of preprocessing at full size, and one merge.

Preprocessing on a GPU is the VAE encoding the audio, the Qwen3 text encoder running the caption
and the condition encoder packing it; decoding and resampling are CPU work (``bench/preprocess.py``).
This section builds those models at the published ACE-Step 1.5 sizes with random weights (no
download) and times encoding 30 s stereo 48 kHz clips and a 256-token caption per song.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

#: ACE-Step 1.5's VAE (AutoencoderOobleck) and its Qwen3-Embedding-0.6B text encoder, as published.
FULL_VAE = {"encoder_hidden_size": 128, "downsampling_ratios": [2, 4, 4, 6, 10],
            "channel_multiples": [1, 2, 4, 8, 16], "decoder_channels": 128, "decoder_input_channels": 64,
            "audio_channels": 2, "sampling_rate": 48000}
FULL_TEXT = {"vocab_size": 151669, "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
             "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 32768}
SMALL_VAE = {**FULL_VAE, "encoder_hidden_size": 8, "channel_multiples": [1, 1, 1, 1, 1], "decoder_channels": 8,
             "decoder_input_channels": 8}
SMALL_TEXT = {**FULL_TEXT, "vocab_size": 600, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16}


def build_preprocess_models(size: str, device, dtype):
    import torch
    from diffusers import AceStepConditionEncoder, AutoencoderOobleck
    from transformers import Qwen3Config, Qwen3Model

    from acestep_train.models import keymap
    from acestep_train.models.full_config import FULL_DIT
    from acestep_train.models.tiny import TinySpec, dit_config

    vae_config, text_config = (FULL_VAE, FULL_TEXT) if size == "full" else (SMALL_VAE, SMALL_TEXT)
    dit = FULL_DIT if size == "full" else dit_config(TinySpec(latent_channels=8, text_hidden_size=32), "turbo")
    with torch.device(device):
        vae = AutoencoderOobleck(**vae_config).to(dtype).eval()
        text = Qwen3Model(Qwen3Config(**text_config)).to(dtype).eval()
        encoder = AceStepConditionEncoder(**keymap.config_for(AceStepConditionEncoder, dit,
                                                              exclude=("layer_types",))).to(dtype).eval()
    return vae, text, encoder, text_config


def preprocess_section(args, device, deadline: float, songs: int = 8, seconds: float = 30.0) -> dict:
    import torch

    if time.monotonic() > deadline - 60:
        return {"skipped": "suite time budget spent"}
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if args.size != "full":
        seconds = 2.0
    vae, text, encoder, text_config = build_preprocess_models(args.size, device, dtype)
    audio = torch.randn(1, 2, int(seconds * 48000), device=device, dtype=dtype)
    tokens = torch.randint(0, text_config["vocab_size"], (1, 256), device=device)
    timings = []
    with torch.inference_mode():
        for index in range(songs + 1):
            start = time.perf_counter()
            latents = vae.encode(audio).latent_dist.mode()
            caption = text(input_ids=tokens).last_hidden_state
            if device.type == "cuda":
                torch.cuda.synchronize()
            if index:  # the first one warms up kernels
                timings.append(time.perf_counter() - start)
    per_song = sum(timings) / len(timings)
    return {"songs": songs, "song_seconds": seconds, "seconds_per_song": round(per_song, 4),
            "songs_per_minute": round(60 / per_song, 1), "audio_seconds_per_second": round(seconds / per_song, 1),
            "latent_frames": int(latents.shape[-1]), "caption_tokens": int(caption.shape[1]),
            "condition_encoder_params": sum(p.numel() for p in encoder.parameters())}


def merge_section(args, deadline: float) -> dict:
    remaining = deadline - time.monotonic()
    if remaining < 30:
        return {"skipped": "suite time budget spent"}
    size = "full" if args.size == "full" else "tiny"
    command = [sys.executable, "-m", "bench.merge_peak_ram", "--workdir", str(args.workdir / "merge"),
               "--size", size, "--results-dir", str(args.results_dir)]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=remaining,
                             cwd=Path(__file__).resolve().parents[1])
    except subprocess.TimeoutExpired:
        return {"skipped": "suite time budget spent during the merge"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])
