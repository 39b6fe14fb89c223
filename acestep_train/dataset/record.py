"""One song of a dataset: its audio file, what the user wrote about it, and whether it is usable.

Field names follow the ACE-Step captioner's ``{stem}.json`` schema, so sidecars written by
other ACE-Step tools load as they are. ``edited`` lists the fields the user (not an
auto-labeler) set; auto-labeling never overwrites them unless asked.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from acestep_train.prompts import SongText

TAG_POSITIONS = ("prepend", "append", "replace")
TEXT_FIELDS = ("caption", "genre", "keyscale", "timesignature", "lyrics", "language", "custom_tag")
SIDECAR_FIELDS = ("filename", "caption", "genre", "bpm", "keyscale", "timesignature", "lyrics", "language",
                  "is_instrumental", "duration", "custom_tag")
PROMPT_OVERRIDES = ("caption", "genre")  # per sample, as ACE-Step 1.5's builder stores it; None = the ratio
#: Values from these sources are the user's: an auto-labeler replaces them only when asked (``overwrite``).
OWNER_SOURCES = ("user", "import")


@dataclass
class Sample:
    audio_path: Path
    caption: str = ""
    genre: str = ""
    bpm: int | None = None
    keyscale: str = ""
    timesignature: str = ""
    lyrics: str = ""
    language: str = "en"
    is_instrumental: bool = False
    duration: float = 0.0
    custom_tag: str = ""
    edited: list[str] = field(default_factory=list)
    status: str = "ok"  # "ok" or why the file is unusable
    notes: list[str] = field(default_factory=list)  # warnings that do not make it unusable
    prompt_override: str | None = None  # "caption" or "genre" always; None: the dataset's genre_ratio decides

    @property
    def usable(self) -> bool:
        return self.status == "ok"

    @property
    def labeled(self) -> bool:
        return bool(self.caption.strip())

    def sidecar(self) -> dict:
        """The ``{stem}.json`` dict (the captioner schema, plus our ``edited`` list)."""
        data = {name: getattr(self, name) for name in SIDECAR_FIELDS if name != "filename"}
        return {"filename": self.audio_path.name, **data, "edited": sorted(set(self.edited))}

    def update(self, values: dict, source: str = "user", overwrite: bool = False) -> list[str]:
        """Set fields; an auto-labeler skips the user's fields (typed or imported) unless ``overwrite``.

        Returns the fields changed.
        """
        changed = []
        for name, value in values.items():
            if name not in SIDECAR_FIELDS or name == "filename":
                raise ValueError(f"unknown sample field {name!r}")
            if source not in OWNER_SOURCES and name in self.edited and not overwrite:
                continue
            value = coerce(name, value)
            if name == "keyscale":
                check_key(value)
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed.append(name)
            if source in OWNER_SOURCES and name not in self.edited:
                self.edited.append(name)
        return changed

    def as_dict(self) -> dict:
        data = asdict(self)
        data["audio_path"] = str(self.audio_path)
        return data


def coerce(name: str, value):
    """Type a sidecar value, naming the field when it cannot be."""
    if name == "bpm":
        if value in (None, "", "N/A", "n/a"):
            return None
        try:
            bpm = int(round(float(value)))
        except (TypeError, ValueError) as error:
            raise ValueError(f"bpm must be a number, got {value!r}") from error
        if not 20 <= bpm <= 400:
            raise ValueError(f"bpm must be between 20 and 400, got {bpm}")
        return bpm
    if name == "is_instrumental":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "y")
        if not isinstance(value, (bool, int)) and value is not None:
            raise ValueError(f"is_instrumental must be true or false, got {value!r}")
        return bool(value)
    if name == "duration":
        try:
            return float(value or 0.0)
        except (TypeError, ValueError) as error:
            raise ValueError(f"duration must be a number of seconds, got {value!r}") from error
    if isinstance(value, (list, dict, bool)):
        raise ValueError(f"{name} must be text, got {type(value).__name__} {value!r}")
    if name == "timesignature" and value not in (None, ""):
        return str(value).split("/")[0].strip()  # "4/4" -> "4", as the pipeline writes it
    return "" if value is None else str(value)


#: a key as ACE-Step writes it: a note A-G, an optional sharp or flat, an optional major / minor
KEY = re.compile(r"[A-G](#|b|\u266f|\u266d)?\s*(major|minor|maj|min|m)?", re.IGNORECASE)


def check_key(value: str) -> None:
    """A key typed or imported: blank, or a note A-G with #/b and major/minor (ValueError naming the field)."""
    text = value.strip()
    if text and not KEY.fullmatch(text):
        raise ValueError(f"keyscale (Key): {value!r} is not a key; write a note A to G, then # or b if needed, "
                         "then major or minor, e.g. F# minor")


def is_unset(sample: Sample, name: str) -> bool:
    """True when a field holds nothing the user gave: empty, or still the default (e.g. language "en")."""
    value = getattr(sample, name)
    return value in (None, "") or (value == Sample.__dataclass_fields__[name].default and name not in sample.edited)


def known_field_names() -> set[str]:
    return {f.name for f in fields(Sample)}


def apply_tag(caption: str, tag: str, position: str) -> str:
    """The activation (trigger) tag placed before, after, or instead of the caption."""
    if position not in TAG_POSITIONS:
        raise ValueError(f"tag_position must be one of {TAG_POSITIONS}, not {position!r}")
    tag, caption = tag.strip(), caption.strip()
    if not tag:
        return caption
    if position == "replace" or not caption:
        return tag
    return f"{tag}, {caption}" if position == "prepend" else f"{caption}, {tag}"


def training_caption(sample: Sample, tag: str = "", position: str = "prepend", genre_ratio: float = 0.0,
                     rng: random.Random | None = None) -> str:
    """The caption a sample trains with: the genre instead of the caption with probability ``genre_ratio``.

    A sample's ``prompt_override`` ("caption" / "genre") wins over the ratio, as in ACE-Step 1.5.
    A sample with no genre trains on its caption whatever the draw.
    """
    if not 0.0 <= genre_ratio <= 1.0:
        raise ValueError(f"genre_ratio must be between 0 and 1, got {genre_ratio}")
    if sample.prompt_override is not None:
        use_genre = bool(sample.genre) and sample.prompt_override == "genre"
    else:
        use_genre = bool(sample.genre) and (rng or random.Random(0)).random() < genre_ratio
    text = sample.genre if use_genre else sample.caption
    return apply_tag(text, sample.custom_tag or tag, position)


def song_text(sample: Sample, caption: str) -> SongText:
    """What preprocessing conditions on (duration is filled in from the audio encoded)."""
    lyrics = "[Instrumental]" if sample.is_instrumental and not sample.lyrics.strip() else sample.lyrics
    return SongText(caption=caption, lyrics=lyrics, language=sample.language or "en", bpm=sample.bpm,
                    keyscale=sample.keyscale, timesignature=sample.timesignature)
