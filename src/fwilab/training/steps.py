"""The per-batch update of the fit loop and the context it runs in.

:class:`StepContext` is what a :class:`TrainStep` sees (the model to call, its optimizer, loss and
precision); :class:`SupervisedStep` is the regression update, :class:`AdversarialStep` VelocityGAN's
WGAN-GP one. Building the context (device, memory format, AdamW, grad scaler, autocast dtype) and
wrapping its model in DDP and/or ``torch.compile`` live here too: :func:`fwilab.training.fit.fit` and
the benchmarks of :mod:`fwilab.training.throughput` share them.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

import torch
from torch import nn

from fwilab.training.distributed import DistributedContext, _has_unused_parameters
from fwilab.training.losses import loss_with_parts

AMP_MODES: tuple[str, ...] = ("auto", "bf16", "fp16", "off")


# --------------------------------------------------------------------------------------------
# precision, memory format, backends
# --------------------------------------------------------------------------------------------

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
# building and wrapping the context
# --------------------------------------------------------------------------------------------

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
