"""Metadata mined from a prose description: genre, key, tempo and meter words.

ACE-Step's captioner answers ``*Task* Describe this audio in detail`` with a paragraph ("An
energetic pop-punk track ... at around 170 BPM, in E minor, in 4/4 time"). What it states is
read here; what it does not state is left out, never guessed. These values are weaker than
measurement: the batch prefers the librosa analysis for BPM, key and meter unless the user
asks for the model's (``--model-metadata``).

Only phrases that name the thing are read: a key is a capital pitch letter with a mode in a key
phrase ("in A minor", "A-minor", "in F-sharp minor", "in C#m", "key of A"), so the article of
"a sad song in a minor key" is never A; a tempo is a number with BPM / b.p.m. / beats per minute,
or after the word tempo in the same clause ("Tempo ≈ 128", "tempo is moderate, around 100"), and
a range ("80-85 BPM") gives its first number, as ``normalize.bpm`` documents; a meter is a
fraction in a meter phrase ("in 3/4", "3/4 time", "time signature 6/8") or a meter word (waltz,
common time), never "at 3/4 of the way through".
"""

from __future__ import annotations

import re

GENRE_WORDS = {
    "pop", "rock", "punk", "metal", "jazz", "blues", "funk", "funky", "soul", "r&b", "rnb", "hip", "hop", "hip-hop",
    "rap", "trap", "edm", "house", "techno", "trance", "dubstep", "dnb", "drum", "bass", "ambient", "folk",
    "country", "classical", "orchestral", "cinematic", "reggae", "reggaeton", "latin", "disco", "synthwave",
    "synth", "synthpop", "indie", "electronic", "electronica", "lo-fi", "lofi", "gospel", "k-pop", "j-pop", "emo",
    "grunge", "shoegaze", "dance", "dancehall", "afrobeat", "afrobeats", "bossa", "nova", "samba", "ska",
    "bluegrass", "chillwave", "chillout", "downtempo", "trip", "wave", "new", "post-rock", "progressive",
    "psychedelic", "alternative", "hardcore", "garage", "drill", "grime", "singer-songwriter", "opera", "electro",
    "idm", "breakbeat", "jungle", "city", "americana", "worship", "neo-soul", "soundtrack", "flamenco", "tango",
    "salsa", "cumbia", "polka", "waltz", "march", "baroque", "romantic", "minimal", "industrial", "experimental",
    "acoustic", "instrumental", "chamber", "big", "band", "swing", "bebop", "fusion", "smooth", "heavy", "death",
    "black", "thrash", "doom", "stoner", "surf", "rockabilly", "motown", "doo-wop", "gothic", "darkwave", "vaporwave",
    "phonk", "hyperpop", "pop-punk", "pop-rock", "j-rock", "anime", "enka", "mandopop", "cantopop", "c-pop",
    "ballad", "anthemic", "lounge", "new-age", "world", "celtic", "bollywood", "ghazal", "qawwali", "fado",
}
# A word that may sit inside a genre name but never makes one alone.
JOINERS = {"and", "&", "n", "'n'", "new", "big", "city", "trip", "drum", "bass", "heavy", "black", "death",
           "smooth", "romantic", "minimal", "acoustic", "instrumental", "anthemic", "world", "band", "wave", "march",
           "chamber", "ballad", "swing", "hop", "hip"}
NOUNS = r"(?:track|song|piece|tune|number|composition|instrumental|beat|ballad|anthem|jam|cut|production|recording)"
_GENRE_BEFORE_NOUN = re.compile(rf"\b((?:[\w&'-]+\s+){{0,5}}?[\w&'-]+)\s+{NOUNS}\b", re.IGNORECASE)
# Keys only in key phrases, the pitch letter a capital (so the article in "a minor key" is never A):
# "in A minor", "in F-sharp minor", "in C#m", "key of A", "A-minor", "an E minor key".
_NOTE = r"(?P<note>[A-G])(?P<acc>#|♯|♭|b(?![a-z])|[- ]?sharp|[- ]?flat)?"
_MODE = r"(?P<mode>(?i:major|minor))\b"
_KEY_PHRASES = (
    re.compile(rf"\b(?i:key|tonality|tonic) (?i:of|is|in|centered on)\s+(?i:the\s+key\s+of\s+)?{_NOTE}"
               rf"(?:[\s-]{_MODE})?(?![\w#♯♭])"),
    re.compile(rf"\b(?i:in|on|centered in|centered on|centred on|around)\s+(?:(?i:the|an?)\s+)?{_NOTE}[\s-]{_MODE}"),
    re.compile(rf"\b(?i:in)\s+{_NOTE}(?P<minor>m)\b"),
    re.compile(rf"(?<![\w-]){_NOTE}-{_MODE}"),
    re.compile(rf"\b(?i:an?|the|its)\s+{_NOTE}\s{_MODE}\s+(?i:key|tonality)\b"),
)
# Tempo: "100 BPM", "100 b.p.m.", "100 beats-per-minute", "80-85 BPM" (a range: its first number, the
# rule of ``normalize.bpm``), "tempo of 84", "Tempo ≈ 128", "tempo is moderate, around 100".
_NUMBER = r"(?<![\d.,/])(?P<bpm>\d{2,3}(?:\.\d+)?)"
_COUNTS = r"(?i:bars?|measures?|seconds?|secs?|minutes?|times?)"
_CLAUSE = rf"(?:(?!\b{_COUNTS}\b)[^.!?;\d/])"  # the rest of the clause, no number and no count noun
_NOT_BPM = rf"(?:{_COUNTS}|(?i:%|percent|s\b|beats?\b(?![\s-]per)|x\b))"
_BPM_PHRASES = (
    re.compile(rf"{_NUMBER}(?:\s*(?:-|–|—|to)\s*\d{{2,3}}(?:\.\d+)?)?\s*"
               r"(?i:bpm\b|b\.\s?p\.\s?m\.?|beats?[\s-]per[\s-]minute\b)"),
    re.compile(rf"\b(?i:tempo)\b{_CLAUSE}{{0,40}}?{_NUMBER}(?![\d/]|\s*{_NOT_BPM})"),
)
# Meter only from a meter phrase: "in 3/4", "3/4 time", "time signature 6/8" (never "at 3/4 of the way").
_FRACTION = r"(?P<beats>\d{1,2})\s*/\s*(?:2|4|8|16)\b"
_METER = (
    re.compile(rf"\b(?i:time signature|meter|metre|signature)\s*(?i:of|is|:)?\s*(?i:a\s+)?{_FRACTION}"),
    re.compile(rf"\b(?i:in)\s+(?i:an?\s+)?(?:\w+\s+)?{_FRACTION}(?!\s*(?i:of)\b)"),
    re.compile(rf"{_FRACTION}\s*(?i:time|meter|metre|signature|feel|groove|rhythm|beat|waltz|swing|shuffle)\b"),
)
_METER_WORDS = (
    (re.compile(r"\b(?:waltz|triple (?:meter|time)|three[- ]four)\b", re.IGNORECASE), "3"),
    (re.compile(r"\b(?:common time|four[- ]on[- ]the[- ]floor|quadruple (?:meter|time)|four[- ]four)\b",
                re.IGNORECASE), "4"),
    (re.compile(r"\b(?:compound (?:duple )?(?:meter|time)|six[- ]eight)\b", re.IGNORECASE), "6"),
)


def _is_genre_word(word: str) -> bool:
    word = word.lower().strip("'\".,;:()")
    return word in GENRE_WORDS or (("-" in word or "/" in word) and
                                   any(part in GENRE_WORDS for part in re.split(r"[-/]", word)))


def genre(text: str) -> str | None:
    """The genre words just before "track" / "song" / ... in the first sentences ("a dreamy synth-pop
    song" -> "synth-pop"); the run of genre words nearest the noun, leading joiners dropped."""
    head = " ".join(re.split(r"(?<=[.!?])\s+", text.strip())[:2])
    for match in _GENRE_BEFORE_NOUN.finditer(head):
        words = match.group(1).split()
        run: list[str] = []
        for word in reversed(words):
            if not _is_genre_word(word) and word.lower() not in ("and", "&", "n'"):
                break
            run.insert(0, word.strip("'\".,;:()"))
        while run and run[0].lower() in JOINERS | {"and", "&", "n'"} and not (len(run) > 1 and " ".join(
                run[:2]).lower() in ("hip hop", "drum and", "trip hop", "new wave", "big band", "heavy metal",
                                     "death metal", "black metal", "city pop", "smooth jazz", "acoustic folk")):
            run.pop(0)
        if run and any(word.lower() not in JOINERS for word in run) or " ".join(run).lower() in (
                "hip hop", "trip hop", "new wave", "big band"):
            return " ".join(run)
    return None


def meter(text: str) -> str | None:
    """The beats of a bar a meter phrase states."""
    found = _first(_METER, text)
    if found:
        return found.group("beats")
    for pattern, beats in _METER_WORDS:
        if pattern.search(text):
            return beats
    return None


def _first(patterns, text: str) -> re.Match | None:
    """The earliest match of any of ``patterns`` in ``text``."""
    found = [match for match in (pattern.search(text) for pattern in patterns) if match]
    return min(found, key=lambda match: match.start("note") if "note" in match.re.groupindex else match.start(),
               default=None)


def key(text: str) -> str | None:
    """The first key a key phrase states, as "F# minor" / "A major" ("key of A": major)."""
    found = _first(_KEY_PHRASES, text)
    if not found:
        return None
    parts = found.groupdict()
    mode = "minor" if parts.get("minor") or (parts.get("mode") or "").lower() == "minor" else "major"
    accidental = (parts["acc"] or "").strip().lstrip("-").lower()
    accidental = {"#": "#", "♯": "#", "sharp": "#", "b": "b", "♭": "b", "flat": "b"}.get(accidental, "")
    return f"{parts['note']}{accidental} {mode}"


def tempo(text: str) -> str | None:
    found = _first(_BPM_PHRASES, text)
    return found.group("bpm") if found else None


def prose_fields(text: str) -> dict:
    """Raw genre, key, tempo and meter stated in running text (normalized by the caller)."""
    found = {"keyscale": key(text), "bpm": tempo(text), "timesignature": meter(text), "genre": genre(text)}
    return {name: value for name, value in found.items() if value}
