"""Fetch ACE-Step's captioner / transcriber into a local folder (official repos only)."""

from __future__ import annotations

from pathlib import Path

from captioner.omni_backend import REPOS


def download_model(role: str, folder: str | Path, endpoint: str | None = None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if role not in REPOS:
        raise ValueError(f"role must be one of {sorted(REPOS)}, not {role!r}")
    try:
        snapshot_download(REPOS[role], local_dir=folder, endpoint=endpoint)
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise RuntimeError(f"could not download {REPOS[role]} ({type(error).__name__}). Without internet, fetch "
                           f"that repository on another machine and copy it to {folder}") from error
    if not (Path(folder) / "config.json").is_file():
        raise RuntimeError(f"{folder}: the download finished without config.json; the model is incomplete")
    return Path(folder)
