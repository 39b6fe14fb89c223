"""Captions in a CSV: ``filename, caption, genre, bpm, keyscale, timesignature, lyrics, language``.

Also read as ACE-Step 1.5's dataset builder writes them: ``File, BPM, Key, Caption`` (headers
in any case), separated by commas, semicolons or tabs.

A cell a spreadsheet would run as a formula (one starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return, OWASP's "CSV injection" list) is written with a leading apostrophe, which
spreadsheets show as text; reading strips it again, so a round trip keeps every value. A value
that already starts with apostrophes before such a character gets one more, so the rule is
reversible for every string.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from acestep_train.atomic import atomic_write_text
from acestep_train.dataset.record import Sample
from acestep_train.dataset.sidecars import read_text

CSV_COLUMNS = ("filename", "caption", "genre", "bpm", "keyscale", "timesignature", "lyrics", "language")
ALIASES = {"file": "filename", "key": "keyscale", "time_signature": "timesignature"}
DELIMITERS = ",;\t"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _formula_like(value: str) -> bool:
    """Would this cell (after any leading apostrophes) start like a formula?"""
    return value.lstrip("'").startswith(FORMULA_STARTS)


def escape_cell(value: str) -> str:
    return "'" + value if _formula_like(value) else value


def unescape_cell(value: str) -> str:
    return value[1:] if value.startswith("'") and _formula_like(value[1:]) else value


def _delimiter(text: str) -> str:
    """The file's delimiter (comma, semicolon or tab), guessed from its header line.

    Only the delimiter is taken from the guess: quoting stays Excel's, so a stray quote is
    still an error rather than silently merged fields.
    """
    try:
        return csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _column(header: str) -> str:
    name = header.strip().lower()
    return ALIASES.get(name, name)


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    """{file name: row}; a malformed file is refused naming the file and the line."""
    text, _ = read_text(path)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text), strict=True)
    try:
        header = [_column(h) for h in next(reader, [])]
        if "filename" not in header:
            raise ValueError(f"{path}: no 'filename' column (or ACE-Step's 'File'; columns: {', '.join(CSV_COLUMNS)})")
        rows = {}
        for values in reader:
            if len(values) > len(header):
                raise ValueError(f"{path}: line {reader.line_num} has more fields than the header")
            row = dict(zip(header, map(unescape_cell, values)))
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
        writer.writerow({name: escape_cell("" if row[name] is None else str(row[name])) for name in CSV_COLUMNS})
    atomic_write_text(path, buffer.getvalue())
