"""Classic full-waveform inversion: gradient descent on velocity through the reference solver.

The misfit is the L2 distance between observed and synthetic seismic data; its gradient is the
adjoint-state gradient of the discrete scheme: on the CPU the numba kernel and its hand-written adjoint
(:func:`fwilab.physics.solver.forward_model` with ``path="adjoint"``: ~2 GB and a few seconds an
iteration for one OpenFWI sample on 2 cores), elsewhere autograd through the reference loop
(``path="reference"``). Adam updates a normalised velocity
``m = (v − vmin)/(vmax − vmin)`` (so ``lr`` is a fraction of the velocity range per step), and ``v`` is
clamped to ``[vmin, vmax]`` after every step. Multiscale FWI (Bunks et al., 1995) low-passes both
observed and synthetic data with rising cut-offs, which widens the basin of attraction.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .acquisition import OPENFWI, Acquisition
from . import solver
from .solver import forward_model

# OpenFWI velocity range for all ten datasets: 1500–4500 m/s (FACTS.md §1)
VMIN_OPENFWI = 1500.0
VMAX_OPENFWI = 4500.0
#: order of the Butterworth-magnitude low-pass used for multiscale FWI
LOWPASS_ORDER = 6


@dataclass
class FWIResult:
    """Outcome of :func:`fwi`.

    Attributes:
        v: [batch, 1, nz, nx] inverted velocity in m/s (detached).
        loss_history: data misfit per iteration (summed over the batch), in the stage's band.
        stage_of_iteration: index into ``frequencies`` of each iteration (all 0 without multiscale).
        frequencies: the low-pass cut-offs [Hz] used, or ``None`` for the full band.
        time_s: wall-clock time of the inversion [s].
    """

    v: torch.Tensor
    loss_history: list[float] = field(default_factory=list)
    stage_of_iteration: list[int] = field(default_factory=list)
    frequencies: tuple[float, ...] | None = None
    time_s: float = 0.0


def lowpass(seismic: torch.Tensor, cutoff_hz: float, dt: float, order: int = LOWPASS_ORDER) -> torch.Tensor:
    """Zero-phase low-pass along time with a Butterworth magnitude response.

    The spectrum is multiplied by the real gain ``1/sqrt(1 + (f/fc)^(2·order))`` (no phase shift),
    after zero-padding the trace to twice its length so the circular FFT does not wrap the tail onto
    the start. Linear and differentiable.

    Args:
        seismic: [..., time, receiver] data; dt: its sample interval [s]; cutoff_hz: fc [Hz].

    Returns:
        The filtered data, same shape and dtype.
    """
    if not cutoff_hz > 0:
        raise ValueError(f"low-pass cut-off must be positive, got {cutoff_hz} Hz")
    nt = seismic.shape[-2]
    n_fft = 2 * nt
    spectrum = torch.fft.rfft(seismic, n=n_fft, dim=-2)
    freqs = torch.fft.rfftfreq(n_fft, d=dt).to(device=seismic.device, dtype=seismic.dtype)
    gain = 1.0 / torch.sqrt(1.0 + (freqs / cutoff_hz) ** (2 * order))
    filtered = torch.fft.irfft(spectrum * gain[:, None], n=n_fft, dim=-2)
    return filtered[..., :nt, :]


def smooth_initial_model(v: torch.Tensor, sigma_cells: float) -> torch.Tensor:
    """Gaussian-smoothed velocity, the usual FWI starting model ("smooth start").

    Args:
        v: [batch, 1, nz, nx] velocity in m/s.
        sigma_cells: standard deviation of the Gaussian [cells]; 0 returns a copy.

    Returns:
        [batch, 1, nz, nx] smoothed velocity in m/s (edges replicate-padded, so a constant model is
        unchanged and the mean of a layered model is kept away from the edges).
    """
    if v.dim() != 4 or v.shape[1] != 1:
        raise ValueError(f"v must have shape [batch, 1, depth, width], got {tuple(v.shape)}")
    if sigma_cells < 0 or not math.isfinite(sigma_cells):
        raise ValueError(f"sigma_cells must be a non-negative finite number, got {sigma_cells}")
    if sigma_cells == 0:
        return v.clone()
    radius = max(1, int(math.ceil(3 * sigma_cells)))
    x = torch.arange(-radius, radius + 1, dtype=v.dtype, device=v.device)
    kernel = torch.exp(-0.5 * (x / sigma_cells) ** 2)
    kernel = kernel / kernel.sum()
    # replicate padding beyond the model; a kernel wider than the model needs repeated padding
    out = v
    for dim in (-2, -1):
        size = out.shape[dim]
        idx = torch.clamp(torch.arange(-radius, size + radius, device=v.device), 0, size - 1)
        padded = out.index_select(dim, idx)
        k = kernel.view(1, 1, -1, 1) if dim == -2 else kernel.view(1, 1, 1, -1)
        out = F.conv2d(padded, k)
    return out


def fwi(seismic_obs: torch.Tensor, v_init: torch.Tensor, acquisition: Acquisition = OPENFWI, *,
        iterations: int = 100, lr: float = 0.02, frequencies: Sequence[float] | None = None,
        vmin: float = VMIN_OPENFWI, vmax: float = VMAX_OPENFWI, progress: bool = False,
        callback: Callable[[int, float, torch.Tensor], None] | None = None,
        path: str = "auto") -> FWIResult:
    """Invert seismic data for velocity by Adam on the L2 data misfit.

    Args:
        seismic_obs: [batch, shot, time, receiver] observed data (same acquisition).
        v_init: [batch, 1, nz, nx] starting velocity in m/s.
        acquisition: the survey that recorded ``seismic_obs``.
        iterations: Adam steps per frequency stage (total = iterations × number of stages).
        lr: Adam step size in units of the velocity range ``vmax − vmin`` (0.02 → 60 m/s for OpenFWI).
        frequencies: low-pass cut-offs [Hz], low first, applied to both observed and synthetic data
            (multiscale FWI); ``None`` inverts the full band in one stage.
        vmin, vmax: velocity bounds [m/s]; the model is clamped to them after every step.
        progress: tqdm bar over iterations.
        callback: called after each step as ``callback(iteration, loss, v)`` with ``v`` detached.
        path: the solver path for the gradient: ``"adjoint"`` (CPU), ``"reference"`` (any device) or
            ``"auto"`` (adjoint on the CPU when numba is there, else reference). Both give the same
            gradient to rounding.

    Returns:
        :class:`FWIResult` with the inverted velocity, loss history and wall time.

    Memory: the reference path keeps every time step on the autograd tape (~4 GB per OpenFWI sample
    in float32, more in practice); the adjoint path keeps one model's wavefield (~2 GB) whatever
    the batch (see :mod:`fwilab.physics.solver`).
    """
    from ..progress import bar as progress_bar

    if seismic_obs.dim() != 4 or tuple(seismic_obs.shape[1:]) != acquisition.seismic_shape:
        raise ValueError(
            f"seismic_obs must have shape [batch, {', '.join(map(str, acquisition.seismic_shape))}] "
            f"(batch, shot, time, receiver), got {tuple(seismic_obs.shape)}"
        )
    if v_init.dim() != 4 or v_init.shape[0] != seismic_obs.shape[0]:
        raise ValueError(
            f"v_init must be [batch, 1, nz, nx] with the batch of seismic_obs ({seismic_obs.shape[0]}), "
            f"got {tuple(v_init.shape)}"
        )
    if not bool(torch.isfinite(seismic_obs).all()):
        raise ValueError("seismic_obs contains NaN or infinite values")
    if not (0 < vmin < vmax):
        raise ValueError(f"need 0 < vmin < vmax, got vmin={vmin}, vmax={vmax}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    stages: list[float | None]
    if frequencies is None:
        stages = [None]
    else:
        stages = [float(f) for f in frequencies]
        if not stages or any(not f > 0 for f in stages):
            raise ValueError(f"frequencies must be a non-empty list of positive cut-offs [Hz], got {frequencies}")
        if stages != sorted(stages):
            raise ValueError(f"frequencies must increase (low first), got {list(frequencies)}")
    acquisition.check_stable(vmax)
    if path not in ("auto", "adjoint", "reference"):
        raise ValueError(f"unknown path {path!r}: choose auto, adjoint or reference")
    if path == "auto":
        path = "adjoint" if v_init.device.type == "cpu" and solver._adjoint_numba is not None else "reference"

    obs = seismic_obs.detach().to(device=v_init.device, dtype=v_init.dtype)   # the data follow the model
    span = vmax - vmin
    m = ((v_init.detach().clamp(vmin, vmax) - vmin) / span).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([m], lr=lr)
    result = FWIResult(v=v_init.detach().clone(),
                       frequencies=None if frequencies is None else tuple(stages))
    start = time.perf_counter()
    total = iterations * len(stages)
    with progress_bar(total=total, enabled=progress, desc="FWI", leave=False) as bar:
        for stage, cutoff in enumerate(stages):
            obs_band = obs if cutoff is None else lowpass(obs, cutoff, acquisition.dt)
            for it in range(iterations):
                optimiser.zero_grad(set_to_none=True)
                v = vmin + span * m
                syn = forward_model(v, acquisition, path=path)
                if cutoff is not None:
                    syn = lowpass(syn, cutoff, acquisition.dt)
                # L2 misfit, mean over each model's data, summed over the batch (models independent)
                loss = ((syn - obs_band) ** 2).flatten(1).mean(dim=1).sum()
                loss.backward()
                optimiser.step()
                with torch.no_grad():
                    m.clamp_(0.0, 1.0)
                value = float(loss.detach())
                result.loss_history.append(value)
                result.stage_of_iteration.append(stage)
                if callback is not None:
                    callback(len(result.loss_history) - 1, value, (vmin + span * m).detach())
                bar.set_postfix(loss=f"{value:.3g}", stage=stage)
                bar.update(1)
    result.v = (vmin + span * m).detach()
    result.time_s = time.perf_counter() - start
    return result
