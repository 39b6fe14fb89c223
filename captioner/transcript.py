"""A transcriber's whole answer -> ``{lyrics, language?, is_instrumental}``.

ACE-Step's transcriber answers ``# Languages`` / ``en`` / ``# Lyrics`` / tagged lines; other models
answer ``Language: English`` / ``Lyrics:`` labels, ``# 语言`` / ``# 歌词`` in Chinese, or only lyrics.
Read line by line:

- A header is a markdown heading (``#`` then a space, or ``#`` then a header name: ``# Lyr`` left by
  a cut decode counts) or a ``Language:`` / ``Lyrics:`` / ``语言：`` / ``歌词：`` label; a value on its
  line (``# Languages: en``) is read. Headers never reach the lyrics, whatever their state.
- The first line of a language section is its language (a code ACE-Step lacks is "unknown"); a
  line after it that is not a language word starts the lyrics (a missing ``# Lyrics`` header).
- Several ``# Languages`` / ``# Lyrics`` blocks (a model that answers twice, or per part): their
  lyrics are joined in order without their headers, and a block whose lyrics repeat an earlier
  block's word for word is dropped (the same answer given again). The language is the one sung most.
- No lyric line and no tag (an empty answer, or one cut inside its headers) gives lyrics "" and no
  ``is_instrumental``: that the song has no voice is not known. ``[Instrumental]`` says it.
- Lines before the first header are lyrics too (a model that names the language last), less chatter:
  a line ending in a colon that opens like a chat answer or speaks of the lyrics ("Sure! Here are the
  lyrics:"). An answer with no header at all is all lyrics, less such a first line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from captioner import normalize
from captioner.lyrics import (CHATTER, clean_lyrics, drop_unfinished_line, is_instrumental, strip_chat,
                              sung_characters, trim_runaway)

HEADER_NAMES = {"language": "language", "languages": "language", "vocal language": "language",
                "语言": "language", "語言": "language", "言語": "language", "语种": "language",
                "lyrics": "lyrics", "lyric": "lyrics", "歌词": "lyrics", "歌詞": "lyrics"}
_HASH_HEADER = re.compile(r"^\s*#{1,6}(?P<space>\s*)(?P<name>[^:：]*?)\s*(?:[:：]\s*(?P<value>.*?))?\s*$")
_LABEL_HEADER = re.compile(r"^\s*(?:\*\*|__)?\s*(?P<name>(?:vocal\s+)?languages?|lyrics?|语言|語言|言語|歌词|歌詞)"
                           r"\s*(?:\*\*|__)?\s*[:：=]\s*(?:\*\*|__)?\s*(?P<value>.*?)\s*$", re.IGNORECASE)
_PREAMBLE = re.compile(r"(?i)\b(lyrics|transcri\w*)\b.*[:：]\s*$")


def _chatter(line: str) -> bool:
    """An answer's opening words ("Sure! Here are the lyrics:"), not a sung line."""
    return line.rstrip().endswith((":", "：")) and bool(CHATTER.match(line) or _PREAMBLE.search(line))


@dataclass
class Block:
    """One ``# Languages`` / ``# Lyrics`` pair of an answer."""

    language: str | None = None
    lines: list[str] = field(default_factory=list)
    has_lyrics_header: bool = False


def header(line: str) -> tuple[str, str] | None:
    """(``language`` / ``lyrics`` / ``other``, the value on the line) for a header line, else ``None``."""
    match = _HASH_HEADER.match(line)
    if match:
        name = re.sub(r"[\s*_]+", " ", match.group("name")).strip().lower()
        if not match.group("space") and name and name not in HEADER_NAMES:
            return None  # "#blessed", "#1": a sung hashtag, not a heading
        return HEADER_NAMES.get(name, "other"), (match.group("value") or "").strip()
    match = _LABEL_HEADER.match(line)
    if not match:
        return None
    kind, value = HEADER_NAMES[re.sub(r"\s+", " ", match.group("name")).lower()], match.group("value")
    if kind == "language" and value and language_value(value) in (None, "unknown") and len(value.split()) > 2:
        return None  # "Language: of love is all we speak": a sung line
    return kind, value


def language_value(raw: str) -> str | None:
    """The first language a value names ("en", "English, Spanish", "et" -> "unknown")."""
    first = re.split(r"[,;/、，]", raw.strip())[0]
    return normalize.language(first)


def _is_language_word(line: str) -> bool:
    return len(line.split()) <= 2 and normalize.language(line) not in (None, "unknown")


def read_blocks(lines: list[str]) -> list[Block]:
    """The answer's blocks, headers taken out; ``[]`` when it has no header. Lines before the first
    header (lyrics before a trailing ``Language: en``) are a block of their own, chatter aside."""
    blocks: list[Block] = []
    before: list[str] = []
    section = None  # None: before any header; "language": waiting for its value; "lyrics"
    for line in lines:
        found = header(line)
        if found:
            kind, value = found
            if kind == "other":  # an unknown heading: dropped, its lines stay where they are
                continue
            block = blocks[-1] if blocks else None
            if block is None or (kind == "language" and (block.language or block.lines)) or (
                    kind == "lyrics" and block.has_lyrics_header):
                blocks.append(Block())
            block = blocks[-1]
            block.has_lyrics_header |= kind == "lyrics"
            section = kind
            if kind == "language" and value:
                block.language, section = language_value(value), "after-language"
            elif kind == "lyrics" and value:
                block.lines.append(value)
            continue
        if section is None:
            before.append(line)
        if section == "language" and line.strip():
            blocks[-1].language, section = language_value(line), "after-language"
        elif section == "after-language" and line.strip() and _is_language_word(line):
            continue  # a second language listed
        elif section in ("after-language", "lyrics") or (section == "language" and not line.strip()):
            section = "lyrics" if line.strip() else section
            blocks[-1].lines.append(line)
    sung = [line for line in before if not _chatter(line)]
    return [Block(lines=sung)] + blocks if blocks and any(line.strip() for line in sung) else blocks


def _headerless(lines: list[str]) -> str:
    lines = [line for line in lines if header(line) is None]  # a lone "# Notes" or "# Lyr"
    return clean_lyrics("\n".join(lines[1:] if lines and _chatter(lines[0]) else lines))


def pick_language(candidates: list[tuple[str | None, str]]) -> str | None:
    """(language, its lyrics) pairs -> the language sung most (by lyric characters; on a tie the first
    seen); "unknown" only when no other is named; ``None`` when none is."""
    weights: dict[str, int] = {}
    for code, lyrics in candidates:
        if code is not None:
            weights[code] = weights.get(code, 0) + sung_characters(lyrics)
    pool = {code: weight for code, weight in weights.items() if code != "unknown"} or weights
    return max(pool, key=pool.__getitem__) if pool else None


def parse_transcription(text: str, cut: bool = False) -> dict:
    """``{lyrics, language?, is_instrumental}`` from a transcriber's answer.

    ``cut``: the decode stopped at its token budget, so its unfinished last line goes and a looping
    tail is folded (``trim_runaway``). Without ``cut`` every sung line is kept as it came.
    """
    if cut:
        text = drop_unfinished_line(text)
    lines = strip_chat(text).replace("\r\n", "\n").split("\n")
    blocks = read_blocks(lines)
    if blocks:
        parts: list[str] = []
        for block in blocks:
            lyrics = clean_lyrics("\n".join(block.lines))
            if lyrics and lyrics not in parts:
                parts.append(lyrics)
        lyrics = "\n\n".join(parts)
        language = pick_language([(block.language, clean_lyrics("\n".join(block.lines))) for block in blocks])
    else:
        lyrics, language = _headerless(lines), None
    if cut:
        lyrics = trim_runaway(lyrics)
    fields: dict = {"language": language} if language else {}
    if not lyrics:  # nothing at all (an empty or cut answer): neither lyrics nor "instrumental" is known
        return {**fields, "lyrics": ""}
    if is_instrumental(lyrics):
        return {**fields, "lyrics": "[Instrumental]", "is_instrumental": True}
    return {**fields, "lyrics": lyrics, "is_instrumental": False}
