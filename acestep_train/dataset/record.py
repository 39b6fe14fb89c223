"""One song of a dataset: its audio file, what the user wrote about it, and whether it is usable.

Field names follow the ACE-Step captioner's ``{stem}.json`` schema, so sidecars written by
other ACE-Step tools load as they are. ``provenance`` says who wrote each value and when
(``acestep_train.dataset.provenance``: one ``_provenance`` key in the sidecar, which those tools
ignore); every write goes through its one rule, so the user's values are never replaced by a guess.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field, fields
from collections.abc import Mapping
from pathlib import Path

from acestep_train.dataset import provenance
from acestep_train.dataset.provenance import Origin, Policy
from acestep_train.prompts import SongText

TAG_POSITIONS = ("prepend", "append", "replace")
TEXT_FIELDS = ("caption", "genre", "keyscale", "timesignature", "lyrics", "language", "custom_tag")
SIDECAR_FIELDS = ("filename", "caption", "genre", "bpm", "keyscale", "timesignature", "lyrics", "language",
                  "is_instrumental", "duration", "custom_tag", "holdout")
#: the studio's own keys beyond the captioner schema, written only when set (other tools ignore them)
STUDIO_FIELDS = ("holdout",)
PROMPT_OVERRIDES = ("caption", "genre")  # per sample, as ACE-Step 1.5's builder stores it; None = the ratio


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
    holdout: bool = False  # held out for validation: never trained on when the run validates
    provenance: dict[str, Origin] = field(default_factory=dict)  # {field: who wrote it, when}
    status: str = "ok"  # "ok" or why the file is unusable
    notes: list[str] = field(default_factory=list)  # warnings that do not make it unusable
    prompt_override: str | None = None  # "caption" or "genre" always; None: the dataset's genre_ratio decides

    @property
    def usable(self) -> bool:
        return self.status == "ok"

    @property
    def labeled(self) -> bool:
        return bool(self.caption.strip())

    @property
    def owned(self) -> list[str]:
        """The fields holding the user's own values (typed or imported)."""
        return sorted(name for name, origin in self.provenance.items() if origin.owned)

    def sidecar(self) -> dict:
        """The ``{stem}.json`` dict: the captioner schema, plus one ``_provenance`` key."""
        data = {name: getattr(self, name) for name in SIDECAR_FIELDS
                if name != "filename" and (name not in STUDIO_FIELDS or getattr(self, name))}
        origins = {name: self.provenance[name].to_json() for name in SIDECAR_FIELDS if name in self.provenance}
        return {"filename": self.audio_path.name, **data, provenance.KEY: origins}

    def update(self, values: dict, origin: Origin | Mapping[str, Origin] | None = None,
               policy: Policy = Policy()) -> list[str]:
        """Set the fields ``provenance.may_write`` allows; ``origin`` (one for all, or one per field) says
        who writes them (default: the user). Returns the fields whose value changed."""
        changed = []
        for name, value in values.items():
            if name not in SIDECAR_FIELDS or name == "filename":
                raise ValueError(f"unknown sample field {name!r}")
            incoming = (origin.get(name) if isinstance(origin, Mapping) else origin) or provenance.user()
            empty = getattr(self, name) in (None, "")
            if not provenance.may_write(name, self.provenance.get(name), empty, incoming, policy):
                continue
            value = coerce(name, value)
            if name == "keyscale":
                check_key(value)
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed.append(name)
            if name not in provenance.UNTRACKED:
                self.provenance[name] = incoming
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
    if name in ("is_instrumental", "holdout"):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "y")
        if not isinstance(value, (bool, int)) and value is not None:
            raise ValueError(f"{name} must be true or false, got {value!r}")
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


def is_default(sample: Sample, name: str) -> bool:
    """Empty, or still the schema's default (language "en", not instrumental)."""
    value = getattr(sample, name)
    return value in (None, "") or value == Sample.__dataclass_fields__[name].default


def is_unset(sample: Sample, name: str) -> bool:
    """True when a field holds nothing anyone gave: empty, or a default no one wrote (e.g. language "en")."""
    return getattr(sample, name) in (None, "") or (is_default(sample, name) and name not in sample.provenance)


def claim(sample: Sample, data: dict, where: str, fallback: Origin,
          found: Mapping[str, Origin] | None = None) -> None:
    """The provenance of a sample just read from ``data`` (a sidecar, a dataset.json record).

    Recorded entries stand. A file without them: the fields its ``edited`` list names (the studio's
    format before provenance) are the user's and its other values the studio's; in any other file
    (hand-made, another tool's), every value that is not a default is ``fallback``'s (the user's, or
    the import's). ``found``: fields read from elsewhere (text sidecars) with their own origin."""
    recorded = provenance.read(data, sample.notes, where)
    edited = provenance.legacy_edited(data) if provenance.KEY not in data else None
    found, origins = found or {}, {}
    for name in SIDECAR_FIELDS:
        if name in provenance.UNTRACKED:
            continue
        if name in found:
            origins[name] = found[name]
        elif name in recorded:
            origins[name] = recorded[name]
        elif edited is not None and name in edited:
            origins[name] = Origin(provenance.USER, "user", fallback.at)
        elif not is_default(sample, name):
            legacy = edited is not None
            origins[name] = Origin(provenance.MODEL, "studio (before provenance)", fallback.at) if legacy else fallback
    sample.provenance = origins


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
