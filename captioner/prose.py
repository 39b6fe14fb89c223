"""Metadata mined from a prose description: genre, key, tempo and meter words.

ACE-Step's captioner answers ``*Task* Describe this audio in detail`` with a paragraph ("An
energetic pop-punk track ... at around 170 BPM, in E minor, in 4/4 time"). What it states is
read here; what it does not state is left out, never guessed. These values are weaker than
measurement: the batch prefers the librosa analysis for BPM, key and meter unless the user
asks for the model's (``--model-metadata``).
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
_KEY = re.compile(r"\b(?:key of|tonality of|in the key|centered (?:on|in)|in)\s+(?:the\s+key\s+of\s+)?"
                  r"([A-G](?:#|b|♯|♭|\s?sharp|\s?flat)?\s*(?:major|minor)\b)"
                  r"|\b([A-G](?:#|b|♯|♭)?\s*(?:major|minor))\s+key\b", re.IGNORECASE)
_BPM = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)\b"
                  r"|\btempo (?:of |at |around |about |approximately |is |~)*(\d{2,3})\b", re.IGNORECASE)
_METER = re.compile(r"\b(\d{1,2})\s*/\s*(?:2|4|8|16)\b(?:\s*(?:time|meter|signature))?")
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
    found = _METER.search(text)
    if found:
        return found.group(1)
    for pattern, beats in _METER_WORDS:
        if pattern.search(text):
            return beats
    return None


def prose_fields(text: str) -> dict:
    """Raw genre, key, tempo and meter stated in running text (normalized by the caller)."""
    found = {}
    key = _KEY.search(text)
    if key:
        found["keyscale"] = key.group(1) or key.group(2)
    tempo = _BPM.search(text)
    if tempo:
        found["bpm"] = tempo.group(1) or tempo.group(2)
    beats = meter(text)
    if beats:
        found["timesignature"] = beats
    style = genre(text)
    if style:
        found["genre"] = style
    return found
