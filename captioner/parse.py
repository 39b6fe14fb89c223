"""Turn a captioning model's text into sidecar fields, whatever shape the text comes in.

Read, strongest first: a JSON object (bare, in ```json fences, inside chatter, with trailing
commas or single quotes); labeled lines (``Key: A minor``, ``**Genre**: rock``, ``- BPM: 120``,
``## Lyrics`` headings, multi-line caption and lyrics blocks); and plain prose ("in the key of
E minor", "around 96 BPM", "in 3/4 time", "a dreamy synth-pop song": ``captioner.prose``).
ACE-Step's captioner answers with prose: what is not a labeled field becomes the caption. Values are normalized (``captioner.normalize``);
what cannot be read is left out, never guessed.
"""

from __future__ import annotations

import ast
import json
import re

from captioner import normalize
from captioner.prose import prose_fields
from captioner.lyrics import clean_lyrics, strip_chat

ALIASES = {
    "caption": "caption", "description": "caption", "prompt": "caption", "music_description": "caption",
    "summary": "caption", "style_prompt": "caption",
    "genre": "genre", "genres": "genre", "style": "genre", "main_genre": "genre", "sub_genre": "genre",
    "bpm": "bpm", "tempo": "bpm", "beats_per_minute": "bpm", "tempo_bpm": "bpm",
    "key": "keyscale", "keyscale": "keyscale", "key_scale": "keyscale", "musical_key": "keyscale",
    "scale": "keyscale", "tonality": "keyscale",
    "timesignature": "timesignature", "time_signature": "timesignature", "meter": "timesignature",
    "lyrics": "lyrics", "lyric": "lyrics",
    "language": "language", "languages": "language", "lang": "language", "vocal_language": "language",
    "instrumental": "is_instrumental", "is_instrumental": "is_instrumental",
}
MULTILINE = ("caption", "lyrics")
_LABEL = re.compile(r"^\s*(?:[-*•>]+\s*|\d+[.)]\s*)?(?:\*\*|__)?\s*([A-Za-z][A-Za-z _/-]{0,30}?)\s*(?:\*\*|__)?"
                    r"(?:\s*[:：=]|\s+[-–—]\s)\s*(?:\*\*|__)?\s*(.*?)\s*(?:\*\*|__)?\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s*([A-Za-z][A-Za-z _/-]{0,30}?)\s*:?\s*$")
_CHATTER = re.compile(r"^\s*(sure|certainly|of course|okay|ok|here(?:'s| is| are)|below is|i hope|hope (?:this|it) "
                      r"helps|let me know|feel free|i'?m sorry|sorry|i cannot|i can'?t|as an ai|unfortunately)\b",
                      re.IGNORECASE)


def field_name(raw) -> str | None:
    name = re.sub(r"[\s\-/]+", "_", str(raw).strip().strip("*_#").strip().lower())
    return ALIASES.get(name)


def _json_candidates(text: str) -> list[str]:
    fenced = re.findall(r"```(?:json|JSON)?\s*(\{.*?\})\s*```", text, re.DOTALL)
    start, end = text.find("{"), text.rfind("}")
    return fenced + ([text[start:end + 1]] if 0 <= start < end else [])


def _load_object(candidate: str) -> dict | None:
    repaired = re.sub(r",\s*([}\]])", r"\1", candidate)  # trailing commas
    for attempt in (candidate, repaired):
        try:
            value = json.loads(attempt)
        except json.JSONDecodeError:
            try:  # single-quoted, Python-style dicts
                value = ast.literal_eval(attempt)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
        if isinstance(value, dict):
            return value
    return None


def looks_like_json(text: str) -> bool:
    return bool(re.search(r"\{\s*[\"']\w", text))


def _salvage(text: str) -> dict:
    """``"key": value`` pairs of a JSON object cut short (a decode that ran out of tokens)."""
    pairs = re.findall(r'"([A-Za-z][\w \-]*)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)', text)
    found = {}
    for key, raw in pairs:
        try:
            found.setdefault(key, json.loads(raw))
        except json.JSONDecodeError:
            continue
    return found


def json_fields(text: str) -> dict:
    """Fields of the first JSON object in ``text``; one level of nesting ({"metadata": {...}}) is read.

    A truncated object gives the pairs that were complete.
    """
    data = next((d for d in map(_load_object, _json_candidates(text)) if d is not None), None)
    if data is None:
        data = _salvage(text) if looks_like_json(text) else {}
    found = {}
    for key, value in data.items():
        if isinstance(value, dict):
            found.update({field_name(k): v for k, v in value.items() if field_name(k)})
        elif field_name(key):
            found.setdefault(field_name(key), value)
    return found


def _label(line: str) -> tuple[str, str] | None:
    """(field, value on the same line) for a labeled or heading line of a known field."""
    heading = _HEADING.match(line)
    if heading and field_name(heading.group(1)):
        return field_name(heading.group(1)), ""
    match = _LABEL.match(line)
    if match and field_name(match.group(1)):
        return field_name(match.group(1)), match.group(2)
    return None


def labeled_fields(text: str) -> tuple[dict, list[str]]:
    """(fields from labeled lines, the other lines). Caption and lyrics blocks run to the next label."""
    found: dict = {}
    rest: list[str] = []
    current = None
    for line in text.splitlines():
        label = _label(line)
        if label:
            current, value = label
            if current in found:  # a second "Key:" line: keep the first
                current = None
                continue
            found[current] = [value] if value else []
            if current not in MULTILINE:
                current = None if value else current
            continue
        if current is not None:
            if current not in MULTILINE and line.strip():
                found[current].append(line)
                current = None
            elif current in MULTILINE:
                found[current].append(line)
            continue
        rest.append(line)
    return {name: "\n".join(lines).strip() for name, lines in found.items()}, rest


def prose_caption(lines: list[str]) -> str:
    """The unlabeled text as one paragraph: markdown dropped, and chatter ("Sure! Here is...",
    "Hope this helps", a refusal) dropped sentence by sentence."""
    kept = []
    for line in lines:
        line = re.sub(r"^\s*(?:#{1,6}|[-*•>]+|\d+[.)])\s*", "", line)
        line = re.sub(r"(\*\*|__|`)(.+?)\1", r"\2", line).strip()
        if re.fullmatch(r"[{}\[\]`]*", line):
            continue
        kept += [part for part in re.split(r"(?<=[.!?:])\s+", line) if not _CHATTER.match(part)]
    return re.sub(r"\s+", " ", " ".join(kept)).strip()


def normalize_fields(raw: dict) -> dict:
    out = {}
    for name, value in raw.items():
        if name == "lyrics":
            value = clean_lyrics(value) if isinstance(value, str) else None
        elif name in normalize.NORMALIZERS:
            value = normalize.NORMALIZERS[name](value)
        else:
            continue
        if value is not None and value != "":
            out[name] = value
    return out


def parse_output(text: str, caption_from_prose: bool = True) -> dict:
    """Sidecar fields from model text. JSON wins, then labeled lines, then what the prose says.

    ``caption_from_prose``: with no labeled caption, the unlabeled text is the caption (ACE-Step's
    captioner answers with a plain description).
    """
    text = strip_chat(text)
    labeled, rest = labeled_fields(text)
    fields = {**normalize_fields(prose_fields(text)), **normalize_fields(labeled),
              **normalize_fields(json_fields(text))}
    if caption_from_prose and "caption" not in fields and not looks_like_json(text):
        caption = prose_caption(rest)
        if caption:
            fields["caption"] = caption
    return fields
