"""A tiny random-init ACE-Step 1.5 stack for tests and ``--demo``.

Same classes as the real model (diffusers' ``AceStepTransformer1DModel``,
``AceStepConditionEncoder``, ``AutoencoderOobleck``; transformers' Qwen3), only small:
hidden size 32, 2 layers, and a latent width of 8 instead of 64 so the VAE runs at
tests' speed on a CPU (every consumer reads the width from the config). It is written to
disk in the original layout (the DiT folders share ``vae/`` and the text encoder folder)
or the diffusers layout (one pipeline folder per variant, through
``AceStepPipeline.save_pretrained``), and loaded back through the same code as real
checkpoints. Same seed, same weights, in both layouts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from acestep_train.atomic import atomic_path, atomic_write_json
from acestep_train.models import keymap
from acestep_train.models.discovery import TEXT_ENCODER_FOLDER

TOKENIZER_CORPUS = """# Instruction
Fill the audio semantic mask based on the given conditions:
# Caption
# Metas
- bpm: 120
- timesignature: 4
- keyscale: C major
- duration: 30 seconds
# Languages
en
# Lyric
[Verse] [Chorus] [Bridge] [Intro] [Outro] [Instrumental]
upbeat electronic pop with female vocals, warm analog synth bass, drums, piano, guitar
lo-fi hip hop, ambient, rock, jazz, orchestral, acoustic, folk, metal, techno, house
la la la, hold on tonight, we are the music, sing it loud, dancing in the rain
"""
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


@dataclass(frozen=True)
class TinySpec:
    hidden_size: int = 32
    intermediate_size: int = 64
    layers: int = 2
    heads: int = 2
    kv_heads: int = 1
    head_dim: int = 16
    latent_channels: int = 8
    text_hidden_size: int = 32
    vocab_size: int = 600
    silence_frames: int = 15000


def train_tokenizer(spec: TinySpec):
    """A byte-level BPE trained offline with ``tokenizers``, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator([TOKENIZER_CORPUS] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|endoftext|>", pad_token="<|endoftext|>", padding_side="right"
    )


def dit_config(spec: TinySpec, variant: str) -> dict:
    """An original-layout ``config.json``: one dict for the DiT and the condition encoder."""
    return {
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.kv_heads,
        "head_dim": spec.head_dim,
        "in_channels": spec.latent_channels * 3,
        "audio_acoustic_hidden_dim": spec.latent_channels,
        "patch_size": 2,
        "rope_theta": 1000000.0,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "rms_norm_eps": 1e-6,
        "sliding_window": 128,
        "layer_types": ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(spec.layers)],
        "text_hidden_dim": spec.text_hidden_size,
        "timbre_hidden_dim": spec.latent_channels,
        "num_lyric_encoder_hidden_layers": spec.layers,
        "num_timbre_encoder_hidden_layers": 1,
        "is_turbo": variant == "turbo",
        "model_type": "acestep",
        "tiny_demo": True,
    }


def build_modules(spec: TinySpec, variant: str, seed: int) -> dict:
    """Random-init modules, created in a fixed order under ``seed``."""
    from diffusers import AceStepConditionEncoder, AceStepTransformer1DModel, AutoencoderOobleck
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(seed)
    tokenizer = train_tokenizer(spec)
    text_encoder = Qwen3Model(
        Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=spec.text_hidden_size,
            intermediate_size=spec.intermediate_size,
            num_hidden_layers=spec.layers,
            num_attention_heads=spec.heads,
            num_key_value_heads=spec.kv_heads,
            head_dim=spec.head_dim,
            max_position_embeddings=4096,
        )
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=spec.latent_channels * 2,
        downsampling_ratios=[2, 4, 4, 6, 10],  # 1920 samples per latent frame: 25 Hz at 48 kHz
        channel_multiples=[1, 1, 1, 1, 1],
        decoder_channels=8,
        decoder_input_channels=spec.latent_channels,
        audio_channels=2,
        sampling_rate=48000,
    )
    config = dit_config(spec, variant)
    transformer = AceStepTransformer1DModel(**keymap.config_for(AceStepTransformer1DModel, config))
    condition_encoder = AceStepConditionEncoder(
        **keymap.config_for(AceStepConditionEncoder, config, exclude=("layer_types",))
    )
    # The real silence latent is VAE-encoded silence; a small random one stands in.
    condition_encoder.silence_latent.copy_(0.1 * torch.randn(1, spec.silence_frames, spec.latent_channels))
    return {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder.eval(),
        "vae": vae.eval(),
        "transformer": transformer.eval(),
        "condition_encoder": condition_encoder.eval(),
        "config": config,
    }


def write_original(modules: dict, root: Path, folder: str) -> Path:
    """Write ``root/<folder>/`` (DiT) plus the shared ``vae/`` and text encoder folders."""
    from safetensors.torch import save_file

    dit_dir = root / folder
    dit_dir.mkdir(parents=True, exist_ok=True)
    state = {}
    for component in (keymap.TRANSFORMER, keymap.CONDITION_ENCODER):
        for key, tensor in modules[component].state_dict().items():
            if key != "silence_latent":
                state[keymap.to_original_key(component, key)] = tensor.contiguous()
    with atomic_path(dit_dir / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    silence = modules[keymap.CONDITION_ENCODER].silence_latent.transpose(1, 2).contiguous()
    with atomic_path(dit_dir / "silence_latent.pt") as tmp:
        torch.save(silence, tmp)
    atomic_write_json(dit_dir / "config.json", modules["config"])
    modules["vae"].save_pretrained(root / "vae")
    modules["text_encoder"].save_pretrained(root / TEXT_ENCODER_FOLDER)
    modules["tokenizer"].save_pretrained(root / TEXT_ENCODER_FOLDER)
    return dit_dir


def write_diffusers(modules: dict, root: Path, folder: str) -> Path:
    """Write ``root/<folder>/`` as a diffusers pipeline folder (``model_index.json`` + parts)."""
    from diffusers import AceStepPipeline, FlowMatchEulerDiscreteScheduler

    pipe = AceStepPipeline(
        vae=modules["vae"],
        text_encoder=modules["text_encoder"],
        tokenizer=modules["tokenizer"],
        transformer=modules["transformer"],
        condition_encoder=modules["condition_encoder"],
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
    )
    pipe.save_pretrained(root / folder, safe_serialization=True)
    return root / folder


def write_demo_model(
    output_dir: str | Path,
    layout: str = "original",
    variants: tuple[str, ...] = ("turbo",),
    seed: int = 0,
    spec: TinySpec = TinySpec(),
) -> list[Path]:
    """Write one tiny model per variant; returns the model folders."""
    if layout not in ("original", "diffusers"):
        raise ValueError(f"layout must be 'original' or 'diffusers', not {layout!r}")
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    writer = write_original if layout == "original" else write_diffusers
    folders = []
    for variant in variants:
        if variant not in ("turbo", "base", "sft"):
            raise ValueError(f"variant must be turbo, base or sft, not {variant!r}")
        folders.append(writer(build_modules(spec, variant, seed), root, f"tiny-{variant}"))
    atomic_write_json(root / "tiny_spec.json", asdict(spec))
    return folders
