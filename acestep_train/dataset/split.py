"""Cut long songs into N-second segments, dropping tails under 10 s (``TRAIN_MIN_SECONDS``), carrying sidecars over.

Segments keep the source's rate and channels; WAV and FLAC stay as they are, compressed
formats are written as FLAC so nothing is re-encoded lossily. Each segment gets a
``.json`` sidecar with the source's caption, genre, bpm, key, time signature, language and
tag; lyrics are not carried, since which lines fall in which segment is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acestep_train.dataset.record import Sample
from acestep_train.dataset.scan import TRAIN_MIN_SECONDS, ScanOptions, scan_folder
from acestep_train.dataset.sidecars import write_sidecar

MIN_TAIL_SECONDS = TRAIN_MIN_SECONDS
LOSSLESS = {".wav": "WAV", ".flac": "FLAC"}


@dataclass(frozen=True)
class SplitResult:
    source: Path
    segments: list[Path]
    dropped_tail_seconds: float


def split_sample(sample: Sample, output_dir: Path, seconds: float) -> SplitResult:
    import soundfile

    from acestep_train.atomic import atomic_path
    from acestep_train.audio import decode

    if seconds < MIN_TAIL_SECONDS:
        raise ValueError(f"seconds must be >= {MIN_TAIL_SECONDS:g}, got {seconds}")
    audio, rate = decode(sample.audio_path)
    per = int(seconds * rate)
    total = audio.shape[1]
    starts = [s for s in range(0, total, per) if total - s >= MIN_TAIL_SECONDS * rate]
    suffix = sample.audio_path.suffix.lower()
    fmt, ext = (LOSSLESS[suffix], suffix) if suffix in LOSSLESS else ("FLAC", ".flac")
    output_dir.mkdir(parents=True, exist_ok=True)
    segments, kept = [], 0
    for number, start in enumerate(starts, 1):
        piece = audio[:, start : start + per]
        kept += piece.shape[1]
        target = output_dir / f"{sample.audio_path.stem}_part{number:02d}{ext}"
        with atomic_path(target) as tmp:
            soundfile.write(str(tmp), piece.numpy().T, rate, format=fmt)
        segment = Sample(target, caption=sample.caption, genre=sample.genre, bpm=sample.bpm,
                         keyscale=sample.keyscale, timesignature=sample.timesignature, language=sample.language,
                         is_instrumental=sample.is_instrumental, custom_tag=sample.custom_tag,
                         duration=round(piece.shape[1] / rate, 3),
                         provenance={k: v for k, v in sample.provenance.items() if k != "lyrics"})
        write_sidecar(segment)
        segments.append(target)
    return SplitResult(sample.audio_path, segments, round((total - kept) / rate, 3))


def split_folder(audio_dir: Path, output_dir: Path, seconds: float) -> tuple[list[SplitResult], list[tuple]]:
    """Split every usable song; returns (results, [(file, reason)] for songs that could not be split, a song
    shorter than one segment's minimum among them)."""
    results, failed = [], []
    for sample in scan_folder(audio_dir, ScanOptions(check_silence=False, min_seconds=MIN_TAIL_SECONDS)):
        if not sample.usable:
            failed.append((str(sample.audio_path), sample.status))
            continue
        try:
            results.append(split_sample(sample, output_dir, seconds))
        except (OSError, ValueError) as error:
            failed.append((str(sample.audio_path), str(error)))
    return results, failed
