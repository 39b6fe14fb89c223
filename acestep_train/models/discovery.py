"""Find ACE-Step 1.5 models under checkpoint roots, in either on-disk layout.

original:  <root>/<dit>/{config.json, model.safetensors, silence_latent.pt},
           <root>/vae/, <root>/Qwen3-Embedding-0.6B/  (shared by every DiT in the root)
diffusers: <dir>/model_index.json + transformer/, condition_encoder/, vae/, text_encoder/, tokenizer/
           (<dir> is the root itself or a folder directly under it)

Discovery reads only configs and safetensors headers: it is instant even for full-size
models, and it reports what is missing instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from acestep_train import safe_json
from acestep_train.models.safetensors_file import CorruptCheckpointError, summarize
from acestep_train.models.variants import Variant, detect_variant

TEXT_ENCODER_FOLDER = "Qwen3-Embedding-0.6B"
CLAP_FOLDER = "clap-htsat-unfused"  # the listening bench's scorer (compare/clap.py), not a DiT
SHARED_FOLDERS = {"vae", TEXT_ENCODER_FOLDER, CLAP_FOLDER}
VAE_WEIGHTS = "diffusion_pytorch_model.safetensors"


@dataclass(frozen=True)
class ModelFiles:
    """Where each part of one model lives on disk."""

    transformer_config: Path
    transformer_weights: Path
    condition_config: Path
    condition_weights: Path
    silence_latent: Path | None  # original layout only; diffusers bakes it into the condition encoder
    vae_dir: Path
    text_encoder_dir: Path
    tokenizer_dir: Path

    def required(self) -> list[Path]:
        paths = [
            self.transformer_config,
            self.transformer_weights,
            self.condition_config,
            self.condition_weights,
            self.vae_dir / "config.json",
            self.vae_dir / VAE_WEIGHTS,
            self.text_encoder_dir / "config.json",
            self.text_encoder_dir / "model.safetensors",
            self.tokenizer_dir / "tokenizer_config.json",
        ]
        if self.silence_latent is not None:
            paths.append(self.silence_latent)
        return list(dict.fromkeys(paths))


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path  # the DiT folder (original) or the pipeline folder (diffusers)
    layout: str  # "original" | "diffusers"
    variant: Variant
    files: ModelFiles
    base_model: str | None = None
    parameters: int = 0  # DiT + condition encoder, from the headers
    dtypes: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())  # unreadable files found while reading headers

    @property
    def usable(self) -> bool:
        return not self.missing and not self.problems

    def describe(self) -> str:
        variant = self.variant.name or "unknown"
        kind = "official" if self.variant.official else "custom"
        size = f"{self.parameters / 1e6:,.1f} M params" if self.parameters else "size unknown"
        status = "ok" if self.usable else "; ".join([*(f"missing {m}" for m in self.missing), *self.problems])
        return (
            f"{self.name}: {self.layout} layout, variant {variant} ({kind}; {self.variant.evidence}), "
            f"{size}, {'/'.join(self.dtypes) or '?'} on disk - {status}"
        )


def original_files(dit_dir: Path) -> ModelFiles:
    root = dit_dir.parent
    return ModelFiles(
        transformer_config=dit_dir / "config.json",
        transformer_weights=dit_dir / "model.safetensors",
        condition_config=dit_dir / "config.json",
        condition_weights=dit_dir / "model.safetensors",
        silence_latent=dit_dir / "silence_latent.pt",
        vae_dir=root / "vae",
        text_encoder_dir=root / TEXT_ENCODER_FOLDER,
        tokenizer_dir=root / TEXT_ENCODER_FOLDER,
    )


def diffusers_files(pipeline_dir: Path) -> ModelFiles:
    return ModelFiles(
        transformer_config=pipeline_dir / "transformer" / "config.json",
        transformer_weights=pipeline_dir / "transformer" / VAE_WEIGHTS,
        condition_config=pipeline_dir / "condition_encoder" / "config.json",
        condition_weights=pipeline_dir / "condition_encoder" / VAE_WEIGHTS,
        silence_latent=None,
        vae_dir=pipeline_dir / "vae",
        text_encoder_dir=pipeline_dir / "text_encoder",
        tokenizer_dir=pipeline_dir / "tokenizer",
    )


def read_json(path: Path) -> dict:
    """Read a JSON config, naming the file when it is missing or malformed."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config.json is missing")
    data = safe_json.load_file(path)  # ValueError naming the file: malformed, huge or nested too deeply
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def describe_model(path: Path, layout: str, base_model: str | None = None) -> ModelInfo:
    files = original_files(path) if layout == "original" else diffusers_files(path)
    missing = tuple(str(p.relative_to(path.parent)) for p in files.required() if not p.exists())
    problems: list[str] = []
    config: dict = {}
    try:
        config = read_json(files.transformer_config)
    except (FileNotFoundError, ValueError) as error:
        if files.transformer_config.exists():
            problems.append(str(error))
    parameters, dtypes = 0, set()
    for weights in dict.fromkeys([files.transformer_weights, files.condition_weights]):
        if weights.exists():
            try:
                count, kinds = summarize(weights, skip=("silence_latent",))  # a buffer, not a parameter
            except CorruptCheckpointError as error:
                problems.append(str(error))
                continue
            parameters += count
            dtypes |= kinds
    return ModelInfo(
        name=path.name,
        path=path,
        layout=layout,
        variant=detect_variant(config, path.name, base_model),
        files=files,
        base_model=base_model,
        parameters=parameters,
        dtypes=tuple(sorted(dtypes)),
        missing=missing,
        problems=tuple(problems),
    )


def _candidates(root: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if (root / "model_index.json").is_file():
        found.append((root, "diffusers"))
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (child / "model_index.json").is_file():
            found.append((child, "diffusers"))
        elif child.name not in SHARED_FOLDERS and (child / "config.json").is_file() and (
            (child / "model.safetensors").exists() or (child / "silence_latent.pt").exists()
        ):
            found.append((child, "original"))
    return found


def discover_models(roots: list[str | Path], base_model: str | None = None) -> list[ModelInfo]:
    """Every ACE-Step 1.5 DiT found directly under each root, with its report."""
    models: list[ModelInfo] = []
    for root in map(Path, roots):
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: checkpoint folder does not exist")
        models.extend(describe_model(path, layout, base_model) for path, layout in _candidates(root))
    return models


def select_model(models: list[ModelInfo], choice: str) -> ModelInfo:
    """Pick by folder name first, then by variant (``turbo``/``base``/``sft``/``xl-turbo``...)."""
    by_name = [m for m in models if m.name == choice]
    if by_name:
        return by_name[0]
    by_variant = [m for m in models if m.variant.name == choice]
    # Prefer an official checkpoint over a custom one of the same variant.
    by_variant.sort(key=lambda m: (not m.variant.official, m.name))
    if by_variant:
        return by_variant[0]
    available = ", ".join(f"{m.name} ({m.variant.name or 'unknown'})" for m in models) or "none"
    raise ValueError(f"no model matches {choice!r} (found: {available}); download it with the Service tab's "
                     f"Download button or `python -m acestep_train download --checkpoint-dir <folder> --model {choice}`, "
                     "or start the studio with --demo for the tiny demo model")


def find_model(roots: list[str | Path], choice: str, base_model: str | None = None) -> ModelInfo:
    """``discover_models`` + ``select_model`` in one call, for commands."""
    return select_model(discover_models(roots, base_model), choice)


def model_size(roots: list[str | Path], choice: str, base_model: str | None = None) -> str:
    """``xl`` when the chosen checkpoint is an XL DiT, else ``2b``: which of a preset's settings apply."""
    return "xl" if find_model(roots, choice, base_model).variant.xl else "2b"
