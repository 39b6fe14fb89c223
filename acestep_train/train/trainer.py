"""The training loop. ``setup.build_parts`` builds model, adapter, data and optimizer and hands them
over as a ``RunParts``; this module never imports setup.

Read top to bottom: one micro-step is flow-matching noise + DiT + masked loss; an optimizer
step accumulates ``grad_accum`` micro-steps (fewer at an epoch's end), clips, steps and logs;
epochs end with best-model tracking and checkpoints. Stop and save-now requests, non-finite
losses and early stopping are handled between steps. The run fails loudly when it trains
nothing or ends with an unchanged adapter.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import psutil
import torch

from acestep_train.atomic import atomic_write_json
from acestep_train.events import EventLog
from acestep_train.previews import playback_settings
from acestep_train.train import data as data_mod
from acestep_train.atomic_dir import atomic_dir, copy_complete, remove_stale_partials
from acestep_train.train.checkpoints import check_run_folders, prune, resolve_resume
from acestep_train.train.disk_full import saving
from acestep_train.train import ema as ema_mod
from acestep_train.train.errors import TrainingError
from acestep_train.train.flow import masked_loss, sample_timesteps, snr_weights
from acestep_train.train.outputs import check_adapter_changed
from acestep_train.train.nodes import batch_seed, describe_ranks, from_rank_zero, gather_step, moved_note, \
    per_node, position_after
from acestep_train.train.state import REQUESTS, BestTracker, Control, Counters, apply_state, read_checkpoint, \
    save_state
from acestep_train.train import validation_step

__all__ = ["Trainable", "Trainer", "TrainingError"]


class Trainable(torch.nn.Module):
    """DiT + adapter network in one module, so DDP sees (and all-reduces) every adapter parameter."""

    def __init__(self, transformer, network):
        super().__init__()
        self.transformer = transformer
        self.network = network

    def forward(self, **inputs):
        return self.transformer(**inputs).sample


class Trainer:
    def __init__(self, config, fabric, parts):
        self.config, self.fabric, self.parts = config, fabric, parts
        self.output = Path(config.output_dir)
        # only global rank 0 touches the run folder: other nodes need not see it (train/nodes.py)
        self.events = self.control = None
        if fabric.is_global_zero:
            check_run_folders(self.output)
            self.events, self.control = EventLog(self.output / "events.jsonl"), Control(self.output)
            for request in self.control.drop_stale(psutil.Process().create_time()):
                self.warn(f"ignored a '{request}' request left in {self.control.folder} from before this run started")
        self.generator = torch.Generator().manual_seed(config.seed + fabric.global_rank)
        self.last_saved: tuple | None = None
        self.info, self.folder, self.adapter = parts.info, parts.folder, parts.adapter
        self.null_condition, self.cross_mask, self.flow, self.crop = (parts.null_condition, parts.cross_mask,
                                                                       parts.flow, parts.crop)
        self.steps_per_epoch, self.total_steps = parts.steps_per_epoch, parts.total_steps
        self.model, self.optimizer, self.scheduler = parts.model, parts.optimizer, parts.scheduler
        self.inputs_dtype = parts.precision.inputs
        self.counters, self.best = Counters(), BestTracker(**{k: v for k, v in asdict(config.best).items()})
        self.split = parts.split
        self.validator = validation_step.make_validator(self)
        self.step_seconds, self.steps_timed = 0.0, 0
        self.clean_partials()
        self.ema = None  # the adapter's moving average (train/ema.py), when ema.enabled
        if config.resume_from:
            self.resume()
        else:
            self.ema = ema_mod.make_ema(config.ema, self.adapter)
        if self.validator is not None:  # also over a resumed tracker: "best" follows each validation loss,
            self.best.window = 1        # not a moving average of epochs
        self.counters.world_size, self.counters.num_nodes = fabric.world_size, config.loop.num_nodes
        self.counters.grad_accum = config.data.grad_accum

    def clean_partials(self) -> None:
        """Remove our own temp folders left by an interrupted save (they carry the writing marker)."""
        if self.fabric.is_global_zero:
            for parent in (self.output, self.output / "checkpoints"):
                for path in remove_stale_partials(parent):
                    self.warn(f"removed an interrupted save's temporary folder {path}")
        self.fabric.barrier()

    def warn(self, message: str) -> None:
        self.emit("warning", message=message)
        if self.fabric.is_global_zero:
            print(f"warning: {message}", flush=True)

    def read_checkpoint(self) -> tuple[Path, Path, dict, dict]:
        folder = resolve_resume(self.config.resume_from, self.output, self.warn)
        return (folder, *read_checkpoint(folder))

    def resume(self) -> None:
        folder, weights, tensors, state = from_rank_zero(self.fabric, self.read_checkpoint)  # rank 0 reads
        loaded = self.adapter.load_state(tensors, weights)
        # the average matters on rank 0 alone (it saves and previews it); other nodes may not see the folder
        self.ema = ema_mod.resume_ema(self.config.ema, self.adapter, folder, self.warn)
        self.counters, self.best = apply_state(state, self.optimizer, self.scheduler, self.generator)
        self.emit("resumed", step=self.counters.step, epoch=self.counters.epoch, adapter_keys=loaded,
                  batch=self.counters.batch, world_size=self.fabric.world_size,
                  saved_world_size=self.counters.world_size,
                  message=f"resumed from {folder}: {loaded} adapter tensors, step {self.counters.step}"
                          + moved_note(self.counters, self.fabric.world_size, self.config))

    # ----- the loop ----------------------------------------------------------------------
    def fit(self) -> dict:
        from acestep_train.gpu import GpuMonitor

        self.write_run_json()
        self.ranks = describe_ranks(self.fabric)
        self.emit("start", total_steps=self.total_steps, steps_per_epoch=self.steps_per_epoch,
                  samples=len(self.folder.files), flow=asdict(self.flow), world_size=self.fabric.world_size,
                  num_nodes=self.config.loop.num_nodes, ranks=self.ranks)
        self.check_memory()
        self.start_time, self.start_step = time.monotonic(), self.counters.step
        self.smoothed = None
        stopped = False
        index = (self.fabric.device.index or 0) if self.fabric.device.type == "cuda" else 0
        with GpuMonitor(lambda sample: self.emit("gpu", step=self.counters.step, **sample), index):
            while self.counters.epoch < self.config.loop.epochs and not stopped:
                stopped = self.train_epoch()
        return self.finish(stopped)

    def check_memory(self) -> None:
        """The VRAM planner's estimate for this run, and a warning before a run that will not fit."""
        warning = self.parts.memory_warning
        self.emit("vram_estimate", **self.parts.memory_plan)
        if warning:
            self.emit("warning", message=warning)
            if self.fabric.is_global_zero:
                print(f"warning: {warning}", flush=True)

    def epoch_batches(self, epoch: int) -> tuple[list[tuple[int, list]], int]:
        """(this rank's (position, windows) from the epoch's current position on, the epoch's batch count)."""
        frames = {file: self.folder.frames[file] for file in self.split.train}  # held-out songs never train
        return data_mod.rank_batches(frames, self.crop, self.config.data, self.config.seed, epoch,
                                     self.fabric.world_size, self.fabric.global_rank, self.counters.batch)

    def train_epoch(self) -> bool:
        """One epoch (or its rest, after a resume); True when the run must stop."""
        start, epoch = self.counters.batch, self.counters.epoch
        mine, count = self.epoch_batches(epoch)
        accum, losses, taken = self.config.data.grad_accum, [], 0
        while taken < len(mine):
            group = mine[taken:taken + accum]
            loss = self.optimizer_step(group)
            taken += len(group)
            self.counters.batch = position_after(start, taken, self.fabric.world_size, count)
            if loss is not None:
                losses.append(loss)
            if self.between_steps():
                return True
        return self.end_of_epoch(losses)

    def optimizer_step(self, group: list[tuple[int, list]]) -> float | None:
        started = time.monotonic()
        total = 0.0
        for position, windows in group:
            seed = batch_seed(self.config.seed, self.counters.epoch, position)
            self.generator.manual_seed(seed)
            torch.manual_seed(seed)  # adapter dropout: also a function of the batch, not of the rank
            batch = data_mod.collate(self.folder, windows).to(self.fabric.device, self.inputs_dtype)
            total += self.micro_step(batch, len(group))
        stats = gather_step(self.fabric, [total, time.monotonic() - started, peak_memory_gb(self.fabric.device)])
        total = float(stats[:, 0].mean())  # the loss of the whole step, the same on every rank
        if not math.isfinite(total):
            self.optimizer.zero_grad(set_to_none=True)
            self.counters.nan_streak += 1
            self.emit("nan", step=self.counters.step, message=f"non-finite loss skipped "
                      f"({self.counters.nan_streak} in a row)")
            if self.counters.nan_streak >= self.config.loop.nan_patience:
                raise TrainingError(f"{self.counters.nan_streak} non-finite losses in a row: stopping "
                                    "(lower the learning rate, or check the tensors)")
            return None
        self.counters.nan_streak = 0
        grad_norm = self.clip()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.counters.step += 1
        seconds = time.monotonic() - started
        self.step_seconds, self.steps_timed = self.step_seconds + seconds, self.steps_timed + 1
        self.log_step(total, grad_norm, sum(len(w) for _, w in group), seconds, stats[:, 1:])
        return total

    def micro_step(self, batch, micro_batches: int) -> float:
        x0 = batch.target_latents
        noise = torch.randn(x0.shape, generator=self.generator).to(x0.device, x0.dtype)
        t = sample_timesteps(self.flow, batch.size, self.generator)
        conditions = self.dropped_conditions(batch)
        tt = t.to(x0.device, x0.dtype)
        noisy = tt[:, None, None] * noise + (1 - tt[:, None, None]) * x0
        with self.cross_mask.active(batch.encoder_mask):
            prediction = self.model(hidden_states=noisy, timestep=tt, timestep_r=tt,
                                    encoder_hidden_states=conditions, context_latents=batch.context_latents)
            loss = masked_loss(prediction, noise - x0, batch.frame_mask, snr_weights(t, self.flow.min_snr_gamma).to(
                x0.device))
            self.fabric.backward(loss / micro_batches)
        return float(loss.detach()) / micro_batches

    def dropped_conditions(self, batch) -> torch.Tensor:
        """CFG dropout: a sample's conditioning replaced by ``null_condition_emb`` with probability p."""
        conditions = batch.encoder_hidden_states
        if self.flow.cfg_dropout <= 0:
            return conditions
        drop = torch.rand(batch.size, generator=self.generator) < self.flow.cfg_dropout
        null = self.null_condition.to(conditions.device, conditions.dtype).expand_as(conditions)
        self.dropped = int(drop.sum())
        return torch.where(drop.to(conditions.device)[:, None, None], null, conditions)

    def clip(self) -> float:
        if self.config.optim.grad_clip > 0:
            return float(self.fabric.clip_gradients(self.model, self.optimizer, max_norm=self.config.optim.grad_clip))
        grads = [p.grad.norm() for p in self.adapter.params if p.grad is not None]
        return float(torch.stack(grads).norm()) if grads else 0.0

    # ----- between steps and epochs ------------------------------------------------------
    def requests(self) -> dict[str, bool]:
        """The stop / save / sample requests, taken by global rank 0 and acted on by every rank."""
        return from_rank_zero(self.fabric, lambda: {name: self.control.take(name) for name in REQUESTS})

    def between_steps(self) -> bool:
        asked = self.requests()
        if self.validator is not None and self.validator.due(self.counters.step) \
                and validation_step.validate(self):
            return True
        every = self.config.checkpoint.save_every_steps
        if (every and self.counters.step % every == 0) or asked["save"]:
            self.save_checkpoint()
        preview_every = self.config.previews.every_steps
        if (preview_every and self.counters.step % preview_every == 0) or asked["sample"]:
            self.previews()
        if asked["stop"]:
            self.save_checkpoint()
            self.emit("stopped", step=self.counters.step, message="stopped on request; checkpoint saved")
            return True
        return False

    def end_of_epoch(self, losses: list[float]) -> bool:
        epoch = self.counters.epoch
        loss = sum(losses) / len(losses) if losses else float("nan")
        tracked = losses and self.validator is None  # with held-out songs, validation picks the best
        new_best, stop = self.best.update(epoch, loss) if tracked else (False, False)
        self.counters.epoch, self.counters.batch = epoch + 1, 0
        self.emit("epoch", epoch=epoch, loss=loss, best=self.best.best, new_best=new_best)
        if new_best:
            self.save_adapter(self.output / "best", {"epoch": epoch, "moving_average_loss": self.best.best})
        every = self.config.checkpoint.save_every_epochs
        if every and (epoch + 1) % every == 0:
            self.save_checkpoint()
        preview_every = self.config.previews.every_epochs
        if preview_every and (epoch + 1) % preview_every == 0:
            self.previews()
        if stop:
            self.emit("early_stop", epoch=epoch, message=f"no new best for {self.best.since_best} epochs: stopping")
        return stop

    def mean_step_seconds(self) -> float | None:
        return self.step_seconds / self.steps_timed if self.steps_timed else None

    def log_step(self, loss: float, grad_norm: float, samples: int, seconds: float, ranks) -> None:
        self.smoothed = loss if self.smoothed is None else 0.9 * self.smoothed + 0.1 * loss
        done = self.counters.step - self.start_step
        rate = (time.monotonic() - self.start_time) / max(done, 1)
        self.emit("step", step=self.counters.step, epoch=self.counters.epoch, loss=loss, smoothed_loss=self.smoothed,
                  lr=self.scheduler.get_last_lr()[0], grad_norm=grad_norm,
                  samples_per_s=samples * self.fabric.world_size / max(seconds, 1e-9),
                  peak_memory_gb=peak_memory_gb(self.fabric.device),
                  eta_s=round(rate * (self.total_steps - self.counters.step), 1),
                  **({"nodes": per_node(self.ranks, ranks)} if self.fabric.world_size > 1 else {}))
        if self.fabric.is_global_zero:
            self.fabric.log_dict({"loss": loss, "smoothed_loss": self.smoothed,
                                  "lr": self.scheduler.get_last_lr()[0]}, step=self.counters.step)

    # ----- saving ------------------------------------------------------------------------
    def metadata(self, extra: dict) -> dict:
        inference = playback_settings(self.info.variant.name, self.config.previews.steps)  # as previews play it
        return {"trigger_word": self.config.trigger_word, "base_model": self.info.name,
                "variant": self.info.variant.name, "adapter": asdict(self.config.adapter),
                "step": self.counters.step, **({"inference": inference} if inference else {}), **extra}

    def save_adapter(self, folder: Path, extra: dict) -> None:
        """best/: written whole under a temp name, then renamed into place."""
        if self.fabric.is_global_zero:
            with saving(f"the best adapter (epoch {extra['epoch']})", folder), atomic_dir(folder) as tmp:
                self.adapter.save(tmp, self.metadata(extra))
                self.save_ema(tmp, self.metadata(extra))
        self.fabric.barrier()

    def save_checkpoint(self) -> Path:
        folder = self.output / "checkpoints" / str(self.counters.step)
        if self.last_saved == (self.counters.step, self.counters.epoch, self.counters.batch):
            return folder  # this exact state is already on disk
        self.last_saved = (self.counters.step, self.counters.epoch, self.counters.batch)
        if self.fabric.is_global_zero:  # adapter + trainer state appear together, or not at all
            with saving(f"checkpoint {self.counters.step}", folder), atomic_dir(folder) as tmp:
                self.adapter.save(tmp, self.metadata({"checkpoint": True}))
                self.save_ema(tmp, self.metadata({"checkpoint": True}))
                save_state(tmp, self.optimizer, self.scheduler, self.counters, self.best, self.generator)
            prune(folder.parent, self.config.checkpoint.keep_last, upto_step=self.counters.step)
            self.emit("checkpoint", step=self.counters.step, path=str(folder))
        self.fabric.barrier()
        return folder

    def save_ema(self, folder: Path, metadata: dict) -> None:
        """The moving average beside the adapter, in ``<folder>/ema/`` (nothing when EMA is off)."""
        if self.ema is not None:
            self.ema.save(self.adapter, folder / ema_mod.FOLDER, metadata)

    def previews(self) -> None:
        """Render preview clips on rank 0; the other ranks wait."""
        if self.fabric.is_global_zero:
            from acestep_train.train.samples import render_previews

            folder = self.output / "samples" / str(self.counters.step)
            files = render_previews(self.config.previews, self.config.trigger_word, self.info, self.adapter, folder)
            extra = {}
            if self.ema is not None and self.config.ema.previews:
                with self.ema.swapped_in():
                    averaged = render_previews(self.config.previews, self.config.trigger_word, self.info,
                                               self.adapter, folder / ema_mod.FOLDER)
                extra["ema_files"] = {str(k): str(v) for k, v in averaged.items()}
            self.emit("samples", step=self.counters.step, files={str(k): str(v) for k, v in files.items()}, **extra)
        self.fabric.barrier()

    def finish(self, stopped: bool) -> dict:
        if self.counters.step == 0:
            raise TrainingError("no optimizer step ran: nothing was trained")
        check_adapter_changed(self.adapter)
        last = self.save_checkpoint()
        final = self.output / "final"
        source = self.output / "best" if (self.output / "best").is_dir() else last
        if self.fabric.is_global_zero:
            with saving("the final adapter", final):
                copy_complete(source, final, keep=lambda p: p.suffix in (".safetensors", ".json")
                              and p.name != "counters.json" and p.parent == source)
            if self.ema is not None:
                ema_mod.write_final(source, last, self.output, self.warn)
        self.fabric.barrier()
        result = {"steps": self.counters.step, "epochs": self.counters.epoch, "stopped": stopped,
                  "global_rank": self.fabric.global_rank,
                  "best_epoch": self.best.best_epoch, "final_from": source.name, "final": str(final)}
        if self.validator is not None and self.fabric.is_global_zero:
            result["validation"] = self.validator.summary(self.mean_step_seconds())
        if self.ema is not None:
            result["final_ema"] = str(self.output / ema_mod.FINAL)
        self.emit("finished", **result)
        return result

    def emit(self, event: str, **fields) -> None:
        if self.events is not None:
            self.events.emit(event, **fields)

    def write_run_json(self) -> None:
        if self.fabric.is_global_zero:
            atomic_write_json(self.output / "run.json", self.parts.run_record)


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 1024**3, 3)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)
