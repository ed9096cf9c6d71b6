"""The dataset store: velocity maps forward-modelled once, on the OpenFWI convention, for every chapter.

A *store dataset* is one (family, source, split, acquisition, decimation) — e.g. the 5,000 real
FlatVel-A train maps simulated on OpenFWI's survey and decimated ×4 in time — held in one folder
under the cache (``$FWILAB_CACHE`` or ``~/.cache/fwilab``, :func:`fwilab.files.default_cache_dir`)::

    store/<family>-<source>-<split>[-seed<k>]-q<q>-<key>/
        manifest.json           identity + one entry per finished shard (checksums, device, wall time)
        seismic-00000.npy       float32 [shard, shot, time // q, receiver], raw amplitudes
        velocity-00000.npy      float32 [shard, 1, nz, nx] in m/s
        ...

* **Sources.** ``real``: the OpenFWI velocity maps shipped with the package (:mod:`fwilab.data.real`),
  split as OpenFWI splits them (``train`` / ``test``), in OpenFWI's order. ``generated``: the seeded
  family generators (:mod:`fwilab.data.families`, split ``all``: one sequence that the chapters cut
  into train / validation / test by index).
* **Identity.** The folder's ``key`` hashes everything that determines its samples: family, source,
  split, seed, acquisition, decimation factor and filter, :data:`SOLVER_VERSION`, :data:`STORE_VERSION`
  and the shard size; a real dataset also records the SHA-256 of the shipped maps it was built from.
  Sample ``i`` depends only on that identity and ``i``, so a request for more samples extends a
  folder (a short last shard is recomputed in full) and a request for fewer reads its first shards.
* **Resumable and atomic.** Each shard is simulated, decimated and written to temporary names, renamed,
  and only then recorded in the manifest (itself written atomically). A build killed at any point
  loses at most the shard it was writing; a rerun removes stray temporaries and redoes only the
  shards the manifest does not list. A folder is locked while a build writes into it.
* **Checked.** Reading verifies every shard's shape and SHA-256 against the manifest; a missing,
  truncated, corrupt or foreign file is an error that names it (:class:`StoreError`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fwilab import __version__
from fwilab.devices import resolve_device
from fwilab.files import atomic_save_npy, atomic_write_text, default_cache_dir, folder_lock, sha256_file
from fwilab.physics.acquisition import OPENFWI, Acquisition
from fwilab.progress import bar as progress_bar

from .families import check_family
from .transforms import TRANSFORM_NAME, decimate_time, decimated_length

#: on-disk layout version (part of the key)
STORE_VERSION: int = 1
#: version of the numerical scheme the seismic was computed with: bump when the solver's output changes
#: (bitwise-identical speed-ups keep it)
SOLVER_VERSION: str = "openfwi-fd-2-4-v3-flush1e-20"
#: samples per shard file (~88 MB of float32 seismic at nt 250, ~350 MB at nt 1000)
SHARD_SIZE: int = 250
SOURCES: tuple[str, ...] = ("real", "generated")
MANIFEST: str = "manifest.json"
#: forward-modelling batch on the CPU: one model per thread (the shard is computed in batches that start
#: at its first sample, so a shard is always computed the same way)
CPU_BATCH: int = 10


class StoreError(ValueError):
    """A store folder or file is missing, corrupt, or holds another dataset; the message names it."""


@dataclass(frozen=True)
class StoreSpec:
    """What a store dataset holds (see the module docstring).

    Attributes:
        family: OpenFWI family, e.g. "flatvel-a".
        source: "real" (shipped OpenFWI maps) or "generated" (the family generator).
        split: "train" or "test" for real maps; "all" for generated ones.
        seed: generator seed (generated only; 0 for real maps).
        acquisition: survey the maps are simulated on (OpenFWI's by default).
        decimate: time decimation factor q of the stored seismic (1: OpenFWI's 1 ms records).
    """

    family: str
    source: str = "real"
    split: str = "train"
    seed: int = 0
    acquisition: Acquisition = OPENFWI
    decimate: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", check_family(self.family))
        if self.source not in SOURCES:
            raise ValueError(f"unknown data source {self.source!r}: choose one of {', '.join(SOURCES)}")
        if self.source == "real":
            from .real import real_splits

            splits = real_splits(self.family)
            if not splits:
                raise ValueError(f"no real maps are shipped for {self.family!r}; use source='generated'")
            if self.split not in splits:
                raise ValueError(f"no real {self.split!r} maps are shipped for {self.family!r}; "
                                 f"available splits: {', '.join(splits)}")
            if self.seed != 0:
                raise ValueError("seed applies to generated data only (real maps are fixed)")
        elif self.split != "all":
            raise ValueError(f"generated data has one split, 'all' (cut by index), got {self.split!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.acquisition, Acquisition):
            raise ValueError(f"acquisition must be an Acquisition, got {type(self.acquisition).__name__}")
        decimated_length(self.acquisition.nt, self.decimate)   # checks the factor

    @property
    def capacity(self) -> int | None:
        """How many samples the source can give (real maps: the shipped split; generated: unbounded)."""
        if self.source == "generated":
            return None
        from .real import real_splits

        return real_splits(self.family)[self.split]

    @property
    def nt(self) -> int:
        """Time samples of the stored seismic."""
        return decimated_length(self.acquisition.nt, self.decimate)

    @property
    def seismic_shape(self) -> tuple[int, int, int]:
        a = self.acquisition
        return (a.n_shots, self.nt, a.n_receivers)

    def identity(self) -> dict[str, Any]:
        """Everything that determines the samples (the key hashes it)."""
        ident: dict[str, Any] = {
            "store_version": STORE_VERSION, "solver_version": SOLVER_VERSION, "shard_size": SHARD_SIZE,
            "family": self.family, "source": self.source, "split": self.split, "seed": int(self.seed),
            "acquisition": json.loads(json.dumps(dataclasses.asdict(self.acquisition))),
            "decimate": int(self.decimate), "transform": TRANSFORM_NAME if self.decimate > 1 else None,
        }
        if self.source == "real":
            from .real import real_maps_sha256

            ident["maps_sha256"] = real_maps_sha256(self.family, self.split)
        return ident

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        seed = f"-seed{self.seed}" if self.source == "generated" else ""
        return f"{self.family}-{self.source}-{self.split}{seed}-q{self.decimate}-{self.key}"

    def folder(self, cache_dir: str | os.PathLike | None = None) -> Path:
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        return root / "store" / self.name

    def describe(self) -> str:
        what = f"real OpenFWI {self.split} maps" if self.source == "real" else f"generated maps (seed {self.seed})"
        dec = f", decimated ×{self.decimate} to nt {self.nt}" if self.decimate > 1 else ""
        return f"{self.family}: {what}{dec}"


def _paths(folder: Path, shard: int) -> tuple[Path, Path]:
    return folder / f"seismic-{shard:05d}.npy", folder / f"velocity-{shard:05d}.npy"


def _save_npy(path: Path, array: np.ndarray) -> str:
    """Write ``array`` atomically (temporary name, fsync, rename) and return the file's SHA-256."""
    atomic_save_npy(path, array)
    return sha256_file(path)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StoreError(f"the store manifest {path} is not valid JSON ({exc}); delete the folder to rebuild it") from None


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))


def _maps(spec: StoreSpec, start: int, stop: int) -> np.ndarray:
    """Velocity maps ``start … stop − 1`` of the spec's source, float32 [n, 1, nz, nx] in m/s."""
    a = spec.acquisition
    if spec.source == "real":
        from .real import load_real_velocity

        maps = load_real_velocity(spec.family, stop, split=spec.split)[start:stop]
        if maps.shape[2:] != (a.nz, a.nx):
            raise ValueError(f"real {spec.family} maps are {maps.shape[2:]}, the survey needs {(a.nz, a.nx)}")
        return maps
    from .families import generate_velocity

    return np.asarray(generate_velocity(spec.family, stop, seed=spec.seed, nz=a.nz, nx=a.nx,
                                        progress=False)[start:stop], dtype=np.float32)


def _simulate(spec: StoreSpec, maps: np.ndarray, device: torch.device, batch: int, bar) -> np.ndarray:
    from fwilab.physics.solver import forward_model

    out = np.empty((len(maps), *spec.seismic_shape), dtype=np.float32)
    for b in range(0, len(maps), batch):
        v = torch.from_numpy(np.ascontiguousarray(maps[b:b + batch])).to(device)
        with torch.no_grad():
            d = forward_model(v, spec.acquisition).cpu().numpy()
        out[b:b + len(v)] = decimate_time(d, spec.decimate, axis=2)
        bar.update(len(v))
    if not np.isfinite(out).all():
        raise ValueError(f"forward modelling gave non-finite seismic for {spec.describe()}")
    return out


def _shard_ok(folder: Path, shard: int, entry: dict[str, Any] | None, want: int) -> bool:
    if entry is None or entry.get("n", 0) < want:
        return False
    return all(p.exists() for p in _paths(folder, shard))


def build(spec: StoreSpec, n: int | None = None, *, cache_dir: str | os.PathLike | None = None,
          device: str | torch.device = "auto", batch_size: int | None = None, progress: bool = True) -> Path:
    """Simulate (or finish, or extend) ``spec``'s first ``n`` samples in its store folder.

    Args:
        spec: the dataset.
        n: samples wanted (None: every real map of the split; required for generated data).
        cache_dir: cache root (default ``$FWILAB_CACHE`` or ``~/.cache/fwilab``).
        device: where to forward-model ('auto', 'cpu', 'cuda').
        batch_size: models per solver call (default 10 on the CPU, 100 on CUDA).
        progress: a tqdm bar over samples.

    Returns: the folder.

    Raises:
        ValueError: ``n`` beyond the real maps of the split, or a folder holding another dataset.
    """
    cap = spec.capacity
    if n is None:
        if cap is None:
            raise ValueError("n is required for generated data")
        n = cap
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if cap is not None and n > cap:
        raise ValueError(f"{spec.family} has {cap} real {spec.split} maps, fewer than n = {n}")
    torch_device = resolve_device(device)
    batch = batch_size or (100 if torch_device.type == "cuda" else CPU_BATCH)
    folder = spec.folder(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder):
        for stray in folder.glob(".*.tmp*"):   # a build killed mid-write leaves at most its temporaries
            stray.unlink(missing_ok=True)
        manifest = read_manifest(folder)
        identity = spec.identity()
        if manifest is None:
            manifest = {"identity": identity, "shards": {}}
        elif manifest.get("identity") != identity:
            raise StoreError(f"the store folder {folder} holds another dataset (its manifest's identity differs); "
                             "delete it to rebuild")
        n_shards = -(-int(n) // SHARD_SIZE)
        todo = []
        for shard in range(n_shards):
            start = shard * SHARD_SIZE
            want = min(SHARD_SIZE, int(n) - start)   # a short last shard is redone in full when extended
            if not _shard_ok(folder, shard, manifest["shards"].get(str(shard)), want):
                todo.append((shard, start, want))
        if not todo:
            return folder
        bar = progress_bar(total=sum(w for *_, w in todo), unit="sample", desc=spec.describe(), enabled=progress)
        try:
            for shard, start, want in todo:
                t0 = time.perf_counter()
                maps = _maps(spec, start, start + want)
                seismic = _simulate(spec, maps, torch_device, batch, bar)
                s_path, v_path = _paths(folder, shard)
                entry = {"n": want, "seismic_sha256": _save_npy(s_path, seismic),
                         "velocity_sha256": _save_npy(v_path, maps),
                         "maps_sha256": hashlib.sha256(np.ascontiguousarray(maps).tobytes()).hexdigest(),
                         "data_min": float(seismic.min()), "data_max": float(seismic.max()),
                         "device": str(torch_device), "wall_s": round(time.perf_counter() - t0, 3),
                         "fwilab_version": __version__}
                manifest["shards"][str(shard)] = entry   # after the files: a listed shard is a complete shard
                _write_manifest(folder, manifest)
        finally:
            bar.close()
    return folder


def _check_array(path: Path, entry: dict[str, Any], key: str, shape: tuple[int, ...]) -> np.ndarray:
    if not path.exists():
        raise StoreError(f"store file {path} is missing (listed in its manifest); rebuild with `fwilab data build`")
    digest = sha256_file(path)
    if digest != entry[key]:
        raise StoreError(f"store file {path} is corrupt: its SHA-256 differs from the manifest's; delete it and "
                         "rebuild with `fwilab data build` (only that shard is recomputed)")
    arr = np.load(path, allow_pickle=False)
    if arr.shape != shape or arr.dtype != np.float32:
        raise StoreError(f"store file {path} holds {arr.dtype} {arr.shape}, expected float32 {shape}")
    return arr


def read(spec: StoreSpec, n: int, *, start: int = 0, cache_dir: str | os.PathLike | None = None,
         verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``start … start + n − 1`` of a built store dataset.

    Returns: ``(seismic float32 [n, shot, nt, receiver] raw amplitudes, velocity float32 [n, 1, nz, nx] m/s)``.

    Raises:
        StoreError: the folder or a shard is missing, not finished, corrupt (``verify``: SHA-256
            against the manifest) or of the wrong shape; the message names the file.
    """
    folder = spec.folder(cache_dir)
    manifest = read_manifest(folder)
    if manifest is None:
        raise StoreError(f"no store dataset at {folder}; build it with `fwilab data build {spec.family} "
                         f"--source {spec.source} --split {spec.split}`")
    if manifest.get("identity") != spec.identity():
        raise StoreError(f"the store folder {folder} holds another dataset (its manifest's identity differs)")
    a = spec.acquisition
    seismic = np.empty((n, *spec.seismic_shape), dtype=np.float32)
    velocity = np.empty((n, 1, a.nz, a.nx), dtype=np.float32)
    i = start
    while i < start + n:
        shard, row = divmod(i, SHARD_SIZE)
        entry = manifest["shards"].get(str(shard))
        if entry is None:
            raise StoreError(f"{folder} has no finished shard {shard} (samples {shard * SHARD_SIZE}…); "
                             "build more samples with `fwilab data build`")
        s_path, v_path = _paths(folder, shard)
        if verify:
            s = _check_array(s_path, entry, "seismic_sha256", (entry["n"], *spec.seismic_shape))
            v = _check_array(v_path, entry, "velocity_sha256", (entry["n"], 1, a.nz, a.nx))
        else:
            s, v = np.load(s_path, mmap_mode="r"), np.load(v_path, mmap_mode="r")
        take = min(entry["n"] - row, start + n - i)
        if take <= 0:
            raise StoreError(f"{folder} holds {shard * SHARD_SIZE + entry['n']} samples, fewer than {start + n}")
        seismic[i - start:i - start + take] = s[row:row + take]
        velocity[i - start:i - start + take] = v[row:row + take]
        i += take
    return seismic, velocity


def load(spec: StoreSpec, n: int, *, start: int = 0, cache_dir: str | os.PathLike | None = None,
         device: str | torch.device = "auto", progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read` after building whatever of the first ``start + n`` samples is missing."""
    build(spec, start + n, cache_dir=cache_dir, device=device, progress=progress)
    return read(spec, n, start=start, cache_dir=cache_dir)


def status(spec: StoreSpec, cache_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """What is built of ``spec``: folder, finished samples, capacity, and the shards' compute time."""
    folder = spec.folder(cache_dir)
    manifest = read_manifest(folder) if folder.exists() else None
    shards = (manifest or {}).get("shards", {})
    return {"dataset": spec.describe(), "folder": str(folder),
            "samples": sum(e["n"] for e in shards.values()), "capacity": spec.capacity,
            "wall_s": round(sum(e["wall_s"] for e in shards.values()), 1)}
