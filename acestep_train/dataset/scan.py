"""Scan a folder of songs: every audio file, its sidecars, its duration, and whether it is usable.

One bad file never stops a scan: each gets a status (``ok``, or why it is unusable:
empty, unreadable, unsupported, too short, truncated, corrupt, silent, a sidecar too big or too
deeply nested, a link to a file outside the studio's roots) and the scan goes on. A symlinked
song whose target lies inside the roots (or anywhere, with no roots set) is a song like any
other, named by the link.
Durations come from headers; the silence check reads blocks only until it meets a non-zero
sample. Undecodable data found by those reads is a status ("corrupt audio data"), not a crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acestep_train.audio import AUDIO_EXTENSIONS, FFMPEG_ONLY, AudioError, AudioInfo, header_info, open_sound, probe
from acestep_train.dataset.csv_io import read_csv
from acestep_train.dataset.provenance import imported
from acestep_train.dataset.record import Sample, is_unset
from acestep_train.dataset.sidecars import TXT_MODES, apply_sidecars
from acestep_train.paths import OUTSIDE_LINK, readable_link

LOW_RATE = 32000
#: The shortest song worth training on: ACE-Step 1.5 makes songs of 10 s to 10 min, and Split keeps no
#: segment shorter. The trainer's Scan and preprocessing refuse shorter songs; a captioner may still read them.
TRAIN_MIN_SECONDS = 10.0


@dataclass(frozen=True)
class ScanOptions:
    txt_mode: str = "caption"  # what a plain {stem}.txt holds: caption | lyrics | ignore
    min_seconds: float = 1.0
    check_silence: bool = True
    csv_path: Path | None = None

    def __post_init__(self):
        if self.txt_mode not in TXT_MODES:
            raise ValueError(f"txt_mode must be one of {TXT_MODES}, not {self.txt_mode!r}")
        if self.min_seconds < 0:
            raise ValueError(f"min_seconds must be >= 0, got {self.min_seconds}")


def folder_listing(folder: Path) -> dict[Path, frozenset[str]]:
    """Each folder under ``folder`` -> the names of its files, from one ``scandir`` per folder.

    As ``rglob``: symlinks to files count, symlinked folders are not entered, unreadable folders
    are left out.
    """
    listing, pending = {}, [folder]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                entries = list(entries)
        except PermissionError:
            continue
        listing[directory] = frozenset(entry.name for entry in entries if _is_file(entry))
        pending.extend(directory / entry.name for entry in entries if entry.is_dir(follow_symlinks=False))
    return listing


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def audio_files(folder: Path, listing: dict[Path, frozenset[str]] | None = None) -> list[Path]:
    listing = folder_listing(folder) if listing is None else listing
    return sorted(directory / name for directory, names in listing.items() for name in names
                  if Path(name).suffix.lower() in AUDIO_EXTENSIONS and not name.startswith("."))


SILENCE_BLOCKS = (4096, 1 << 16)  # a first small read settles almost every song; then larger blocks
TAIL_FRAMES = 4096  # enough to tell data that ends early from data that is there


def _read(handle, frames: int) -> np.ndarray:
    """Up to ``frames`` [frames, channels] float32 from the current position.

    ``SoundFile.read`` seeks back to the position it has just reached after every read, which in a
    FLAC file costs as much as a real seek (~0.2 ms); libsndfile's own read, through soundfile's
    handle, does not. Without those internals (another soundfile version) it is ``read``.
    """
    import soundfile

    snd, ffi, check = (getattr(soundfile, name, None) for name in ("_snd", "_ffi", "_error_check"))
    if snd is None or ffi is None or check is None or not hasattr(handle, "_file"):
        return handle.read(frames, dtype="float32", always_2d=True)
    out = np.empty((frames, handle.channels), dtype=np.float32)
    got = snd.sf_readf_float(handle._file, ffi.cast("float *", out.ctypes.data), frames)
    check(handle._errorcode)
    return out[:got]


def _is_silent(handle) -> bool:
    handle.seek(0)
    size = SILENCE_BLOCKS[0]
    while True:
        block = _read(handle, size)
        if not len(block):
            return True
        if np.any(block != 0.0):
            return False
        size = SILENCE_BLOCKS[1]


def _is_truncated(handle) -> bool:
    import soundfile

    tail = min(handle.frames, TAIL_FRAMES)
    try:
        handle.seek(handle.frames - tail)
    except (soundfile.LibsndfileError, RuntimeError):
        return True
    return len(_read(handle, tail)) < tail // 2


def _checked(path: Path, handle, check):
    """``check(handle)``; undecodable data is an ``AudioError`` (corrupt), not a crash."""
    import soundfile

    try:
        return check(handle)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{path}: corrupt audio data ({error})") from error


def _with_handle(path: Path, check):
    """Run ``check`` on one open file; undecodable data is an ``AudioError`` (corrupt), not a crash."""
    import soundfile

    try:
        with soundfile.SoundFile(str(path)) as handle:
            return check(handle)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{path}: corrupt audio data ({error})") from error


def is_silent(path: Path) -> bool:
    """True for digital silence; a decoding error on the way is an ``AudioError`` (corrupt data)."""
    return _with_handle(path, _is_silent)


def is_truncated(path: Path) -> bool:
    """True when the data ends well before the header's length (a cut-off download or copy).

    Data that cannot be decoded near the end (a damaged stream, not a short one) is an
    ``AudioError``, so the scan records it instead of stopping.
    """
    return _with_handle(path, _is_truncated)


def _data_checks(handle, check_silence: bool) -> str | None:
    """Truncation, then silence, on one open file: the problem found, or None."""
    if _is_truncated(handle):
        return "truncated"
    if check_silence and _is_silent(handle):
        return "silent"
    return None


def _reason(error: Exception, path: Path) -> str:
    """The error's text without the leading file name (the table already shows it)."""
    reason = str(error).removeprefix(f"{path}: ")
    return "unsupported: " + reason if "needs ffmpeg" in reason else reason


def _data_status(path: Path, handle, info: AudioInfo, options: ScanOptions) -> str:
    try:
        problem = _checked(path, handle, lambda open_file: _data_checks(open_file, options.check_silence))
    except AudioError as error:  # corrupt data: a status, and the header's duration still stands
        return _reason(error, path)
    if problem == "truncated":
        return f"truncated (the header says {info.duration:.1f} s but the data ends early)"
    if problem == "silent":
        return "silent (digital silence)"
    return "ok"


def too_short(duration: float, minimum: float) -> str | None:
    """``too short (1.0 s < 10 s)`` for a song under ``minimum`` seconds, else None."""
    return f"too short ({duration:.1f} s < {minimum:g} s)" if duration < minimum else None


def _too_short(info: AudioInfo, options: ScanOptions) -> str | None:
    return too_short(info.duration, options.min_seconds)


def _probe_and_check(path: Path, options: ScanOptions) -> tuple[AudioInfo, str]:
    """Header and data checks with one open of the file (ffmpeg formats: header only)."""
    if path.suffix.lower() in FFMPEG_ONLY:
        info = probe(path)
        return info, _too_short(info, options) or "ok"
    with open_sound(path) as handle:
        info = header_info(handle, path)
        return info, _too_short(info, options) or _data_status(path, handle, info, options)


def audio_status(sample: Sample, options: ScanOptions) -> None:
    path = sample.audio_path
    try:
        info, sample.status = _probe_and_check(path, options)
        sample.duration = round(info.duration, 3)
    except (AudioError, OSError) as error:
        sample.status = _reason(error, path)
        return
    if info.sample_rate < LOW_RATE:
        sample.notes.append(f"low sample rate {info.sample_rate} Hz: resampled to 48 kHz, quality is limited")
    if info.channels > 2:
        sample.notes.append(f"{info.channels} channels: folded down to stereo")


def apply_csv(samples: list[Sample], rows: dict[str, dict[str, str]], source: str) -> None:
    """Fill the fields no one set from the CSV's rows (an import, by ``source``)."""
    by_name, origin = {sample.audio_path.name: sample for sample in samples}, imported(source)
    for name, row in rows.items():
        sample = by_name.get(name)
        if sample is None:
            continue
        for field_name, value in row.items():
            if value and is_unset(sample, field_name):
                try:
                    sample.update({field_name: value}, origin)
                except ValueError as error:
                    sample.notes.append(f"CSV row for {name}: {error}; ignored")


def scan_folder(folder: str | Path, options: ScanOptions = ScanOptions()) -> list[Sample]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder does not exist")
    samples, listing = [], folder_listing(folder)
    for path in audio_files(folder, listing):
        sample = Sample(path)
        samples.append(sample)
        if not readable_link(path):  # neither opened nor its sidecars read
            sample.status = OUTSIDE_LINK
            continue
        audio_status(sample, options)
        try:
            apply_sidecars(sample, options.txt_mode, listing[path.parent])
        except OSError as error:
            sample.notes.append(f"sidecars unreadable: {error}")
    if options.csv_path is not None:
        apply_csv(samples, read_csv(Path(options.csv_path)), Path(options.csv_path).name)
    return samples
