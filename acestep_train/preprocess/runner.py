"""Run preprocessing: songs -> one training tensor file per sample + ``manifest.json``.

Standard mode keeps VAE, text encoder and condition encoder loaded together. Two-pass
mode (low VRAM) runs VAE + text encoder over every song first, writing intermediates to
``<output>/.pass1/``, frees them, then runs the condition encoder; both modes write
identical files. One bad song is reported and skipped; the manifest is saved after every
sample, so a crash loses at most the sample in progress.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from acestep_train.cpu_memory import reuse_freed_memory
from acestep_train.events import EventLog
from acestep_train.models import ModelInfo, choose_device, choose_dtype, load_components
from acestep_train.models.fingerprint import conditioning_fingerprint
from acestep_train.preprocess.conditioning import Conditioner, TextEncoding
from acestep_train.preprocess.plan import PreprocessItem, PreprocessSettings, make_plan
from acestep_train.preprocess.vae_encode import encode_waveform
from acestep_train.tensors import Manifest, SampleTensors, TensorFormatError, write_sample

PASS1_DIR = ".pass1"
Decode = Callable[[Path, float, str], torch.Tensor]  # (path, max seconds, normalize) -> [2, N] at 48 kHz


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (audio file, reason)

    @property
    def ready(self) -> int:
        return len(self.done) + len(self.skipped)

    def lines(self) -> list[str]:
        head = (f"preprocess: {len(self.done)} done, {len(self.skipped)} unchanged (skipped), "
                f"{len(self.removed)} stale removed, {len(self.failed)} failed")
        return [head, *(f"  failed: {path}: {reason}" for path, reason in self.failed)]


class Progress:
    """Counts, ETA, and the events the UI reads."""

    def __init__(self, total: int, events: EventLog, bar=None):
        self.total, self.events, self.bar = total, events, bar
        self.count, self.start = 0, time.monotonic()

    def step(self, label: str, stage: str) -> None:
        self.count += 1
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.count * (self.total - self.count)
        self.events.emit("progress", stage=stage, done=self.count, total=self.total, eta_s=round(eta, 1),
                         sample=label)
        if self.bar is not None:
            self.bar.update(1)


def existing_manifest(output_dir: Path, fingerprint: str, info: ModelInfo, settings) -> Manifest:
    try:
        manifest = Manifest.load(output_dir)
    except TensorFormatError:
        manifest = None
    if manifest is None or manifest.model_fingerprint != fingerprint:
        old = manifest.samples if manifest else {}
        manifest = Manifest(fingerprint, info.name, info.variant.name, 0, settings.output_key(), old)
    return manifest


ENCODE_ERRORS = (OSError, ValueError, RuntimeError)  # decode errors, bad audio, OOM: one song's failure


class PreprocessJob:
    def __init__(self, info: ModelInfo, settings: PreprocessSettings, output_dir: str | Path, decode: Decode,
                 device: str | None = None, bar_factory=None):
        self.info, self.settings, self.decode = info, settings, decode
        self.output_dir = Path(output_dir)
        self.device = choose_device(device)
        self.dtype = choose_dtype(self.device)
        self.events = EventLog(self.output_dir / "events.jsonl")
        self.bar_factory = bar_factory  # e.g. tqdm, for the CLI

    def run(self, items: list[PreprocessItem]) -> Summary:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        fingerprint = conditioning_fingerprint(self.info)
        manifest = existing_manifest(self.output_dir, fingerprint, self.info, self.settings)
        plan = make_plan(items, manifest.samples, self.output_dir, self.settings, fingerprint)
        summary = Summary(skipped=plan.skipped, failed=list(plan.hash_failures))
        for item in items:  # a validation mark changed since the last run is recorded without re-encoding
            if item.sample_id in plan.skipped:
                mark_holdout(manifest.samples[item.sample_id], item)
        self.events.emit("start", total=len(items), todo=len(plan.todo), skipped=len(plan.skipped),
                         stale=len(plan.stale), two_pass=self.settings.two_pass)
        self._remove(plan.stale, manifest, summary)
        self.manifest = manifest
        if plan.todo:
            run_stage = self._two_pass if self.settings.two_pass else self._standard
            with reuse_freed_memory() if self.device.type == "cpu" else nullcontext():  # page faults: cpu_memory
                run_stage(plan.todo, summary)
        manifest.save(self.output_dir)
        self.events.emit("summary", done=len(summary.done), skipped=len(summary.skipped),
                         removed=len(summary.removed), failed=summary.failed)
        return summary

    def _remove(self, stale: list[str], manifest: Manifest, summary: Summary) -> None:
        for sample_id in stale:
            entry = manifest.samples.pop(sample_id)
            (self.output_dir / entry["file"]).unlink(missing_ok=True)
            summary.removed.append(sample_id)
        manifest.save(self.output_dir)

    def _progress(self, total: int):
        bar = self.bar_factory(total=total, unit="song") if self.bar_factory else None
        return Progress(total, self.events, bar)

    def _load(self, parts: list[str]):
        return load_components(self.info, parts, self.device, self.dtype)

    def _encode_audio(self, item: PreprocessItem, vae) -> torch.Tensor:
        wave = self.decode(item.audio_path, self.settings.max_duration, self.settings.normalize)
        return encode_waveform(vae, wave, self.settings.tiles)

    def _song_text(self, item: PreprocessItem, frames: int, conditioner: Conditioner):
        return replace(item.text, duration=frames / conditioner.latents_per_second)

    def _finish(self, item: PreprocessItem, digest: str, latents: torch.Tensor, text: TextEncoding,
                conditioner: Conditioner) -> None:
        hidden, mask = conditioner.encode_condition(text)
        frames = latents.shape[0]
        sample = SampleTensors(
            target_latents=latents,
            encoder_hidden_states=hidden.cpu(),
            encoder_attention_mask=mask.to(torch.int64).cpu(),
            context_latents=conditioner.context_latents(frames).cpu(),
            metadata={"sample_id": item.sample_id, "source": str(item.audio_path), "caption": item.text.caption,
                      "frames": str(frames), "duration": f"{frames / conditioner.latents_per_second:.2f}"},
        )
        file_name = f"{item.sample_id}.safetensors"
        write_sample(self.output_dir / file_name, sample)
        self.manifest.latent_channels = int(latents.shape[1])
        self.manifest.samples[item.sample_id] = mark_holdout({
            "file": file_name, "content_hash": digest, "source": str(item.audio_path), "frames": frames}, item)
        self.manifest.save(self.output_dir)

    def _standard(self, todo, summary: Summary) -> None:
        parts = self._load(["vae", "text_encoder", "tokenizer", "condition_encoder"])
        conditioner = Conditioner(parts, self.device, self.dtype)
        progress = self._progress(len(todo))
        for item, digest in todo:
            try:
                latents = self._encode_audio(item, parts.vae)
                text = conditioner.encode_text(self._song_text(item, latents.shape[0], conditioner))
                self._finish(item, digest, latents, text, conditioner)
                summary.done.append(item.sample_id)
            except ENCODE_ERRORS as error:
                summary.failed.append((str(item.audio_path), f"{type(error).__name__}: {error}"))
            progress.step(item.sample_id, "encode")
        conditioner = None  # drop the pipeline that references the models, then the models
        free(parts)

    def _two_pass(self, todo, summary: Summary) -> None:
        from safetensors.torch import load_file, save_file

        from acestep_train.atomic import atomic_path

        scratch = self.output_dir / PASS1_DIR
        scratch.mkdir(exist_ok=True)
        parts = self._load(["vae", "text_encoder", "tokenizer"])
        conditioner = Conditioner(parts, self.device, self.dtype)
        progress = self._progress(2 * len(todo))
        passed = []
        for item, digest in todo:
            try:
                latents = self._encode_audio(item, parts.vae)
                text = conditioner.encode_text(self._song_text(item, latents.shape[0], conditioner))
                tensors = {"target_latents": latents, **{k: v.cpu() for k, v in text.as_dict().items()}}
                with atomic_path(scratch / f"{item.sample_id}.safetensors") as tmp:
                    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
                passed.append((item, digest))
            except ENCODE_ERRORS as error:
                summary.failed.append((str(item.audio_path), f"{type(error).__name__}: {error}"))
            progress.step(item.sample_id, "pass 1: VAE + text encoder")
        conditioner = None  # drop the pipeline that references the models, then the models
        free(parts)
        parts = self._load(["condition_encoder"])
        conditioner = Conditioner(parts, self.device, self.dtype)
        for item, digest in passed:
            path = scratch / f"{item.sample_id}.safetensors"
            tensors = load_file(str(path))
            latents = tensors.pop("target_latents")
            self._finish(item, digest, latents, TextEncoding.from_dict(tensors), conditioner)
            path.unlink()
            summary.done.append(item.sample_id)
            progress.step(item.sample_id, "pass 2: condition encoder")
        conditioner = None  # drop the pipeline that references the models, then the models
        free(parts)
        scratch.rmdir()


def mark_holdout(entry: dict, item: PreprocessItem) -> dict:
    """The manifest entry carries ``holdout: true`` for a song marked for validation (absent otherwise)."""
    if item.holdout:
        entry["holdout"] = True
    else:
        entry.pop("holdout", None)
    return entry


def free(components) -> None:
    """Drop a stage's models and give their memory back before the next stage loads."""
    for name in ("transformer", "condition_encoder", "vae", "text_encoder", "tokenizer"):
        setattr(components, name, None)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
