"""Lyric lines as ACE-Step trains on them: section tags on their own lines, no timestamps, no markdown.

Every sung line is kept, whatever it says: a line "Bridge", "Hook", "Break" or "(break)" is sung
text. Section tags are only what a transcriber writes as a tag: a bracketed line (``[Verse 1]``,
``[Chorus]``, the transcriber card's ``[Intro - Acoustic Guitar]``), also in bold
(``**[Chorus]**``), and the heading forms other models use that no singer sings: a section name with
a colon (``Verse 2:``) or alone in bold (``**Chorus**``). A parenthesised line is a backing vocal.

Lyrics are never shortened unless the decode hit its token budget (``cut``): then the unfinished
last line goes (``drop_unfinished_line``) and only a looping tail after the last distinct line is
folded (``trim_runaway``). A song that repeats its chorus twelve times keeps all twelve. The
answer's blocks (``# Languages`` / ``# Lyrics``) are read by ``captioner.transcript``. Timed lines
(Whisper, cloud word timings) become an LRC text with ``to_lrc``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SECTION_WORDS = ("verse", "chorus", "pre-chorus", "post-chorus", "bridge", "intro", "outro", "hook", "refrain",
                 "interlude", "instrumental", "inst", "break", "breakdown", "drop", "spoken", "rap", "solo",
                 "guitar solo", "guitar interlude", "build", "build-up", "coda", "fade out", "ending")
SECTION = "|".join(re.escape(word) for word in sorted(SECTION_WORDS, key=len, reverse=True))
_NAMED = rf"(?:{SECTION})(?:\s*\d+)?"
_COLON_HEADING = re.compile(rf"^\s*(?:\*\*|__)?\s*({_NAMED})\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*$", re.IGNORECASE)
_BOLD_HEADING = re.compile(rf"^\s*(?:\*\*|__)\s*({_NAMED})\s*(?:\*\*|__)\s*$", re.IGNORECASE)
_BRACKET_TAG = re.compile(r"^\s*(?:\*\*|__)?\s*\[([^\[\]]+)\]\s*(?:\*\*|__)?\s*$")
_LRC_STAMP = re.compile(r"^\s*(\[\d{1,2}:\d{2}(?:[.:]\d{1,3})?\]\s*)+")
CHATTER = re.compile(r"^\s*(sure|certainly|of course|okay|ok|here(?:'s| is| are)|below is|i hope|hope (?:this|it) "
                     r"helps|let me know|feel free|i'?m sorry|sorry|i cannot|i can'?t|as an ai|unfortunately)\b",
                     re.IGNORECASE)  # a chat model's words around its answer
_SECTION_START = re.compile(rf"^(?:{SECTION})\b", re.IGNORECASE)


@dataclass(frozen=True)
class TimedLine:
    start: float
    end: float | None
    text: str


def strip_chat(text: str) -> str:
    """Remove what chat models wrap answers in: a leading "assistant", code fences."""
    text = re.sub(r"^\s*assistant\s*\n", "", text.strip(), flags=re.IGNORECASE)
    return re.sub(r"^```[a-z]*\s*\n?|\n?```\s*$", "", text.strip()).strip()


def section_tag(line: str) -> str | None:
    """``[Tag]`` when the line is a section tag (see the module docstring), else ``None``."""
    bracket = _BRACKET_TAG.match(line)
    if bracket:
        name = re.sub(r"\s+", " ", bracket.group(1).strip())
        return f"[{name[:1].upper()}{name[1:]}]" if _SECTION_START.match(name) else f"[{name}]"
    heading = _COLON_HEADING.match(line) or _BOLD_HEADING.match(line)
    if heading:
        name = re.sub(r"\s+", " ", heading.group(1).strip())
        return f"[{name[:1].upper()}{name[1:]}]"
    return None


def clean_lyrics(text: str) -> str:
    """Section tags as ``[Tag]`` lines, LRC stamps and markdown emphasis gone, blank runs folded;
    every other line kept as sung."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = _LRC_STAMP.sub("", line).rstrip()
        tag = section_tag(line)
        lines.append(tag if tag else re.sub(r"(\*\*|__)(.+?)\1", r"\2", line).strip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def is_instrumental(lyrics: str) -> bool:
    """Nothing sung: empty, or only tags such as [Instrumental] / [Intro]."""
    lines = [line.strip() for line in lyrics.splitlines() if line.strip()]
    return all(_BRACKET_TAG.match(line) for line in lines)


def sung_characters(lyrics: str) -> int:
    """How much is sung: the characters of the lines that are not tags."""
    return sum(len(line.strip()) for line in lyrics.splitlines() if line.strip() and not _BRACKET_TAG.match(line))


def _periodic_tail(lines: list[str], period: int) -> int:
    """The first index from which ``lines`` repeats with ``period`` up to its end."""
    start = len(lines) - period
    while start > 0 and lines[start - 1] == lines[start - 1 + period]:
        start -= 1
    return start


def trim_runaway(lyrics: str, min_repeats: int = 6, keep: int = 2, max_period: int = 8) -> str:
    """Fold the loop a decode cut at its token budget ends in; call it only for such a decode.

    The loop is the tail after the last distinct line: a block of 1-``max_period`` lines repeated
    at least ``min_repeats`` times up to the end (the last copy may be partial). It is folded to
    ``keep`` copies; every line before it, and every distinct line of it, stays. Loops anywhere
    else are left alone: they are the song's own repeats.
    """
    lines = lyrics.split("\n")
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    body = [line.strip() for line in lines[:end]]
    best: tuple[int, int] | None = None
    for period in range(1, min(max_period, end) + 1):
        start = _periodic_tail(body, period)
        if end - start >= min_repeats * period and any(body[start:start + period]) and (
                best is None or start < best[0]):
            best = (start, period)
    if best is None:
        return lyrics
    start, period = best
    return "\n".join(lines[:start + keep * period]).rstrip()


def drop_unfinished_line(text: str) -> str:
    """A decode cut by its token budget ends mid-line; that line goes (a text ending in a line
    break ended its last line)."""
    if text.endswith("\n"):
        return text
    head, _, _ = text.rpartition("\n")
    return head


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
