"""Download the official ACE-Step 1.5 checkpoints with ``huggingface_hub``.

Only the official repositories are used (``OFFICIAL_DIT_REPOS`` and the main repo that
ships the turbo DiT, the VAE and the text encoder), plus ``laion/clap-htsat-unfused`` for the
listening bench's scores (``--model clap``: into ``<checkpoint folder>/clap-htsat-unfused``;
its weights are a PyTorch ``.bin`` that transformers reads with ``weights_only=True``). Files
land in the original layout under the checkpoint folder. ``endpoint`` points ``huggingface_hub`` at a mirror (the
tests use a local stand-in). Every download is checked afterwards by discovery: a
model that is still incomplete is an error, not a success.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acestep_train.models.discovery import CLAP_FOLDER, TEXT_ENCODER_FOLDER, describe_model
from acestep_train.models.variants import OFFICIAL_DIT_REPOS

MAIN_REPO = "ACE-Step/Ace-Step1.5"
SHARED_PATTERNS = ["vae/*", f"{TEXT_ENCODER_FOLDER}/*"]
ALIASES = {"turbo": "acestep-v15-turbo", "base": "acestep-v15-base", "sft": "acestep-v15-sft"}
CLAP = "clap"  # the name ``download --model`` takes for the bench's scorer
CLAP_REPO = "laion/clap-htsat-unfused"
CLAP_PATTERNS = ["*.json", "merges.txt", "vocab.json", "*.safetensors", "pytorch_model.bin"]


class DownloadError(RuntimeError):
    """The download could not finish; the message says what to fetch by hand and where."""


@dataclass(frozen=True)
class DownloadStep:
    repo_id: str
    allow_patterns: list[str] | None  # None: the whole repo
    local_dir: Path

    def manual_hint(self) -> str:
        what = ", ".join(self.allow_patterns) if self.allow_patterns else "all files"
        return f"  - {self.repo_id} ({what}) -> {self.local_dir}"


def resolve_name(name: str) -> str:
    folder = ALIASES.get(name, name)
    if folder not in OFFICIAL_DIT_REPOS:
        known = ", ".join([*ALIASES, *OFFICIAL_DIT_REPOS, CLAP])
        raise ValueError(f"{name!r} is not an official ACE-Step 1.5 model; choose one of: {known}")
    return folder


def plan_download(name: str, checkpoint_dir: str | Path) -> list[DownloadStep]:
    """The repos and patterns that make ``name`` complete under ``checkpoint_dir``."""
    root = Path(checkpoint_dir)
    if name == CLAP:
        return [DownloadStep(CLAP_REPO, list(CLAP_PATTERNS), root / CLAP_FOLDER)]
    folder = resolve_name(name)
    steps = [DownloadStep(MAIN_REPO, list(SHARED_PATTERNS), root)]
    repo = OFFICIAL_DIT_REPOS[folder]
    if repo is None:
        steps.append(DownloadStep(MAIN_REPO, [f"{folder}/*"], root))
    else:
        steps.append(DownloadStep(repo, None, root / folder))
    return steps


def download_model(
    name: str,
    checkpoint_dir: str | Path,
    endpoint: str | None = None,
    tqdm_class=None,
    token: str | None = None,
) -> Path:
    """Download ``name`` (``turbo``/``base``/``sft``, an official folder name or ``clap``); return its folder."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    steps = plan_download(name, checkpoint_dir)
    for step in steps:
        try:
            snapshot_download(
                step.repo_id,
                allow_patterns=step.allow_patterns,
                local_dir=step.local_dir,
                endpoint=endpoint,
                tqdm_class=tqdm_class,
                token=token,
            )
        except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
            hints = "\n".join(s.manual_hint() for s in steps)
            raise DownloadError(
                f"could not download {step.repo_id} ({type(error).__name__}: {error}).\n"
                f"Without internet, fetch these on another machine and copy them here:\n{hints}"
            ) from error
    model_dir = Path(checkpoint_dir) / (CLAP_FOLDER if name == CLAP else resolve_name(name))
    problems = _clap_missing(model_dir) if name == CLAP else _dit_missing(model_dir)
    if problems:  # huggingface_hub returns what is on disk when it cannot reach the hub, without an error
        hints = "\n".join(s.manual_hint() for s in steps)
        raise DownloadError(
            f"{model_dir.name} is still incomplete ({'; '.join(problems)}"
            f"): the hub could not be reached (offline?) or does not hold these files.\n"
            f"Without internet, fetch these on another machine and copy them here:\n{hints}")
    return model_dir


def _dit_missing(model_dir: Path) -> list[str]:
    info = describe_model(model_dir, "original")
    return [] if info.usable else [*(f"missing {x}" for x in info.missing), *info.problems]


def _clap_missing(model_dir: Path) -> list[str]:
    missing = [] if (model_dir / "config.json").is_file() else [f"missing {CLAP_FOLDER}/config.json"]
    if not any((model_dir / name).is_file() for name in ("preprocessor_config.json", "processor_config.json")):
        missing.append(f"missing {CLAP_FOLDER}/preprocessor_config.json")
    if not any(model_dir.glob("*.safetensors")) and not (model_dir / "pytorch_model.bin").is_file():
        missing.append(f"missing {CLAP_FOLDER}/model.safetensors or pytorch_model.bin")
    return missing
