"""One typed object per tab: the values of a tab's fields as a frozen dataclass.

A tab keeps its components in a dict ``{name: component}``. ``wiring.named(fields, fn, form=TrainForm)``
checks, when the tab is built, that those names are the form's fields (a renamed or forgotten field fails
at start-up, not at the first click), then calls ``fn`` with the form built from the values. Gradio hands
values loosely typed (a blank text is None from an API client, a cleared checkbox group None, a slider an
int or a float); ``Form.of`` gives each field its declared type once, so the handlers read ``form.epochs``,
never ``values["epochs"]``. Number fields the user may clear stay ``Number`` (as typed, None when blank):
the tab's own check refuses a blank or a bad one with the field's label.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field

from app.errors import UserError

Number = typing.Union[float, str, None]  # as typed; checked by name where it is used


def number_in(label: str, value, low: float, high: float | None = None) -> float:
    """A typed number inside [low, high], or a UserError naming the field and the range (never clamped)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{label}: enter a number." if value in (None, "") else
                        f"{label}: {value!r} is not a number.") from None
    if number != number or number < low or (high is not None and number > high):  # NaN is out of every range
        allowed = f"outside its range, {low:g} to {high:g}" if high is not None else f"below its minimum, {low:g}"
        raise UserError(f"{label}: {number:g} is {allowed}; nothing was started.")
    return number


def _coerce(name: str, kind, value):
    if kind is str:
        return "" if value is None else str(value)
    if kind is bool:
        return bool(value)
    if typing.get_origin(kind) is list:
        return [str(item) for item in value or []]
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError) as error:
            raise UserError(f"{name}: {value!r} is not a number") from error
    return value  # Number and anything else: as given


@dataclass(frozen=True)
class Form:
    @classmethod
    def check(cls, names) -> None:
        """The tab's component names must be exactly the form's fields (those with defaults may be absent)."""
        declared = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        unknown, missing = sorted(set(names) - declared), sorted(required - set(names))
        if unknown or missing:
            raise TypeError(f"{cls.__name__}: fields without a component {missing}, components without a field "
                            f"{unknown}")

    @classmethod
    def of(cls, values: dict):
        """The form from ``{name: value}`` as Gradio gives them, each value in its declared type."""
        cls.check(values)
        hints = typing.get_type_hints(cls)
        return cls(**{name: _coerce(name, hints[name], value) for name, value in values.items()})

    def but(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class TrainForm(Form):
    """The Train tab. Adapter fields of the other adapter type are ignored (``train_settings.ONLY_FOR``)."""
    model: str
    preset: str
    adapter: str
    gpus: list[str]
    tensors: str
    output: str
    targets: str
    mlp: bool
    rank: Number
    alpha: Number
    linear_dim: Number
    linear_alpha: Number
    factor: Number
    decompose_both: bool
    epochs: Number
    lr: Number
    optimizer: str
    scheduler: str
    warmup: Number
    batch: Number
    grad_accum: Number
    crop: Number
    save_every: Number
    preview_every: Number
    trigger: str
    seed: Number
    preview_caption: str  # blank: the trigger word alone
    preview_lyrics: str  # blank: the preset's ("[Instrumental]")
    preview_seed: Number
    advanced: str = ""
    resume: str = ""
    use_estimate: bool = False
    archive_previous: bool = False  # the run folder holds an earlier run: move it to archive/<time>/ first
    ema: bool = False  # keep an EMA of the adapter (ema.enabled)
    ema_decay: Number = 0.999  # asked for only with the EMA on
    ema_on_cpu: bool = False
    ema_previews: bool = False
    val_every: Number = 0  # validation every N steps (0: off)
    val_fraction: Number = 0  # share of songs held out when none is marked in the Dataset tab
    nodes: Number = 1  # machines in the run; this studio's machine is node 0 (train/nodes.py)
    base_weights: str = "full"  # frozen base: full (the run's precision) | int8 (bitsandbytes)


@dataclass(frozen=True)
class PreprocessForm(Form):
    model: str
    source_kind: str
    source: str
    output: str
    max_duration: Number
    normalize: str
    two_pass: bool
    tag: str
    tag_position: str


@dataclass(frozen=True)
class ExportForm(Form):
    """The Export & merge tab: export uses checkpoint..lokr_as_lora, merge checkpoint, model, strength, merged."""
    checkpoint: str
    formats: list[str]
    output: str
    trigger: str
    lokr_as_lora: bool
    model: str
    strength: Number  # checked by the merge against MERGE_RANGE, never clamped
    merged: str
    overwrite: bool = False  # replace an earlier export / merge of something else (the user's files moved aside)


@dataclass(frozen=True)
class CompareForm(Form):
    run: str
    model: str
    checkpoints: str
    strengths: str
    caption1: str
    lyrics1: str
    caption2: str
    lyrics2: str
    caption3: str
    lyrics3: str
    duration: Number
    seed: Number
    steps: Number
    output: str
    clap: str = ""  # blank: <checkpoint folder>/clap-htsat-unfused
    reference: str = ""  # blank: the run's training songs

    def prompts(self) -> list[tuple[str, str]]:
        """(caption, lyrics) of each prompt with a caption."""
        pairs = [(self.caption1, self.lyrics1), (self.caption2, self.lyrics2), (self.caption3, self.lyrics3)]
        return [(caption.strip(), lyrics) for caption, lyrics in pairs if caption.strip()]


@dataclass(frozen=True)
class CaptionForm(Form):
    """The Auto-label tab and the captioner app's Caption tab (``mode`` and the prompts only there).
    ``model_dirs`` and ``api_keys`` are keyed by backend name."""
    folder: str
    backends: list[str]
    only_missing: bool
    overwrite: bool
    two_pass: bool
    quantize: str
    tag: str
    mode: str = ""
    model_metadata: bool = False  # BPM / key / meter: the model's over the analysis's
    min_confidence: Number = 0.0  # measured values less sure than this (0-1) are not written; blank: 0
    language: str = ""  # the sung language (blank: detected)
    timestamps: bool = False  # timed lyrics as {stem}.lrc
    gemini_lyrics: bool = False
    gemini_model: str = ""  # blank: the CLI's default
    caption_prompt: str = ""
    transcribe_prompt: str = ""
    model_dirs: dict = field(default_factory=dict)
    api_keys: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetJsonForm(Form):
    """The Dataset tab's dataset.json + CSV section."""
    folder: str
    txt_mode: str
    tag: str
    position: str
    ratio: Number  # checked against 0..1 by name when saved, never clamped
    target: str


@dataclass(frozen=True)
class BulkForm(Form):
    """The Dataset tab's bulk edit (field, value) and import (source) section."""
    folder: str
    txt_mode: str
    field: str
    value: str
    overwrite: bool
    source: str
