"""The songs a bench scores against, and their CLAP embeddings, cached by file fingerprint.

By default the reference is the run's training songs: ``run.json`` names the tensor folder,
whose ``manifest.json`` records each sample's source audio, and the split that ran (songs held out
for validation never trained, so they are not in the reference). A user may name a folder of audio
instead (``--reference``). Each song is embedded once per bench: its windows' embeddings are kept
in ``<grid folder>/clap_reference.safetensors`` under the song's SHA-256 (its content, not its
name), with the CLAP weights' fingerprint; under the studio every song must lie in its roots; a second scoring of the bench, or a bench re-rendered
into the same folder, reads them back. A song that cannot be read is skipped and reported; one bad
song never stops the scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from acestep_train import safe_json
from acestep_train.atomic import atomic_path
from acestep_train.atomic_dir import sha256_file
from acestep_train.audio import AudioError, decode
from acestep_train.compare.clap import ClapEmbedder, clip_embedding
from acestep_train.dataset.scan import audio_files
from acestep_train.paths import confine
from acestep_train.tensors import MANIFEST, Manifest

CACHE_FILE = "clap_reference.safetensors"
MAX_SONG_S = 600.0  # the first 10 minutes of a song stand for it (bounds the cost of a long file)


def training_songs(run: str | Path, reference: str | None = None) -> list[Path]:
    """The audio files of the reference: ``reference`` (a folder), else the run's training songs."""
    if reference:
        folder = confine(reference, "reference songs folder")
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: the reference songs folder does not exist")
        songs = audio_files(folder)  # dotfiles (macOS ._song.wav) left out, as everywhere
        if not songs:
            raise FileNotFoundError(f"{folder}: no audio files to compare with")
        return songs
    record = Path(run) / "run.json"
    if not record.is_file():
        raise FileNotFoundError(f"{record}: no run record, so the training songs are unknown; "
                                "name a folder of reference songs (--reference)")
    try:
        recorded = safe_json.load_file(record)
        dataset = confine(recorded["config"]["dataset_dir"], f"{record}: config.dataset_dir")
        trained = (recorded.get("resolved") or {}).get("split", {}).get("train")  # None: no split recorded
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{record}: no config.dataset_dir, so the training songs are unknown") from error
    entries = Manifest.load(dataset).samples.values()
    try:
        songs = sorted({Path(e["source"]) for e in entries if trained is None or e["file"] in trained})
    except (KeyError, TypeError) as error:
        raise ValueError(f"{dataset / MANIFEST}: no samples with a source song ({error})") from error
    if not songs:
        raise FileNotFoundError(f"{dataset}: the run's tensor folder lists no song that trained")
    return songs


@dataclass
class Reference:
    """Per-window embeddings of each usable song; the songs' centroid; what was skipped and why."""

    songs: dict[str, torch.Tensor] = field(default_factory=dict)  # file -> [windows, D]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cached: int = 0  # songs read from the cache instead of embedded

    def centroid(self) -> torch.Tensor:
        """The mean of the songs' unit embeddings (each song counts once, however long)."""
        return torch.stack([clip_embedding(w) for w in self.songs.values()]).mean(0)

    def windows(self) -> torch.Tensor:
        """Every 10 s window of every song, [N, D]: the reference set for KAD (clips vs clips)."""
        return torch.cat(list(self.songs.values()))


def _read_cache(path: Path, fingerprint: str) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    if not path.is_file():
        return {}
    with safe_open(str(path), "pt") as handle:
        if (handle.metadata() or {}).get("clap") != fingerprint:
            return {}  # other weights made these: embed again
        return {key: handle.get_tensor(key) for key in handle.keys()}


def embed_reference(embedder: ClapEmbedder, songs: list[Path], cache_folder: Path) -> Reference:
    """Embed each song (or read it from the cache); write the cache atomically when anything was new."""
    from safetensors.torch import save_file

    cache_path = cache_folder / CACHE_FILE
    fingerprint = embedder.fingerprint()
    cache = _read_cache(cache_path, fingerprint)
    reference, fresh = Reference(), False
    for song in songs:
        try:
            path = confine(song, "reference song")
            key = sha256_file(path)
            if key not in cache:
                cache[key], fresh = embedder.audio_windows(*decode(path, MAX_SONG_S)), True
            else:
                reference.cached += 1
            reference.songs[str(song)] = cache[key]
        except (OSError, AudioError, ValueError) as error:
            reference.skipped.append((str(song), f"{type(error).__name__}: {error}"))
    if fresh:
        with atomic_path(cache_path) as tmp:
            save_file({k: v.contiguous() for k, v in cache.items()}, str(tmp), metadata={"clap": fingerprint})
    if not reference.songs:
        raise FileNotFoundError("no reference song could be read: " +
                                "; ".join(f"{song} ({why})" for song, why in reference.skipped))
    return reference
