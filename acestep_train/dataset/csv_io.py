"""Captions in a CSV: ``filename, caption, genre, bpm, keyscale, timesignature, lyrics, language``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from acestep_train.atomic import atomic_write_text
from acestep_train.dataset.record import Sample
from acestep_train.dataset.sidecars import read_text

CSV_COLUMNS = ("filename", "caption", "genre", "bpm", "keyscale", "timesignature", "lyrics", "language")


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    """{file name: row}; a malformed file is refused naming the file and the line."""
    text, _ = read_text(path)
    try:
        reader = csv.DictReader(io.StringIO(text), strict=True)
        if not reader.fieldnames or "filename" not in reader.fieldnames:
            raise ValueError(f"{path}: no 'filename' column (columns: {', '.join(CSV_COLUMNS)})")
        rows = {}
        for row in reader:
            if None in row:
                raise ValueError(f"{path}: line {reader.line_num} has more fields than the header")
            name = (row.get("filename") or "").strip()
            if name:
                rows[Path(name).name] = {k: v for k, v in row.items() if k in CSV_COLUMNS and k != "filename"}
    except csv.Error as error:
        raise ValueError(f"{path}: malformed CSV at line {reader.line_num}: {error}") from error
    return rows


def write_csv(path: Path, samples: list[Sample]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for sample in samples:
        row = sample.sidecar()
        writer.writerow({name: "" if row[name] is None else row[name] for name in CSV_COLUMNS})
    atomic_write_text(path, buffer.getvalue())
