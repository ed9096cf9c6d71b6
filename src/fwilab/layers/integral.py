"""Integral transforms of InvLINT (Feng et al., ICML 2022, §3 and §4.1.2): fixed kernels, no weights.

InvLINT's hypothesis (Eq. 1) is that after two integral transforms the seismic data and the
velocity map are nearly linearly related::

    U_n = ∬ u(x, t) Φ_n(x, t) dx dt,      Y_m = ∬ y(x, z) Ψ_m(x, z) dx dz,      Y ≈ A U.

Both transforms are linear and fixed, so each is one matrix product with precomputed kernel
matrices held as buffers (they move with ``.to(device)`` and get no gradient).

Seismic side (:class:`SeismicIntegralTransform`, kernels :data:`ENCODER_KERNELS`)
    ``u: [batch, shot, time, receiver]`` (OpenFWI layout). The kernels' arguments use time
    normalised to ``t ∈ [0, 1]`` over the record (``t_i = i/(nt − 1)``) and receiver positions
    normalised to ``x ∈ [0, 1]`` over the receiver span. The integrals are trapezoid sums on the
    data's own grid: ``dt`` is one time sample and ``dx`` is measured in the unit of the receiver
    positions (grid cells), so ``1(x)/(xmax − xmin)`` makes the default kernel a receiver
    *average* and ``U_n = Σ_i ū(t_i) sin(nπt_i)`` (a sum over samples). This scale matters: the
    ridge penalty α = 1 of §4.1.2 is absolute. With ``dt`` = 1/(nt − 1) instead (t in [0, 1]),
    U is (nt − 1) times smaller and α = 1 shrinks the map to almost nothing (measured on 600
    FlatVel-A-like 40×40 maps, 4 shots, nt = 600, N = 256, M = 128, 500 train / 100 held out:
    held-out R² of the ridge map 0.07 with dt = 1/(nt − 1), 0.85 with dt = one sample). Each shot is
    transformed with ``n = 1..N`` and the shot vectors are concatenated: ``U: [batch, shot·N]``
    (§4.1.2: "after integration, all sources vectors will be concatenated").

    On ``t_i = i/(nt − 1)`` the sine kernels are exactly discretely orthogonal (DST-I):
    ``Σ_i sin(kπt_i) sin(nπt_i) = δ_kn (nt − 1)/2`` for ``1 ≤ k, n < nt − 1``. Beyond
    ``n = nt − 1`` they alias: ``sin(nπt_i) = −sin((2(nt − 1) − n)πt_i)``, so at most
    ``nt − 2`` of them are independent per shot. The paper's N = 2048 exceeds OpenFWI's
    nt = 1000; the aliased kernels are kept (the ridge map copes with collinear features) so
    the paper's setting is reproduced as written.

Velocity side (:class:`VelocityIntegralTransform`, kernels :data:`DECODER_KERNELS`)
    ``y: [batch, 1, nz, nx]``. Coordinates are grid cells (``x_j = j``, ``z_k = k``) and the
    integral is the plain sum over cells (cell area 1). The magnitudes of the paper's Table 11
    (Marmousi 70×70, M = 512: ``ymax − ymin ≈ 107`` for a map in [-1, 1]) match this scale:
    the Gaussian's integral is ``2πσ_zσ_x ≈ 60`` cells there. The default Gaussian kernels
    ``Ψ_m = exp(−|r − μ_m|²/(2σ²))`` have their centres ``μ_m`` on an evenly spaced
    ``gz × gx = M`` grid (cell-centred tiles of the map, see :func:`centre_grid`) and ``σ``
    equal to the spacing of adjacent centres along each axis.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from fwilab.physics.acquisition import Acquisition

#: Encoder kernels of the paper's Tables 2/6, plus the cosine and Fourier kernels of §3.1
#: ("Φ_n is chosen as cosine/sine or Fourier transform"). Name → formula (t, x in [0, 1]).
ENCODER_KERNELS: dict[str, str] = {
    "sin": "sin(nπt)·1(x)/(xmax − xmin)",  # the paper's default (§4.1.2)
    "sin_sin": "sin(nπt)·sin(nπx)",
    "sin_cos": "sin(nπt)·cos(nπx)",
    "cos_sin": "cos(nπt)·sin(nπx)",
    "sin_sum": "sin(nπ(x + t))",
    "sin_plus": "sin(nπt) + sin(nπx)",
    "cos": "cos(nπt)·1(x)/(xmax − xmin)",
    "fourier": "|∬ u·exp(−j2πnt)·1(x)/(xmax − xmin) dt dx|",  # §3.1, Eq. 7 (modulus)
}

#: Decoder (velocity-side) kernels of the paper's Tables 3/7. Name → formula. For the sine
#: kernels x, z are normalised to [0, 1]; for the others r = (z, x) is in grid cells.
DECODER_KERNELS: dict[str, str] = {
    "gaussian": "exp(−|r − μ_m|²/(2σ²)), σ = centre spacing",  # the paper's default
    "sinc": "sin(πρ)/(πρ), ρ = |r − μ_m| in units of the centre spacing",
    "gaussian_sigma": "exp(−|r − μ_m|²/(2σ²)), σ = spacing/3",  # Table 3 "Gaussian_σ"
    "sin_sin": "sin(mπx)·sin(mπz)",
    "cos_sin": "cos(mπx)·sin(mπz)",
    "sin_cos": "sin(mπx)·cos(mπz)",
    "sin_sum": "sin(mπ(x + z))",
    "sin_plus": "sin(mπx) + sin(mπz)",
}

#: Table 3: "for Gaussian_σ, we choose σ as 1/3 of the original".
GAUSSIAN_SIGMA_FRACTION: float = 1.0 / 3.0


def _check_kernel(name: str, table: dict[str, str], side: str) -> str:
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"unknown {side} kernel {name!r}: choose one of {', '.join(table)}")
    return name


def normalised_coordinates(positions: Sequence[float] | np.ndarray) -> np.ndarray:
    """Positions mapped to [0, 1] over their span (``(p − min)/(max − min)``); a single point → 0.

    Returns float64 ``[len(positions)]``. Positions must be sorted ascending.
    """
    p = np.asarray(positions, dtype=np.float64).reshape(-1)
    if p.size == 0:
        raise ValueError("need at least one position")
    if not np.all(np.isfinite(p)):
        raise ValueError("positions must be finite")
    if np.any(np.diff(p) < 0):
        raise ValueError("positions must be sorted ascending")
    span = p[-1] - p[0]
    return np.zeros_like(p) if span == 0 else (p - p[0]) / span


def trapezoid_weights(coords: np.ndarray) -> np.ndarray:
    """Trapezoid-rule weights ``w`` with ``Σ_i w_i f(c_i) ≈ ∫ f`` over ``[c_0, c_-1]``.

    A single point gets weight 1 (a lone receiver's trace stands for the integral).
    """
    c = np.asarray(coords, dtype=np.float64).reshape(-1)
    if c.size == 1:
        return np.ones(1)
    gaps = np.diff(c)
    w = np.zeros_like(c)
    w[:-1] += gaps / 2
    w[1:] += gaps / 2
    return w


# --------------------------------------------------------------------------------------------
# What the sine kernels span on a sampled record


def sine_fold(nt: int, n_kernels: int) -> tuple[np.ndarray, np.ndarray]:
    """Which DST-I component each sine kernel ``n = 1..N`` is on an ``nt``-sample record, and its sign.

    On ``t_i = i/P`` (``P = nt − 1``) the kernels have period ``2P`` in n and fold back at P:
    ``sin(nπt_i) = sin(rπt_i)`` with ``r = n mod 2P``, and ``sin(rπt_i) = −sin((2P − r)πt_i)``. So
    kernel n is ``sign · sin(kπt_i)`` with ``k ∈ 1..P−1``, or the zero vector (``r = 0`` or ``P``; k = 0).

    Returns: ``(component [N] int, sign [N] float)``, component 0 and sign 0 for the zero kernels.
    """
    P = int(nt) - 1
    if P < 1 or int(n_kernels) < 1:
        raise ValueError(f"need nt >= 2 and n_kernels >= 1, got nt={nt}, n_kernels={n_kernels}")
    r = np.arange(1, int(n_kernels) + 1) % (2 * P)
    component = np.where(r < P, r, 2 * P - r)
    sign = np.where(r < P, 1.0, -1.0)
    zero = (r == 0) | (r == P)
    return np.where(zero, 0, component), np.where(zero, 0.0, sign)


def sine_spectrum(nt: int, n_kernels: int) -> dict[str, np.ndarray]:
    """The singular values of the sine-kernel matrix ``K [N, nt]`` (``K[n, i] = w_i sin(nπt_i)``, the
    transform of one shot's receiver-averaged trace, ``U = K ū``), in closed form.

    The DST-I components are orthogonal with ``Σ_i sin²(kπt_i) = P/2``, so K's rows are copies (±) of
    ``P − 1`` orthogonal vectors: a component that ``m`` kernels fold onto has singular value
    ``√(m·P/2)``. For OpenFWI's ``nt = 1000`` and the paper's ``N = 2048``: rank 998, the components
    k ≤ 50 three times (``√1498.5``), the others twice (``√999``). The transform is a rotation of the time
    axis (less its two end samples, where every sine vanishes) scaled per component.

    Returns: ``components`` (the k present, ascending), ``multiplicity`` and ``singular_values`` per component.
    """
    component, _ = sine_fold(nt, n_kernels)
    ks, counts = np.unique(component[component > 0], return_counts=True)
    P = int(nt) - 1
    return {"components": ks, "multiplicity": counts, "singular_values": np.sqrt(counts * P / 2.0)}


def unique_sine_kernels(nt: int, n_kernels: int) -> np.ndarray:
    """Indices (0-based, into ``n = 1..N``) of the first kernel of every distinct component: the columns
    of one shot's U that carry all its information without repeats (``min(N, nt − 2)`` of them)."""
    component, _ = sine_fold(nt, n_kernels)
    _, first = np.unique(component, return_index=True)
    return np.sort(first[component[first] > 0])


# --------------------------------------------------------------------------------------------
# Seismic side


# Each encoder kernel is a sum of separable terms f(t)·g(x); None stands for the constant 1
# (integrated with the quadrature weights alone). 'fourier' combines its two terms by modulus.
# Kernels written with 1(x)/(xmax − xmin) are divided by the receiver span (a receiver average).
_ENCODER_TERMS: dict[str, list[tuple[str | None, str | None]]] = {
    "sin": [("sin", None)],
    "sin_sin": [("sin", "sin")],
    "sin_cos": [("sin", "cos")],
    "cos_sin": [("cos", "sin")],
    "sin_sum": [("sin", "cos"), ("cos", "sin")],  # sin(a + b) = sin a cos b + cos a sin b
    "sin_plus": [("sin", None), (None, "sin")],
    "cos": [("cos", None)],
    "fourier": [("cos2", None), ("sin2", None)],  # Re, −Im of exp(−j2πnt); modulus of the two
}
_PER_SPAN: tuple[str, ...] = ("sin", "cos", "fourier")


def _factor(kind: str, coords: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``[len(coords), N]`` matrix of ``kind(n π c)`` (``sin2``/``cos2``: ``2nπc``)."""
    arg = math.pi * np.outer(coords, n)
    if kind == "sin":
        return np.sin(arg)
    if kind == "cos":
        return np.cos(arg)
    if kind == "sin2":
        return np.sin(2 * arg)
    if kind == "cos2":
        return np.cos(2 * arg)
    raise AssertionError(kind)


class SeismicIntegralTransform(nn.Module):
    """``U_n = ∬ u(x, t) Φ_n(x, t) dt dx`` per shot, ``n = 1..N``, shots concatenated.

    Args:
        n_kernels: N, kernels per shot (paper 2048).
        nt: time samples of a record.
        receiver_x: receiver positions (ascending; grid cells for an Acquisition), or an int
            number of receivers one unit apart. ``dx`` is measured in this unit.
        kernel: one of :data:`ENCODER_KERNELS` (default ``'sin'``, the paper's).
        n_shots: expected number of shots (checked in ``forward``); None accepts any.

    Forward: ``seismic [batch, shot, time, receiver]`` → ``U [batch, shot·N]`` in units of the
    amplitude × samples (× receiver-position units for the 2-D kernels without ``1/(xmax −
    xmin)``), ordered shot-major (``U[:, s·N + n − 1]`` is shot s, kernel n).
    """

    def __init__(self, n_kernels: int, nt: int, receiver_x: Sequence[float] | int, kernel: str = "sin",
                 n_shots: int | None = None, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.kernel = _check_kernel(kernel, ENCODER_KERNELS, "encoder")
        if int(n_kernels) < 1:
            raise ValueError(f"n_kernels must be >= 1, got {n_kernels}")
        if int(nt) < 2:
            raise ValueError(f"a record needs nt >= 2 time samples, got {nt}")
        if isinstance(receiver_x, (int, np.integer)):
            if receiver_x < 1:
                raise ValueError(f"need at least one receiver, got {receiver_x}")
            receiver_x = np.arange(int(receiver_x))
        self.n_kernels, self.nt = int(n_kernels), int(nt)
        self.n_shots = None if n_shots is None else int(n_shots)
        t = np.linspace(0.0, 1.0, self.nt)                          # t_i = i/(nt − 1)
        x = normalised_coordinates(receiver_x)
        self.n_receivers = x.size
        w_t = trapezoid_weights(np.arange(self.nt, dtype=np.float64))    # dt = one sample
        positions = np.asarray(receiver_x, dtype=np.float64).reshape(-1)
        w_x = trapezoid_weights(positions)                              # dx in receiver-position units
        span = positions[-1] - positions[0]
        if kernel in _PER_SPAN and span > 0:
            w_x = w_x / span                                            # 1(x)/(xmax − xmin): Σ w_x = 1
        n = np.arange(1, self.n_kernels + 1, dtype=np.float64)
        self.terms = _ENCODER_TERMS[self.kernel]
        self.register_buffer("time_weights", torch.as_tensor(w_t, dtype=dtype))        # [nt]
        self.register_buffer("receiver_weights", torch.as_tensor(w_x, dtype=dtype))    # [receiver]
        for i, (ft, fx) in enumerate(self.terms):
            if ft is not None:   # [nt, N], quadrature weight folded in
                self.register_buffer(f"time_kernel_{i}", torch.as_tensor(w_t[:, None] * _factor(ft, t, n), dtype=dtype))
            if fx is not None:   # [receiver, N]
                self.register_buffer(f"space_kernel_{i}", torch.as_tensor(w_x[:, None] * _factor(fx, x, n), dtype=dtype))

    @classmethod
    def from_acquisition(cls, acquisition: Acquisition, n_kernels: int = 2048, kernel: str = "sin",
                         dtype: torch.dtype = torch.float32) -> "SeismicIntegralTransform":
        """Kernels for an acquisition's time axis (``nt``) and receiver columns (``receiver_x``)."""
        return cls(n_kernels, acquisition.nt, sorted(acquisition.receiver_x), kernel,
                   n_shots=acquisition.n_shots, dtype=dtype)

    @property
    def formula(self) -> str:
        return ENCODER_KERNELS[self.kernel]

    def out_features(self, n_shots: int | None = None) -> int:
        """Length of U: ``shots · N``."""
        s = n_shots if n_shots is not None else self.n_shots
        if s is None:
            raise ValueError("n_shots unknown: pass it or build the transform with n_shots")
        return int(s) * self.n_kernels

    def _term(self, u: torch.Tensor, i: int, ft: str | None, fx: str | None) -> torch.Tensor:
        if fx is None:        # sum over receivers first, then a [time, N] matrix product
            return (u @ self.receiver_weights) @ getattr(self, f"time_kernel_{i}")
        if ft is None:        # sum over time first, then a [receiver, N] matrix product
            return (self.time_weights @ u) @ getattr(self, f"space_kernel_{i}")
        # both depend on n: [B, S, R, T] @ [T, N] → [B, S, R, N], then weight by g_n(x) and sum over R
        q = u.transpose(-1, -2) @ getattr(self, f"time_kernel_{i}")
        return (q * getattr(self, f"space_kernel_{i}")).sum(-2)

    def forward(self, seismic: torch.Tensor) -> torch.Tensor:
        if seismic.dim() != 4 or seismic.shape[2] != self.nt or seismic.shape[3] != self.n_receivers or (
                self.n_shots is not None and seismic.shape[1] != self.n_shots):
            shots = self.n_shots if self.n_shots is not None else "shot"
            raise ValueError(
                f"seismic integral transform expects [batch, {shots}, {self.nt}, {self.n_receivers}] "
                f"(batch, shot, time, receiver), got {tuple(seismic.shape)}"
            )
        u = seismic.to(self.time_weights.dtype)
        parts = [self._term(u, i, ft, fx) for i, (ft, fx) in enumerate(self.terms)]   # each [B, S, N]
        if self.kernel == "fourier":
            out = torch.hypot(parts[0], parts[1])
        else:
            out = parts[0]
            for p in parts[1:]:
                out = out + p
        return out.flatten(1)                                                      # [B, S·N]

    def extra_repr(self) -> str:
        return f"kernel={self.kernel!r}, n_kernels={self.n_kernels}, nt={self.nt}, n_receivers={self.n_receivers}"


# --------------------------------------------------------------------------------------------
# Velocity side


def centre_grid(shape: tuple[int, int], n_kernels: int) -> tuple[int, int]:
    """Grid ``(gz, gx)`` with ``gz·gx = n_kernels`` whose aspect ``gz/gx`` is closest to ``nz/nx``.

    Ties (e.g. 512 = 16·32 = 32·16 on a square map) go to more centres along depth, where layered
    velocity maps vary most. A prime ``n_kernels`` gives a 1-row or 1-column grid.
    """
    nz, nx = shape
    best = None
    for gz in range(1, n_kernels + 1):
        if n_kernels % gz:
            continue
        gx = n_kernels // gz
        score = (abs(math.log((gz / gx) / (nz / nx))), -gz)
        if best is None or score < best[0]:
            best = (score, (gz, gx))
    return best[1]


class VelocityIntegralTransform(nn.Module):
    """``Y_m = ∬ y(x, z) Ψ_m(x, z) dx dz`` on the map's cells, ``m = 1..M``.

    Args:
        shape: ``(nz, nx)`` of the map [cells].
        n_kernels: M (paper 512).
        kernel: one of :data:`DECODER_KERNELS` (default ``'gaussian'``, the paper's).
        grid: centre grid ``(gz, gx)`` with ``gz·gx = M`` for the Gaussian/sinc kernels
            (default :func:`centre_grid`).

    Centres (Gaussian, sinc): the map is cut into ``gz × gx`` equal tiles and ``μ`` sits at each
    tile's centre, ``μ_z = (i + ½)·nz/gz − ½`` in cell-index coordinates; the spacing of
    adjacent centres is ``(nz/gz, nx/gx)`` and ``σ`` equals it per axis (``'gaussian_sigma'``:
    a third of it). Kernels are ordered row-major over the centre grid (depth first).

    Forward: ``y [batch, 1, nz, nx]`` → ``Y [batch, M]`` in units of ``y`` × cells.
    """

    def __init__(self, shape: tuple[int, int], n_kernels: int = 512, kernel: str = "gaussian",
                 grid: tuple[int, int] | None = None, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.kernel = _check_kernel(kernel, DECODER_KERNELS, "decoder")
        nz, nx = (int(s) for s in shape)
        if nz < 1 or nx < 1:
            raise ValueError(f"map shape must be positive, got {shape}")
        if int(n_kernels) < 1:
            raise ValueError(f"n_kernels must be >= 1, got {n_kernels}")
        self.shape, self.n_kernels = (nz, nx), int(n_kernels)
        z, x = np.arange(nz, dtype=np.float64), np.arange(nx, dtype=np.float64)
        self.grid: tuple[int, int] | None = None
        self.spacing: tuple[float, float] | None = None
        self.sigma: tuple[float, float] | None = None
        centres = None
        if self.kernel in ("gaussian", "gaussian_sigma", "sinc"):
            gz, gx = grid if grid is not None else centre_grid(self.shape, self.n_kernels)
            if gz * gx != self.n_kernels or gz < 1 or gx < 1:
                raise ValueError(f"centre grid {grid} does not hold {self.n_kernels} kernels")
            self.grid = (int(gz), int(gx))
            self.spacing = (nz / gz, nx / gx)
            mz = (np.arange(gz) + 0.5) * self.spacing[0] - 0.5
            mx = (np.arange(gx) + 0.5) * self.spacing[1] - 0.5
            centres = np.stack(np.meshgrid(mz, mx, indexing="ij"), -1).reshape(-1, 2)   # [M, (z, x)]
            dz = (z[None, :, None] - centres[:, 0, None, None])                        # [M, nz, 1]
            dx = (x[None, None, :] - centres[:, 1, None, None])                        # [M, 1, nx]
            if self.kernel == "sinc":
                rho = np.sqrt((dz / self.spacing[0]) ** 2 + (dx / self.spacing[1]) ** 2)
                k = np.sinc(rho)                                                         # sin(πρ)/(πρ)
            else:
                frac = GAUSSIAN_SIGMA_FRACTION if self.kernel == "gaussian_sigma" else 1.0
                self.sigma = (self.spacing[0] * frac, self.spacing[1] * frac)
                k = np.exp(-0.5 * ((dz / self.sigma[0]) ** 2 + (dx / self.sigma[1]) ** 2))
        else:
            zn, xn = normalised_coordinates(z), normalised_coordinates(x)
            m = np.arange(1, self.n_kernels + 1, dtype=np.float64)
            sz, cz = _factor("sin", zn, m).T[:, :, None], _factor("cos", zn, m).T[:, :, None]   # [M, nz, 1]
            sx, cx = _factor("sin", xn, m).T[:, None, :], _factor("cos", xn, m).T[:, None, :]   # [M, 1, nx]
            k = {"sin_sin": sx * sz, "cos_sin": cx * sz, "sin_cos": sx * cz,
                 "sin_sum": sx * cz + cx * sz, "sin_plus": sx + sz}[self.kernel]
        k = np.broadcast_to(k, (self.n_kernels, nz, nx)).reshape(self.n_kernels, nz * nx)
        self.register_buffer("kernel_matrix", torch.tensor(np.array(k), dtype=dtype))  # [M, nz·nx]
        self.register_buffer("centres", None if centres is None else torch.as_tensor(centres, dtype=dtype))

    @classmethod
    def from_acquisition(cls, acquisition: Acquisition, n_kernels: int = 512, kernel: str = "gaussian",
                         dtype: torch.dtype = torch.float32) -> "VelocityIntegralTransform":
        return cls((acquisition.nz, acquisition.nx), n_kernels, kernel, dtype=dtype)

    @property
    def formula(self) -> str:
        return DECODER_KERNELS[self.kernel]

    def kernel_integrals(self) -> torch.Tensor:
        """``∬ Ψ_m`` over the map [cells], ``[M]``: the transform of ``y ≡ 1``."""
        return self.kernel_matrix.sum(1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        nz, nx = self.shape
        if y.dim() != 4 or tuple(y.shape[1:]) != (1, nz, nx):
            raise ValueError(f"velocity integral transform expects [batch, 1, {nz}, {nx}], got {tuple(y.shape)}")
        return y.flatten(1).to(self.kernel_matrix.dtype) @ self.kernel_matrix.T

    def extra_repr(self) -> str:
        return f"kernel={self.kernel!r}, n_kernels={self.n_kernels}, shape={self.shape}, grid={self.grid}"


__all__ = [
    "DECODER_KERNELS",
    "ENCODER_KERNELS",
    "GAUSSIAN_SIGMA_FRACTION",
    "SeismicIntegralTransform",
    "VelocityIntegralTransform",
    "centre_grid",
    "normalised_coordinates",
    "trapezoid_weights",
]
