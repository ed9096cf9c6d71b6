"""Acquisition geometry, source wavelet and time axis of a 2-D surface seismic survey.

Everything the forward solver needs besides the velocity model lives in one frozen
:class:`Acquisition`. :data:`OPENFWI` is the exact OpenFWI / UPFWI generation convention
(OpenFWI ``dataset_config.json``); other geometries are other instances, e.g.
``OPENFWI.replace(nbc=20, nt=300)`` for a quick test.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def ricker(f: float, dt: float, nt: int | None = None) -> np.ndarray:
    """Ricker wavelet on the OpenFWI/UPFWI convention.

    ``nw = 2·floor(2.2/(f·dt)/2) + 1`` samples, centred at ``nc = floor(nw/2)``,
    ``w[k] = (1 − 2β)·exp(−β)`` with ``β = ((nc − k)·f·dt·π)²``, amplitude 1 at the centre,
    zero after the last sample of the window.

    Args:
        f: peak frequency [Hz].
        dt: time step [s].
        nt: length of the returned trace [samples]; ``None`` returns the ``nw``-sample window.

    Returns:
        float64 array ``[nt]`` (or ``[nw]``), dimensionless.
    """
    if f <= 0 or dt <= 0:
        raise ValueError(f"ricker needs f > 0 and dt > 0, got f={f}, dt={dt}")
    nw = 2 * math.floor(2.2 / (f * dt) / 2) + 1
    nc = nw // 2
    k = np.arange(nw, dtype=np.float64)
    beta = ((nc - k) * f * dt * math.pi) ** 2
    w = (1.0 - 2.0 * beta) * np.exp(-beta)
    if nt is None:
        return w
    out = np.zeros(nt, dtype=np.float64)
    n = min(nt, nw)
    out[:n] = w[:n]
    return out


def _whole(name: str, value: Any) -> int:
    """``value`` as a Python int; a fractional or non-numeric value is an error naming ``name``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise ValueError(f"{name} must be a whole number of cells/samples, got {value!r}")


@dataclass(frozen=True)
class Acquisition:
    """A 2-D acquisition: grid, sources, receivers, wavelet, time axis and absorbing pad.

    Attributes:
        nz, nx: model size [cells] (depth, width).
        dx: grid spacing [m], the same in both directions.
        nt: number of time steps [samples]; dt: time step [s].
        f: Ricker peak frequency [Hz].
        source_x: source columns [cells]; source_z: source row [cells].
        receiver_x: receiver columns [cells]; receiver_z: receiver row [cells].
        nbc: absorbing cells padded on each of the four sides [cells].
    """

    nz: int = 70
    nx: int = 70
    dx: float = 10.0
    nt: int = 1000
    dt: float = 1e-3
    f: float = 15.0
    source_x: tuple[int, ...] = (0, 17, 34, 52, 69)
    source_z: int = 1
    receiver_x: tuple[int, ...] = tuple(range(70))
    receiver_z: int = 1
    nbc: int = 120

    def __post_init__(self) -> None:
        # plain Python numbers (numpy scalars would not serialise into cache keys; 10 and 10.0 must key alike)
        for name in ("nz", "nx", "nt", "nbc", "source_z", "receiver_z"):
            object.__setattr__(self, name, _whole(f"Acquisition.{name}", getattr(self, name)))
        for name in ("source_x", "receiver_x"):
            object.__setattr__(self, name, tuple(_whole(f"Acquisition.{name}", x) for x in getattr(self, name)))
        for name in ("dx", "dt", "f"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"Acquisition.{name} must be a number, got {v!r}")
            object.__setattr__(self, name, float(v))
        for name in ("nz", "nx", "nt"):
            if getattr(self, name) < 1:
                raise ValueError(f"Acquisition.{name} must be >= 1, got {getattr(self, name)}")
        if self.nbc < 0:
            raise ValueError(f"Acquisition.nbc must be >= 0, got {self.nbc}")
        for name in ("dx", "dt", "f"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"Acquisition.{name} must be a positive finite number, got {v}")
        if len(self.source_x) == 0 or len(self.receiver_x) == 0:
            raise ValueError("Acquisition needs at least one source and one receiver")
        for kind, xs, z in (("source", self.source_x, self.source_z),
                            ("receiver", self.receiver_x, self.receiver_z)):
            bad = [x for x in xs if not 0 <= x < self.nx]
            if bad:
                raise ValueError(f"{kind} columns {bad} are off the grid (0..{self.nx - 1}); the default "
                                 f"columns are OpenFWI's for nx = 70: give source_x and receiver_x for other widths")
            if not 0 <= z < self.nz:
                raise ValueError(f"{kind} row {z} is off the grid (0..{self.nz - 1})")

    @property
    def n_shots(self) -> int:
        return len(self.source_x)

    @property
    def n_receivers(self) -> int:
        return len(self.receiver_x)

    @property
    def padded_shape(self) -> tuple[int, int]:
        return self.nz + 2 * self.nbc, self.nx + 2 * self.nbc

    @property
    def seismic_shape(self) -> tuple[int, int, int]:
        """Shape of one sample's seismic data: (shot, time, receiver)."""
        return self.n_shots, self.nt, self.n_receivers

    @property
    def velocity_shape(self) -> tuple[int, int, int]:
        """Shape of one velocity model: (channel=1, depth, width)."""
        return 1, self.nz, self.nx

    def wavelet(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
        """The source wavelet sampled on the time axis, ``[nt]``."""
        return torch.as_tensor(ricker(self.f, self.dt, self.nt), dtype=dtype, device=device)

    def max_stable_dt(self, vmax: float) -> float:
        """Largest stable time step [s] for the 2nd-order-time / 4th-order-space scheme.

        Von Neumann analysis of the 4th-order Laplacian in 2-D gives the symbol's largest magnitude
        ``2·(16/3)/dx² = 32/(3 dx²)``; leapfrog is stable when ``v²dt²·32/(3dx²) ≤ 4``, i.e.
        ``dt ≤ dx·sqrt(3/8)/vmax``.
        """
        return self.dx * math.sqrt(3.0 / 8.0) / vmax

    def check_stable(self, vmax: float) -> None:
        """Raise ``ValueError`` naming the largest stable dt if ``dt`` violates the CFL condition."""
        limit = self.max_stable_dt(vmax)
        if self.dt > limit:
            raise ValueError(
                f"unstable time step: dt = {self.dt:.3g} s exceeds the CFL limit "
                f"{limit:.4g} s for vmax = {vmax:.1f} m/s and dx = {self.dx} m "
                f"(largest stable dt = dx·sqrt(3/8)/vmax = {limit:.4g} s)"
            )

    def replace(self, **changes) -> "Acquisition":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _openfwi_sources(n_shots: int = 5, nx: int = 70) -> tuple[int, ...]:
    # OpenFWI / UPFWI: sources at x = linspace(0, nx-1, n_shots) grid columns, rounded → 0, 17, 34, 52, 69
    return tuple(int(round(x)) for x in np.linspace(0, nx - 1, n_shots))


#: The OpenFWI acquisition (OpenFWI dataset_config.json: nbc = 120, dx = 10 m, nt = 1000,
#: dt = 1 ms, f = 15 Hz, 70×70 grid, 5 sources and 70 receivers at 10 m depth = grid row 1).
OPENFWI = Acquisition(source_x=_openfwi_sources())
