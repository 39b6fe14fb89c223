"""Property-based tests (hypothesis) for the lyric parsers: for any lyric text and any cut point, every
complete line survives, headers never reach the lyrics, and parsing is deterministic."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from captioner.lyrics import clean_lyrics, is_instrumental
from captioner.omni_backend import merge_windows
from captioner.parse import parse_output
from captioner.transcript import header, parse_transcription

BOUNDED = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.filter_too_much])
HEAD = "# Languages\nen\n\n# Lyrics\n"
# Lines a song really has, the ones the old parser mangled among them, repeated often (choruses, loops).
SUNG = ["Hold on to me tonight", "la la la", "Bridge", "Intro", "Hook", "Refrain", "Break", "(break)", "(Chorus)",
        "oh oh oh", "月亮代表我的心", "君の名前", "We are the ones", "", "[Chorus]", "[Verse 1]", "**[Bridge]**",
        "Verse 2:", "[Intro - Acoustic Guitar]", "#blessed", "Language of love", "na na na na"]
CHARS = st.characters(categories=["L", "N", "P", "S", "Zs"], exclude_characters="\n\r")
HEADERS = ["# Languages", "# Languages: en", "# Lyrics", "# Lyr", "# Lang", "#", "# 语言", "# 歌词：", "Language: en",
           "Lyrics:", "## Lyrics", "# Languages\nen", "# 歌词"]


def _plain(line: str) -> bool:
    """A line that is lyrics by any reading: no header, no chat wrapping."""
    return header(line) is None and "```" not in line and line.strip().lower() != "assistant"


LINE = st.one_of(st.sampled_from(SUNG), st.text(CHARS, max_size=30)).filter(_plain)
LYRICS = st.lists(LINE, min_size=1, max_size=40)


def sung_lines(lines: list[str]) -> list[str]:
    """What the parser must give back for these lines: each one cleaned (tags as [Tag]), blanks aside."""
    return [cleaned for cleaned in (clean_lyrics(line) for line in lines) if cleaned]


def nonblank(lyrics: str) -> list[str]:
    return [line for line in lyrics.split("\n") if line.strip()]


def check_whole(lyrics: str, expected: list[str]) -> None:
    if not expected:
        assert lyrics == ""
    elif is_instrumental("\n".join(expected)):
        assert lyrics == "[Instrumental]"
    else:
        assert nonblank(lyrics) == expected


@BOUNDED
@given(LYRICS)
def test_every_line_survives_an_answer_that_ended(lines):
    text = HEAD + "\n".join(lines) + "\n"
    parsed = parse_transcription(text)
    check_whole(parsed["lyrics"], sung_lines(lines))
    assert parsed == parse_transcription(text)  # deterministic
    gemini = parse_output(json.dumps({"caption": "a song", "lyrics": "\n".join(lines)}), caption_from_prose=False)
    assert nonblank(clean_lyrics(gemini.get("lyrics", ""))) == sung_lines(lines)


@BOUNDED
@given(LYRICS, st.data())
def test_every_complete_line_before_a_cut_survives(lines, data):
    text = HEAD + "\n".join(lines) + "\n"
    point = data.draw(st.integers(min_value=0, max_value=len(text)), label="cut point")
    shown = text[:point]
    complete = shown[len(HEAD):].split("\n")[:-1] if point >= len(HEAD) else []  # lines that ended before the cut
    expected = sung_lines(complete)
    lyrics = parse_transcription(shown, cut=True)["lyrics"]
    if is_instrumental("\n".join(expected)):
        assert lyrics in ("", "[Instrumental]")
        return
    kept = nonblank(lyrics)
    assert kept == expected[:len(kept)]  # a prefix: only a looping tail may go ...
    assert set(expected) <= set(kept)  # ... and each distinct line of it stays
    assert not any(header(line) for line in kept)


@BOUNDED
@given(st.lists(st.one_of(st.sampled_from(HEADERS), LINE), max_size=30), st.booleans(), st.data())
def test_headers_never_reach_the_lyrics(parts, cut, data):
    text = "\n".join(parts)
    text = text[:data.draw(st.integers(min_value=0, max_value=len(text)), label="cut point")] if cut else text
    parsed = parse_transcription(text, cut=cut)
    assert not any(header(line) for line in parsed["lyrics"].split("\n"))
    assert parsed == parse_transcription(text, cut=cut)


LANGUAGES = st.sampled_from(["en", "es", "fr", "de", "ja", "unknown", None])
WINDOW = st.fixed_dictionaries({"lyrics": st.sampled_from(["[Verse]\nhello", "[Verse]\nhola amigo", "la",
                                                           "[Instrumental]", "一二三四五六"]),
                                "language": LANGUAGES})


@BOUNDED
@given(st.lists(WINDOW, min_size=1, max_size=6))
def test_the_windows_language_is_the_one_sung_most_first_on_ties(windows):
    parts = [{**w, "is_instrumental": w["lyrics"] == "[Instrumental]"} for w in windows]
    parts = [{k: v for k, v in part.items() if v is not None} for part in parts]
    sung = [part for part in parts if not part["is_instrumental"]] or parts
    weights: dict = {}
    for part in sung:  # an independent oracle: characters of the lines that are not tags
        if "language" in part:
            chars = sum(len(line) for line in part["lyrics"].split("\n") if not line.startswith("["))
            weights[part["language"]] = weights.get(part["language"], 0) + chars
    known = [code for code in weights if code != "unknown"]
    best = max(known, key=lambda code: (weights[code], -known.index(code))) if known else (
        "unknown" if weights else None)
    assert merge_windows(parts).get("language") == best
    assert merge_windows(parts) == merge_windows([dict(part) for part in parts])


# Prose the captioner writes, wrapped anywhere inside a sentence (its model card's example is wrapped so):
# words the old parser took for labels, keys, tempi, meters and JSON.
WORDS = ["warm", "ballad", "tempo -", "style -", "key:", "tempo:", "lyrics:", "genre:", "in", "a", "minor", "key",
         '{"heavy"', "bass}", "with", "100", "b.p.m.", "3/4", "of", "the", "way", "bridge", "guitar", "slow", "pads"]


@BOUNDED
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=40), st.data())
def test_wrapped_prose_is_kept_whole_as_the_caption(words, data):
    breaks = data.draw(st.sets(st.integers(min_value=0, max_value=len(words) - 1)), label="line breaks")
    breaks = {index for index in breaks if not index or not words[index - 1].endswith(".")}  # inside a sentence
    text = "A warm ballad" + "".join(("\n" if index in breaks else " ") + word for index, word in enumerate(words))
    fields = parse_output(text + ".", wanted=("caption", "genre", "bpm", "keyscale", "timesignature"))
    assert fields["caption"] == "A warm ballad " + " ".join(words) + "."
    assert "keyscale" not in fields  # "a minor" is never a key in prose
    assert fields == parse_output(text + ".", wanted=("caption", "genre", "bpm", "keyscale", "timesignature"))
