"""Read every sidecar form other ACE-Step tools write; write ours atomically with a backup.

Read, for ``song.mp3``: ``song.json`` (the captioner schema), ``song.caption.txt``,
``song.lyrics.txt``, ``song.lyrics``, and ``song.txt`` (caption, lyrics or ignored: a
dataset option). ``song.json`` wins where it has a value; the text files fill the rest.
Who wrote each value is read from ``song.json``'s ``_provenance`` (``record.claim``): values in a
hand-made or another tool's ``song.json`` are the user's, values from the text files an import's,
so an auto-labeler never overwrites them unless asked. We write only ``song.json``; the previous
version is kept as ``song.json.bak``.

A sidecar that is a symlink to a file outside the studio's roots is not read (see
``acestep_train.paths``); writes replace a symlink (``song.json`` or ``song.json.bak``), never
follow it. Sidecars are read through ``acestep_train.safe_json``: one over 16 MB or nested too
deeply is not read at all and makes its song unusable, with the file and the reason as its
status (``SidecarError``); the other songs of the folder are unaffected.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

from acestep_train import safe_json
from acestep_train.atomic import atomic_path, atomic_write_json
from acestep_train.dataset.provenance import IMPORT, USER, Origin
from acestep_train.dataset.record import SIDECAR_FIELDS, Sample, claim, coerce
from acestep_train.paths import readable_link

TXT_MODES = ("caption", "lyrics", "ignore")


class SidecarError(ValueError):
    """A sidecar that is not read at all (over the size cap, nested too deeply): its song is unusable."""


def read_text(path: Path) -> tuple[str, str | None]:
    """(text, note): UTF-8 first; otherwise Windows-1252, with a note saying so. Over 16 MB: ``SidecarError``."""
    try:
        raw = safe_json.read_bounded(path)
    except safe_json.JsonLimitError as error:
        raise SidecarError(f"{path.name}: " + str(error).removeprefix(f"{path}: ")) from None
    try:
        return raw.decode("utf-8-sig").strip(), None
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace").strip(), f"{path.name} is not UTF-8; read as Windows-1252"


def _exists(path: Path, listing: frozenset[str] | None) -> bool:
    """A file at ``path``: from the folder's listing when the caller has one (a scan), else a stat."""
    return path.name in listing if listing is not None else path.is_file()


def text_sidecars(audio: Path, txt_mode: str, listing: frozenset[str] | None = None) -> dict[str, Path]:
    stem = audio.with_suffix("")
    found = {"caption": stem.with_name(stem.name + ".caption.txt")}
    lyric_files = [stem.with_name(stem.name + ".lyrics.txt"), stem.with_name(stem.name + ".lyrics")]
    found["lyrics"] = next((p for p in lyric_files if _exists(p, listing)), lyric_files[0])
    plain = stem.with_suffix(".txt")
    if txt_mode != "ignore" and _exists(plain, listing) and not _exists(found[txt_mode], listing):
        found[txt_mode] = plain
    return {name: path for name, path in found.items() if _exists(path, listing)}


def json_sidecar(path: Path, notes: list[str]) -> dict:
    text, note = read_text(path)
    if note:
        notes.append(note)
    try:
        data = safe_json.loads(text, path.name)
    except safe_json.JsonLimitError as error:
        raise SidecarError(str(error)) from None
    except ValueError as error:
        notes.append(f"{error}: ignored; saving keeps it as {path.name}.bak")
        return {}
    if not isinstance(data, dict):
        notes.append(f"{path.name} is not a JSON object: ignored; saving keeps it as {path.name}.bak")
        return {}
    return data


def confined(path: Path, notes: list[str], listing: frozenset[str] | None = None) -> bool:
    """A sidecar to read: a file, and not a symlink leading outside the studio's roots."""
    if not _exists(path, listing):
        return False
    if not readable_link(path):
        notes.append(f"{path.name} is a link to a file outside the studio's folders: not read")
        return False
    return True


def apply_sidecars(sample: Sample, txt_mode: str = "caption", listing: frozenset[str] | None = None) -> None:
    """Fill ``sample`` from the sidecars next to its audio file.

    A sidecar over the size cap or nested too deeply makes the sample unusable, its status naming
    the file and why. ``listing``: the names of the files in the audio's folder, when the caller has
    listed it (a scan of a thousand songs then makes no per-sidecar ``stat`` calls)."""
    if txt_mode not in TXT_MODES:
        raise ValueError(f"txt_mode must be one of {TXT_MODES}, not {txt_mode!r}")
    try:
        _apply(sample, txt_mode, listing)
    except SidecarError as error:
        sample.status = f"unusable sidecar {error}"


def _apply(sample: Sample, txt_mode: str, listing: frozenset[str] | None) -> None:
    json_path = sample.audio_path.with_suffix(".json")
    has_json = confined(json_path, sample.notes, listing)
    data = json_sidecar(json_path, sample.notes) if has_json else {}
    found = {}
    for name, path in text_sidecars(sample.audio_path, txt_mode, listing).items():
        if not str(data.get(name) or "").strip() and confined(path, sample.notes, listing):
            text, note = read_text(path)
            data[name] = text
            if text:
                found[name] = Origin(IMPORT, path.name, modified(path))
            if note:
                sample.notes.append(note)
    for name in SIDECAR_FIELDS:
        if name in ("filename", "duration") or name not in data:
            continue
        try:
            setattr(sample, name, coerce(name, data[name]))
        except ValueError as error:
            sample.notes.append(f"{json_path.name}: {error}; ignored")
    at = modified(json_path) if has_json else ""
    claim(sample, data, json_path.name, Origin(USER, json_path.name, at), found)


def modified(path: Path) -> str:
    """The file's modification time, ISO 8601 in UTC (when a value found in it was written)."""
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")


def write_sidecar(sample: Sample) -> Path:
    """Write ``{stem}.json`` atomically, keeping the previous file as ``{stem}.json.bak``."""
    path = sample.audio_path.with_suffix(".json")
    new = sample.sidecar()
    if path.is_file() and readable_link(path):  # a link out of the roots is replaced, never read
        if _holds(path, new):
            return path
        backup = path.with_name(path.name + ".bak")
        with atomic_path(backup) as tmp:  # a symlinked .bak is replaced, not followed; copied, never read whole
            shutil.copyfile(path, tmp)
    atomic_write_json(path, new)
    return path


def _holds(path: Path, data: dict) -> bool:
    """Does the sidecar at ``path`` hold ``data`` already? (No for one that is unreadable, huge or too deep.)"""
    try:
        return safe_json.load_file(path) == data
    except ValueError:
        return False
