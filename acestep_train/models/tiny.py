"""A tiny random-init ACE-Step 1.5 stack for tests and ``--demo``.

Same classes as the real model (diffusers' ``AceStepTransformer1DModel``,
``AceStepConditionEncoder``, ``AutoencoderOobleck``; transformers' Qwen3), only small:
hidden size 32, 2 layers, and a latent width of 8 instead of 64 so the VAE runs at
tests' speed on a CPU. The ``xl-*`` variants keep the XL's shape ratios (``TINY_XL``: a DiT 1.25x
wider than its condition encoder, query width 1.6x and key/value width 0.4x the hidden size, MLP 3.8x,
4 query heads per key/value head, a third more layers) (every consumer reads the width from the config). It is written to
disk in the original layout (the DiT folders share ``vae/`` and the text encoder folder)
or the diffusers layout (one pipeline folder per variant, through
``AceStepPipeline.save_pretrained``), and loaded back through the same code as real
checkpoints. Same seed, same weights, in both layouts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
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
    # XL: the condition encoder (and the text encoder) keep these sizes while the DiT is wider.
    encoder_hidden_size: int | None = None
    encoder_intermediate_size: int | None = None
    encoder_heads: int | None = None
    encoder_kv_heads: int | None = None
    encoder_layers: int | None = None

    def encoder_spec(self) -> "TinySpec":
        """The sizes of the condition and text encoders (the DiT's own unless this is an XL spec)."""
        if self.encoder_hidden_size is None:
            return self
        return replace(self, hidden_size=self.encoder_hidden_size, intermediate_size=self.encoder_intermediate_size,
                       heads=self.encoder_heads, kv_heads=self.encoder_kv_heads, layers=self.encoder_layers,
                       encoder_hidden_size=None, encoder_intermediate_size=None, encoder_heads=None,
                       encoder_kv_heads=None, encoder_layers=None)


#: The tiny XL: ACE-Step 1.5 XL's ratios (DiT 2560 over an encoder 2048 wide, 32 heads of 128 over 8
#: key/value heads, MLP 9728, 32 layers against 24) on the tiny model's encoders, which it shares.
TINY_XL = TinySpec(hidden_size=40, intermediate_size=152, layers=3, heads=4, kv_heads=1, head_dim=16,
                   encoder_hidden_size=32, encoder_intermediate_size=64, encoder_heads=2, encoder_kv_heads=1,
                   encoder_layers=2)
VARIANTS = ("turbo", "base", "sft", "xl-turbo", "xl-base", "xl-sft")


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
    encoder = spec.encoder_spec()
    xl_sizes = {} if encoder is spec else {
        "encoder_hidden_size": encoder.hidden_size, "encoder_intermediate_size": encoder.intermediate_size,
        "encoder_num_attention_heads": encoder.heads, "encoder_num_key_value_heads": encoder.kv_heads}
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
        "num_lyric_encoder_hidden_layers": encoder.layers,
        "num_timbre_encoder_hidden_layers": 1,
        "is_turbo": variant.removeprefix("xl-") == "turbo",
        "model_type": "acestep",
        "tiny_demo": True,
        **xl_sizes,
    }


def build_modules(spec: TinySpec, variant: str, seed: int) -> dict:
    """Random-init modules, created in a fixed order under ``seed``."""
    from diffusers import AceStepTransformer1DModel, AutoencoderOobleck
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(seed)
    encoder = spec.encoder_spec()  # an XL shares the text encoder and VAE: same sizes, same draws
    tokenizer = train_tokenizer(encoder)
    text_encoder = Qwen3Model(
        Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=encoder.text_hidden_size,
            intermediate_size=encoder.intermediate_size,
            num_hidden_layers=encoder.layers,
            num_attention_heads=encoder.heads,
            num_key_value_heads=encoder.kv_heads,
            head_dim=encoder.head_dim,
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
    condition_encoder = keymap.condition_encoder(config)
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
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
        variant_spec = TINY_XL if variant.startswith("xl-") else spec
        folders.append(writer(build_modules(variant_spec, variant, seed), root, f"tiny-{variant}"))
    atomic_write_json(root / "tiny_spec.json", asdict(spec))
    return folders
