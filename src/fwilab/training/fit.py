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
"""

from __future__ import annotations

import dataclasses
import math
import queue
import threading
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
import torch
from torch import nn

from fwilab.devices import resolve_device
from fwilab.progress import bar as progress_bar
from fwilab.training import checkpoint as ckpt
from fwilab.training.distributed import DistributedContext, init_from_env
from fwilab.training.losses import l1_plus_l2, loss_with_parts
from fwilab.training.batchnorm import recalibrate_batchnorm
from fwilab.training.schedules import SCHEDULES, LRSchedule

AMP_MODES: tuple[str, ...] = ("auto", "bf16", "fp16", "off")

#: FitConfig fields that shape the optimisation trajectory: a resumed run must agree on them.
TRAJECTORY_FIELDS: tuple[str, ...] = (
    "batch_size", "lr", "weight_decay", "betas", "schedule", "warmup_epochs", "T0", "T_mult",
    "min_lr", "milestones", "gamma", "grad_clip", "amp", "seed", "drop_last", "select_by", "select_mode",
)
#: schedules whose rate at a step depends on the run's total length (``epochs``)
LENGTH_DEPENDENT_SCHEDULES: frozenset[str] = frozenset({"cosine"})


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
    training batch (OpenFWI does).
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


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``amp`` on ``device``: 'auto' → bf16 on CUDA, None (fp32) on CPU."""
    if amp not in AMP_MODES:
        raise ValueError(f"unknown amp mode {amp!r}; choose one of {', '.join(AMP_MODES)}")
    if amp == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        if device.type != "cuda":
            raise ValueError("amp='fp16' needs a CUDA device; use 'bf16' or 'off' on CPU")
        return torch.float16
    return None


def _resolve_channels_last(spec: bool | str, device: torch.device) -> bool:
    return device.type == "cuda" if spec == "auto" else bool(spec)


def _configure_backends(device: torch.device, deterministic: bool) -> None:
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


# --------------------------------------------------------------------------------------------
# the per-batch update
# --------------------------------------------------------------------------------------------

@dataclass
class StepContext:
    """What a :class:`TrainStep` sees: the model to call, its optimizer, loss and precision.

    ``model`` is the module to run forward (wrapped in DDP and/or compiled); ``module`` the bare
    one (for state dicts). ``batch_index`` / ``batches_per_epoch`` / ``global_step`` / ``epoch``
    are updated by the loop before each call.
    """

    model: nn.Module
    module: nn.Module
    optimizer: torch.optim.Optimizer
    loss: Callable
    device: torch.device
    amp_dtype: torch.dtype | None
    scaler: torch.amp.GradScaler
    grad_clip: float | None
    channels_last: bool
    dist: DistributedContext = field(default_factory=DistributedContext)
    batch_index: int = 0
    batches_per_epoch: int = 1
    global_step: int = 0
    epoch: int = 0

    def autocast(self, enabled: bool = True):
        """Mixed-precision context (a no-op without AMP)."""
        if self.amp_dtype is None or not enabled:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def optimizer_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer | None = None,
                       parameters: Iterable[torch.Tensor] | None = None,
                       scaler: torch.amp.GradScaler | None = None,
                       grad_clip: float | None | str = "default") -> torch.Tensor | None:
        """Backward, (unscale,) clip the global grad norm, step. Returns the pre-clip norm when
        clipping, else None. Defaults: the model's optimizer, parameters, scaler and clip."""
        optimizer = optimizer or self.optimizer
        scaler = scaler or self.scaler
        clip = self.grad_clip if grad_clip == "default" else grad_clip
        scaler.scale(loss).backward()
        norm = None
        if clip is not None:
            scaler.unscale_(optimizer)
            params = list(parameters) if parameters is not None else \
                [p for g in optimizer.param_groups for p in g["params"]]
            norm = torch.nn.utils.clip_grad_norm_(params, clip)
        scaler.step(optimizer)
        scaler.update()
        return norm


@runtime_checkable
class TrainStep(Protocol):
    """One training update on a batch; returns detached scalars to log (``'loss'`` = the
    quantity the model minimises). State a resumed run needs goes through ``state_dict``."""

    def setup(self, ctx: StepContext) -> None: ...

    def __call__(self, x: torch.Tensor, y: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class EpochHook(Protocol):
    """Per-epoch statistics that belong to the run: ``end_epoch(record)`` runs at the end of each epoch,
    before its checkpoint, and ``state_dict()`` is saved in that checkpoint (``last.pt``, key ``hooks``)
    and handed back to ``load_state_dict`` on resume. So an epoch's statistics and its weights are saved
    together: a run stopped after a checkpoint keeps both, one stopped before it redoes the epoch with
    neither. The state must load under ``torch.load(weights_only=True)``: tensors and plain values."""

    def end_epoch(self, record: dict[str, float]) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _match_dtype(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Losses are computed in the target's precision (fp32), not the autocast dtype."""
    return pred.to(target.dtype) if target.is_floating_point() else pred.float()


class SupervisedStep:
    """``loss(model(x), y)``, backward, clip, AdamW step: InversionNet, InvLINT, SPAMoE, …"""

    def setup(self, ctx: StepContext) -> None:
        pass

    def __call__(self, x: torch.Tensor, y: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        ctx.optimizer.zero_grad(set_to_none=True)
        with ctx.autocast():
            pred = ctx.model(x)
        total, parts = loss_with_parts(ctx.loss, _match_dtype(pred, y), y)
        norm = ctx.optimizer_step(total)
        out = {"loss": total.detach(), **parts}
        if norm is not None:
            out["grad_norm"] = norm.detach()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _split_loss(out: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    if isinstance(out, tuple):
        total, parts = out
        return total, {k: v.detach() for k, v in dict(parts).items()}
    return out, {}


class AdversarialStep:
    """WGAN-style update (VelocityGAN; OpenFWI ``gan_train.py``): the critic takes a step on
    every batch, the generator (the fitted model) on every ``n_critic``-th batch of an epoch and
    on its last — ``n_critic`` critic updates per generator update.

    Generator loss: ``loss(fake, y) + adversarial_weight · generator_adv_loss_fn(critic, fake)``,
    where ``loss`` is the fit loop's (VelocityGAN: ``100·L1 + 100·L2``). Critic loss:
    ``critic_loss_fn(critic, real, fake)`` (e.g. WGAN-GP), returning a scalar or
    ``(scalar, {name: term})``. The critic runs in fp32 unless ``critic_autocast`` (the gradient
    penalty's double backward is more robust without reduced precision).

    Under DDP the critic is kept out of DDP's hooks: its gradients are averaged over ranks by
    hand and its BatchNorm buffers are broadcast from rank 0 after each batch, so ranks stay equal.

    Logs ``critic_loss`` (+ its terms) every batch; ``loss``, ``pixel``, ``adversarial`` (+ the
    pixel loss's parts) on generator batches.
    """

    def __init__(self, critic: nn.Module, critic_optimizer: torch.optim.Optimizer,
                 critic_loss_fn: Callable, generator_adv_loss_fn: Callable, *, n_critic: int = 5,
                 adversarial_weight: float = 1.0, critic_grad_clip: float | None = None,
                 critic_autocast: bool = False):
        if not isinstance(n_critic, int) or n_critic < 1:
            raise ValueError(f"n_critic must be a positive integer, got {n_critic!r}")
        if not callable(critic_loss_fn) or not callable(generator_adv_loss_fn):
            raise ValueError("critic_loss_fn and generator_adv_loss_fn must be callables")
        self.critic = critic
        self.critic_optimizer = critic_optimizer
        self.critic_loss_fn = critic_loss_fn
        self.generator_adv_loss_fn = generator_adv_loss_fn
        self.n_critic = n_critic
        self.adversarial_weight = float(adversarial_weight)
        self.critic_grad_clip = critic_grad_clip
        self.critic_autocast = critic_autocast
        self.critic_steps = 0
        self.generator_steps = 0
        self.critic_scaler: torch.amp.GradScaler | None = None

    def setup(self, ctx: StepContext) -> None:
        self.critic.to(ctx.device)  # in place: the critic optimizer keeps its parameters
        if ctx.channels_last:
            self.critic.to(memory_format=torch.channels_last)
        ctx.dist.broadcast_module(self.critic)
        self.critic_scaler = torch.amp.GradScaler(ctx.device.type, enabled=ctx.amp_dtype == torch.float16)

    def is_generator_batch(self, ctx: StepContext) -> bool:
        return (ctx.batch_index + 1) % self.n_critic == 0 or ctx.batch_index == ctx.batches_per_epoch - 1

    def __call__(self, x: torch.Tensor, y: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        if self.critic_scaler is None:
            raise ValueError("AdversarialStep.setup(ctx) must run before the first step (fit does this)")
        generator_turn = self.is_generator_batch(ctx)
        self.critic.train()
        with torch.set_grad_enabled(generator_turn), ctx.autocast():
            fake = ctx.model(x)
        fake = _match_dtype(fake, y)

        # critic update on (real, detached fake)
        self.critic_optimizer.zero_grad(set_to_none=True)
        with ctx.autocast(self.critic_autocast):
            d_loss, d_parts = _split_loss(self.critic_loss_fn(self.critic, y, fake.detach()))
        self.critic_scaler.scale(d_loss).backward()
        ctx.dist.average_gradients(self.critic)
        if self.critic_grad_clip is not None:
            self.critic_scaler.unscale_(self.critic_optimizer)
            torch.nn.utils.clip_grad_norm_(self.critic.parameters(), self.critic_grad_clip)
        self.critic_scaler.step(self.critic_optimizer)
        self.critic_scaler.update()
        self.critic_steps += 1
        out: dict[str, torch.Tensor] = {"critic_loss": d_loss.detach(),
                                        **{f"critic_{k}": v for k, v in d_parts.items()}}
        if not generator_turn:
            ctx.dist.broadcast_buffers(self.critic)
            return out

        # generator update through the (just updated, frozen) critic
        ctx.optimizer.zero_grad(set_to_none=True)
        flags = [p.requires_grad for p in self.critic.parameters()]
        for p in self.critic.parameters():
            p.requires_grad_(False)
        try:
            pixel, parts = loss_with_parts(ctx.loss, fake, y)
            with ctx.autocast(self.critic_autocast):
                adv = self.generator_adv_loss_fn(self.critic, fake)
            total = pixel + self.adversarial_weight * adv
            norm = ctx.optimizer_step(total)
        finally:
            for p, f in zip(self.critic.parameters(), flags):
                p.requires_grad_(f)
        ctx.dist.broadcast_buffers(self.critic)  # BatchNorm statistics moved in both passes
        self.generator_steps += 1
        out.update(loss=total.detach(), pixel=pixel.detach(), adversarial=adv.detach(), **parts)
        if norm is not None:
            out["grad_norm"] = norm.detach()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"critic": self.critic.state_dict(), "critic_optimizer": self.critic_optimizer.state_dict(),
                "critic_scaler": self.critic_scaler.state_dict() if self.critic_scaler else {},
                "critic_steps": self.critic_steps, "generator_steps": self.generator_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critic.load_state_dict(state["critic"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        if self.critic_scaler is not None and state.get("critic_scaler"):
            self.critic_scaler.load_state_dict(state["critic_scaler"])
        self.critic_steps = int(state["critic_steps"])
        self.generator_steps = int(state["generator_steps"])


# --------------------------------------------------------------------------------------------
# data: epoch order from (seed, epoch), sharded over ranks
# --------------------------------------------------------------------------------------------

def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """Sample order of ``epoch``: a permutation of ``range(n)`` drawn from ``(seed, epoch)`` only."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


def rank_batches(n: int, global_batch: int, rank: int = 0, world_size: int = 1, *, seed: int = 0,
                 epoch: int = 0, shuffle: bool = True, drop_last: bool = True,
                 pad: bool = True) -> list[np.ndarray]:
    """This rank's batches of sample indices for one epoch.

    Global batch ``k`` is ``order[k·B:(k+1)·B]`` (``B = global_batch``); rank ``r`` takes every
    ``world_size``-th entry of the order, so the union over ranks of their ``k``-th batches is
    exactly global batch ``k`` — a DDP run sees the same batches as one process with batch ``B``.
    ``pad``: repeat the first samples so every rank gets as many (training; DDP needs equal
    step counts). Validation uses ``shuffle=False, drop_last=False, pad=False``.
    """
    if global_batch % world_size:
        raise ValueError(f"batch_size {global_batch} is not divisible by the world size {world_size}")
    order = epoch_order(n, seed, epoch, shuffle)
    if drop_last:
        order = order[: (n // global_batch) * global_batch]
    elif pad and len(order) % world_size:
        order = np.concatenate([order, order[: world_size - len(order) % world_size]])
    mine = order[rank::world_size]
    per_rank = global_batch // world_size
    return [mine[i:i + per_rank] for i in range(0, len(mine), per_rank)]


class _BatchSampler:
    """A batch sampler whose batches are set per epoch (so a persistent DataLoader can use it)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _tensor_pair(dataset: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    tensors = getattr(dataset, "tensors", None)
    if (isinstance(tensors, (tuple, list)) and len(tensors) == 2
            and all(isinstance(t, torch.Tensor) for t in tensors) and len(tensors[0]) == len(tensors[1])):
        return tensors[0], tensors[1]
    return None


def _prefetch(produce: Iterator, depth: int = 2) -> Iterator:
    """Run ``produce`` in a background thread, ``depth`` items ahead (gathers release the GIL)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def worker() -> None:
        try:
            for item in produce:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class BatchStream:
    """Delivers ``(x, y)`` batches on the device for a list of index batches.

    In-memory tensor pairs are gathered directly (into pinned memory, a background thread ahead,
    when copying to a GPU; on the GPU itself with ``data_on_device``); other datasets go through a
    persistent ``DataLoader``.
    """

    def __init__(self, dataset: Any, device: torch.device, *, channels_last: bool = False,
                 num_workers: int = 0, seed: int = 0, data_on_device: bool = False):
        self.device = device
        self.channels_last = channels_last
        pair = _tensor_pair(dataset)
        self.tensors = None
        self.loader = None
        if pair is not None:
            if data_on_device:
                pair = (pair[0].to(device), pair[1].to(device))
            self.tensors = pair
        else:
            self.sampler = _BatchSampler()
            g = torch.Generator().manual_seed(seed)
            self.loader = torch.utils.data.DataLoader(
                dataset, batch_sampler=self.sampler, num_workers=num_workers,
                pin_memory=device.type == "cuda", persistent_workers=num_workers > 0, generator=g)

    def _gather(self, batches: Sequence[np.ndarray]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, Y = self.tensors
        pin = self.device.type == "cuda" and X.device.type == "cpu"
        for b in batches:
            idx = torch.from_numpy(np.ascontiguousarray(b, dtype=np.int64)).to(X.device)
            if pin:
                x = torch.empty((len(b),) + tuple(X.shape[1:]), dtype=X.dtype, pin_memory=True)
                y = torch.empty((len(b),) + tuple(Y.shape[1:]), dtype=Y.dtype, pin_memory=True)
                torch.index_select(X, 0, idx, out=x)
                torch.index_select(Y, 0, idx, out=y)
            else:
                x, y = X.index_select(0, idx), Y.index_select(0, idx)
            yield x, y

    def _to_device(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def __call__(self, batches: Sequence[np.ndarray]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.tensors is not None:
            source: Iterator = self._gather(batches)
            if self.device.type == "cuda" and self.tensors[0].device.type == "cpu":
                source = _prefetch(source)
        else:
            self.sampler.batches = [b.tolist() for b in batches]
            source = iter(self.loader)
        for batch in source:
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise ValueError("datasets given to fit must yield (x, y) pairs")
            yield self._to_device(*batch)


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


def _state_copy(state: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A CPU copy of a module's state dict (or of a state dict)."""
    items = state.state_dict().items() if isinstance(state, nn.Module) else state.items()
    return {k: v.detach().to("cpu", copy=True) for k, v in items}


def _better(score: float, best: float | None, mode: str) -> bool:
    if score != score:  # NaN never wins
        return False
    if best is None:
        return True
    return score < best if mode == "min" else score > best


def _resumed_best_state(ckpt_dir: Path, resumed: Mapping[str, Any]) -> dict[str, torch.Tensor] | None:
    """The weights of the best epoch recorded in a resumed ``last.pt``: from ``best.pt`` when that
    file holds the same epoch; from ``last.pt`` itself when its own epoch is the best (the run stopped
    after writing last.pt and before best.pt); else None (the weights are lost)."""
    best_epoch = resumed["best_epoch"]
    if best_epoch is None:
        return None
    best_file = ckpt_dir / ckpt.BEST
    if best_file.exists():
        best = ckpt.load_checkpoint(best_file)
        if best.get("epoch") == best_epoch:
            return best["model"]
    if int(resumed["epoch"]) == best_epoch:
        return _state_copy(resumed["model"])
    return None


def _check_resumable(saved: Mapping[str, Any], config: FitConfig) -> None:
    now = config.to_dict()
    fields = TRAJECTORY_FIELDS + (("epochs",) if now.get("schedule") in LENGTH_DEPENDENT_SCHEDULES else ())
    diff = [f for f in fields if saved.get(f) != now.get(f)]
    if diff:
        details = ", ".join(f"{f}: checkpoint {saved.get(f)!r} vs now {now.get(f)!r}" for f in diff)
        raise ValueError(f"cannot resume: the checkpoint was written with a different config ({details})")


def _restore_hooks(hooks: Sequence[EpochHook], saved: Sequence[dict[str, Any]] | None, path: Path) -> None:
    """Give each hook its state from a resumed checkpoint (saved in the same order)."""
    if not hooks:
        return
    if saved is None or len(saved) != len(hooks):
        warnings.warn(f"{path} holds the state of {0 if saved is None else len(saved)} epoch hooks, not "
                      f"{len(hooks)}: the hooks' statistics start at the resumed epoch", RuntimeWarning,
                      stacklevel=3)
        return
    for hook, state in zip(hooks, saved):
        hook.load_state_dict(state)


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


def _build_context(model: nn.Module, loss: Callable, *, device: torch.device, lr: float,
                   betas: tuple[float, float], weight_decay: float, amp: str,
                   channels_last: bool | str, grad_clip: float | None,
                   dist: DistributedContext) -> StepContext:
    """Model on its device and memory format, AdamW, scaler: shared by fit and the benchmark."""
    amp_dtype = resolve_amp(amp, device)
    cl = _resolve_channels_last(channels_last, device)
    model.to(device)
    if cl:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=tuple(betas), weight_decay=weight_decay,
                                  fused=fused_adamw(model, device) or None)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    return StepContext(model=model, module=model, optimizer=optimizer, loss=loss, device=device,
                       amp_dtype=amp_dtype, scaler=scaler, grad_clip=grad_clip, channels_last=cl, dist=dist)


def fused_adamw(model: nn.Module, device: torch.device) -> bool:
    """Whether AdamW can take its fused kernel (one launch for all parameters, same update rule): on
    CUDA, and only for real floating-point parameters — the fused kernel refuses complex ones, which
    neuraloperator's spectral convolutions (SPAMoE's experts) hold."""
    return device.type == "cuda" and all(p.is_floating_point() for p in model.parameters())


def _has_unused_parameters(module: nn.Module) -> bool:
    """A model that leaves some parameters without a gradient in a step says so with a class attribute
    ``has_unused_parameters = True`` (SPAMoE); DDP then looks for them every step (at some cost)."""
    return bool(getattr(module, "has_unused_parameters", False))


def _wrap(ctx: StepContext, compile_model: bool) -> None:
    module = ctx.module
    if ctx.dist.enabled:
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        # a mixture of experts leaves the unrouted experts (and, for fixed routing, the router) without
        # gradients in a step: DDP must not wait for them
        module = nn.parallel.DistributedDataParallel(ctx.module, device_ids=device_ids,
                                                     find_unused_parameters=_has_unused_parameters(ctx.module))
    if compile_model:
        module = torch.compile(module)
    ctx.model = module


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
                            epoch=epoch, drop_last=config.drop_last)

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


# --------------------------------------------------------------------------------------------
# throughput
# --------------------------------------------------------------------------------------------

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput_benchmark(model: nn.Module, input_shape: Sequence[int], batch_size: int, steps: int = 50,
                         device: str | torch.device = "auto", *, loss: Callable = l1_plus_l2,
                         amp: str = "auto", channels_last: bool | str = "auto", compile: bool | None = None,
                         warmup_steps: int = 10, step: TrainStep | None = None,
                         grad_clip: float | None = None) -> dict[str, Any]:
    """Training samples/s of ``model`` with the fit loop's own step code on synthetic batches.

    ``input_shape``: one sample, e.g. ``(5, 1000, 70)`` for InversionNet on OpenFWI data. Targets
    are random tensors of the model's output shape. ``compile`` defaults to True on CUDA (the
    configuration the speed claim is measured in) and False on CPU. The model is trained in place
    (use a fresh one). Times ``steps`` steps after ``warmup_steps`` (compilation, cuDNN autotune).
    """
    if batch_size < 1 or steps < 1 or warmup_steps < 0:
        raise ValueError(f"need batch_size >= 1, steps >= 1, warmup_steps >= 0; got {batch_size}, {steps}, "
                         f"{warmup_steps}")
    dev = resolve_device(device)
    compile_model = (dev.type == "cuda") if compile is None else bool(compile)
    _configure_backends(dev, deterministic=False)
    ctx = _build_context(model, loss, device=dev, lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4, amp=amp,
                         channels_last=channels_last, grad_clip=grad_clip, dist=DistributedContext(device=dev))
    step = step if step is not None else SupervisedStep()
    step.setup(ctx)
    _wrap(ctx, compile_model)
    x = torch.randn((batch_size, *input_shape), device=dev)
    if ctx.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), ctx.autocast():
        ctx.module.eval()
        y_shape = ctx.module(x[:1]).shape[1:]
        ctx.module.train()
    y = torch.rand((batch_size, *y_shape), device=dev) * 2 - 1
    ctx.batches_per_epoch = warmup_steps + steps
    for i in range(warmup_steps):
        ctx.batch_index = i
        step(x, y, ctx)
    _sync(dev)
    t0 = time.perf_counter()
    for i in range(steps):
        ctx.batch_index = warmup_steps + i
        out = step(x, y, ctx)
    _sync(dev)
    elapsed = time.perf_counter() - t0
    return {"samples_per_s": batch_size * steps / elapsed, "step_ms": 1e3 * elapsed / steps,
            "batch_size": batch_size, "steps": steps, "device": str(dev), "amp": str(ctx.amp_dtype),
            "channels_last": ctx.channels_last, "compile": compile_model,
            "final_loss": float(out["loss"]) if "loss" in out else math.nan}


def input_pipeline_benchmark(dataset: torch.utils.data.Dataset, batch_size: int, batches: int = 20,
                             device: str | torch.device = "auto", *, num_workers: int = 0,
                             channels_last: bool | str = "auto", data_on_device: bool = False,
                             seed: int = 0) -> dict[str, Any]:
    """Samples/s the fit loop's input path delivers to the device, with no model: compare with
    :func:`throughput_benchmark` to see whether data loading could be the bottleneck."""
    dev = resolve_device(device)
    stream = BatchStream(dataset, dev, channels_last=_resolve_channels_last(channels_last, dev),
                         num_workers=num_workers, seed=seed, data_on_device=data_on_device)
    all_batches = rank_batches(len(dataset), batch_size, seed=seed, epoch=0, drop_last=True)[:batches]
    if not all_batches:
        raise ValueError(f"dataset has {len(dataset)} samples, fewer than one batch of {batch_size}")
    n = 0
    t0 = time.perf_counter()
    for x, _ in stream(all_batches):
        n += len(x)
    _sync(dev)
    elapsed = time.perf_counter() - t0
    return {"samples_per_s": n / elapsed, "batches": len(all_batches), "batch_size": batch_size,
            "device": str(dev), "path": "tensor gather" if stream.tensors is not None else "DataLoader"}
