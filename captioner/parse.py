"""Turn a captioning model's text into sidecar fields, whatever shape the text comes in.

Read, strongest first: a JSON object (bare, in ```json fences, inside chatter, with trailing
commas or single quotes); labeled lines (``Key: A minor``, ``**Genre**: rock``, ``- BPM: 120``,
``## Lyrics`` headings, multi-line caption and lyrics blocks); and plain prose ("in the key of
E minor", "around 96 BPM", "in 3/4 time", "a dreamy synth-pop song": ``captioner.prose``).
ACE-Step's captioner answers with prose: what is not a labeled field becomes the caption. Values are
normalized (``captioner.normalize``); what cannot be read is left out, never guessed.

What counts as what, so prose is never cut or mined wrongly:
- JSON: the whole answer or a fenced block that loads as an object; an object inside chatter only
  when it loads and names a known field; a truncated object only when the answer starts with ``{``.
  Braces in prose (``{"heavy" bass}``) are prose. A JSON answer's key / tempo / meter words are mined
  from its caption only, and only for fields the object does not name (``"key": null`` stays unknown).
- Labels: a known name with a colon (``Key: A minor``), a heading (``## Lyrics``), or the dash form in
  a list or in bold (``1. Genre - Folk``); after a prose line that ends mid-sentence, a lowercase
  name or a dash continues the sentence ("...with a steady\ntempo - the drums ..."). See ``_label``.
- Cut decodes (``cut``): only then is a caption trimmed (to its last whole sentence or labeled line,
  else its half word goes) and a lyrics value's unfinished line and looping tail dropped.
"""

from __future__ import annotations

import ast
import json
import re

from captioner import normalize
from captioner.prose import prose_fields
from captioner.lyrics import CHATTER, clean_lyrics, drop_unfinished_line, strip_chat, trim_runaway

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
_LABEL = re.compile(r"^\s*(?P<bullet>[-*•>]+\s*|\d+[.)]\s*)?(?P<bold>\*\*|__)?\s*"
                    r"(?P<name>[A-Za-z][A-Za-z _/-]{0,30}?)\s*(?:\*\*|__)?(?:\s*[:：=]|\s+(?P<dash>[-–—])\s)"
                    r"\s*(?:\*\*|__)?\s*(?P<value>.*?)\s*(?:\*\*|__)?\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s*(?P<name>[A-Za-z][A-Za-z _/-]{0,30}?)\s*:?\s*$")
_MARKER = re.compile(r"^\s*(?:#{1,6}|[-*•>]+|\d+[.)])\s*")  # markdown headings, list items


def field_name(raw) -> str | None:
    name = re.sub(r"[\s\-/]+", "_", str(raw).strip().strip("*_#").strip().lower())
    return ALIASES.get(name)


def _json_candidates(text: str):
    """(candidate, strict): the whole answer and fenced blocks are strict; an object inside chatter
    counts only when it names a known field (prose may hold braces: ``{"heavy" bass}``)."""
    yield text.strip(), True
    for fenced in re.findall(r"```(?:json|JSON)?\s*(\{.*?\})\s*```", text, re.DOTALL):
        yield fenced, True
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        yield text[start:end + 1], False


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


def _names_a_field(data: dict) -> bool:
    return any(field_name(key) or (isinstance(value, dict) and any(map(field_name, value)))
               for key, value in data.items())


_PAIR = r'"([A-Za-z][\w \-]*)"\s*:\s*'
_OPEN_STRING = re.compile(_PAIR + r'"((?:[^"\\]|\\.)*)\\?$', re.DOTALL)


def _salvage(text: str, cut: bool) -> tuple[dict, str | None]:
    """The pairs of a JSON object cut short, and (``cut``) the string value it stopped inside."""
    pairs = re.findall(_PAIR + r'("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)', text)
    found: dict = {}
    for key, raw in pairs:
        try:
            found.setdefault(key, json.loads(raw))
        except json.JSONDecodeError:
            continue
    unfinished = _OPEN_STRING.search(text) if cut else None
    if unfinished and unfinished.group(1) not in found:
        raw = re.sub(r"\\u[0-9a-fA-F]{0,3}$", "", unfinished.group(2))
        try:
            found[unfinished.group(1)] = json.loads(f'"{raw}"')
            return found, unfinished.group(1)
        except json.JSONDecodeError:
            pass
    return found, None


def read_json(text: str, cut: bool = False) -> tuple[dict | None, str | None]:
    """(the answer's JSON object, or ``None`` when it is no JSON answer; the key of a string value a cut
    decode left unfinished). A truncated object (the answer starts with ``{``) gives its complete pairs."""
    for candidate, strict in _json_candidates(text):
        data = _load_object(candidate)
        if data is not None and (strict or _names_a_field(data)):
            return data, None
    if text.lstrip().startswith("{"):
        data, unfinished = _salvage(text, cut)
        return (data, unfinished) if data else (None, None)
    return None, None


def json_fields(data: dict) -> dict:
    """Fields of a JSON object; one level of nesting ({"metadata": {...}}) is read."""
    found = {}
    for key, value in data.items():
        if isinstance(value, dict):
            found.update({field_name(k): v for k, v in value.items() if field_name(k)})
        elif field_name(key):
            found.setdefault(field_name(key), value)
    return found


_CLOSED = re.compile(r"""[.!?。！？…]["'”’)\]]*\s*$""")


def _label(line: str, open_prose: bool, wanted) -> tuple[str, str] | None:
    """(field, value on the same line) for a labeled or heading line of a known field.

    Wrapped prose is not a label: after a prose line that ends mid-sentence, a line starting with
    a lowercase name or in the dash form ("tempo - the drums ...", "key: the melody ...") continues
    the sentence. The dash form needs a list marker or bold; a metadata value that does not read
    and runs over three words is prose; a multi-line field the caller does not want (the
    captioner's "Lyrics: the words speak of ...") stays in the caption.
    """
    heading = _HEADING.match(line)
    match = None if heading else _LABEL.match(line)
    name = field_name((heading or match).group("name")) if heading or match else None
    if name is None or (name in MULTILINE and wanted is not None and name not in wanted):
        return None
    if heading:
        return name, ""
    value, structured = match.group("value"), bool(match.group("bullet") or match.group("bold"))
    metadata = name in normalize.NORMALIZERS and name not in ("caption", "genre")
    reads = metadata and bool(value) and normalize.NORMALIZERS[name](value) is not None
    if not structured:
        if open_prose and (match.group("dash") or match.group("name")[:1].islower()):
            return None  # the wrapped sentence goes on
        if match.group("dash") and not reads:
            return None  # "Tempo - 120" is a label, "style - bright and punchy" prose
    if metadata and value and not reads and len(value.split()) > 3:
        return None  # "key: the melody stays low ..."
    return name, value


def labeled_fields(text: str, wanted=None) -> tuple[dict, list[str]]:
    """(fields from labeled lines, the other lines). Caption and lyrics blocks run to the next label."""
    found: dict = {}
    rest: list[str] = []
    current = None
    open_prose = False
    for line in text.splitlines():
        label = _label(line, open_prose, wanted)
        open_prose = False
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
                open_prose = current == "caption" and bool(line.strip()) and not _CLOSED.search(line)
            continue
        rest.append(line)
        open_prose = bool(line.strip()) and not _CLOSED.search(line)
    return {name: "\n".join(lines).strip() for name, lines in found.items()}, rest


def trim_cut(text: str) -> str:
    """A prose answer cut by the token budget, back to its last whole sentence, or the end of its last
    whole labeled line, whichever is later; with neither, its half word goes."""
    sentence = max((m.end() for m in re.finditer(r"[.!?。！？]+[\"'”’)]*(?=\s|$)", text)), default=0)
    line_end, offset = 0, 0
    for line in text.split("\n")[:-1]:
        offset += len(line) + 1
        if _label(line, False, None) or _CLOSED.search(line):
            line_end = offset - 1
    end = max(sentence, line_end)
    if end:
        return text[:end].rstrip()
    words = text.rstrip().rsplit(None, 1)
    return words[0] if len(words) == 2 and not text[-1:].isspace() else text.rstrip()


def prose_caption(lines: list[str]) -> str:
    """The unlabeled text as one paragraph: markdown dropped, and chatter ("Sure! Here is...",
    "Hope this helps", a refusal) dropped sentence by sentence. A line that continues a wrapped
    sentence keeps its start ("...a tempo of\n120. The ..." is no numbered list)."""
    kept, continues = [], False
    for raw in lines:
        line = raw if continues else _MARKER.sub("", raw)
        line = re.sub(r"(\*\*|__|`)(.+?)\1", r"\2", line).strip()
        if not re.fullmatch(r"[{}\[\]`]*", line):
            parts = re.split(r"(?<=[.!?:])\s+", line)
            kept += [part for index, part in enumerate(parts)
                     if (continues and not index) or not CHATTER.match(part)]
        continues = bool(line) and not _MARKER.match(raw) and not _CLOSED.search(line)
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


def _cut_value(name: str, value):
    """A string value the cut decode stopped inside: lyrics lose their unfinished line and looping
    tail, a caption ends at its last whole sentence."""
    if not isinstance(value, str):
        return value
    if name == "lyrics":
        return trim_runaway(clean_lyrics(drop_unfinished_line(value)))
    return trim_cut(value) if name == "caption" else None


def parse_output(text: str, caption_from_prose: bool = True, cut: bool = False, wanted=None) -> dict:
    """Sidecar fields from model text. JSON wins, then labeled lines, then what the prose says.

    ``caption_from_prose``: with no labeled caption, the unlabeled text is the caption (ACE-Step's
    captioner answers with a plain description). ``cut``: the decode stopped at its token budget
    (only then is anything shortened: the half word, the looping tail). ``wanted``: the fields the
    caller keeps (a "Lyrics:" paragraph stays in the caption when lyrics are not wanted). Key, tempo
    and meter words are mined from the prose only (the caption of a JSON answer, never its raw text).
    """
    text = strip_chat(text)
    data, unfinished = read_json(text, cut)
    if data is not None:
        raw = json_fields(data)
        if unfinished and field_name(unfinished):
            raw[field_name(unfinished)] = _cut_value(field_name(unfinished), raw[field_name(unfinished)])
        fields = normalize_fields(raw)
        mined = normalize_fields(prose_fields(raw["caption"])) if isinstance(raw.get("caption"), str) else {}
        return {**{name: value for name, value in mined.items() if name not in raw}, **fields}
    labeled, rest = labeled_fields(trim_cut(text) if cut else text, wanted)
    prose = "\n".join(rest + [labeled.get("caption", "")])
    fields = {**normalize_fields(prose_fields(prose)), **normalize_fields(labeled)}
    if caption_from_prose and "caption" not in fields:
        caption = prose_caption(rest)
        if caption:
            fields["caption"] = caption
    return fields
