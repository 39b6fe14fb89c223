"""``dataset.json``: ``{metadata: {name, custom_tag, tag_position, genre_ratio, ...}, samples: [...]}``.

Audio paths are stored relative to the file's folder when they lie under it, so a dataset
folder can move. Datasets written by other ACE-Step trainers import as they are: samples may
name their audio ``audio_path``, ``path`` or ``filename``; unknown keys are ignored, known
ones are type-checked with the sample and field named in any error. ACE-Step 1.5's builder
stores ``genre_ratio`` as a whole percentage (0-100) and a per-sample ``prompt_override``;
both are read. We write ``genre_ratio`` as a fraction (a float, so 1.0 is never read as 1 %).

Unusable songs (empty, not audio, truncated, too short, silent, missing) are kept out of
``samples``, so no consumer of the file (ours, or ACE-Step's) tries them; they are listed in an
``excluded`` list, each with ``status: "excluded"`` and the ``reason`` (keys other tools
ignore), and read back as unusable samples with that reason. Each sample keeps its
``_provenance``; values another tool's file gives without one are an import's. Under the studio, an entry whose
audio lies outside the studio's roots is excluded the same way and never opened.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from acestep_train import safe_json
from acestep_train.atomic import atomic_write_json
from acestep_train.paths import env_roots, named_location, readable_link
from acestep_train.dataset.provenance import IMPORT, Origin
from acestep_train.dataset.record import PROMPT_OVERRIDES, SIDECAR_FIELDS, TAG_POSITIONS, Sample, claim, coerce
from acestep_train.dataset.sidecars import modified

PATH_KEYS = ("audio_path", "path", "filename", "file")


@dataclass
class DatasetMeta:
    name: str = "dataset"
    custom_tag: str = ""
    tag_position: str = "prepend"
    genre_ratio: float = 0.0
    txt_mode: str = "caption"
    extra: dict = field(default_factory=dict)  # other tools' metadata, kept as is

    def __post_init__(self):
        if self.tag_position not in TAG_POSITIONS:
            raise ValueError(f"metadata.tag_position must be one of {TAG_POSITIONS}, not {self.tag_position!r}")
        if not 0.0 <= float(self.genre_ratio) <= 1.0:
            raise ValueError(f"metadata.genre_ratio must be between 0 and 1, not {self.genre_ratio}")


def genre_fraction(value) -> float:
    """``metadata.genre_ratio`` as a fraction: ACE-Step 1.5 writes a whole percentage (an int)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"metadata.genre_ratio must be a number, not {value!r}")
    if isinstance(value, int) or value > 1.0:
        if not 0 <= value <= 100:
            raise ValueError(f"metadata.genre_ratio must be 0-100 % or a fraction 0-1, not {value}")
        return value / 100.0
    return float(value)


def save_dataset(path: str | Path, meta: DatasetMeta, samples: list[Sample]) -> None:
    path = Path(path)
    base = path.parent.resolve()
    records, excluded = [], []
    for sample in samples:
        audio = named_location(sample.audio_path)  # a symlinked song keeps its link's name
        record = {k: v for k, v in sample.sidecar().items() if k != "filename"}
        record["audio_path"] = str(audio.relative_to(base)) if audio.is_relative_to(base) else str(audio)
        record["prompt_override"] = sample.prompt_override
        if sample.usable:
            records.append(record)
        else:
            excluded.append({"audio_path": record["audio_path"], "status": "excluded", "reason": sample.status,
                             **{k: v for k, v in record.items() if k != "audio_path"}})
    data = {**meta.extra, **{k: v for k, v in asdict(meta).items() if k != "extra"}}
    data["genre_ratio"] = float(meta.genre_ratio)
    atomic_write_json(path, {"metadata": data, "samples": records, "excluded": excluded})


def _read_override(sample: Sample, value) -> None:
    """ACE-Step 1.5's per-sample "caption" / "genre" choice; other tools' values are noted, not used."""
    if value in PROMPT_OVERRIDES:
        sample.prompt_override = value
    elif value not in (None, ""):
        sample.notes.append(f"prompt_override {value!r} is neither 'caption' nor 'genre': ignored")


def _sample_from(record: dict, index: int, base: Path, path: Path) -> Sample:
    audio = next((record[key] for key in PATH_KEYS if record.get(key)), None)
    if audio is None or not isinstance(audio, str):
        raise ValueError(f"{path}: sample {index} names no audio file (one of {', '.join(PATH_KEYS)})")
    audio_path = Path(audio) if Path(audio).is_absolute() else base / audio
    sample = Sample(audio_path)
    outside = not readable_link(audio_path) if env_roots() else False
    if outside:
        sample.status = "outside the folders this studio serves: not read"
        return sample
    for name in SIDECAR_FIELDS:
        if name in record and name != "filename":
            try:
                setattr(sample, name, coerce(name, record[name]))
            except ValueError as error:
                raise ValueError(f"{path}: sample {index} ({audio}): {error}") from error
    _read_override(sample, record.get("prompt_override"))
    claim(sample, record, f"{path.name} sample {index}", Origin(IMPORT, path.name, modified(path)))
    if isinstance(record.get("reason"), str) and record.get("status") == "excluded":
        sample.status = record["reason"] or "excluded"
    elif not audio_path.is_file():
        sample.status = "missing audio file"
    return sample


def load_dataset(path: str | Path) -> tuple[DatasetMeta, list[Sample]]:
    path = Path(path)
    data = safe_json.load_file(path)
    if isinstance(data, list):  # some tools write the bare sample list
        data = {"metadata": {}, "samples": data}
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise ValueError(f"{path}: expected {{metadata: {{...}}, samples: [...]}}")
    raw_meta = data.get("metadata") or {}
    known = {k: raw_meta[k] for k in ("name", "custom_tag", "tag_position", "genre_ratio", "txt_mode") if k in raw_meta}
    try:
        if "genre_ratio" in known:
            known["genre_ratio"] = genre_fraction(known["genre_ratio"])
        meta = DatasetMeta(**known, extra={k: v for k, v in raw_meta.items() if k not in known})
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    excluded = data.get("excluded") if isinstance(data.get("excluded"), list) else []
    records = [*data["samples"], *({**r, "status": "excluded"} for r in excluded if isinstance(r, dict))]
    samples = [_sample_from(record, i, path.parent, path) for i, record in enumerate(records)
               if isinstance(record, dict)]
    return meta, samples
