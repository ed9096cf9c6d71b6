"""WaveDiffusion's stage 2: denoising diffusion in the autoencoders' latent space (paper §2, §A.1.2).

**Time convention.** Steps are ``t ∈ {0, 1, …, T}`` with ``t = 0`` the data itself: ``x_0`` is a
clean latent and ``x_t`` has been noised ``t`` times (the DDPM paper's indexing, and WaveDiffusion's
"``t = 1, …, T``"). Every schedule array has ``T + 1`` entries indexed by ``t``::

    β_0 = 0,  β_t = (√β_start + (t − 1)/(T − 1)·(√β_end − √β_start))²   (t = 1 … T)
    α_t = 1 − β_t,   ᾱ_t = Π_{s ≤ t} α_s   (ᾱ_0 = 1)

so ``β_1 … β_T`` is CompVis LDM's "linear" schedule, ``betas = linspace(√0.0015, √0.0155, T)²``
(LDM's ``make_beta_schedule``, its ``linear_start``/``linear_end``; WaveDiffusion §A.1.2:
"linear noise schedule, starting from 0.0015 and ending at 0.0155", T = 1000), and
``ᾱ_T ≈ 6.7e-4`` at T = 1000. LDM indexes the same values from 0: its step ``t'`` is our ``t' + 1``.
The network is conditioned on ``t ∈ {1 … T}``; ``q_sample`` at ``t = 0`` returns ``x_0`` exactly.

**Processes** (Ho et al. 2020):

- forward: ``q(x_t | x_0) = N(√ᾱ_t·x_0, (1 − ᾱ_t)·I)`` (:meth:`NoiseSchedule.q_sample`);
- posterior, ``t ≥ 1``: ``q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t·I)`` with
  ``μ̃_t = β_t·√ᾱ_{t−1}/(1 − ᾱ_t)·x_0 + (1 − ᾱ_{t−1})·√α_t/(1 − ᾱ_t)·x_t`` and
  ``β̃_t = β_t·(1 − ᾱ_{t−1})/(1 − ᾱ_t)`` (so ``β̃_1 = 0``: the last step adds no noise);
- training (:meth:`NoiseSchedule.training_loss`): ``t ~ U{1 … T}``, ``ε ~ N(0, I)``, the network
  predicts ``ε`` from ``x_t``; the loss is **L1**, ``mean|ε − ε_θ(x_t, t)|`` (WaveDiffusion §A.1.2);
- ancestral sampling (:meth:`NoiseSchedule.p_sample_loop`): ``x_T ~ N(0, I)``, then for
  ``t = T … 1``: ``x̂_0 = (x_t − √(1 − ᾱ_t)·ε_θ)/√ᾱ_t`` and ``x_{t−1} ~ N(μ̃_t(x_t, x̂_0), β̃_t·I)``
  (LDM's ``v_posterior = 0``, no clipping of ``x̂_0`` in latent space);
- DDIM (:meth:`NoiseSchedule.ddim_sample_loop`, Song et al. 2021): a strided subsequence
  ``T = τ_S > … > τ_0 = 0`` (:meth:`NoiseSchedule.ddim_timesteps`) and
  ``x_{τ'} = √ᾱ_{τ'}·x̂_0 + √(1 − ᾱ_{τ'} − σ²)·ε_θ + σ·z`` with
  ``σ = η·√((1 − ᾱ_{τ'})/(1 − ᾱ_τ))·√(1 − ᾱ_τ/ᾱ_{τ'})``. ``η = 0`` is deterministic given ``x_T``;
  ``η = 1`` with every step (S = T) is the ancestral sampler, draw for draw.

Randomness: the samplers draw ``x_T`` (unless given) and then one ``N(0, I)`` tensor per step
(ancestral; DDIM when ``η > 0``) from ``generator``, in that order.

**Two schedules** (``NoiseSchedule(beta_schedule=...)``, :data:`BETA_SCHEDULES`): ``"linear"`` (LDM,
above; the default, WaveDiffusion's) and ``"cosine"`` (Nichol & Dhariwal 2021, eq. 17; UB-Diff's,
:meth:`NoiseSchedule.cosine`)::

    f(t) = cos²(((t/T) + s)/(1 + s)·π/2),   s = 0.008
    β_t = min(1 − f(t)/f(t − 1), 0.999)   (t = 1 … T),   ᾱ_t = Π_{s ≤ t} (1 − β_s)

so ``ᾱ_t = f(t)/f(0)`` wherever no β is clipped; only ``β_T`` is (``f(T) = 0``), which keeps
``ᾱ_T = 0.001·ᾱ_{T−1} > 0`` (lucidrains' ``cosine_beta_schedule``, which UB-Diff's release uses).

**Two parameterisations** (``NoiseSchedule(parameterization=...)``, :data:`PARAMETERIZATIONS`): the
network predicts ``ε`` (``"eps"``, the default) or ``v = √ᾱ_t·ε − √(1 − ᾱ_t)·x_0`` (``"v"``,
Salimans & Ho 2022, §4 — "v" here is that target, not a seismic velocity). From ``(x_t, v)`` both
are recovered without dividing by anything: ``x_0 = √ᾱ_t·x_t − √(1 − ᾱ_t)·v`` and
``ε = √(1 − ᾱ_t)·x_t + √ᾱ_t·v`` (:meth:`NoiseSchedule.x0_from_v`, :meth:`NoiseSchedule.eps_from_v`;
they follow from ``ᾱ + (1 − ᾱ) = 1``). The parameterisation belongs to the schedule object, so its
loss and its samplers cannot disagree about what the network's output means. The samplers turn
every output into ``(ε̂, x̂_0)`` (:meth:`NoiseSchedule.predictions`) and proceed as above, optionally
clipping ``x̂_0`` to ``[−c, c]`` (``clip_x0``; then ``ε̂`` is re-derived from the clipped ``x̂_0``).

**Losses** (:meth:`NoiseSchedule.training_loss`): ``loss="l1"`` (default; WaveDiffusion) or
``"mse"``, of the prediction against its target (``ε`` or ``v``), per sample, then weighted by
``weighting="uniform"`` (default) or ``"alpha_bar"``: ``ᾱ_t = SNR/(SNR + 1)``, the weight of
lucidrains' ``pred_v`` objective that UB-Diff trains with. With ``"v"``, ``"mse"`` and
``"alpha_bar"`` the loss equals the ε-MSE of the implied ``ε̂`` exactly (``ε − ε̂ = √ᾱ_t·(v − v̂)``).

:class:`LatentDiffusion` wraps a :class:`~fwilab.layers.unet.UNet` ``ε_θ`` and a schedule, sized by a
frozen :class:`LatentDiffusionConfig` whose latent shape comes from the stage-1
:class:`~fwilab.models.vqae.VQAEConfig`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable, Sequence

import torch
from torch import nn

from fwilab.layers.unet import UNet
from fwilab.models.vqae import VQAEConfig

#: WaveDiffusion §A.1.2 / CompVis LDM configs: linear_start, linear_end, timesteps
LINEAR_START: float = 0.0015
LINEAR_END: float = 0.0155
TIMESTEPS: int = 1000

#: Nichol & Dhariwal 2021, eq. 17: the cosine schedule's offset s
COSINE_OFFSET: float = 0.008
#: Nichol & Dhariwal 2021, §3.2: "we clip β_t to be no larger than 0.999"
MAX_BETA: float = 0.999
#: the β schedules :class:`NoiseSchedule` builds
BETA_SCHEDULES: tuple[str, ...] = ("linear", "cosine")
#: what the network predicts: the noise ε, or v = √ᾱ·ε − √(1 − ᾱ)·x_0 (Salimans & Ho 2022)
PARAMETERIZATIONS: tuple[str, ...] = ("eps", "v")
#: elementwise losses and per-step weightings of :meth:`NoiseSchedule.training_loss`
LOSSES: tuple[str, ...] = ("l1", "mse")
WEIGHTINGS: tuple[str, ...] = ("uniform", "alpha_bar")

#: ``eps_model(x_t [B, …], t [B] int64) → [B, …]``: ε̂ or v̂, as the schedule's ``parameterization`` says
EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: called after each sampler step with the new step index and the state ``x_t`` there
StepCallback = Callable[[int, torch.Tensor], None]


def ldm_linear_betas(timesteps: int = TIMESTEPS, start: float = LINEAR_START, end: float = LINEAR_END
                     ) -> torch.Tensor:
    """CompVis LDM's ``make_beta_schedule("linear")``: ``linspace(√start, √end, T)²``, float64 ``[T]``."""
    if not isinstance(timesteps, int) or isinstance(timesteps, bool) or timesteps < 2:
        raise ValueError(f"the schedule needs an integer number of timesteps ≥ 2, got {timesteps!r}")
    if not 0.0 < start < end < 1.0:
        raise ValueError(f"the linear schedule needs 0 < start < end < 1, got start={start!r}, end={end!r}")
    return torch.linspace(math.sqrt(start), math.sqrt(end), timesteps, dtype=torch.float64) ** 2


def cosine_betas(timesteps: int, offset: float = COSINE_OFFSET, max_beta: float = MAX_BETA) -> torch.Tensor:
    """Nichol & Dhariwal's cosine schedule: ``β_t = min(1 − f(t)/f(t − 1), max_beta)``, float64 ``[T]``.

    ``f(t) = cos²(((t/T) + s)/(1 + s)·π/2)`` for ``t = 0 … T`` (``s = offset``); ``β_1 … β_T``.
    """
    if not isinstance(timesteps, int) or isinstance(timesteps, bool) or timesteps < 2:
        raise ValueError(f"the schedule needs an integer number of timesteps ≥ 2, got {timesteps!r}")
    if not (math.isfinite(offset) and offset > 0):
        raise ValueError(f"the cosine schedule needs an offset s > 0, got {offset!r}")
    if not 0.0 < max_beta < 1.0:
        raise ValueError(f"the cosine schedule needs 0 < max_beta < 1, got {max_beta!r}")
    t = torch.arange(timesteps + 1, dtype=torch.float64)
    f = torch.cos((t / timesteps + offset) / (1 + offset) * math.pi / 2) ** 2
    return (1.0 - f[1:] / f[:-1]).clamp(max=max_beta)


def _choice(name: str, value: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"{name}={value!r}: choose one of {options}")
    return value


class NoiseSchedule(nn.Module):
    """The DDPM noise schedule and its samplers, on the ``t ∈ {0 … T}`` convention (module docstring).

    Args:
        timesteps: T.
        beta_start, beta_end: the ``"linear"`` schedule's end points (unused by ``"cosine"``).
        beta_schedule: ``"linear"`` (LDM; default) or ``"cosine"`` (Nichol & Dhariwal; see also
            :meth:`cosine`).
        cosine_offset: the cosine schedule's ``s`` (0.008).
        parameterization: ``"eps"`` (default) or ``"v"``: what the network passed to the loss and
            the samplers predicts.

    Buffers (float64, ``[T + 1]``, indexed by ``t``; not saved in the state dict — they follow from
    the arguments): ``betas``, ``alphas``, ``alphas_cumprod`` (ᾱ), its square root and that of
    ``1 − ᾱ``, ``posterior_variance``
    (β̃, 0 at t = 0 and t = 1), ``posterior_mean_coef_x0``, ``posterior_mean_coef_xt`` (0 at t = 0).
    Coefficients are gathered in float64 and cast to the data's dtype.
    """

    def __init__(self, timesteps: int = TIMESTEPS, beta_start: float = LINEAR_START, beta_end: float = LINEAR_END,
                 *, beta_schedule: str = "linear", cosine_offset: float = COSINE_OFFSET,
                 parameterization: str = "eps"):
        super().__init__()
        self.timesteps = timesteps
        self.beta_schedule = _choice("beta_schedule", beta_schedule, BETA_SCHEDULES)
        self.parameterization = _choice("parameterization", parameterization, PARAMETERIZATIONS)
        self.beta_start, self.beta_end = float(beta_start), float(beta_end)
        self.cosine_offset = float(cosine_offset)
        schedule = ldm_linear_betas(timesteps, beta_start, beta_end) if beta_schedule == "linear" \
            else cosine_betas(timesteps, cosine_offset)
        betas = torch.cat([torch.zeros(1, dtype=torch.float64), schedule])
        alphas = 1.0 - betas
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        previous = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])   # ᾱ_{t−1}
        one_minus = (1.0 - alphas_cumprod).clamp_min(torch.finfo(torch.float64).tiny)     # 1 − ᾱ_t (t = 0: tiny)
        buffers = {
            "betas": betas,
            "alphas": alphas,
            "alphas_cumprod": alphas_cumprod,
            "sqrt_alphas_cumprod": alphas_cumprod.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1.0 - alphas_cumprod).sqrt(),
            "posterior_variance": betas * (1.0 - previous) / one_minus,
            "posterior_mean_coef_x0": betas * previous.sqrt() / one_minus,
            "posterior_mean_coef_xt": (1.0 - previous) * alphas.sqrt() / one_minus,
        }
        for name, value in buffers.items():
            self.register_buffer(name, value, persistent=False)

    @classmethod
    def cosine(cls, timesteps: int, offset: float = COSINE_OFFSET, *, parameterization: str = "eps"
               ) -> "NoiseSchedule":
        """The cosine schedule of Nichol & Dhariwal (2021) over ``timesteps`` steps (offset ``s``)."""
        return cls(timesteps, beta_schedule="cosine", cosine_offset=offset, parameterization=parameterization)

    def extra_repr(self) -> str:
        shape = f"beta_start={self.beta_start}, beta_end={self.beta_end}" if self.beta_schedule == "linear" \
            else f"cosine_offset={self.cosine_offset}"
        return f"timesteps={self.timesteps}, {self.beta_schedule}, {shape}, parameterization={self.parameterization}"

    # ------------------------------------------------------------------ helpers

    def _steps(self, t: torch.Tensor | int, x: torch.Tensor, lowest: int = 0) -> torch.Tensor:
        """``t`` as int64 ``[B]`` on ``x``'s device, checked to lie in ``lowest … T``."""
        t = torch.as_tensor(t, device=x.device)
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise ValueError(f"diffusion steps t must be integers, got dtype {t.dtype}")
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"diffusion steps t must have shape [{x.shape[0]}] (one per sample), got {tuple(t.shape)}")
        if t.numel() and (int(t.min()) < lowest or int(t.max()) > self.timesteps):
            raise ValueError(f"diffusion steps must lie in {lowest} … {self.timesteps}, "
                             f"got {int(t.min())} … {int(t.max())}")
        return t.long()

    @staticmethod
    def _at(buffer: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``buffer[t]`` as ``[B, 1, …, 1]`` in ``x``'s dtype, to broadcast against ``x``."""
        return buffer.to(x.device)[t].to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))

    # ------------------------------------------------------------------ the forward process and posterior

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε`` for ``x0 [B, …]``, ``t [B]`` in ``0 … T`` (t = 0: ``x_0``)."""
        t = self._steps(t, x0)
        noise = torch.randn_like(x0) if noise is None else noise
        if noise.shape != x0.shape:
            raise ValueError(f"noise {tuple(noise.shape)} and x0 {tuple(x0.shape)} differ in shape")
        return (self._at(self.sqrt_alphas_cumprod, t, x0) * x0
                + self._at(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise)

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor) -> torch.Tensor:
        """``x̂_0 = (x_t − √(1 − ᾱ_t)·ε)/√ᾱ_t``, the inverse of :meth:`q_sample` for a known ``ε``."""
        t = self._steps(t, x_t)
        noise_part = self._at(self.sqrt_one_minus_alphas_cumprod, t, x_t) * eps
        return (x_t - noise_part) / self._at(self.sqrt_alphas_cumprod, t, x_t)

    def predict_eps(self, x_t: torch.Tensor, t: torch.Tensor | int, x0: torch.Tensor) -> torch.Tensor:
        """``ε̂ = (x_t − √ᾱ_t·x_0)/√(1 − ᾱ_t)`` for ``t`` in ``1 … T``, the noise that makes ``x0`` reach ``x_t``."""
        t = self._steps(t, x_t, lowest=1)
        signal = self._at(self.sqrt_alphas_cumprod, t, x_t) * x0
        return (x_t - signal) / self._at(self.sqrt_one_minus_alphas_cumprod, t, x_t)

    def v_target(self, x0: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor) -> torch.Tensor:
        """The v-parameterisation's target ``v = √ᾱ_t·ε − √(1 − ᾱ_t)·x_0`` (Salimans & Ho 2022), ``[B, …]``."""
        t = self._steps(t, x0)
        if eps.shape != x0.shape:
            raise ValueError(f"noise {tuple(eps.shape)} and x0 {tuple(x0.shape)} differ in shape")
        a, b = self._at(self.sqrt_alphas_cumprod, t, x0), self._at(self.sqrt_one_minus_alphas_cumprod, t, x0)
        return a * eps - b * x0

    def x0_from_v(self, x_t: torch.Tensor, t: torch.Tensor | int, v: torch.Tensor) -> torch.Tensor:
        """``x_0 = √ᾱ_t·x_t − √(1 − ᾱ_t)·v``: exact for the ``v`` of :meth:`v_target`."""
        t = self._steps(t, x_t)
        a, b = self._at(self.sqrt_alphas_cumprod, t, x_t), self._at(self.sqrt_one_minus_alphas_cumprod, t, x_t)
        return a * x_t - b * v

    def eps_from_v(self, x_t: torch.Tensor, t: torch.Tensor | int, v: torch.Tensor) -> torch.Tensor:
        """``ε = √(1 − ᾱ_t)·x_t + √ᾱ_t·v``: exact for the ``v`` of :meth:`v_target`."""
        t = self._steps(t, x_t)
        a, b = self._at(self.sqrt_alphas_cumprod, t, x_t), self._at(self.sqrt_one_minus_alphas_cumprod, t, x_t)
        return b * x_t + a * v

    def predictions(self, model: EpsModel, x_t: torch.Tensor, t: torch.Tensor | int,
                    clip_x0: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ε̂, x̂_0)`` from the network's output at ``x_t``, ``t`` in ``1 … T`` (its ``parameterization``).

        ``clip_x0 = c`` clamps ``x̂_0`` to ``[−c, c]`` (for data known to lie there, e.g. a tanh latent)
        and re-derives ``ε̂`` from the clamped ``x̂_0``; ``None`` leaves both as predicted.
        """
        t = self._steps(t, x_t, lowest=1)
        out = model(x_t, t)
        if out.shape != x_t.shape:
            raise ValueError(f"the model returned {tuple(out.shape)} for inputs {tuple(x_t.shape)}")
        if self.parameterization == "eps":
            eps, x0 = out, self.predict_x0(x_t, t, out)
        else:
            eps, x0 = self.eps_from_v(x_t, t, out), self.x0_from_v(x_t, t, out)
        if clip_x0 is not None:
            if not (math.isfinite(clip_x0) and clip_x0 > 0):
                raise ValueError(f"clip_x0 must be a positive finite bound, got {clip_x0!r}")
            x0 = x0.clamp(-clip_x0, clip_x0)
            eps = self.predict_eps(x_t, t, x0)
        return eps, x0

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor | int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``[B, …]`` and variance ``[B, 1, …, 1]`` of ``q(x_{t−1} | x_t, x_0)`` for ``t`` in ``1 … T``."""
        if x0.shape != x_t.shape:
            raise ValueError(f"x0 {tuple(x0.shape)} and x_t {tuple(x_t.shape)} differ in shape")
        t = self._steps(t, x_t, lowest=1)
        mean = self._at(self.posterior_mean_coef_x0, t, x_t) * x0 + self._at(self.posterior_mean_coef_xt, t, x_t) * x_t
        return mean, self._at(self.posterior_variance, t, x_t)

    # ------------------------------------------------------------------ training

    def training_loss(self, eps_model: EpsModel, x0: torch.Tensor, t: torch.Tensor | None = None,
                      noise: torch.Tensor | None = None, generator: torch.Generator | None = None, *,
                      loss: str = "l1", weighting: str = "uniform") -> torch.Tensor:
        """Denoising loss of the network's prediction against its target (module docstring, "Losses").

        The target is ``ε`` (``parameterization="eps"``) or ``v = √ᾱ_t·ε − √(1 − ᾱ_t)·x_0``
        (``"v"``); ``loss="l1"`` (default; WaveDiffusion §A.1.2: "L_1") or ``"mse"``, averaged over
        each sample, weighted by ``1`` (``weighting="uniform"``) or ``ᾱ_t = SNR/(SNR + 1)``
        (``"alpha_bar"``), averaged over the batch. The default is ``mean|ε − ε_θ(x_t, t)|``.

        ``t`` defaults to ``U{1 … T}`` per sample and ``noise`` to ``N(0, I)``, both from ``generator``.
        """
        _choice("loss", loss, LOSSES)
        _choice("weighting", weighting, WEIGHTINGS)
        b = x0.shape[0]
        if t is None:
            t = torch.randint(1, self.timesteps + 1, (b,), generator=generator, device=x0.device)
        t = self._steps(t, x0, lowest=1)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        prediction = eps_model(self.q_sample(x0, t, noise), t)
        if prediction.shape != noise.shape:
            raise ValueError(f"the noise model returned {tuple(prediction.shape)} for inputs {tuple(noise.shape)}")
        target = noise if self.parameterization == "eps" else self.v_target(x0, t, noise)
        error = prediction - target
        per_sample = (error.abs() if loss == "l1" else error.square()).reshape(b, -1).mean(dim=1)
        if weighting == "alpha_bar":
            per_sample = per_sample * self.alphas_cumprod.to(x0.device)[t].to(per_sample.dtype)
        return per_sample.mean()

    # ------------------------------------------------------------------ sampling

    @staticmethod
    def _start(shape: Sequence[int], noise: torch.Tensor | None, generator: torch.Generator | None,
               device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        if noise is None:
            return torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)
        if tuple(noise.shape) != tuple(shape):
            raise ValueError(f"start noise {tuple(noise.shape)} does not match the sample shape {tuple(shape)}")
        return noise

    @torch.no_grad()
    def p_sample(self, eps_model: EpsModel, x_t: torch.Tensor, t: int,
                 generator: torch.Generator | None = None, *, clip_x0: float | None = None) -> torch.Tensor:
        """One ancestral step ``x_t → x_{t−1} ~ N(μ̃_t(x_t, x̂_0), β̃_t·I)`` for one ``t`` in ``1 … T``."""
        steps = self._steps(t, x_t, lowest=1)
        _, x0_hat = self.predictions(eps_model, x_t, steps, clip_x0)
        mean, variance = self.q_posterior(x0_hat, x_t, steps)
        z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        return mean + variance.sqrt() * z

    @torch.no_grad()
    def p_sample_loop(self, eps_model: EpsModel, shape: Sequence[int], *, noise: torch.Tensor | None = None,
                      generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                      dtype: torch.dtype = torch.float32, callback: StepCallback | None = None,
                      clip_x0: float | None = None) -> torch.Tensor:
        """Ancestral sampling ``x_T ~ N(0, I)`` (or ``noise``) → ``x_0`` in ``T`` steps; ``[*shape]``."""
        x = self._start(shape, noise, generator, device, dtype)
        for t in range(self.timesteps, 0, -1):
            x = self.p_sample(eps_model, x, t, generator, clip_x0=clip_x0)
            if callback is not None:
                callback(t - 1, x)
        return x

    def ddim_timesteps(self, steps: int) -> list[int]:
        """``steps + 1`` strictly decreasing steps from ``T`` to ``0``: ``round(linspace(T, 0, steps + 1))``."""
        if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= self.timesteps:
            raise ValueError(f"DDIM needs 1 ≤ steps ≤ T = {self.timesteps}, got {steps!r}")
        return [int(round(self.timesteps * (1 - i / steps))) for i in range(steps + 1)]

    @torch.no_grad()
    def ddim_sample_loop(self, eps_model: EpsModel, shape: Sequence[int], steps: int, *, eta: float = 0.0,
                         noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                         device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                         callback: StepCallback | None = None, clip_x0: float | None = None) -> torch.Tensor:
        """DDIM sampling over :meth:`ddim_timesteps` ``(steps)`` with stochasticity ``η ≥ 0``; ``[*shape]``."""
        if not (math.isfinite(eta) and eta >= 0):
            raise ValueError(f"DDIM eta must be finite and ≥ 0, got {eta!r}")
        schedule = self.ddim_timesteps(steps)
        x = self._start(shape, noise, generator, device, dtype)
        abar = self.alphas_cumprod
        for t, prev in zip(schedule[:-1], schedule[1:]):
            eps, x0_hat = self.predictions(eps_model, x, self._steps(t, x, lowest=1), clip_x0)
            a_t, a_prev = float(abar[t]), float(abar[prev])
            sigma = eta * math.sqrt((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev))
            x = math.sqrt(a_prev) * x0_hat + math.sqrt(max(1.0 - a_prev - sigma ** 2, 0.0)) * eps
            if eta > 0:
                x = x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            if callback is not None:
                callback(prev, x)
        return x


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class LatentDiffusionConfig:
    """Sizes of the stage-2 latent diffusion model. Build with :meth:`preset` (``smoke | cpu | full``).

    Latent (from the stage-1 :class:`~fwilab.models.vqae.VQAEConfig`): ``latent_channels``,
    ``latent_size`` (h, w). UNet: ``model_channels``, ``channel_mult``, ``num_res_blocks``,
    ``attention`` (at the lowest resolution), ``heads``, ``dropout``, ``scale_shift``,
    ``norm_groups``. Schedule: ``timesteps`` T, ``beta_start``, ``beta_end``.
    """

    latent_channels: int = 64
    latent_size: tuple[int, int] = (16, 16)
    model_channels: int = 128
    channel_mult: tuple[int, ...] = (1, 2, 2, 4, 4)
    num_res_blocks: int = 2
    attention: bool = True
    heads: int = 8
    dropout: float = 0.0
    scale_shift: bool = True
    norm_groups: int = 32
    timesteps: int = TIMESTEPS
    beta_start: float = LINEAR_START
    beta_end: float = LINEAR_END

    def __post_init__(self) -> None:
        object.__setattr__(self, "latent_size", tuple(self.latent_size))
        object.__setattr__(self, "channel_mult", tuple(self.channel_mult))
        for name in ("latent_channels", "model_channels", "num_res_blocks", "heads", "norm_groups"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"LatentDiffusionConfig.{name} must be a positive integer, got {value!r}")
        if len(self.latent_size) != 2 or any(not isinstance(n, int) or n < 1 for n in self.latent_size):
            raise ValueError(f"LatentDiffusionConfig.latent_size must be two positive integers, got {self.latent_size}")
        if not self.channel_mult or any(not isinstance(m, int) or m < 1 for m in self.channel_mult):
            raise ValueError(f"LatentDiffusionConfig.channel_mult must be positive integers, got {self.channel_mult}")
        multiple = 2 ** (len(self.channel_mult) - 1)
        if any(n % multiple for n in self.latent_size):
            raise ValueError(f"a latent of {self.latent_size} cannot be halved {len(self.channel_mult) - 1} times "
                             f"(channel_mult {self.channel_mult}): each side must be a multiple of {multiple}")
        lowest = self.model_channels * self.channel_mult[-1]
        if self.attention and lowest % self.heads:
            raise ValueError(f"the lowest UNet width {lowest} does not split into {self.heads} attention heads")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LatentDiffusionConfig.dropout must lie in [0, 1), got {self.dropout!r}")
        ldm_linear_betas(self.timesteps, self.beta_start, self.beta_end)   # validates the schedule

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.latent_channels, *self.latent_size)

    def replace(self, **changes: Any) -> "LatentDiffusionConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def preset(cls, profile: str, autoencoder: VQAEConfig | None = None, **overrides: Any) -> "LatentDiffusionConfig":
        """Sizes per profile; the latent shape from ``autoencoder`` (default: ``VQAEConfig.preset(profile)``).

        - ``smoke``: UNet width 8, multipliers (1, 2), one residual block, 2 heads — milliseconds
          (0.04 M parameters on the smoke 2vq latent).
        - ``cpu``: width 32, multipliers (1, 2, 2), one residual block, 4 heads (0.9 M).
        - ``full``: the paper's UNet (§A.1.2): width 128, multipliers (1, 2, 2, 4, 4), two residual
          blocks, 8 heads, scale-shift normalisation (attention only at the lowest resolution here;
          84 M). The paper's UNet reads 32 channels: the ``1vq`` latent at D = 32 (our ``2vq``
          latent stacks two, 64).

        All use T = 1000 and the LDM linear schedule 0.0015 … 0.0155.
        """
        sizes: dict[str, dict[str, Any]] = {
            "smoke": dict(model_channels=8, channel_mult=(1, 2), num_res_blocks=1, heads=2),
            "cpu": dict(model_channels=32, channel_mult=(1, 2, 2), num_res_blocks=1, heads=4),
            "full": dict(),
        }
        if profile not in sizes:
            raise ValueError(f"unknown profile {profile!r}: choose one of {tuple(sizes)}")
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown LatentDiffusionConfig field(s): {sorted(unknown)}")
        autoencoder = autoencoder or VQAEConfig.preset(profile)
        latent = dict(latent_channels=autoencoder.latent_channels, latent_size=autoencoder.latent_size)
        return cls(**{**latent, **sizes[profile], **overrides})


class LatentDiffusion(nn.Module):
    """``ε_θ`` (a :class:`~fwilab.layers.unet.UNet`) and its :class:`NoiseSchedule`.

    ``forward(z_t [B, C, h, w], t [B]) → ε̂ [B, C, h, w]``; :meth:`loss` (L1, random steps);
    :meth:`sample` (ancestral, or DDIM with ``steps``) → latents ``[n, C, h, w]`` for the
    autoencoder's :meth:`~fwilab.models.vqae.VQAutoencoder.quantize` and ``decode``.
    """

    def __init__(self, config: LatentDiffusionConfig | None = None):
        super().__init__()
        self.config = c = config or LatentDiffusionConfig()
        self.unet = UNet(c.latent_channels, c.model_channels, c.channel_mult, c.num_res_blocks, c.attention,
                         c.heads, c.dropout, c.scale_shift, c.norm_groups)
        self.schedule = NoiseSchedule(c.timesteps, c.beta_start, c.beta_end)

    def _check(self, z: torch.Tensor) -> None:
        c = self.config
        if z.dim() != 4 or tuple(z.shape[1:]) != c.latent_shape:
            raise ValueError(f"LatentDiffusion expects latents [batch, {c.latent_channels}, {c.latent_size[0]}, "
                             f"{c.latent_size[1]}], got shape {tuple(z.shape)}")

    def forward(self, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self._check(z_t)
        return self.unet(z_t, t)

    def loss(self, z0: torch.Tensor, t: torch.Tensor | None = None, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """:meth:`NoiseSchedule.training_loss` of clean latents ``z0 [B, C, h, w]``."""
        self._check(z0)
        return self.schedule.training_loss(self, z0, t, noise, generator)

    @torch.no_grad()
    def sample(self, n: int, *, steps: int | None = None, eta: float = 0.0, noise: torch.Tensor | None = None,
               generator: torch.Generator | None = None, callback: StepCallback | None = None) -> torch.Tensor:
        """``n`` latents ``[n, C, h, w]``: ancestral sampling over all T steps (``steps=None``) or DDIM
        over ``steps`` strided steps with stochasticity ``eta``."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"sample needs a positive integer n, got {n!r}")
        p = next(self.parameters())
        shape = (n, *self.config.latent_shape)
        kw = dict(noise=noise, generator=generator, device=p.device, dtype=p.dtype, callback=callback)
        if steps is None:
            return self.schedule.p_sample_loop(self, shape, **kw)
        return self.schedule.ddim_sample_loop(self, shape, steps, eta=eta, **kw)


__all__ = ["BETA_SCHEDULES", "COSINE_OFFSET", "LINEAR_END", "LINEAR_START", "LOSSES", "MAX_BETA", "PARAMETERIZATIONS",
           "TIMESTEPS", "WEIGHTINGS", "LatentDiffusion", "LatentDiffusionConfig", "NoiseSchedule", "cosine_betas",
           "ldm_linear_betas"]
