"""What a listening grid renders: ``GridSpec``, and which checkpoints a selection names.

A selection is a list of tokens: ``best``, ``final``, ``every:N`` (every N-th step checkpoint
of ``<run>/checkpoints``, the last one always included), a step number (``400``) or a folder
path; the EMA of the adapter (``ema.enabled`` runs) is its own row: ``final-ema``, ``best-ema``
(``best/ema``) or ``400-ema`` (``checkpoints/400/ema``). Each resolves to a folder ``export.load.load_adapter`` reads; a token naming nothing is
an error that says which token and where it looked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from acestep_train import safe_json
from acestep_train.prompts import SongText
from acestep_train.train.ema import FINAL as FINAL_EMA, FOLDER as EMA_FOLDER

KEYWORDS = ("best", "final", FINAL_EMA, "best-ema")  # tokens naming a run's folders (besides steps)


def ema_step(token: str) -> str | None:
    """The step of an ``N-ema`` token (``"400"`` for ``400-ema``), else None."""
    return token[:-4] if token.endswith("-ema") and token[:-4].isdigit() else None


def is_run_token(token: str) -> bool:
    """A token naming a folder of the run (not a path the user typed)."""
    return token in KEYWORDS or token.isdigit() or token.startswith("every:") or ema_step(token) is not None


@dataclass(frozen=True)
class PromptSpec:
    caption: str  # include the trigger word
    lyrics: str = ""
    duration: float = 10.0  # seconds
    language: str = "en"

    def song(self) -> SongText:
        return SongText(self.caption, self.lyrics, self.language, duration=self.duration)


@dataclass(frozen=True)
class GridSpec:
    run: str  # the run folder (checkpoints/, best/, final/, events.jsonl)
    checkpoint_dirs: tuple[str, ...]  # model roots
    model_variant: str
    output: str  # where the audio and grid.json go
    checkpoints: tuple[str, ...] = ("best", "final")  # tokens, see the module docstring
    strengths: tuple[float, ...] = (0.0, 0.5, 0.75, 1.0, 1.25)
    prompts: tuple[PromptSpec, ...] = ()
    seed: int = 42
    steps: int | None = None  # None: the variant's default
    base_model: str | None = None
    device: str | None = None
    score: bool = True  # CLAP scores after rendering (when the weights are there; compare/scores.py)
    clap: str | None = None  # a CLAP folder; None: <checkpoint folder>/clap-htsat-unfused
    reference: str | None = None  # a folder of songs to score against; None: the run's training songs

    def __post_init__(self):
        if not 1 <= len(self.prompts) <= 3:
            raise ValueError(f"a grid takes one to three prompts, not {len(self.prompts)}")
        if not self.strengths or len(set(self.strengths)) != len(self.strengths):
            raise ValueError(f"strengths must be distinct and not empty: {list(self.strengths)}")
        if not self.checkpoints:
            raise ValueError("choose at least one checkpoint (best, final, every:N, a step or a folder)")
        for prompt in self.prompts:
            if not prompt.caption.strip() or prompt.duration <= 0:
                raise ValueError(f"each prompt needs a caption and a duration above 0: {prompt}")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "GridSpec":
        data = dict(data)
        data["prompts"] = tuple(PromptSpec(**p) for p in data.get("prompts", ()))
        for key in ("checkpoint_dirs", "checkpoints", "strengths"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    @classmethod
    def read(cls, path: str | Path) -> "GridSpec":
        path = Path(path)
        try:
            return cls.from_json(safe_json.load_file(path))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: not a grid spec ({error})") from error


def step_checkpoints(run: Path) -> list[Path]:
    folder = run / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))


def _token(run: Path, token: str) -> list[tuple[str, Path]]:
    steps = step_checkpoints(run)
    if token == "best-ema":
        found = [(token, run / "best" / EMA_FOLDER)]
    elif token in KEYWORDS:  # best, final, final-ema: a folder of that name
        found = [(token, run / token)]
    elif (step := ema_step(token)) is not None:
        found = [(f"step {step} ema", run / "checkpoints" / step / EMA_FOLDER)]
    elif token.startswith("every:"):
        every = int(token.split(":", 1)[1])
        if every < 1:
            raise ValueError(f"{token}: N must be 1 or more")
        chosen = steps[every - 1::every] + ([steps[-1]] if steps and len(steps) % every else [])
        found = [(f"step {p.name}", p) for p in chosen]
    elif token.isdigit():
        found = [(f"step {token}", run / "checkpoints" / token)]
    else:
        found = [(Path(token).name, Path(token))]
    missing = [str(path) for _, path in found if not path.is_dir()]
    if missing or not found:
        raise FileNotFoundError(f"{run}: checkpoint {token!r} not found (looked for {missing or 'step folders'})")
    return found


def resolve_checkpoints(run: str | Path, tokens: tuple[str, ...] | list[str]) -> list[tuple[str, Path]]:
    """[(label, folder)] in the order given, each folder once."""
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no run folder here")
    chosen: dict[Path, str] = {}
    for token in tokens:
        for label, path in _token(run, str(token).strip()):
            chosen.setdefault(path.resolve(), label)
    return [(label, path) for path, label in chosen.items()]
