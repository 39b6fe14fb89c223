"""One value of a model's answer -> the sidecar's form, or ``None`` when it cannot be read.

The forms are ACE-Step 1.5's (its ``constants.py``): bpm an integer in 30-300, a key as
"F# minor" / "Bb major", a time signature as the beats of a bar ("4" for 4/4; 2, 3, 4 and 6
only), a language as one of its codes ("en", "yue", ... or "unknown").
"""

from __future__ import annotations

import re

BPM_RANGE = (30, 300)
TIME_SIGNATURES = ("2", "3", "4", "6")
LANGUAGE_CODES = (
    "ar", "az", "bg", "bn", "ca", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fr", "he", "hi", "hr", "ht", "hu",
    "id", "is", "it", "ja", "ko", "la", "lt", "ms", "ne", "nl", "no", "pa", "pl", "pt", "ro", "ru", "sa", "sk", "sr",
    "sv", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "yue", "zh", "unknown",
)
LANGUAGE_NAMES = {
    "arabic": "ar", "azerbaijani": "az", "bulgarian": "bg", "bengali": "bn", "bangla": "bn", "catalan": "ca",
    "czech": "cs", "danish": "da", "german": "de", "greek": "el", "english": "en", "spanish": "es", "persian": "fa",
    "farsi": "fa", "finnish": "fi", "french": "fr", "hebrew": "he", "hindi": "hi", "croatian": "hr", "haitian": "ht",
    "haitian creole": "ht", "hungarian": "hu", "indonesian": "id", "icelandic": "is", "italian": "it",
    "japanese": "ja", "korean": "ko", "latin": "la", "lithuanian": "lt", "malay": "ms", "nepali": "ne", "dutch": "nl",
    "norwegian": "no", "punjabi": "pa", "polish": "pl", "portuguese": "pt", "romanian": "ro", "russian": "ru",
    "sanskrit": "sa", "slovak": "sk", "serbian": "sr", "swedish": "sv", "swahili": "sw", "tamil": "ta",
    "telugu": "te", "thai": "th", "tagalog": "tl", "filipino": "tl", "turkish": "tr", "ukrainian": "uk", "urdu": "ur",
    "vietnamese": "vi", "cantonese": "yue", "chinese": "zh", "mandarin": "zh",
    "instrumental": "unknown", "none": "unknown", "no vocals": "unknown", "unknown": "unknown",
    # The names a model answering in Chinese or Japanese writes (``# 语言`` / ``# 言語`` headers).
    "中文": "zh", "汉语": "zh", "普通话": "zh", "國語": "zh", "英文": "en", "英语": "en", "英語": "en", "日文": "ja",
    "日语": "ja", "日本語": "ja", "韩语": "ko", "韓語": "ko", "韩文": "ko", "한국어": "ko", "粤语": "yue", "粵語": "yue",
    "广东话": "yue", "廣東話": "yue",
}
# ISO 639-2/3 codes some services answer with (ElevenLabs Scribe: "eng", "jpn", ...).
THREE_LETTER = {
    "ara": "ar", "aze": "az", "bul": "bg", "ben": "bn", "cat": "ca", "ces": "cs", "cze": "cs", "dan": "da",
    "deu": "de", "ger": "de", "ell": "el", "gre": "el", "eng": "en", "spa": "es", "fas": "fa", "per": "fa",
    "fin": "fi", "fra": "fr", "fre": "fr", "heb": "he", "hin": "hi", "hrv": "hr", "hat": "ht", "hun": "hu",
    "ind": "id", "isl": "is", "ice": "is", "ita": "it", "jpn": "ja", "kor": "ko", "lat": "la", "lit": "lt",
    "msa": "ms", "may": "ms", "nep": "ne", "nld": "nl", "dut": "nl", "nor": "no", "nob": "no", "pan": "pa",
    "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro", "rus": "ru", "san": "sa", "slk": "sk", "slo": "sk",
    "srp": "sr", "swe": "sv", "swa": "sw", "tam": "ta", "tel": "te", "tha": "th", "tgl": "tl", "fil": "tl",
    "tur": "tr", "ukr": "uk", "urd": "ur", "vie": "vi", "yue": "yue", "zho": "zh", "chi": "zh", "cmn": "zh",
}
EMPTY = {"", "n/a", "na", "none", "null", "unknown", "not sure", "unclear", "-", "?"}
_KEY = re.compile(r"^\s*([A-Ga-g])\s*(#|b|♯|♭|-?sharp|-?flat)?\s*(major|minor|maj|min|m|M)?\b")
_KEY_WORDS = re.compile(r"\b([A-G])\s*(#|b|♯|♭|-?sharp|-?flat)?\s*(major|minor|maj|min)\b", re.IGNORECASE)
_ACCIDENTALS = {"#": "#", "♯": "#", "sharp": "#", "-sharp": "#", "b": "b", "♭": "b", "flat": "b", "-flat": "b"}


def is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in EMPTY) or value in ([], {})


def bpm(value) -> int | None:
    """The first number in range: "around 84 BPM" -> 84, "120-125" -> 120; out of range -> None."""
    if isinstance(value, bool) or is_empty(value):
        return None
    match = re.search(r"\d+(?:\.\d+)?", str(value))
    if not match:
        return None
    number = int(round(float(match.group())))
    return number if BPM_RANGE[0] <= number <= BPM_RANGE[1] else None


def _key_parts(note: str, accidental: str | None, mode: str | None) -> str:
    accidental = _ACCIDENTALS.get((accidental or "").lower(), "")
    minor = mode is not None and (mode.lower() in ("minor", "min") or mode == "m")
    return f"{note.upper()}{accidental} {'minor' if minor else 'major'}"


def keyscale(value) -> str | None:
    """A key field's value: "f# min" -> "F# minor", "Bbm" -> "Bb minor", "C" -> "C major"."""
    if is_empty(value):
        return None
    text = str(value).strip()
    match = _KEY_WORDS.search(text)  # "E minor / G major", "key of A minor": the first named key
    if match:
        return _key_parts(*match.groups())
    match = _KEY.match(text)
    if not match or (match.end() < len(text) and text[match.end():].strip()[:1].isalpha()):
        return None  # "Dorian mode", "A beautiful..." are not keys
    return _key_parts(*match.groups())


def timesignature(value) -> str | None:
    """ "4/4" -> "4", "6/8" -> "6", "3" -> "3", "common time" -> "4"; meters ACE-Step lacks -> None."""
    if is_empty(value):
        return None
    text = str(value).strip().lower()
    if "common time" in text:
        return "4"
    match = re.search(r"\d+", text)
    if not match:
        return None
    beats = str(int(match.group()))
    return beats if beats in TIME_SIGNATURES else None


def language(value) -> str | None:
    """ "English" -> "en", "en-US" -> "en", "eng" -> "en", "Cantonese" -> "yue", "中文" -> "zh".

    A language ACE-Step does not list ("et", "kk", "Estonian", "Klingon") is "unknown" (ACE-Step's own
    label for it), never dropped: a dropped value would leave the sidecar's default "en". No value, or one
    without a letter, is ``None``.
    """
    if value is None or isinstance(value, (list, dict, bool)):
        return None
    text = str(value).strip().lower().strip(".")
    if text in ("", "n/a") or not re.search(r"[^\W\d_]", text):
        return None
    if text in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[text]
    code = re.split(r"[-_\s(,/;]", text)[0]
    if code in LANGUAGE_CODES:
        return code
    if code in THREE_LETTER:
        return THREE_LETTER[code]
    first_word = re.match(r"[^\W\d_]+", text)
    return LANGUAGE_NAMES.get(first_word.group(), "unknown") if first_word else "unknown"


def boolean(value) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "y", "1", "instrumental"):
        return True
    if text in ("false", "no", "n", "0", "vocal", "vocals"):
        return False
    return None


def text(value) -> str | None:
    """Free text (caption, genre): lists joined with commas, markdown emphasis and quotes stripped."""
    if is_empty(value) or isinstance(value, (dict, bool)):
        return None
    if isinstance(value, list):
        value = ", ".join(str(item).strip() for item in value if not is_empty(item))
    cleaned = re.sub(r"(\*\*|__)(.+?)\1", r"\2", str(value)).strip().strip('"').strip()
    return cleaned or None


def caption(value) -> str | None:
    """Free text as one paragraph."""
    cleaned = text(value)
    return re.sub(r"\s+", " ", cleaned).strip() if cleaned else None


NORMALIZERS = {
    "caption": caption, "genre": text, "bpm": bpm, "keyscale": keyscale, "timesignature": timesignature,
    "language": language, "is_instrumental": boolean,
}
