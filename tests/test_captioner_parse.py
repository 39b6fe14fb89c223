"""Parsing what captioning models really answer: fixtures of realistic text, well-formed and malformed."""

from __future__ import annotations

import numpy as np
import pytest

from captioner import normalize
from captioner.lyrics import TimedLine, to_lrc, trim_runaway, words_to_lines
from captioner.transcript import parse_transcription
from captioner.parse import parse_output
from captioner.windows import split

# ACE-Step's captioner answers "*Task* Describe this audio in detail" with prose.
ACESTEP_PROSE = (
    "assistant\nThis is an energetic pop-punk track driven by distorted power-chord guitars and fast, punchy "
    "drums at around 170 BPM. The song is in the key of E minor, in 4/4 time, with a raspy male lead vocal.\n\n"
    "The arrangement builds from a sparse palm-muted intro into a loud, anthemic chorus with gang vocals.")
# The model card's own example answer (line breaks as published), and two more in its style.
CARD_PROSE = ("A melancholic indie folk track featuring fingerpicked acoustic guitar\nas the primary instrument. "
              "The song opens with a sparse, contemplative\nintro before the vocals enter with a breathy, intimate "
              "delivery.")
WALTZ_PROSE = ("A sweeping cinematic orchestral piece in D major, a slow waltz at a tempo of 84 with lush strings "
               "and French horns carrying the melody.")
CUT_PROSE = "A mellow lo-fi hip hop beat with dusty vinyl crackle, a jazzy Rhodes loop and a laid-back"  # token budget
MARKDOWN = """Here's a detailed description of the audio:

## Overview
A mellow **lo-fi hip hop** beat with dusty vinyl crackle and a jazzy Rhodes loop.

- **Genre:** lo-fi hip hop
- **Tempo:** ~84 BPM
- **Key:** B♭ major
- **Time Signature:** 4/4
- **Mood:** relaxed, nostalgic

Let me know if you need anything else!"""
METADATA_LINES = "genre: synthwave\nkey: F# Minor\ntime_signature: 4\nbpm: 118"
METADATA_VARIANTS = "1. Genre - Folk\n2. Key = Dm\n3. Meter: 6/8 (compound duple)\n4. Tempo: 72-76"


@pytest.mark.parametrize(("text", "expected"), [
    (ACESTEP_PROSE, {"caption": ACESTEP_PROSE.split("\n", 1)[1].replace("\n\n", " "), "bpm": 170,
                     "keyscale": "E minor", "timesignature": "4", "genre": "pop-punk"}),
    (CARD_PROSE, {"caption": CARD_PROSE.replace("\n", " ").replace("  ", " "), "genre": "indie folk"}),
    (WALTZ_PROSE, {"caption": WALTZ_PROSE, "genre": "cinematic orchestral", "keyscale": "D major",
                   "timesignature": "3", "bpm": 84}),
    (CUT_PROSE, {"caption": CUT_PROSE, "genre": "lo-fi hip hop"}),
    (MARKDOWN, {"caption": "Overview A mellow lo-fi hip hop beat with dusty vinyl crackle and a jazzy Rhodes loop. "
                           "Mood: relaxed, nostalgic", "genre": "lo-fi hip hop", "bpm": 84, "keyscale": "Bb major",
                "timesignature": "4"}),
    (METADATA_LINES, {"genre": "synthwave", "keyscale": "F# minor", "timesignature": "4", "bpm": 118}),
    (METADATA_VARIANTS, {"genre": "Folk", "keyscale": "D minor", "timesignature": "6", "bpm": 72}),
    ('```json\n{"caption": "dreamy synth-pop", "genre": ["pop", "synth"], "bpm": "118", "key": "F# min", '
     '"time_signature": "4/4", "language": "English", "is_instrumental": false}\n```',
     {"caption": "dreamy synth-pop", "genre": "pop, synth", "bpm": 118, "keyscale": "F# minor",
      "timesignature": "4", "language": "en", "is_instrumental": False}),
    ('Sure! Here is the analysis: {"caption": "orchestral", "bpm": 9000, "key": "unknown"} Hope it helps',
     {"caption": "orchestral"}),
    ("{'caption': 'single quoted', 'Time Signature': '3/4', 'BPM': 96.6,}",  # Python dict, trailing comma
     {"caption": "single quoted", "timesignature": "3", "bpm": 97}),
    ('{"metadata": {"genre": "jazz", "key": "Eb major"}, "description": "a smoky trio"}',
     {"caption": "a smoky trio", "genre": "jazz", "keyscale": "Eb major"}),
    ('{"caption": "cut off by the token budget", "bpm": 100, "genre": "roc',  # truncated JSON
     {"caption": "cut off by the token budget", "bpm": 100}),
    ("I'm sorry, but I can't help with identifying this audio.", {}),
    ("", {}),
    ("Key: a minor\nInstrumental: yes\nTime signature: 12/8", {"keyscale": "A minor", "is_instrumental": True}),
])
def test_parse_realistic_outputs(text, expected):
    assert parse_output(text) == expected


def test_labeled_caption_block_runs_to_the_next_label():
    text = "Caption: a bright indie rock song\nwith jangly guitars.\nGenre: indie rock\nLyrics:\n[Verse]\nhello"
    assert parse_output(text) == {"caption": "a bright indie rock song with jangly guitars.", "genre": "indie rock",
                                  "lyrics": "[Verse]\nhello"}


# ACE-Step's transcriber answers "*Task* Transcribe this audio in detail" with these blocks.
TRANSCRIBER = """# Languages
en

# Lyrics
[Intro]

[Verse 1]
Walking down the empty street tonight
The neon lights reflecting off the rain

[Chorus]
We are the ones who carry on
"""


ZH_LYRICS = "[Chorus]\n月亮代表我的心\n\n[Verse 2]\n你问我爱你有多深"


@pytest.mark.parametrize(("text", "cut", "expected"), [
    (TRANSCRIBER, False, {"language": "en", "is_instrumental": False,
                          "lyrics": TRANSCRIBER.split("# Lyrics\n", 1)[1].strip()}),
    ("# Languages\nunknown\n\n# Lyrics\n[Instrumental]", False,
     {"language": "unknown", "lyrics": "[Instrumental]", "is_instrumental": True}),
    ("# Language\nJapanese\n\n# Lyric\n**[Chorus]**\n[00:12.10] 君の名前\n", False,
     {"language": "ja", "lyrics": "[Chorus]\n君の名前", "is_instrumental": False}),
    ("Language: Cantonese\nLyrics:\n(Chorus)\nhello\nVerse 2:\nbye", False,  # "(Chorus)" is a sung backing line
     {"language": "yue", "lyrics": "(Chorus)\nhello\n[Verse 2]\nbye", "is_instrumental": False}),
    ("[Verse]\nno header at all\nsecond line", False, {"lyrics": "[Verse]\nno header at all\nsecond line",
                                                       "is_instrumental": False}),
    ("", False, {"lyrics": ""}),  # an empty answer does not say "instrumental"
    ("# Languages\nen\n\n# Lyrics\n[Verse 1]\nCity lights are calling\nI keep on fall", True,  # cut mid-line
     {"language": "en", "lyrics": "[Verse 1]\nCity lights are calling", "is_instrumental": False}),
    ("# Languages\n\n# Lyrics\n\n[Instrumental]\n", False,  # empty language block
     {"lyrics": "[Instrumental]", "is_instrumental": True}),
    ("# Languages\nzh\n# Lyrics\n" + ZH_LYRICS, False,  # no blank line between the sections
     {"language": "zh", "lyrics": ZH_LYRICS, "is_instrumental": False}),
    ("```\n# Languages\nen\n\n# Lyrics\n[Verse]\nA line\n" + "oh oh oh\n" * 40 + "oh o", True,
     {"language": "en", "lyrics": "[Verse]\nA line\noh oh oh\noh oh oh", "is_instrumental": False}),
])
def test_parse_transcriptions(text, cut, expected):
    assert parse_transcription(text, cut=cut) == expected


def test_real_repeats_survive_loops_do_not():
    chorus = "\n".join(["[Chorus]", "la la la", "la la la", "la la la", "la la la", "la la la"])
    assert trim_runaway(chorus) == chorus  # five repeats at the end of a cut decode: still the song's
    assert parse_transcription(chorus + "\n" + "la la la\n" * 30)["lyrics"].count("la la la") == 35  # not cut
    loop = "\n".join(["[Outro]"] + ["fade away", "into the night"] * 20)
    assert trim_runaway(loop) == "[Outro]\nfade away\ninto the night\nfade away\ninto the night"


@pytest.mark.parametrize(("value", "key"), [
    ("f# min", "F# minor"), ("Bbm", "Bb minor"), ("C", "C major"), ("A Minor / C Major", "A minor"),
    ("E♭ major", "Eb major"), ("G sharp minor", "G# minor"), ("CM", "C major"), ("Dorian", None),
    ("Atonal", None), ("unknown", None), ("", None),
])
def test_key_forms(value, key):
    assert normalize.keyscale(value) == key


@pytest.mark.parametrize(("value", "code"), [
    ("English", "en"), ("en-US", "en"), ("eng", "en"), ("jpn", "ja"), ("Cantonese", "yue"), ("zh-CN", "zh"),
    ("Mandarin Chinese", "zh"), ("instrumental", "unknown"), ("Klingon", "unknown"), ("", None),
    ("et", "unknown"), ("kk", "unknown"), ("mn", "unknown"), ("ka", "unknown"), ("中文", "zh"), ("42", None),
])
def test_language_forms(value, code):
    assert normalize.language(value) == code


@pytest.mark.parametrize(("value", "bpm", "meter"), [
    ("120", 120, None), ("around 84 BPM", 84, None), ("9000", None, None), ("4/4", 4, "4"), ("6/8", 6, "6"),
    ("5/4", 5, None), ("common time", None, "4"), (True, None, None),
])
def test_bpm_and_meter_forms(value, bpm, meter):
    assert normalize.bpm(value) == (bpm if bpm and bpm >= 30 else None)
    assert normalize.timesignature(value) == meter


def test_word_timings_become_lyric_lines_and_lrc():
    words = [{"text": "Hold", "start": 0.5, "end": 0.8, "type": "word"}, {"text": " ", "type": "spacing",
             "start": 0.8, "end": 0.9}, {"text": "on,", "start": 0.9, "end": 1.2, "type": "word"},
             {"text": "(laughs)", "start": 1.3, "end": 1.5, "type": "audio_event"},
             {"text": "tonight", "start": 3.0, "end": 3.6, "type": "word"}]
    lines = words_to_lines(words)
    assert lines == [TimedLine(0.5, 1.2, "Hold on,"), TimedLine(3.0, 3.6, "tonight")]
    assert to_lrc(lines + [TimedLine(65.25, None, "later")]) == "[00:00.50]Hold on,\n[00:03.00]tonight\n[01:05.25]later\n"


def test_long_audio_is_cut_in_its_quiet_moments():
    rate = 1000
    song = np.ones(45 * rate, "float32")
    song[17 * rate:17 * rate + 200] = 0.0  # a pause at 17 s
    pieces = split(song, rate, window_seconds=20, search_seconds=5)
    assert 17.0 <= len(pieces[0]) / rate < 17.2 and sum(map(len, pieces)) == len(song)  # cut inside the pause
    assert all(len(p) <= 20 * rate for p in pieces)
    assert len(split(song[: 10 * rate], rate, 20)) == 1
