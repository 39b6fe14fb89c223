"""Turn a captioning model's text into sidecar fields, whatever shape the text comes in.

Accepted: a JSON object (bare, in ```json fences, or inside other text), ``key: value`` lines
(with or without markdown bold or bullets), and a lyrics block with [Verse]/[Chorus] tags.
Keys are matched loosely (``BPM``, ``tempo``, ``key``, ``time signature``...); values are
normalized (bpm an integer, key "E minor", time signature "4"). What cannot be read is left out.
"""

from __future__ import annotations

import json
import re

ALIASES = {
    "caption": "caption", "description": "caption", "prompt": "caption", "tags": "caption",
    "genre": "genre", "genres": "genre", "style": "genre",
    "bpm": "bpm", "tempo": "bpm",
    "key": "keyscale", "keyscale": "keyscale", "key_scale": "keyscale", "scale": "keyscale",
    "timesignature": "timesignature", "time_signature": "timesignature", "time signature": "timesignature",
    "meter": "timesignature",
    "lyrics": "lyrics", "lyric": "lyrics",
    "language": "language", "lang": "language", "vocal_language": "language",
    "instrumental": "is_instrumental", "is_instrumental": "is_instrumental",
}
LANGUAGES = {"english": "en", "chinese": "zh", "japanese": "ja", "korean": "ko", "spanish": "es", "french": "fr",
             "german": "de", "italian": "it", "portuguese": "pt", "russian": "ru"}
KEY = re.compile(r"\b([A-G])\s*(#|b|♯|♭|sharp|flat)?\s*(major|minor|maj|min|m)?\b", re.IGNORECASE)


def _json_object(text: str) -> dict | None:
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.DOTALL)
    candidates = [fenced.group(1)] if fenced else []
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start:end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _key_value_lines(text: str) -> dict:
    found: dict = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^\s*[-*]?\s*\**\s*([A-Za-z _]+?)\s*\**\s*[:=]\s*(.*)$", line)
        if not match or match.group(1).strip().lower() not in ALIASES:
            continue
        name = ALIASES[match.group(1).strip().lower()]
        value = match.group(2).strip().strip("*").strip()
        if name == "lyrics" and not value:
            value = "\n".join(lines[index + 1:]).strip()
        found.setdefault(name, value)
    return found


def normalize_key(value: str) -> str | None:
    match = KEY.search(str(value))
    if not match:
        return None
    note, accidental, mode = match.group(1).upper(), (match.group(2) or "").lower(), (match.group(3) or "").lower()
    accidental = {"#": "#", "♯": "#", "sharp": "#", "b": "b", "♭": "b", "flat": "b"}.get(accidental, "")
    minor = mode in ("minor", "min", "m") and match.group(3) != "M"
    return f"{note}{accidental} {'minor' if minor else 'major'}"


def normalize(fields: dict) -> dict:
    out = {}
    for raw_name, value in fields.items():
        name = ALIASES.get(str(raw_name).strip().lower())
        if name is None or value in (None, "", [], "N/A", "n/a", "unknown"):
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        if name == "bpm":
            number = re.search(r"\d+(\.\d+)?", str(value))
            if number and 20 <= float(number.group()) <= 400:
                out[name] = int(round(float(number.group())))
        elif name == "keyscale":
            key = normalize_key(str(value))
            if key:
                out[name] = key
        elif name == "timesignature":
            digit = re.search(r"\d+", str(value))
            if digit:
                out[name] = digit.group()
        elif name == "language":
            text = str(value).strip().lower()
            out[name] = LANGUAGES.get(text, text[:2])
        elif name == "is_instrumental":
            out[name] = str(value).strip().lower() in ("true", "yes", "1", "instrumental")
        else:
            out[name] = str(value).strip()
    return out


def parse_output(text: str) -> dict:
    """Sidecar fields from model text; JSON wins, key: value lines fill the rest."""
    fields = _key_value_lines(text)
    data = _json_object(text)
    if data:
        fields.update(data)
    return normalize(fields)
