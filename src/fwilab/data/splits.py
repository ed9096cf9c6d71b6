"""Train / validation / test splits of one family, as the learned-inversion chapters use them.

Every chapter reads its data through the dataset store (:mod:`fwilab.data.store`), so data that two
chapters need is simulated once:

* ``maps="real"`` (FlatVel-A and CurveVel-A, whose OpenFWI train and test maps ship with the
  package): training and validation samples are the first ``n_train + n_val`` real train maps,
  test samples the first ``n_test`` real test maps, all simulated here on OpenFWI's convention;
* ``maps="generated"`` (and every family without real train maps): one generated sequence of
  ``n_train + n_val + n_test`` samples per (family, seed, acquisition), split by index: the first
  ``n_train`` samples train, the next ``n_val`` select the best epoch, and the last ``n_test`` are
  only ever evaluated. Sample i does not depend on how many are generated, so a larger request
  extends the store.

``decimate = q > 1`` gives the networks anti-aliased records decimated ×q in time
(:func:`fwilab.data.transforms.decimate_time`: nt 1000 → 250 at q = 4).

With ``openfwi_dir`` (a user's copy of the real OpenFWI files) the splits come from those files
instead: training and validation samples from the start of OpenFWI's train split (files 1–48 of a
Vel family, …), test samples from the start of its test split, so the test samples are the ones
OpenFWI itself tests on (:func:`openfwi_splits`).

Normalisation is OpenFWI's: ``sign(x)·log1p(|x|)`` then min-max with the family's published
``data_min / data_max`` (:data:`fwilab.data.normalize.DATA_RANGE`) for seismic data, and
1500..4500 m/s → [-1, 1] for velocity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ..physics.acquisition import OPENFWI, Acquisition
from . import store
from .normalize import DATA_RANGE, dataset_name, normalize_seismic, normalize_velocity
from .openfwi import OpenFWIDataset
from .catalog import family as family_facts
from .transforms import decimate_time

#: values of the chapters' ``maps`` field
MAP_SOURCES: tuple[str, ...] = ("generated", "real")


def has_real_pairs(family: str) -> bool:
    """Whether real train *and* test maps of ``family`` ship with the package (so ``maps="real"`` applies)."""
    return family_facts(family).has_real_pairs


def map_source(family: str, maps: str) -> str:
    """The source a family's splits come from under a chapter's ``maps`` setting: "real" only where
    real train and test maps ship (FlatVel-A, CurveVel-A); every other family is generated."""
    if maps not in MAP_SOURCES:
        raise ValueError(f"unknown maps {maps!r}: choose one of {', '.join(MAP_SOURCES)}")
    return "real" if maps == "real" and has_real_pairs(family) else "generated"


@dataclass
class FamilySplits:
    """Normalised tensors of one family, and the raw test arrays for physics-based comparisons.

    Attributes:
        family: family name.
        train, val, test: datasets of (seismic [shot, time, receiver], velocity [1, nz, nx]) pairs in [-1, 1];
            the time axis is decimated ×``decimate``.
        test_seismic_raw: [n_test, shot, nt, receiver] raw amplitudes at the survey's full rate (for classic
            FWI), or None where only decimated records are held (:meth:`observed` simulates them).
        test_velocity_ms: [n_test, 1, nz, nx] in m/s.
        source: "real" (real OpenFWI maps simulated here), "generated", or "openfwi-files".
        decimate: time decimation factor of the networks' records.
    """

    family: str
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    test_seismic_raw: np.ndarray | None
    test_velocity_ms: np.ndarray
    source: str = "generated"
    decimate: int = 1

    def observed(self, k: int, acquisition: Acquisition) -> np.ndarray:
        """Full-rate records [k, shot, nt, receiver] of the first ``k`` test samples, raw amplitudes: the held
        ones, or the test maps simulated on ``acquisition`` (the convention the store's data were made with)."""
        if self.test_seismic_raw is not None and self.test_seismic_raw.shape[2] == acquisition.nt:
            return self.test_seismic_raw[:k]
        from ..physics.solver import forward_model

        with torch.no_grad():
            return forward_model(torch.as_tensor(self.test_velocity_ms[:k]), acquisition).numpy()


def _normalised(family: str, seismic: np.ndarray, velocity: np.ndarray) -> TensorDataset:
    x = torch.as_tensor(np.asarray(normalize_seismic(seismic, family=family), dtype=np.float32))
    y = torch.as_tensor(np.asarray(normalize_velocity(velocity), dtype=np.float32))
    return TensorDataset(x, y)


def load_family_splits(family: str, n_train: int, n_val: int, n_test: int, *, seed: int = 0,
                       acquisition: Acquisition = OPENFWI, device: str = "auto",
                       progress: bool = True, openfwi_dir: str | os.PathLike | None = None,
                       maps: str = "generated", decimate: int = 1) -> FamilySplits:
    """One family's splits from the dataset store (simulating whatever it lacks): real OpenFWI maps where
    ``maps="real"`` and they ship (:func:`map_source`), else generated ones split by index; with
    ``openfwi_dir``, the real OpenFWI files instead (:func:`openfwi_splits`; ``seed``, ``device``,
    ``progress`` and ``maps`` then play no part). ``decimate``: the networks' time decimation."""
    for name, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if n < 1:
            raise ValueError(f"{name} must be >= 1, got {n}")
    if openfwi_dir is not None:
        return openfwi_splits(family, n_train, n_val, n_test, openfwi_dir, acquisition=acquisition,
                              decimate=decimate)
    a, b = n_train, n_train + n_val
    source = map_source(family, maps)
    if source == "real":
        spec = store.StoreSpec(family, "real", "train", acquisition=acquisition, decimate=decimate)
        seismic, velocity = store.load(spec, b, device=device, progress=progress)
        test_spec = store.StoreSpec(family, "real", "test", acquisition=acquisition, decimate=decimate)
        test_seismic, test_velocity = store.load(test_spec, n_test, device=device, progress=progress)
    else:
        spec = store.StoreSpec(family, "generated", "all", seed=seed, acquisition=acquisition, decimate=decimate)
        seismic, velocity = store.load(spec, b + n_test, device=device, progress=progress)
        test_seismic, test_velocity = seismic[b:], velocity[b:]
    return FamilySplits(
        family=family,
        train=_normalised(family, seismic[:a], velocity[:a]),
        val=_normalised(family, seismic[a:b], velocity[a:b]),
        test=_normalised(family, test_seismic, test_velocity),
        test_seismic_raw=np.ascontiguousarray(test_seismic) if decimate == 1 else None,
        test_velocity_ms=np.ascontiguousarray(test_velocity),
        source=source, decimate=int(decimate),
    )


def _folders(openfwi_dir: str | os.PathLike) -> tuple[Path, list[Path]]:
    """``openfwi_dir`` and its sub-folders (hidden ones aside), failing if it is not a folder."""
    root = Path(openfwi_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"openfwi_dir {str(root)!r} is not a folder")
    return root, sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _named(folders, family: str) -> Path | None:
    """The first of ``folders`` named for ``family``, as OpenFWI names it (``FlatVel_A``) or as we do."""
    return next((p for p in folders if dataset_name(p.name) == family), None)


def openfwi_family_folder(openfwi_dir: str | os.PathLike, family: str) -> Path:
    """The sub-folder of ``openfwi_dir`` holding ``family``'s files, named as OpenFWI names it
    (``FlatVel_A``) or as we do (``flatvel-a``); ``openfwi_dir`` itself if it is named so."""
    root, subfolders = _folders(openfwi_dir)
    folder = _named((root, *subfolders), family)
    if folder is None:
        found = ", ".join(p.name for p in subfolders) or "no sub-folders"
        raise FileNotFoundError(f"no folder for {family!r} in openfwi_dir {str(root)!r}: expected a sub-folder "
                                f"named as OpenFWI names it (e.g. 'FlatVel_A') or as fwilab does ('flatvel-a'); "
                                f"found {found}")
    return folder


def _split_datasets(folder: Path, family: str, acquisition: Acquisition
                    ) -> tuple[OpenFWIDataset, OpenFWIDataset, bool]:
    """OpenFWI's train and test splits of the files in ``folder`` (raw, memory-mapped: headers only), and
    whether their samples are on ``acquisition``'s survey."""
    train = OpenFWIDataset(folder, family=family, split="train", normalize=False)
    test = OpenFWIDataset(folder, family=family, split="test", normalize=False)
    on_survey = ((tuple(train.seismic_shape), tuple(train.velocity_shape))
                 == (tuple(acquisition.seismic_shape), tuple(acquisition.velocity_shape)))
    return train, test, on_survey


def _read(ds: OpenFWIDataset, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``start … start + n − 1`` of ``ds`` (raw amplitudes and m/s), read file by file."""
    seismic = np.empty((n, *ds.seismic_shape), dtype=np.float32)
    velocity = np.empty((n, *ds.velocity_shape), dtype=np.float32)
    i = start
    while i < start + n:
        pair, row = ds.locate(i)
        s, v = np.load(pair.seismic, mmap_mode="r"), np.load(pair.velocity, mmap_mode="r")
        take = min(len(s) - row, start + n - i)
        seismic[i - start:i - start + take] = s[row:row + take]
        velocity[i - start:i - start + take] = v[row:row + take]
        i += take
    return seismic, velocity


def openfwi_splits(family: str, n_train: int, n_val: int, n_test: int, openfwi_dir: str | os.PathLike, *,
                   acquisition: Acquisition = OPENFWI, decimate: int = 1) -> FamilySplits:
    """One family's splits from the real OpenFWI files under ``openfwi_dir``.

    The first ``n_train`` samples of OpenFWI's train split train and the next ``n_val`` select the best
    epoch; the first ``n_test`` samples of its test split are scored. The files must be on
    ``acquisition``'s survey (OpenFWI's files are on :data:`~fwilab.physics.acquisition.OPENFWI`:
    a profile with a shorter record cannot use them).
    """
    train, test = openfwi_datasets(family, n_train, n_val, n_test, openfwi_dir, acquisition=acquisition)
    seismic, velocity = _read(train, 0, n_train + n_val)
    test_seismic, test_velocity = _read(test, 0, n_test)
    net_seismic, net_test = decimate_time(seismic, decimate, axis=2), decimate_time(test_seismic, decimate, axis=2)
    return FamilySplits(
        family=family,
        train=_normalised(family, net_seismic[:n_train], velocity[:n_train]),
        val=_normalised(family, net_seismic[n_train:], velocity[n_train:]),
        test=_normalised(family, net_test, test_velocity),
        test_seismic_raw=test_seismic,
        test_velocity_ms=test_velocity,
        source="openfwi-files", decimate=int(decimate),
    )


def check_openfwi_files(config, families) -> None:
    """With ``config.openfwi_dir``, fail before any training if a family's folder is missing, too short or
    on another survey (a run would otherwise train every earlier family first)."""
    if config.openfwi_dir is None:
        return
    for family in dict.fromkeys(families):
        openfwi_datasets(family, config.n_train, config.n_val, config.n_test, config.openfwi_dir,
                         acquisition=config.acquisition)


def openfwi_datasets(family: str, n_train: int, n_val: int, n_test: int, openfwi_dir: str | os.PathLike, *,
                     acquisition: Acquisition = OPENFWI) -> tuple[OpenFWIDataset, OpenFWIDataset]:
    """OpenFWI's train and test splits of ``family`` under ``openfwi_dir`` (raw, memory-mapped), checked
    against the sizes and the survey a run needs; reads the files' headers only."""
    folder = openfwi_family_folder(openfwi_dir, family)
    train, test, on_survey = _split_datasets(folder, family, acquisition)
    if not on_survey:
        raise ValueError(f"the files in {folder} hold seismic {tuple(train.seismic_shape)} and velocity "
                         f"{tuple(train.velocity_shape)} per sample, but this run's survey needs "
                         f"{tuple(acquisition.seismic_shape)} and {tuple(acquisition.velocity_shape)} "
                         f"(nt={acquisition.nt}): use a profile on OpenFWI's survey (cpu or full)")
    if n_train + n_val > len(train):
        raise ValueError(f"the train split of {folder} holds {len(train)} samples, fewer than n_train + n_val "
                         f"= {n_train} + {n_val}")
    if n_test > len(test):
        raise ValueError(f"the test split of {folder} holds {len(test)} samples, fewer than n_test = {n_test}")
    return train, test


def describe_openfwi_dir(openfwi_dir: str | os.PathLike, acquisition: Acquisition = OPENFWI) -> list[dict]:
    """One row per OpenFWI dataset found under ``openfwi_dir`` (sub-folders named like ``FlatVel_A``
    or ``flatvel-a``): its folder, the samples of its train and test splits, the per-sample shapes and
    whether they are ``acquisition``'s; ``error`` names what stops a chapter from reading it."""
    root, subfolders = _folders(openfwi_dir)
    rows = []
    for family in DATA_RANGE:
        folder = _named((root, *subfolders), family)
        if folder is None:
            continue
        row: dict = {"family": family, "folder": str(folder)}
        try:
            train, test, on_survey = _split_datasets(folder, family, acquisition)
            row.update(train=len(train), test=len(test), seismic=tuple(train.seismic_shape),
                       velocity=tuple(train.velocity_shape), survey=on_survey)
        except (ValueError, FileNotFoundError) as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows
