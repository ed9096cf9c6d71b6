"""The one fit loop every model in the book trains with.

``fit(model, train_data, val_data, loss, config)`` runs AdamW with a schedule from
:mod:`fwilab.training.schedules`, bf16 autocast on CUDA, optional gradient clipping, a checkpoint
per epoch written atomically, exact resume, best-validation selection, a tqdm bar and learning
curves. The per-batch update is pluggable (:class:`TrainStep`): :class:`SupervisedStep` for the
regression models, :class:`AdversarialStep` for VelocityGAN's WGAN-GP — same loop, same
checkpoints, same curves. Under ``torchrun`` the same call trains with DDP.

Data: ``train_data`` and ``val_data`` are ``torch.utils.data.Dataset`` objects yielding
``(x, y)`` pairs (seismic ``[shots, time, receivers]`` and velocity ``[1, depth, width]`` for the
FWI models). A dataset that keeps its samples in memory as a pair of tensors (a ``TensorDataset``,
or anything with a ``tensors = (x, y)`` attribute) is batched by one gather per batch instead of a
``DataLoader`` (the fast path); others go through a ``DataLoader`` with ``num_workers`` workers.

Reproducibility: the sample order of epoch ``e`` is a permutation drawn from ``(seed, e)`` only,
and a checkpoint holds every generator's state, so a run interrupted after any epoch and resumed
with ``resume=True`` ends with the same weights as an uninterrupted one (bitwise on CPU).

Where the parts live: the per-batch update and its context (:class:`StepContext`, :class:`TrainStep`,
:class:`SupervisedStep`, :class:`AdversarialStep`, AMP resolution, the DDP/compile wrapping) in
:mod:`fwilab.training.steps`; the data path (:func:`epoch_order`, :func:`rank_batches`,
:class:`BatchStream`) in :mod:`fwilab.training.batches`; epoch hooks (:class:`EpochHook`) in
:mod:`fwilab.training.hooks`; checkpoint files and the resume checks in
:mod:`fwilab.training.checkpoint`; DDP helpers in :mod:`fwilab.training.distributed`; the speed
benchmarks in :mod:`fwilab.training.throughput`. Their public names are re-exported here.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from fwilab.progress import bar as progress_bar
from fwilab.training import checkpoint as ckpt
from fwilab.training.batches import BatchStream, rank_batches
from fwilab.training.batchnorm import recalibrate_batchnorm
from fwilab.training.checkpoint import _check_resumable, _resumed_best_state, _state_copy
from fwilab.training.distributed import DistributedContext, init_from_env
from fwilab.training.hooks import EpochHook, _restore_hooks
from fwilab.training.losses import l1_plus_l2, loss_with_parts
from fwilab.training.schedules import SCHEDULES, LRSchedule
from fwilab.training.steps import (AMP_MODES, StepContext, SupervisedStep, TrainStep, _build_context,
                                   _configure_backends, _match_dtype, _wrap)

# re-exported: their old home was this module
from fwilab.training.batches import _prefetch, epoch_order  # noqa: F401 (re-exported)
from fwilab.training.checkpoint import LENGTH_DEPENDENT_SCHEDULES, TRAJECTORY_FIELDS  # noqa: F401 (re-exported)
from fwilab.training.steps import AdversarialStep, fused_adamw, resolve_amp  # noqa: F401 (re-exported)
from fwilab.training.throughput import input_pipeline_benchmark, throughput_benchmark  # noqa: F401 (re-exported)


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FitConfig:
    """Everything the fit loop needs besides the model, data and loss.

    Optimisation (OpenFWI ``train.py`` defaults where it has one): ``epochs``; ``batch_size`` —
    the *global* batch, split evenly over DDP ranks; AdamW ``lr`` 1e-4, ``betas`` (0.9, 0.999),
    ``weight_decay`` 1e-4; ``schedule`` one of ``constant`` (OpenFWI), ``multistep``
    (``milestones``, ``gamma``), ``cosine``, ``cosine-warm-restarts`` (``T0``, ``T_mult``;
    SPAMoE: 10, 2) with ``min_lr``; linear ``warmup_epochs``; ``grad_clip`` — max global L2 norm
    of the gradient (None: no clipping).

    Execution: ``device`` ('auto' | 'cpu' | 'cuda'); ``amp`` 'auto' (bf16 autocast on CUDA, off
    on CPU) | 'bf16' | 'fp16' (CUDA, with a GradScaler) | 'off'; ``channels_last`` 'auto' (on
    CUDA) | True | False; ``compile`` — ``torch.compile`` the training module;
    ``deterministic`` — ``torch.use_deterministic_algorithms`` (and no cuDNN autotuning);
    ``num_workers`` for the DataLoader path; ``data_on_device`` — move an in-memory tensor dataset
    to the device once (when it fits there); ``progress`` bar, updated every ``log_every`` steps.

    Validation and checkpoints: validate every ``val_every`` epochs (and after the last) with
    ``val_batch_size`` (default ``batch_size``), after re-estimating BatchNorm statistics on the
    epoch's first ``bn_recalibration_batches`` training batches where that is > 0
    (:func:`fwilab.training.batchnorm.recalibrate_batchnorm`: eval then agrees with training at a large
    learning rate); keep the epoch with the best ``select_by``
    (``val_loss``, ``val_<metric>`` or ``train_loss``) by ``select_mode`` 'min' | 'max';
    ``checkpoint_dir`` (None: no files) gets ``last.pt`` every epoch, ``best.pt`` and, with
    ``keep_epoch_checkpoints``, one file per epoch. ``drop_last`` drops the last incomplete
    training batch (OpenFWI does). ``samples_per_epoch`` (None: the training set's size) makes every epoch
    that many samples, cycling a smaller set and spreading a larger one over epochs
    (:func:`~fwilab.training.batches.epoch_order`): runs on sets of different sizes then take equal
    optimiser steps.
    """

    epochs: int = 1
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    T0: float = 10.0
    T_mult: int = 2
    min_lr: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    grad_clip: float | None = None
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool | str = "auto"
    compile: bool = False
    deterministic: bool = False
    seed: int = 0
    num_workers: int = 0
    data_on_device: bool = False
    drop_last: bool = True
    samples_per_epoch: int | None = None
    val_batch_size: int | None = None
    val_every: int = 1
    bn_recalibration_batches: int = 0
    select_by: str = "val_loss"
    select_mode: str = "min"
    checkpoint_dir: str | None = None
    keep_epoch_checkpoints: bool = False
    progress: bool = True
    log_every: int = 20

    def __post_init__(self) -> None:
        def positive_int(name: str) -> None:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"FitConfig.{name} must be a positive integer, got {v!r}")

        for name in ("epochs", "batch_size", "val_every", "log_every"):
            positive_int(name)
        if self.val_batch_size is not None:
            positive_int("val_batch_size")
        if self.samples_per_epoch is not None:
            positive_int("samples_per_epoch")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"FitConfig.seed must be a non-negative integer, got {self.seed!r}")
        if (not isinstance(self.bn_recalibration_batches, int) or isinstance(self.bn_recalibration_batches, bool)
                or self.bn_recalibration_batches < 0):
            raise ValueError("FitConfig.bn_recalibration_batches must be a non-negative integer, got "
                             f"{self.bn_recalibration_batches!r}")
        if not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise ValueError(f"FitConfig.num_workers must be a non-negative integer, got {self.num_workers!r}")
        if self.weight_decay < 0:
            raise ValueError(f"FitConfig.weight_decay must be >= 0, got {self.weight_decay!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"FitConfig.betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"FitConfig.grad_clip must be positive or None, got {self.grad_clip!r}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"FitConfig.amp: unknown mode {self.amp!r}; choose one of {', '.join(AMP_MODES)}")
        if self.channels_last not in ("auto", True, False):
            raise ValueError(f"FitConfig.channels_last must be 'auto', True or False, got {self.channels_last!r}")
        if self.select_mode not in ("min", "max"):
            raise ValueError(f"FitConfig.select_mode must be 'min' or 'max', got {self.select_mode!r}")
        if not (self.select_by.startswith("val_") or self.select_by.startswith("train_")):
            raise ValueError(f"FitConfig.select_by must name a curve such as 'val_loss', 'val_mae' or "
                             f"'train_loss', got {self.select_by!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"FitConfig.schedule: unknown schedule {self.schedule!r}; choose one of "
                             f"{', '.join(SCHEDULES)}")
        self.lr_schedule()  # validates the schedule's own parameters

    def lr_schedule(self) -> LRSchedule:
        return LRSchedule(base_lr=self.lr, kind=self.schedule, total_epochs=self.epochs,
                          warmup_epochs=self.warmup_epochs, T0=self.T0, T_mult=self.T_mult,
                          min_lr=self.min_lr, milestones=tuple(self.milestones), gamma=self.gamma)

    def replace(self, **changes: Any) -> "FitConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v, tuple) else v)
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}


# --------------------------------------------------------------------------------------------
# bookkeeping
# --------------------------------------------------------------------------------------------

class _Means:
    """Sample-weighted means of logged scalars, kept on the device (no sync per step)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.samples = 0  # samples seen by this rank

    def add(self, values: Mapping[str, torch.Tensor], n: int) -> None:
        self.samples += n
        for k, v in values.items():
            v = v.detach().to(torch.float64) * n
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + n

    def reduce(self, dist: DistributedContext) -> dict[str, float]:
        keys = sorted(self.sums)
        if not keys:
            return {}
        stacked = torch.stack([self.sums[k].reshape(()) for k in keys]
                              + [torch.tensor(float(self.counts[k]), dtype=torch.float64, device=self.device)
                                 for k in keys])
        dist.all_reduce_sum(stacked)
        vals = stacked.cpu().tolist()
        m = len(keys)
        return {k: vals[i] / vals[m + i] for i, k in enumerate(keys)}


def _append_record(curves: dict[str, list[float]], record: Mapping[str, float]) -> None:
    n_before = len(curves.get("epoch", []))
    for k in record:
        if k not in curves:
            curves[k] = [math.nan] * n_before
    for k in curves:
        curves[k].append(float(record.get(k, math.nan)))


@dataclass
class FitResult:
    """What a fit returns.

    ``curves``: learning curves, one entry per epoch — ``epoch``, ``lr`` (at the epoch's last
    step), ``train_loss`` and ``train_<part>``, ``val_loss`` and ``val_<metric>`` (NaN on epochs
    without validation), ``train_wall_s``, ``epoch_wall_s``, ``samples_per_s``.
    ``best_state``: CPU copy of the weights of the best epoch (by ``select_by``), also saved as
    ``best_path`` when there is a checkpoint directory. The model itself is left at its final
    weights; :meth:`restore_best` loads the best ones.
    """

    curves: dict[str, list[float]]
    select_by: str
    best_epoch: int | None = None
    best_score: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    best_path: Path | None = None
    last_path: Path | None = None
    steps: int = 0
    world_size: int = 1

    @property
    def epochs(self) -> int:
        return len(self.curves.get("epoch", []))

    def arrays(self, prefix: str = "curve_") -> dict[str, np.ndarray]:
        """The curves as float arrays for an artifact's ``arrays`` (``curve_train_loss`` …)."""
        return {f"{prefix}{k}": np.asarray(v, dtype=np.float64) for k, v in self.curves.items()}

    def restore_best(self, model: nn.Module) -> nn.Module:
        if self.best_state is None:
            raise ValueError(f"no best state was selected (select_by={self.select_by!r}: no such curve or "
                             f"no validation data)")
        model.load_state_dict(self.best_state)
        return model


def _better(score: float, best: float | None, mode: str) -> bool:
    if score != score:  # NaN never wins
        return False
    if best is None:
        return True
    return score < best if mode == "min" else score > best


def _provenance(device: torch.device, dist: DistributedContext) -> dict[str, Any]:
    from fwilab.devices import device_name
    from fwilab.results import git_state
    git = git_state()
    return {"git_commit": git["commit"], "git_dirty": git["dirty"], "device": str(device),
            "device_name": device_name(device), "torch": str(torch.__version__), "world_size": dist.world_size}


def _evaluate(module: nn.Module, stream: BatchStream, batches: Sequence[np.ndarray], loss: Callable,
              metrics: Mapping[str, Callable], ctx: StepContext) -> dict[str, float]:
    was_training = module.training
    module.eval()
    means = _Means(ctx.device)
    with torch.no_grad():
        for x, y in stream(batches):
            with ctx.autocast():
                pred = module(x)
            pred = _match_dtype(pred, y)
            total, parts = loss_with_parts(loss, pred, y)
            values = {"loss": total, **parts}
            for name, metric in metrics.items():
                values[name] = torch.as_tensor(metric(pred, y), device=ctx.device)
            means.add(values, len(x))
    module.train(was_training)
    return means.reduce(ctx.dist)


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------

def fit(model: nn.Module, train_data: torch.utils.data.Dataset, val_data: torch.utils.data.Dataset | None,
        loss: Callable = l1_plus_l2, config: FitConfig = FitConfig(), *, step: TrainStep | None = None,
        metrics: Mapping[str, Callable] | None = None, callbacks: Sequence[Callable[[dict], None]] = (),
        hooks: Sequence[EpochHook] = (), resume: bool = False,
        meta: Mapping[str, Any] | None = None) -> FitResult:
    """Train ``model`` in place and return its learning curves and best state.

    Args:
        model: the network; moved to the config's device (and memory format).
        train_data, val_data: datasets of ``(x, y)`` pairs; ``val_data`` may be None.
        loss: ``loss(pred, y) -> scalar`` or a :class:`~fwilab.training.losses.WeightedSum`
            (its parts become curves); default OpenFWI's ``L1 + L2``.
        config: a :class:`FitConfig`.
        step: the per-batch update (default :class:`SupervisedStep`).
        metrics: extra validation metrics ``{name: fn(pred, y) -> batch mean}``; curves
            ``val_<name>``, sample-weighted over the validation set.
        callbacks: called on every rank as ``callback(record)`` after each epoch's checkpoint, with that
            epoch's curve entries; raising (e.g. ``KeyboardInterrupt``) stops the run there.
        hooks: :class:`EpochHook` objects called on every rank as ``hook.end_epoch(record)`` before each
            epoch's checkpoint; their state is saved in it (rank 0's) and restored on resume.
        resume: continue from ``<checkpoint_dir>/last.pt`` if it exists (else start fresh).
        meta: JSON-able description of the experiment, stored in every checkpoint.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) this trains with DDP: the global ``batch_size`` is
    split over ranks, only rank 0 writes checkpoints and shows progress.
    """
    if not isinstance(config, FitConfig):
        raise ValueError(f"config must be a FitConfig, got {type(config).__name__}")
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss):
        raise ValueError("loss must be a callable loss(pred, target) -> scalar tensor")
    metrics = dict(metrics or {})
    for name in metrics:
        if name == "loss" or not name.isidentifier():
            raise ValueError(f"metric names must be identifiers other than 'loss', got {name!r}")
    ckpt_dir = Path(config.checkpoint_dir) if config.checkpoint_dir is not None else None
    if resume and ckpt_dir is None:
        raise ValueError("resume=True needs config.checkpoint_dir")
    n_train = len(train_data)
    if n_train < 1:
        raise ValueError("train_data is empty")

    dist = init_from_env(config.device)
    if config.batch_size % dist.world_size:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the number of processes "
                         f"({dist.world_size})")
    if val_data is not None and len(val_data) < dist.world_size:
        raise ValueError(f"val_data has {len(val_data)} samples, fewer than the {dist.world_size} processes")
    device = dist.device
    _configure_backends(device, config.deterministic)
    schedule = config.lr_schedule()
    step = step if step is not None else SupervisedStep()
    hooks = list(hooks)
    for hook in hooks:
        if not isinstance(hook, EpochHook):
            raise ValueError(f"hooks must implement EpochHook (end_epoch, state_dict, load_state_dict), "
                             f"got {type(hook).__name__}")
    if not isinstance(step, TrainStep):
        raise ValueError(f"step must implement TrainStep (setup, __call__, state_dict, load_state_dict), "
                         f"got {type(step).__name__}")

    def batches_for(epoch: int) -> list[np.ndarray]:
        return rank_batches(n_train, config.batch_size, dist.rank, dist.world_size, seed=config.seed,
                            epoch=epoch, drop_last=config.drop_last, samples_per_epoch=config.samples_per_epoch)

    batches_per_epoch = len(batches_for(0))
    if batches_per_epoch == 0:
        raise ValueError(f"train_data has {n_train} samples, fewer than one batch of {config.batch_size} "
                         f"(use a smaller batch_size or drop_last=False)")
    val_batches = (rank_batches(len(val_data), config.val_batch_size or config.batch_size, dist.rank,
                                dist.world_size, shuffle=False, drop_last=False, pad=False)
                   if val_data is not None else [])

    ctx = _build_context(model, loss, device=device, lr=config.lr, betas=config.betas,
                         weight_decay=config.weight_decay, amp=config.amp,
                         channels_last=config.channels_last, grad_clip=config.grad_clip, dist=dist)
    ctx.batches_per_epoch = batches_per_epoch

    curves: dict[str, list[float]] = {}
    start_epoch, global_step = 0, 0
    best_epoch: int | None = None
    best_score: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    resumed = None
    last_path = ckpt.latest_checkpoint(ckpt_dir) if (resume and ckpt_dir is not None) else None
    if last_path is not None:
        resumed = ckpt.load_checkpoint(last_path, map_location=device)
        _check_resumable(resumed["config"], config)
        model.load_state_dict(resumed["model"])
        ctx.optimizer.load_state_dict(resumed["optimizer"])
        ctx.scaler.load_state_dict(resumed["scaler"])
        start_epoch, global_step = int(resumed["epoch"]), int(resumed["global_step"])
        curves = {k: list(v) for k, v in resumed["curves"].items()}
        best_epoch, best_score = resumed["best_epoch"], resumed["best_score"]
        best_state = _resumed_best_state(ckpt_dir, resumed)
        _restore_hooks(hooks, resumed.get("hooks"), last_path)
        if best_epoch is not None and best_state is None:
            warnings.warn(f"{ckpt_dir}: the weights of the best epoch so far ({best_epoch}) are not in "
                          f"{ckpt.BEST}; best-validation selection restarts at epoch {start_epoch + 1}",
                          RuntimeWarning, stacklevel=2)
            best_epoch, best_score = None, None
    else:
        ckpt.seed_everything(config.seed)
        if ckpt_dir is not None and dist.is_main:
            # a fresh run's folder holds only its own files: an earlier run's best.pt or per-epoch
            # checkpoints would otherwise be taken for this run's
            ckpt.remove_checkpoints(ckpt_dir)

    step.setup(ctx)
    if resumed is not None:
        step.load_state_dict(resumed["step"])
        ckpt.set_rng_state(resumed["rng"])
    _wrap(ctx, config.compile)

    stream = BatchStream(train_data, device, channels_last=ctx.channels_last, num_workers=config.num_workers,
                         seed=config.seed, data_on_device=config.data_on_device)
    val_stream = (BatchStream(val_data, device, channels_last=ctx.channels_last, num_workers=config.num_workers,
                              seed=config.seed, data_on_device=config.data_on_device)
                  if val_data is not None else None)
    provenance = _provenance(device, dist) if (dist.is_main and ckpt_dir is not None) else {}
    config_dict = config.to_dict()

    bar = progress_bar(total=batches_per_epoch * config.epochs, initial=global_step, unit="batch",
                       dynamic_ncols=True, desc="fit", enabled=config.progress and dist.is_main)
    try:
        for epoch in range(start_epoch, config.epochs):
            t0 = time.perf_counter()
            ctx.epoch = epoch
            ctx.model.train()
            means = _Means(device)
            lr = schedule.at_step(global_step, batches_per_epoch)
            for i, (x, y) in enumerate(stream(batches_for(epoch))):
                lr = schedule.at_step(global_step, batches_per_epoch)
                for group in ctx.optimizer.param_groups:
                    group["lr"] = lr
                ctx.batch_index, ctx.global_step = i, global_step
                out = step(x, y, ctx)
                means.add(out, len(x))
                global_step += 1
                bar.update(1)
                if not bar.disable and (i % config.log_every == 0) and "loss" in out:
                    bar.set_postfix(epoch=epoch + 1, loss=f"{out['loss'].item():.4g}", lr=f"{lr:.3g}")
            train = means.reduce(dist)
            n_samples = means.samples * dist.world_size  # every rank runs the same number of samples
            t_train = time.perf_counter() - t0

            record: dict[str, float] = {"epoch": epoch + 1, "lr": lr}
            record.update({f"train_{k}": v for k, v in train.items()})
            validate = val_data is not None and ((epoch + 1) % config.val_every == 0 or epoch + 1 == config.epochs)
            if validate and config.bn_recalibration_batches:
                recalibrate_batchnorm(ctx.module, (x for x, _ in stream(
                    batches_for(epoch)[:config.bn_recalibration_batches])), autocast=ctx.autocast)
            if validate:
                # DDP syncs BatchNorm statistics at the start of a forward: after the epoch's last step each
                # rank holds its own batch's; every rank scores rank 0's model (the one it saves)
                dist.broadcast_buffers(ctx.module)
                val = _evaluate(ctx.module, val_stream, val_batches, loss, metrics, ctx)
                record.update({f"val_{k}": v for k, v in val.items()})
            record.update(train_wall_s=t_train, epoch_wall_s=time.perf_counter() - t0,
                          samples_per_s=n_samples / t_train if t_train > 0 else math.nan)
            _append_record(curves, record)
            if not bar.disable:
                bar.set_postfix(epoch=epoch + 1, train=f"{train.get('loss', math.nan):.4g}",
                                val=f"{record.get('val_loss', math.nan):.4g}")

            improved = config.select_by in record and _better(record[config.select_by], best_score,
                                                              config.select_mode)
            if improved:
                best_epoch, best_score = epoch + 1, float(record[config.select_by])
                best_state = _state_copy(ctx.module)
            for hook in hooks:
                hook.end_epoch(dict(record))
            # last.pt before best.pt: a run stopped between the two resumes from last.pt, whose best
            # epoch is then its own epoch, so its weights are the best ones (see _resumed_best_state)
            if dist.is_main and ckpt_dir is not None:
                state = {
                    "model": ctx.module.state_dict(), "optimizer": ctx.optimizer.state_dict(),
                    "scaler": ctx.scaler.state_dict(), "step": step.state_dict(),
                    "schedule": {"global_step": global_step, "steps_per_epoch": batches_per_epoch},
                    "rng": ckpt.rng_state(), "hooks": [hook.state_dict() for hook in hooks],
                    "epoch": epoch + 1, "global_step": global_step,
                    "best_epoch": best_epoch, "best_score": best_score, "curves": curves,
                    "config": config_dict, "meta": dict(meta or {}), "provenance": provenance,
                }
                ckpt.save_checkpoint(ckpt_dir / ckpt.LAST, state)
                if config.keep_epoch_checkpoints:
                    ckpt.save_checkpoint(ckpt_dir / ckpt.epoch_checkpoint_name(epoch + 1), state)
                if improved:
                    ckpt.save_checkpoint(ckpt_dir / ckpt.BEST, {
                        "model": best_state, "epoch": best_epoch, "score": best_score,
                        "select_by": config.select_by, "config": config_dict, "meta": dict(meta or {}),
                        "provenance": provenance})
            dist.barrier()
            for callback in callbacks:
                callback(dict(record))
    finally:
        bar.close()

    has_best = best_epoch is not None
    return FitResult(curves=curves, select_by=config.select_by, best_epoch=best_epoch, best_score=best_score,
                     best_state=best_state,
                     best_path=(ckpt_dir / ckpt.BEST) if (has_best and ckpt_dir is not None) else None,
                     last_path=(ckpt_dir / ckpt.LAST) if ckpt_dir is not None else None,
                     steps=global_step, world_size=dist.world_size)
