"""OpenFWI's normalisation of seismic data and velocity maps, exactly as its ``train.py`` does it.

Seismic data ``x`` (raw pressure amplitudes) are log-transformed, ``sign(x)·log1p(|x|)``, then
mapped min-max to [-1, 1] using the log transform of the dataset's raw amplitude range
``(data_min, data_max)``::

    lo, hi = log_transform(data_min), log_transform(data_max)
    y = 2·(log_transform(x) − lo)/(hi − lo) − 1

so ``data_min ↦ −1`` and ``data_max ↦ 1``. Velocity maps are mapped min-max from
1500..4500 m/s to [-1, 1]. Every function takes numpy arrays and torch tensors alike and returns
the same kind (torch keeps dtype and device).
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)

#: Raw seismic amplitude range (data_min, data_max) of each OpenFWI dataset, over the whole dataset.
#: Source: OpenFWI ``dataset_config.json`` (lanl/OpenFWI), reproduced in FACTS.md §1. These are
#: amplitudes *before* the log transform; ``train.py`` uses ``log_transform(data_min/max)`` as the
#: min-max limits, as :func:`normalize_seismic` does. They describe the real OpenFWI data.
DATA_RANGE: dict[str, tuple[float, float]] = {
    "flatvel-a": (-26.95, 52.77),
    "flatvel-b": (-27.17, 56.05),
    "curvevel-a": (-27.11, 55.10),
    "curvevel-b": (-29.04, 57.03),
    "flatfault-a": (-26.10, 50.86),
    "flatfault-b": (-24.86, 50.28),
    "curvefault-a": (-26.48, 52.32),
    "curvefault-b": (-24.93, 50.98),
    "style-a": (-24.96, 48.93),
    "style-b": (-23.76, 46.01),
}

#: Velocity range [m/s] of all ten OpenFWI datasets (dataset_config.json: label_min 1500, label_max 4500).
VELOCITY_MIN: float = 1500.0
VELOCITY_MAX: float = 4500.0


def dataset_name(name: str) -> str:
    """Canonical lowercase OpenFWI dataset name: 'FlatVel_A' / 'flatvel-a' / 'FlatVel-A' → 'flatvel-a'."""
    if not isinstance(name, str):
        raise ValueError(f"dataset name must be a string, got {name!r}")
    return name.strip().lower().replace("_", "-")


def data_range(family: str) -> tuple[float, float]:
    """The raw amplitude range ``(data_min, data_max)`` of an OpenFWI dataset (:data:`DATA_RANGE`)."""
    key = dataset_name(family)
    if key not in DATA_RANGE:
        raise ValueError(
            f"unknown OpenFWI dataset {family!r} for the seismic data range; known: {', '.join(DATA_RANGE)} "
            f"(or pass data_min/data_max explicitly)"
        )
    return DATA_RANGE[key]


def log_transform(x: Array) -> Array:
    """``sign(x)·log1p(|x|)``: odd, monotone, compresses large amplitudes (OpenFWI ``transforms.log_transform``, k=1)."""
    if isinstance(x, torch.Tensor):
        return torch.sign(x) * torch.log1p(torch.abs(x))
    x = np.asarray(x)
    return np.sign(x) * np.log1p(np.abs(x))


def exp_transform(y: Array) -> Array:
    """Inverse of :func:`log_transform`: ``sign(y)·expm1(|y|)``."""
    if isinstance(y, torch.Tensor):
        return torch.sign(y) * torch.expm1(torch.abs(y))
    y = np.asarray(y)
    return np.sign(y) * np.expm1(np.abs(y))


def _seismic_limits(family: str | None, data_min: float | None, data_max: float | None) -> tuple[float, float]:
    """Log-domain min-max limits from a family name or an explicit raw range."""
    if (data_min is None) != (data_max is None):
        raise ValueError("give both data_min and data_max, or neither (then family= picks them)")
    if data_min is None:
        if family is None:
            raise ValueError("normalize_seismic needs family= or data_min=/data_max= (raw amplitudes)")
        data_min, data_max = data_range(family)
    data_min, data_max = float(data_min), float(data_max)
    if not (math.isfinite(data_min) and math.isfinite(data_max)) or data_min >= data_max:
        raise ValueError(f"seismic data range must be finite with data_min < data_max, got ({data_min}, {data_max})")
    lo = float(np.sign(data_min) * np.log1p(abs(data_min)))
    hi = float(np.sign(data_max) * np.log1p(abs(data_max)))
    return lo, hi


def _minmax(x: Array, lo: float, hi: float) -> Array:
    # (x − lo)/(hi − lo) first, so lo ↦ −1, hi ↦ 1 and the midpoint ↦ 0 exactly
    return (x - lo) / (hi - lo) * 2.0 - 1.0


def _minmax_inverse(y: Array, lo: float, hi: float) -> Array:
    return (y + 1.0) / 2.0 * (hi - lo) + lo


def normalize_seismic(x: Array, family: str | None = None, data_min: float | None = None,
                      data_max: float | None = None) -> Array:
    """Seismic data → [-1, 1] as OpenFWI trains on it.

    Args:
        x: seismic data of any shape, e.g. [batch, shot, time, receiver] (raw amplitudes).
        family: OpenFWI dataset whose range to use (:data:`DATA_RANGE`), unless
        data_min, data_max: the raw amplitude range are given (before the log transform).

    Returns:
        ``2·(log_transform(x) − log_transform(data_min))/(log_transform(data_max) − log_transform(data_min)) − 1``,
        same shape, kind and (torch) dtype/device as ``x``. Values outside the range fall outside [-1, 1].
    """
    lo, hi = _seismic_limits(family, data_min, data_max)
    return _minmax(log_transform(x), lo, hi)


def denormalize_seismic(y: Array, family: str | None = None, data_min: float | None = None,
                        data_max: float | None = None) -> Array:
    """Inverse of :func:`normalize_seismic`: [-1, 1] → raw amplitudes."""
    lo, hi = _seismic_limits(family, data_min, data_max)
    return exp_transform(_minmax_inverse(y, lo, hi))


def _velocity_limits(vmin: float, vmax: float) -> tuple[float, float]:
    vmin, vmax = float(vmin), float(vmax)
    if not (math.isfinite(vmin) and math.isfinite(vmax)) or vmin >= vmax:
        raise ValueError(f"velocity range must be finite with vmin < vmax, got ({vmin}, {vmax})")
    return vmin, vmax


def normalize_velocity(v: Array, vmin: float = VELOCITY_MIN, vmax: float = VELOCITY_MAX) -> Array:
    """Velocity [m/s] → [-1, 1] by min-max: vmin ↦ -1, vmax ↦ 1 (OpenFWI ``MinMaxNormalize(label_min, label_max)``).

    Args:
        v: velocity of any shape, e.g. [batch, 1, depth, width] in m/s.
    """
    lo, hi = _velocity_limits(vmin, vmax)
    if not isinstance(v, torch.Tensor):
        v = np.asarray(v)
    return _minmax(v, lo, hi)


def denormalize_velocity(y: Array, vmin: float = VELOCITY_MIN, vmax: float = VELOCITY_MAX) -> Array:
    """Inverse of :func:`normalize_velocity`: [-1, 1] → m/s."""
    lo, hi = _velocity_limits(vmin, vmax)
    if not isinstance(y, torch.Tensor):
        y = np.asarray(y)
    return _minmax_inverse(y, lo, hi)
