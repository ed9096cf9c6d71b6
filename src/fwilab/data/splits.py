"""Train / validation / test splits of one family, as the learned-inversion chapters use them.

One cached dataset of ``n_train + n_val + n_test`` samples is generated per (family, seed,
acquisition) and split by index: the first ``n_train`` samples train, the next ``n_val`` select the
best epoch, and the last ``n_test`` are only ever evaluated. Sample i does not depend on how many
are generated, so the same cache serves every chapter (and a larger request extends it).

Normalisation is OpenFWI's: ``sign(x)·log1p(|x|)`` then min-max with the family's published
``data_min / data_max`` (:data:`fwilab.data.normalize.DATA_RANGE`) for seismic data, and
1500..4500 m/s → [-1, 1] for velocity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ..physics.acquisition import OPENFWI, Acquisition
from .generate import cached_dataset, load_arrays
from .normalize import normalize_seismic, normalize_velocity


@dataclass
class FamilySplits:
    """Normalised tensors of one family, and the raw test arrays for physics-based comparisons.

    Attributes:
        family: family name.
        train, val, test: datasets of (seismic [shot, time, receiver], velocity [1, nz, nx]) pairs in [-1, 1].
        test_seismic_raw: [n_test, shot, time, receiver] raw amplitudes (for classic FWI).
        test_velocity_ms: [n_test, 1, nz, nx] in m/s.
    """

    family: str
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    test_seismic_raw: np.ndarray
    test_velocity_ms: np.ndarray


def _normalised(family: str, seismic: np.ndarray, velocity: np.ndarray) -> TensorDataset:
    x = torch.as_tensor(np.asarray(normalize_seismic(seismic, family=family), dtype=np.float32))
    y = torch.as_tensor(np.asarray(normalize_velocity(velocity), dtype=np.float32))
    return TensorDataset(x, y)


def load_family_splits(family: str, n_train: int, n_val: int, n_test: int, *, seed: int = 0,
                       acquisition: Acquisition = OPENFWI, device: str = "auto",
                       progress: bool = True) -> FamilySplits:
    """Generate (or load from the cache) one family's data and split it by index."""
    for name, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if n < 1:
            raise ValueError(f"{name} must be >= 1, got {n}")
    total = n_train + n_val + n_test
    path = cached_dataset(family, total, seed=seed, acquisition=acquisition, device=device, progress=progress)
    seismic, velocity = load_arrays(path, total)
    a, b = n_train, n_train + n_val
    return FamilySplits(
        family=family,
        train=_normalised(family, seismic[:a], velocity[:a]),
        val=_normalised(family, seismic[a:b], velocity[a:b]),
        test=_normalised(family, seismic[b:total], velocity[b:total]),
        test_seismic_raw=np.ascontiguousarray(seismic[b:total]),
        test_velocity_ms=np.ascontiguousarray(velocity[b:total]),
    )
