"""Who wrote each value of a sidecar, and the one rule that decides whether a new value may replace it.

A sidecar ``{stem}.json`` keeps ACE-Step's schema untouched and adds one key its tools ignore:
``"_provenance": {field: {"source": ..., "by": ..., "at": ..., "confidence": ...}}``.

- ``source``: ``user`` (typed in the studio, or found in a hand-made sidecar), ``import`` (a CSV,
  a dataset.json, a ``.caption.txt`` / ``.lyrics.txt`` / ``.txt`` sidecar), ``analysis`` (measured
  from the audio: librosa) or ``model`` (a captioning model or cloud service).
- ``by``: which one (``librosa``, ``acestep-captioner``, ``gemini``, ``songs.csv``, ``user``, ...).
- ``at``: when, ISO 8601 in UTC. ``confidence``: the analysis's own confidence in 0-1, when it gives one.

The rule (``may_write``), used by every writer: an empty field may always be filled; a value the
user or an import wrote is never replaced without ``overwrite``; a value the studio wrote
(analysis or model) may be replaced by the user, an import, a newer run of the same kind of
source, or the other kind where the precedence says so (BPM / key / meter: the analysis over a
model unless ``prefer_model``; every other field: a model).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

KEY = "_provenance"
USER, IMPORT, ANALYSIS, MODEL = "user", "import", "analysis", "model"
SOURCES = (USER, IMPORT, ANALYSIS, MODEL)
OWNERS = (USER, IMPORT)  # their values are the user's: replaced only with overwrite
MEASURED = ("bpm", "keyscale", "timesignature")  # where analysis and models compete
#: Fields no one owns: the scan measures the duration from the file itself.
UNTRACKED = ("filename", "duration")
LOW_CONFIDENCE = 0.5  # below this an analysis value is shown as "(low)"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Origin:
    source: str  # one of SOURCES
    by: str  # who: "user", "librosa", "acestep-captioner", "songs.csv", ...
    at: str  # ISO 8601, UTC
    confidence: float | None = None  # the analysis's confidence in 0-1

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {self.source!r}")
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be between 0 and 1, not {self.confidence!r}")

    @property
    def owned(self) -> bool:
        """The user's value (typed or imported)."""
        return self.source in OWNERS

    @property
    def low(self) -> bool:
        return self.confidence is not None and self.confidence < LOW_CONFIDENCE

    def to_json(self) -> dict:
        data = {"source": self.source, "by": self.by, "at": self.at}
        return data | ({"confidence": round(self.confidence, 3)} if self.confidence is not None else {})

    @classmethod
    def from_json(cls, data) -> "Origin":
        if not isinstance(data, dict):
            raise ValueError(f"expected {{source, by, at}}, got {data!r}")
        confidence = data.get("confidence")
        if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))):
            raise ValueError(f"confidence must be a number, not {confidence!r}")
        return cls(str(data.get("source")), str(data.get("by") or "unknown"), str(data.get("at") or ""),
                   None if confidence is None else float(confidence))


def user(by: str = "user") -> Origin:
    return Origin(USER, by, now())


def imported(by: str) -> Origin:
    return Origin(IMPORT, by, now())


def analysis(by: str, confidence: float | None = None) -> Origin:
    return Origin(ANALYSIS, by, now(), confidence)


def model(by: str) -> Origin:
    return Origin(MODEL, by, now())


@dataclass(frozen=True)
class Policy:
    overwrite: bool = False  # replace even the user's values (the "Overwrite" choice)
    prefer_model: bool = False  # BPM / key / meter: a model's over the analysis's


def may_write(field: str, current: Origin | None, empty: bool, incoming: Origin, policy: Policy = Policy()) -> bool:
    """May ``incoming`` replace the value of ``field`` that ``current`` wrote? (See the module docstring.)

    ``current`` None: nobody wrote the value (a default such as language "en"); ``empty``: there is none."""
    if empty or current is None or policy.overwrite:
        return True
    if current.owned:
        return False
    if incoming.owned or incoming.source == current.source:
        return True  # the user's word, or a newer run of the same kind of source
    model_wins = policy.prefer_model or field not in MEASURED
    return model_wins if incoming.source == MODEL else not model_wins


def read(data: dict, notes: list[str], where: str) -> dict[str, Origin]:
    """The ``_provenance`` of a sidecar or dataset.json record (bad entries noted and dropped)."""
    raw = data.get(KEY)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        notes.append(f"{where}: {KEY} is not an object; ignored")
        return {}
    found = {}
    for name, entry in raw.items():
        try:
            found[str(name)] = Origin.from_json(entry)
        except ValueError as error:
            notes.append(f"{where}: {KEY}.{name}: {error}; ignored")
    return found


def legacy_edited(data: dict) -> list[str] | None:
    """The ``edited`` list the studio wrote before provenance (the user's fields), or None."""
    edited = data.get("edited")
    return [str(name) for name in edited] if isinstance(edited, list) else None
