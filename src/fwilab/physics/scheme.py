"""The discrete scheme every implementation of the forward solver evaluates: its constants, coefficients,
geometry and one reference time step.

The OpenFWI / UPFWI convention (``shared/reference/FACTS.md``, "Forward modelling convention"; the full
statement is in :mod:`fwilab.physics.solver`'s docstring). :mod:`fwilab.physics.solver` (the torch
reference loop, the numba CPU kernels) and :mod:`fwilab.physics.triton_kernel` (the fused CUDA kernel)
both read this module and neither imports the other's internals for it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from .acquisition import Acquisition

# 4th-order central second-derivative coefficients (UPFWI / CSIM a2d_mod_abc24: c1, c2, c3)
C1 = -5.0 / 2.0
C2 = 4.0 / 3.0
C3 = -1.0 / 12.0
#: stencil half-width [cells]: the 4th-order Laplacian reaches ±2 cells
HALO = 2
# UPFWI damping: κ0 = 3·vmin·ln(R)/(2a) with the target reflection coefficient R = 1e-7
DAMPING_LOG_R = math.log(1e7)

FLOAT_DTYPES = (torch.float32, torch.float64)


# --------------------------------------------------------------------------------------------
# validation and coefficients
# --------------------------------------------------------------------------------------------

#: a model whose fastest velocity is below this [m/s] is almost surely in km/s (air: 343 m/s)
SLOWEST_PLAUSIBLE_MAX: float = 100.0


def validate_velocity(v: torch.Tensor, acquisition: Acquisition) -> None:
    """Raise ``ValueError`` unless ``v`` is a finite, positive float tensor of the acquisition's size
    and the time step is stable for its largest velocity.

    Args:
        v: [batch, 1, depth, width] velocity in m/s.
    """
    if not isinstance(v, torch.Tensor):
        raise ValueError(f"velocity must be a torch.Tensor, got {type(v).__name__}")
    if v.dtype not in FLOAT_DTYPES:
        raise ValueError(f"velocity must be float32 or float64, got dtype {v.dtype}")
    if v.dim() != 4 or v.shape[1] != 1:
        raise ValueError(
            f"velocity must have shape [batch, 1, depth, width] (rank 4), got {tuple(v.shape)}"
        )
    if v.shape[0] < 1:
        raise ValueError("velocity batch is empty")
    if tuple(v.shape[2:]) != (acquisition.nz, acquisition.nx):
        raise ValueError(
            f"velocity grid {tuple(v.shape[2:])} does not match the acquisition grid "
            f"(nz, nx) = ({acquisition.nz}, {acquisition.nx})"
        )
    vd = v.detach()
    if not bool(torch.isfinite(vd).all()):
        raise ValueError("velocity contains NaN or infinite values")
    vmin = float(vd.min())
    if vmin <= 0:
        raise ValueError(f"velocity must be positive everywhere, got a minimum of {vmin} m/s")
    vmax = float(vd.max())
    if vmax < SLOWEST_PLAUSIBLE_MAX:
        warnings.warn(f"the fastest velocity is {vmax:g} m/s: velocities are in m/s (km/s given?)",
                      RuntimeWarning, stacklevel=3)
    acquisition.check_stable(vmax)


def pad_velocity(v: torch.Tensor, nbc: int) -> torch.Tensor:
    """Replicate-pad ``v`` [batch, 1, nz, nx] by ``nbc`` cells on all four sides → [batch, 1, NZ, NX]."""
    if nbc == 0:
        return v
    # OpenFWI/UPFWI padvel: edge ("replicate") padding
    return F.pad(v, (nbc, nbc, nbc, nbc), mode="replicate")


def damping_kappa0(v: torch.Tensor, acquisition: Acquisition) -> torch.Tensor:
    """Each model's damping strength ``κ0 = 3·vmin·ln(1e7)/(2a)`` [1/s], ``a = (nbc − 1)·dx``, shape
    [batch]; zero when the pad is too thin to absorb (``nbc < 2``). Differentiable in ``v`` (``vmin``).

    Args:
        v: [batch, 1, nz, nx] velocity in m/s.
    """
    if acquisition.nbc < 2:  # a = (nbc-1)·dx would vanish: no absorbing layer
        return v.new_zeros(v.shape[0])
    a = (acquisition.nbc - 1) * acquisition.dx
    vmin = v.reshape(v.shape[0], -1).amin(dim=1)  # [batch]
    return 3.0 * vmin * DAMPING_LOG_R / (2.0 * a)


def damping_shape(acquisition: Acquisition, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """The damping's spatial profile [NZ, NX], dimensionless: ``(i·dx/a)²`` on pad cell ``i`` from the
    model edge outwards (0 inside the model, 1 on the outer edge); corners take the left/right (column)
    profile, as in the original ``AbcCoef2D``. The damping of a model is ``κ0 ·`` this shape."""
    nbc, dx = acquisition.nbc, acquisition.dx
    nz, nx = acquisition.nz, acquisition.nx
    NZ, NX = acquisition.padded_shape
    if nbc < 2:
        return torch.zeros((NZ, NX), dtype=dtype, device=device)
    a = (nbc - 1) * dx
    ramp = (torch.arange(nbc, dtype=dtype, device=device) * dx / a) ** 2  # [nbc], 0 … 1
    # per-column and per-row shape of the profile (1 on the outer edge, 0 inside the model)
    col = torch.zeros(NX, dtype=dtype, device=device)
    col[:nbc] = ramp.flip(0)
    col[nbc + nx:] = ramp
    row = torch.zeros(NZ, dtype=dtype, device=device)
    row[:nbc] = ramp.flip(0)
    row[nbc + nz:] = ramp
    in_model_cols = torch.zeros(NX, dtype=dtype, device=device)
    in_model_cols[nbc:nbc + nx] = 1.0
    # left/right bands on every row; top/bottom bands only on the model's columns
    return col[None, :].expand(NZ, NX) + row[:, None] * in_model_cols[None, :]


def damping_profile(v: torch.Tensor, acquisition: Acquisition) -> torch.Tensor:
    """Absorbing-pad damping ``d`` [1/s] for each model, [batch, 1, NZ, NX] (zero inside the model):
    ``κ0`` (:func:`damping_kappa0`) times the spatial profile (:func:`damping_shape`),
    ``d(i) = κ0·(i·dx/a)²`` for pad cell ``i = 0 … nbc − 1`` from the model edge outwards.

    Args:
        v: [batch, 1, nz, nx] velocity in m/s.
    """
    shape = damping_shape(acquisition, v.dtype, v.device)
    return damping_kappa0(v, acquisition)[:, None, None, None] * shape[None, None]


def alpha_beta(v: torch.Tensor, acquisition: Acquisition) -> tuple[torch.Tensor, torch.Tensor]:
    """``alpha = (v·dt/dx)²`` (dimensionless) and ``beta = (v·dt)²`` [m²] (the source scaling) of the
    padded models, each [batch, 1, NZ, NX] in ``v``'s dtype."""
    vp = pad_velocity(v, acquisition.nbc)
    return (vp * (acquisition.dt / acquisition.dx)) ** 2, (vp * acquisition.dt) ** 2


def scheme_coefficients(v: torch.Tensor, acquisition: Acquisition) -> dict[str, torch.Tensor]:
    """Per-model coefficients of the update, each [batch, 1, NZ, NX], in ``v``'s dtype.

    ``alpha`` and ``beta`` (:func:`alpha_beta`), ``temp1 = 2 + 2·c1·α − k``, ``temp2 = 1 − k`` with
    ``k = d·dt``.
    """
    alpha, beta = alpha_beta(v, acquisition)
    kappa = damping_profile(v, acquisition) * acquisition.dt
    return {
        "alpha": alpha,
        "temp1": 2.0 + 2.0 * C1 * alpha - kappa,
        "temp2": 1.0 - kappa,
        "beta": beta,
    }


def _flat_indices(acquisition: Acquisition, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices into one model's [shot, NZ, NX] field block of each shot's source cell [shot] and
    each (shot, receiver) cell [shot·receiver]."""
    NZ, NX = acquisition.padded_shape
    nbc = acquisition.nbc
    shots = torch.arange(acquisition.n_shots, device=device)
    sx = torch.as_tensor(acquisition.source_x, device=device) + nbc
    src = shots * (NZ * NX) + (acquisition.source_z + nbc) * NX + sx
    rx = torch.as_tensor(acquisition.receiver_x, device=device) + nbc
    rec = shots[:, None] * (NZ * NX) + (acquisition.receiver_z + nbc) * NX + rx[None, :]
    return src, rec.reshape(-1)


def _source_scaling(beta: torch.Tensor, acquisition: Acquisition) -> torch.Tensor:
    """``(v_s·dt)²`` [m²] at each shot's source cell, [batch, shot], from ``beta`` [batch, 1, NZ, NX]."""
    NZ, NX = acquisition.padded_shape
    src_index, _ = _flat_indices(acquisition, beta.device)
    return beta.reshape(beta.shape[0], -1)[:, src_index % (NZ * NX)]


# --------------------------------------------------------------------------------------------
# reference path: one differentiable torch step
# --------------------------------------------------------------------------------------------

#: |p| below this is set to zero after every step, in every implementation of the scheme (:func:`flush_negligible`)
FLUSH_BELOW: float = 1e-20


def flush_negligible(p: torch.Tensor) -> torch.Tensor:
    """``p`` with the values ``0 < |p| < FLUSH_BELOW`` (1e-20) set to +0; NaN and inf are kept.

    Part of the scheme, in every implementation. Ahead of the wavefront the 4th-order stencil leaves a
    numerical precursor that decays by ~60× per cell, and in the absorbing pad the damped field decays
    likewise. Unflushed, most cells pass through values near float32's smallest normal number (1.2e-38),
    where x86 arithmetic on the subnormal products is ~100× slower, and the precursor keeps every cell of
    the grid nonzero. Below 1e-20 a value is more than 10¹³ under the float32 resolution of the records (peaks
    ~1–50 per unit source), so flushing it changes the records by float32 rounding only (tested against
    the unflushed float64 scheme); it keeps subnormal products out of the arithmetic and leaves exact zeros
    ahead of the front, which the CPU kernel skips (:func:`fwilab.physics.solver._propagate_numba`).
    """
    return torch.where(p.abs() < FLUSH_BELOW, torch.zeros_like(p), p)


def leapfrog_step(p: torch.Tensor, p_old: torch.Tensor, temp1: torch.Tensor, temp2: torch.Tensor,
                  alpha: torch.Tensor, src_index: torch.Tensor, src_amp: torch.Tensor,
                  rec_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step of the scheme for all models and shots (negligible results flushed to zero:
    :func:`flush_negligible`); returns (p⁺, receiver samples).

    Args:
        p, p_old: [batch, shot, NZ, NX] fields at steps n and n−1.
        temp1, temp2, alpha: [batch, 1, NZ, NX] coefficients (:func:`scheme_coefficients`).
        src_index: [shot] flat index of each shot's source in a model's [shot·NZ·NX] block.
        src_amp: [batch, shot] this step's injection ``(v_s·dt)²·w[n]``.
        rec_index: [shot·receiver] flat receiver indices into the same block.

    Returns:
        p⁺ [batch, shot, NZ, NX] and the recorded samples [batch, shot·receiver].
    """
    NZ, NX = p.shape[-2:]
    pp = F.pad(p, (HALO, HALO, HALO, HALO))  # Dirichlet: zeros beyond the padded domain
    centre_rows = slice(HALO, NZ + HALO)
    centre_cols = slice(HALO, NX + HALO)
    near = (pp[..., HALO - 1:NZ + HALO - 1, centre_cols] + pp[..., HALO + 1:NZ + HALO + 1, centre_cols]
            + pp[..., centre_rows, HALO - 1:NX + HALO - 1] + pp[..., centre_rows, HALO + 1:NX + HALO + 1])
    far = (pp[..., 0:NZ, centre_cols] + pp[..., 2 * HALO:NZ + 2 * HALO, centre_cols]
           + pp[..., centre_rows, 0:NX] + pp[..., centre_rows, 2 * HALO:NX + 2 * HALO])
    p_new = flush_negligible(temp1 * p - temp2 * p_old + alpha * (C2 * near + C3 * far))
    flat = p_new.reshape(p.shape[0], -1).index_add(1, src_index, src_amp)
    return flat.view(p.shape), flat[:, rec_index]


def _padded_geometry(acquisition: Acquisition) -> tuple[int, np.ndarray, int, np.ndarray]:
    """Source row, source columns, receiver row and receiver columns in the padded grid (no halo)."""
    nbc = acquisition.nbc
    sx = np.asarray(acquisition.source_x, dtype=np.int64) + nbc
    rx = np.asarray(acquisition.receiver_x, dtype=np.int64) + nbc
    return acquisition.source_z + nbc, sx, acquisition.receiver_z + nbc, rx
