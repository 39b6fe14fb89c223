"""Lyrics as ACE-Step trains on them: section tags on their own lines, no timestamps, no markdown.

ACE-Step's transcriber answers ``# Languages`` / ``# Lyrics`` blocks; other models answer
"Lyrics:" labels, "(Chorus)" or "Verse 1:" headings, bold tags, LRC timestamps, or nothing
(instrumental). ``parse_transcription`` reads all of these. A decode that ran out of tokens
often ends in a loop of one line; ``trim_runaway`` cuts such a tail. Timed lines (Whisper,
cloud word timings) become an LRC text with ``to_lrc``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from captioner import normalize

SECTION_WORDS = ("verse", "chorus", "pre-chorus", "post-chorus", "bridge", "intro", "outro", "hook", "refrain",
                 "interlude", "instrumental", "inst", "break", "breakdown", "drop", "spoken", "rap", "solo",
                 "guitar solo", "build", "build-up", "coda", "fade out", "ending")
_SECTION = "|".join(re.escape(word) for word in sorted(SECTION_WORDS, key=len, reverse=True))
_HEADING = re.compile(rf"^\s*[\*_]*[\[(]?\s*((?:{_SECTION})(?:\s*\d+)?)\s*[\])]?\s*:?[\*_]*\s*$", re.IGNORECASE)
_LRC_STAMP = re.compile(r"^\s*(\[\d{1,2}:\d{2}(?:[.:]\d{1,3})?\]\s*)+")
_LANGUAGE_BLOCK = re.compile(r"^\s*#+\s*languages?\s*:?\s*\n\s*([^\n#]+)", re.IGNORECASE | re.MULTILINE)
_LANGUAGE_LINE = re.compile(r"^\s*[\*_]*(?:vocal\s+)?languages?[\*_]*\s*[:=]\s*([^\n]+)$", re.IGNORECASE | re.MULTILINE)
_LYRICS_HEADER = re.compile(r"^\s*(?:#+\s*lyrics?\s*:?|[\*_]*lyrics?[\*_]*\s*[:=])[ \t]*", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class TimedLine:
    start: float
    end: float | None
    text: str


def strip_chat(text: str) -> str:
    """Remove what chat models wrap answers in: a leading "assistant", code fences."""
    text = re.sub(r"^\s*assistant\s*\n", "", text.strip(), flags=re.IGNORECASE)
    return re.sub(r"^```[a-z]*\s*\n?|\n?```\s*$", "", text.strip()).strip()


def clean_lyrics(text: str) -> str:
    """Section headings as ``[Tag]`` lines, LRC stamps and markdown emphasis gone, blank runs folded."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = _LRC_STAMP.sub("", line).rstrip()
        heading = _HEADING.match(line)
        if heading:
            name = re.sub(r"\s+", " ", heading.group(1).strip())
            line = f"[{name[:1].upper()}{name[1:]}]"
        else:
            line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line).strip()
        lines.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def is_instrumental(lyrics: str) -> bool:
    """Nothing sung: empty, or only tags such as [Instrumental] / [Intro]."""
    lines = [line.strip() for line in lyrics.splitlines() if line.strip()]
    return all(re.fullmatch(r"\[[^\]]*\]", line) for line in lines)


def trim_runaway(lyrics: str, max_repeats: int = 8, keep: int = 2) -> str:
    """Cut a degenerate loop: a block of 1-4 lines repeated more than ``max_repeats`` times in a row.

    Real songs repeat a line a few times (an outro's "la la la"); a decode stuck in a loop repeats
    it dozens of times. Such runs are folded to ``keep`` repeats.
    """
    lines = lyrics.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        for size in (1, 2, 3, 4):
            block = lines[index:index + size]
            if len(block) < size or not any(line.strip() for line in block):
                continue
            repeats = 1
            while lines[index + repeats * size:index + (repeats + 1) * size] == block:
                repeats += 1
            if repeats > max_repeats:
                out += block * keep
                index += repeats * size
                break
        else:
            out.append(lines[index])
            index += 1
    return "\n".join(out)


def drop_unfinished_line(lyrics: str) -> str:
    """A decode cut by its token budget ends mid-line; that line goes."""
    head, _, _ = lyrics.rstrip().rpartition("\n")
    return head.rstrip() if head else lyrics


def _language(text: str) -> str | None:
    for pattern in (_LANGUAGE_BLOCK, _LANGUAGE_LINE):
        match = pattern.search(text)
        if match:
            return normalize.language(match.group(1).split(",")[0])
    return None


def _lyrics_body(text: str) -> str:
    header = _LYRICS_HEADER.search(text)
    if header:
        return text[header.end():]
    first_tag = re.search(rf"^\s*[\*_]*[\[(]\s*(?:{_SECTION})", text, re.IGNORECASE | re.MULTILINE)
    if first_tag:
        return text[first_tag.start():]
    body = _LANGUAGE_BLOCK.sub("", text)
    return _LANGUAGE_LINE.sub("", body)


def parse_transcription(text: str, cut: bool = False) -> dict:
    """``{lyrics, language?, is_instrumental}`` from a transcriber's answer.

    ``cut``: the decode stopped at its token budget, so its last line is unfinished and a loop
    may fill its tail.
    """
    text = strip_chat(text)
    fields: dict = {}
    found_language = _language(text)
    if found_language:
        fields["language"] = found_language
    lyrics = clean_lyrics(_lyrics_body(text))
    if cut:
        lyrics = drop_unfinished_line(lyrics)
    lyrics = trim_runaway(lyrics)
    if is_instrumental(lyrics):
        return {**fields, "lyrics": "[Instrumental]", "is_instrumental": True}
    return {**fields, "lyrics": lyrics, "is_instrumental": False}


def _join(words: list[dict], spaced: bool) -> str:
    """Services that send spacing entries (ElevenLabs) are joined as sent; others with spaces."""
    raw = "".join(w["text"] for w in words) if spaced else " ".join(w["text"].strip() for w in words)
    return re.sub(r"\s+([,.!?;:])", r"\1", re.sub(r"\s+", " ", raw)).strip()


def words_to_lines(words: list[dict], gap: float = 0.8, max_words: int = 14) -> list[TimedLine]:
    """Word timings (``{text, start, end[, type]}``) -> lines, broken at pauses over ``gap`` seconds."""
    spaced = any(w.get("type") == "spacing" for w in words)
    sung = [w for w in words if w.get("type", "word") in ("word", "spacing") and "start" in w and "end" in w]
    groups: list[list[dict]] = [[]]
    for word in sung:
        current = groups[-1]
        spoken = [w for w in current if w.get("type", "word") == "word"]
        if spoken and word.get("type", "word") == "word" and (
                float(word["start"]) - float(spoken[-1]["end"]) > gap or len(spoken) >= max_words):
            groups.append([])
        groups[-1].append(word)
    lines = []
    for group in groups:
        spoken = [w for w in group if w.get("type", "word") == "word"]
        text = _join(group, spaced)
        if spoken and text:
            lines.append(TimedLine(float(spoken[0]["start"]), float(spoken[-1]["end"]), text))
    return lines


def to_lrc(lines: list[TimedLine]) -> str:
    """``[mm:ss.xx]text`` lines."""
    out = []
    for line in lines:
        minutes, seconds = divmod(max(0.0, line.start), 60.0)
        out.append(f"[{int(minutes):02d}:{seconds:05.2f}]{line.text.strip()}")
    return "\n".join(out) + ("\n" if out else "")


def plain_lyrics(lines: list[TimedLine]) -> str:
    return "\n".join(line.text.strip() for line in lines if line.text.strip())
