"""Audio in: decode any common format, 48 kHz stereo float, peak or LUFS normalization.

Decoding goes through libsndfile (``soundfile``: wav, flac, ogg/vorbis, opus, mp3); formats it
cannot read (m4a/aac) go through librosa's audioread backend, which needs ffmpeg on the
machine; without it the error says so. ``probe`` reads only the header (duration, rate,
channels) so a scan of a thousand files does not decode them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scanning (the UI) needs no torch; decoding imports it
    import torch

SAMPLE_RATE = 48000
PEAK_DBFS = -1.0
TARGET_LUFS = -14.0
AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".aiff", ".aif"}
FFMPEG_ONLY = {".m4a", ".aac"}
NORMALIZE_MODES = ("peak", "lufs", "none")


class AudioError(ValueError):
    """A file that cannot be used as audio; the message names the file and the reason."""


@dataclass(frozen=True)
class AudioInfo:
    duration: float
    sample_rate: int
    channels: int


def unreadable(path: Path, error: Exception) -> AudioError:
    """The reason a decoder refused ``path``, in the user's terms (libsndfile says "possibly a pipe?"
    for any file it cannot recognise, e.g. a text file renamed .mp3)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        head = b""
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return AudioError(f"{path}: unreadable (not an audio file: it holds text)")
    if "possibly a pipe" in str(error) or "Format not recognised" in str(error):
        return AudioError(f"{path}: unreadable (not an audio file: no {path.suffix or 'audio'} header recognised)")
    return AudioError(f"{path}: unreadable ({error})")


def probe(path: str | Path) -> AudioInfo:
    """Duration, rate and channels from the file header, without decoding the audio."""
    path = Path(path)
    if path.suffix.lower() in FFMPEG_ONLY:
        refuse_empty(path)
        return _probe_ffmpeg(path)
    with open_sound(path) as handle:
        return header_info(handle, path)


def refuse_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")


def open_sound(path: Path):
    """An open ``soundfile.SoundFile`` (libsndfile formats); a file it refuses is an ``AudioError``."""
    import soundfile

    refuse_empty(path)
    try:
        return soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise unreadable(path, error) from error


def header_info(handle, path: Path) -> AudioInfo:
    """``AudioInfo`` from an open ``SoundFile``'s header."""
    if handle.frames <= 0 or handle.samplerate <= 0:
        raise AudioError(f"{path}: header says no audio frames")
    return AudioInfo(handle.frames / handle.samplerate, handle.samplerate, handle.channels)


def _probe_ffmpeg(path: Path) -> AudioInfo:
    import audioread

    try:
        with audioread.audio_open(str(path)) as handle:
            return AudioInfo(float(handle.duration), int(handle.samplerate), int(handle.channels))
    except audioread.NoBackendError as error:
        raise AudioError(f"{path}: {path.suffix} needs ffmpeg, which is not installed here "
                         "(install ffmpeg, or convert the file to flac/wav)") from error
    except (audioread.DecodeError, OSError) as error:
        raise unreadable(path, error) from error


def decode(path: str | Path, max_seconds: float | None = None) -> tuple[torch.Tensor, int]:
    """[channels, samples] float32 at the file's own rate, at most ``max_seconds`` long."""
    import soundfile
    import torch

    path = Path(path)
    if path.suffix.lower() in FFMPEG_ONLY:
        return _decode_ffmpeg(path, max_seconds)
    try:
        with soundfile.SoundFile(str(path)) as handle:
            frames = -1 if max_seconds is None else int(max_seconds * handle.samplerate)
            data = handle.read(frames=frames, dtype="float32", always_2d=True)
            rate = handle.samplerate
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise unreadable(path, error) from error
    if data.shape[0] == 0:
        raise AudioError(f"{path}: no audio frames")
    return torch.from_numpy(np.ascontiguousarray(data.T)), rate


def _decode_ffmpeg(path: Path, max_seconds: float | None) -> tuple[torch.Tensor, int]:
    import librosa
    import torch

    _probe_ffmpeg(path)  # a clear error when ffmpeg is missing
    data, rate = librosa.load(str(path), sr=None, mono=False, duration=max_seconds)
    data = np.atleast_2d(data).astype("float32")
    return torch.from_numpy(data), int(rate)


def to_stereo(audio: torch.Tensor) -> torch.Tensor:
    """Mono is duplicated; more than two channels are folded down by averaging into L/R."""
    if audio.shape[0] == 1:
        return audio.repeat(2, 1)
    if audio.shape[0] > 2:
        import torch

        return torch.stack([audio[0::2].mean(0), audio[1::2].mean(0)])
    return audio


def resample(audio: torch.Tensor, rate: int, target: int = SAMPLE_RATE) -> torch.Tensor:
    import torchaudio.functional as F

    return audio if rate == target else F.resample(audio, rate, target)


def normalize(audio: torch.Tensor, mode: str, rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Peak to -1 dBFS, or integrated loudness to -14 LUFS (ITU-R BS.1770, K-weighted), or none.

    LUFS gain never pushes a peak over -1 dBFS: the result is then peak-limited by scaling.
    """
    import torchaudio.functional as F

    if mode not in NORMALIZE_MODES:
        raise ValueError(f"normalize must be one of {NORMALIZE_MODES}, not {mode!r}")
    if mode == "none":
        return audio
    peak = float(audio.abs().max())
    if peak == 0.0:
        raise AudioError("digital silence: nothing to normalize or train on")
    ceiling = 10 ** (PEAK_DBFS / 20)
    if mode == "peak":
        return audio * (ceiling / peak)
    gain = 10 ** ((TARGET_LUFS - float(F.loudness(audio, rate))) / 20)
    return audio * min(gain, ceiling / peak)


def load_for_model(path: str | Path, max_seconds: float, mode: str) -> torch.Tensor:
    """What the VAE takes: [2, N] float32 at 48 kHz, truncated and normalized."""
    audio, rate = decode(path, max_seconds)
    audio = resample(to_stereo(audio), rate)[:, : int(max_seconds * SAMPLE_RATE)]
    try:
        return normalize(audio, mode)
    except AudioError as error:
        raise AudioError(f"{path}: {error}") from error
