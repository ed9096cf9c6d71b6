"""Generating OpenFWI-style datasets (velocity family + forward modelling) with resumable on-disk caching.

:func:`generate_dataset` draws velocity maps from a family (:func:`fwilab.data.families.generate_velocity`),
simulates their seismic data (:func:`fwilab.physics.solver.forward_model`, no gradient) and writes
them in the OpenFWI Vel layout (``data/dataN.npy`` + ``model/modelN.npy``, ``samples_per_file`` a
file, N from 1; see :mod:`fwilab.data.openfwi`) beside a metadata JSON (:data:`METADATA_NAME`).

* **Resumable**: each file is written to a temporary name and renamed, and recorded in the
  metadata only afterwards, so a rerun skips every complete file and regenerates only what is
  missing. Sample ``i`` depends only on (family, seed, acquisition, i) — not on ``n`` or on the
  batch it was computed in — so a regenerated file is bitwise identical (on the same device kind).
* **Extendable**: asking for more samples extends the folder (the partial last file is
  regenerated in full); asking for fewer leaves the folder as it is. A folder never shrinks.
* **No mixing**: a folder generated with another family, seed, acquisition or file size is refused.

:func:`cached_dataset` puts such a folder under a cache directory keyed by a hash of
everything that determines the samples, so every chapter asking for the same data shares one copy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from fwilab import __version__
from fwilab.devices import resolve_device
from fwilab.files import CACHE_ENV, atomic_write_text, default_cache_dir, folder_lock  # noqa: F401 (CACHE_ENV, default_cache_dir: this module's API)
from fwilab.physics.acquisition import OPENFWI, Acquisition
from fwilab.progress import bar as progress_bar

from .normalize import log_transform
from .openfwi import (METADATA_NAME, SAMPLES_PER_FILE, check_generated_complete, check_pair, find_pairs,
                      read_metadata, vel_layout_paths, write_pair)

#: Version of the on-disk format written here (part of the cache key; bump when the layout changes).
FORMAT_VERSION: int = 1

#: Default forward-modelling batch [samples] per device type: a batch of OpenFWI samples needs
#: ~6 MB of wavefields each (5 shots × 310² cells × 3 fields × 4 B).
DEFAULT_BATCH_SIZE: dict[str, int] = {"cuda": 100, "cpu": 10}


def _velocity_family() -> tuple[Callable[..., np.ndarray], Callable[[str], str]]:
    # imported late: the family module is optional for reading datasets
    from fwilab.data.families import check_family, generate_velocity
    return generate_velocity, check_family


def _solver() -> Callable[..., torch.Tensor]:
    from fwilab.physics.solver import forward_model
    return forward_model


def acquisition_dict(acquisition: Acquisition) -> dict[str, Any]:
    """The acquisition's fields as plain JSON values (tuples → lists)."""
    return json.loads(json.dumps(dataclasses.asdict(acquisition)))


def dataset_identity(family: str, seed: int, acquisition: Acquisition,
                     samples_per_file: int = SAMPLES_PER_FILE) -> dict[str, Any]:
    """Everything that determines the samples of a generated dataset (and the file boundaries)."""
    return {
        "format_version": FORMAT_VERSION,
        "layout": "vel",
        "family": family,
        "seed": int(seed),
        "samples_per_file": int(samples_per_file),
        "acquisition": acquisition_dict(acquisition),
    }


def cache_key(family: str, seed: int, acquisition: Acquisition, samples_per_file: int = SAMPLES_PER_FILE) -> str:
    """16-hex-digit hash of :func:`dataset_identity` (family, seed, acquisition, file size, format version)."""
    blob = json.dumps(dataset_identity(family, seed, acquisition, samples_per_file), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    diffs = []
    for key, value in wanted.items():
        old = stored.get(key)
        if key == "acquisition" and isinstance(old, dict):
            for f in sorted(set(value) | set(old)):
                if old.get(f) != value.get(f):
                    diffs.append(f"acquisition.{f}: folder has {old.get(f)!r}, asked for {value.get(f)!r}")
        elif old != value:
            diffs.append(f"{key}: folder has {old!r}, asked for {value!r}")
    return diffs


#: one generator at a time in a folder (kept under its old name for callers of this module)
_folder_lock = folder_lock


def _check_int(name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _file_is_complete(out: Path, index: int, entry: dict | None, want: int) -> bool:
    """A file pair counts as done if it exists, is readable, and the metadata records >= want samples."""
    if entry is None or entry.get("n_samples", 0) < want:
        return False
    seis, vel = vel_layout_paths(out, index)
    if not (seis.exists() and vel.exists()):
        return False
    try:
        count, *_ = check_pair(seis, vel)
    except ValueError:
        return False
    return count == entry["n_samples"]


def _write_metadata(out: Path, meta: dict[str, Any]) -> None:
    entries = [meta["files"][k] for k in sorted(meta["files"], key=int)]
    if entries:
        meta["data_min"] = min(e["data_min"] for e in entries)
        meta["data_max"] = max(e["data_max"] for e in entries)
        meta["log_data_min"] = float(log_transform(np.float64(meta["data_min"])))
        meta["log_data_max"] = float(log_transform(np.float64(meta["data_max"])))
    atomic_write_text(out / METADATA_NAME, json.dumps(meta, indent=1, sort_keys=True))


def generate_dataset(family: str, n: int, out: str | os.PathLike, *, seed: int = 0,
                     acquisition: Acquisition = OPENFWI, device: str | torch.device = "auto",
                     samples_per_file: int | None = None, batch_size: int | None = None,
                     progress: bool = True) -> Path:
    """Generate (or finish, or extend) an OpenFWI-layout dataset of ``n`` samples in ``out``.

    Args:
        family: velocity family, e.g. 'flatvel-a' (:data:`fwilab.data.families.FAMILIES`).
        n: number of samples; the folder ends up holding at least ``n`` (never fewer than before).
        out: dataset folder (created if needed).
        seed: velocity family seed; sample ``i`` is the same whatever ``n``.
        acquisition: geometry and time axis; velocity maps are ``acquisition.nz × acquisition.nx``.
        device: 'auto', 'cpu' or 'cuda' for the forward modelling.
        samples_per_file: samples per ``dataN.npy`` file; None: the folder's own when it holds a
            generated dataset (so extending it needs only a larger ``n``), else OpenFWI's 500.
        batch_size: samples per forward-modelling call (default :data:`DEFAULT_BATCH_SIZE`).
        progress: show a tqdm progress bar over samples.

    Writes ``data/dataN.npy`` (seismic float32 [sample, shot, time, receiver], raw amplitudes),
    ``model/modelN.npy`` (velocity float32 [sample, 1, depth, width] in m/s) and
    :data:`METADATA_NAME`: the identity (family, seed, acquisition, file size, format version),
    ``n``, the fwilab version, and per file its sample count, raw ``data_min/data_max`` and their
    log transforms, device and wall time; ``data_min/data_max`` over all files at the top level.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: bad arguments, or ``out`` holds a dataset generated with another family, seed,
        acquisition or file size (the message names each difference), or OpenFWI files without metadata.
    """
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    if samples_per_file is not None:
        samples_per_file = _check_int("samples_per_file", samples_per_file, 1)
    if batch_size is not None:
        batch_size = _check_int("batch_size", batch_size, 1)
    if not isinstance(acquisition, Acquisition):
        raise ValueError(f"acquisition must be an Acquisition, got {type(acquisition).__name__}")
    generate_velocity, check_family = _velocity_family()
    family = check_family(family)
    torch_device = resolve_device(device)
    batch_size = batch_size or DEFAULT_BATCH_SIZE.get(torch_device.type, DEFAULT_BATCH_SIZE["cpu"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    with _folder_lock(out):
        meta = read_metadata(out)
        if samples_per_file is None:
            samples_per_file = int((meta or {}).get("samples_per_file", SAMPLES_PER_FILE))
        identity = dataset_identity(family, seed, acquisition, samples_per_file)
        if meta is None:
            try:
                foreign = find_pairs(out)
            except ValueError:
                foreign = []
            if foreign:
                raise ValueError(f"{out} already holds OpenFWI files ({foreign[0].seismic.name}, …) without "
                                 f"{METADATA_NAME}; refusing to mix generated data into it")
            meta = {**identity, "n": 0, "files": {}}
        else:
            diffs = _differences(meta, identity)
            if diffs:
                raise ValueError(f"{out} holds a different dataset; refusing to mix: " + "; ".join(diffs))
        # never shrink: a smaller request leaves the folder whole (its samples are a superset)
        target = max(n, int(meta.get("n", 0)))
        n_files = math.ceil(target / samples_per_file)
        todo = []
        for index in range(1, n_files + 1):
            start = (index - 1) * samples_per_file
            want = min(samples_per_file, target - start)
            if not _file_is_complete(out, index, meta["files"].get(str(index)), want):
                todo.append((index, start, want))
        meta.update(n=target, fwilab_version=__version__)
        if not todo:
            _write_metadata(out, meta)
            return out

        forward_model = _solver()
        n_velocity = max(start + want for _, start, want in todo)
        velocity = np.asarray(generate_velocity(family, n_velocity, seed=seed, nz=acquisition.nz,
                                                nx=acquisition.nx, progress=False), dtype=np.float32)
        if velocity.shape != (n_velocity, *acquisition.velocity_shape):
            raise ValueError(f"generate_velocity({family!r}) returned shape {velocity.shape}, "
                             f"expected {(n_velocity, *acquisition.velocity_shape)}")
        bar = progress_bar(total=sum(w for *_, w in todo), unit="sample", desc=f"{family} → {out.name}",
                           enabled=progress)
        try:
            for index, start, want in todo:
                t0 = time.perf_counter()
                v_file = velocity[start:start + want]
                seismic = np.empty((want, *acquisition.seismic_shape), dtype=np.float32)
                # batches start at the file's first sample, so a file is always computed the same way
                for b in range(0, want, batch_size):
                    v = torch.from_numpy(v_file[b:b + batch_size]).to(torch_device)
                    with torch.no_grad():
                        d = forward_model(v, acquisition)
                    seismic[b:b + len(v)] = d.detach().cpu().numpy()
                    bar.update(len(v))
                if not np.isfinite(seismic).all():
                    raise ValueError(f"forward modelling produced non-finite seismic data for file {index} "
                                     f"(samples {start}..{start + want - 1}) of {family!r}")
                write_pair(out, index, seismic, v_file)
                meta["files"][str(index)] = {
                    "n_samples": want,
                    "data_min": float(seismic.min()),
                    "data_max": float(seismic.max()),
                    "log_data_min": float(log_transform(np.float64(seismic.min()))),
                    "log_data_max": float(log_transform(np.float64(seismic.max()))),
                    "device": str(torch_device),
                    "wall_s": round(time.perf_counter() - t0, 3),
                }
                _write_metadata(out, meta)  # after the files: a recorded file is a complete file
        finally:
            bar.close()
    return out


def cached_dataset(family: str, n: int, *, seed: int = 0, acquisition: Acquisition = OPENFWI,
                   cache_dir: str | os.PathLike | None = None, device: str | torch.device = "auto",
                   samples_per_file: int = SAMPLES_PER_FILE, batch_size: int | None = None,
                   progress: bool = True) -> Path:
    """A generated dataset of at least ``n`` samples from the cache, generating only what is missing.

    The folder is ``<cache_dir>/datasets/<family>-seed<seed>-<key>`` with ``key`` =
    :func:`cache_key` (family, seed, acquisition, samples_per_file, format version); ``cache_dir``
    defaults to :func:`default_cache_dir`. Because sample ``i`` does not depend on ``n``, a request
    for more samples extends the cached folder and a request for fewer reuses it as is (read the
    first ``n`` with ``OpenFWIDataset(path, split='all', n=n)`` or :func:`load_arrays`).
    """
    _, check_family = _velocity_family()
    family = check_family(family)
    seed = _check_int("seed", seed, 0)
    if not isinstance(acquisition, Acquisition):
        raise ValueError(f"acquisition must be an Acquisition, got {type(acquisition).__name__}")
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    key = cache_key(family, seed, acquisition, samples_per_file)
    out = root / "datasets" / f"{family}-seed{seed}-{key}"
    return generate_dataset(family, n, out, seed=seed, acquisition=acquisition, device=device,
                            samples_per_file=samples_per_file, batch_size=batch_size, progress=progress)


def load_arrays(path: str | os.PathLike, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` samples (all if None) of a dataset folder as in-memory arrays, raw units.

    Returns:
        ``(seismic [n, shot, time, receiver] float32 raw amplitudes, velocity [n, 1, depth, width] float32 m/s)``.
    """
    pairs = find_pairs(path)
    # a generated folder missing a middle file would silently shift every later sample's index
    check_generated_complete(Path(path), pairs, read_metadata(path))
    counts = [check_pair(p.seismic, p.velocity)[0] for p in pairs]
    total = sum(counts)
    if n is None:
        n = total
    n = _check_int("n", n, 1)
    if n > total:
        raise ValueError(f"{path} holds {total} samples, fewer than the n = {n} asked for")
    seismic, velocity, left = [], [], n
    for p, count in zip(pairs, counts):
        if left == 0:
            break
        take = min(count, left)
        seismic.append(np.array(np.load(p.seismic, mmap_mode="r")[:take], dtype=np.float32))
        velocity.append(np.array(np.load(p.velocity, mmap_mode="r")[:take], dtype=np.float32))
        left -= take
    s_shapes = {a.shape[1:] for a in seismic}
    v_shapes = {a.shape[1:] for a in velocity}
    if len(s_shapes) > 1 or len(v_shapes) > 1:
        shapes = ", ".join(f"{p.seismic.name} {s.shape[1:]} / {p.velocity.name} {v.shape[1:]}"
                           for p, s, v in zip(pairs, seismic, velocity))
        raise ValueError(f"files under {path} differ in sample shape: {shapes}")
    return np.concatenate(seismic), np.concatenate(velocity)
