"""Real OpenFWI velocity maps shipped with the package: every map this project has.

The files ``fwilab/data/real/<family>-<split>.npz`` hold (:data:`REAL_SPLITS`):

* FlatVel-A and CurveVel-A: OpenFWI's train files ``vmodel1..10`` (5,000 maps) and test files
  ``vmodel11..12`` (1,000 maps), losslessly compressed with a layer encoding (``encode_layered_maps``);
* FlatFault-A: the test file ``vmodel11`` (500 maps), whose fault interpolation gives non-integer
  values, stored as float32 in a deflated ``.npz`` (encoding ``float32-deflate-v1``).

Source and licence: ``fwilab/data/real/README.md`` (OpenFWI, Deng et al. NeurIPS 2022, CC BY-NC-SA 4.0).
Nothing here reads /work/shared: the package is self-contained.

Layer encoding: in these families every column's velocity never decreases with depth and takes
integer values, so a map is fully described by its sorted distinct values v_0 < ... < v_{L-1} and,
for every column x and k < L - 1, the depth d_k(x) = number of cells in the column with velocity
<= v_k (the row where layer k + 1 starts). Decoding: v(z, x) = v_k with k = #{j : z >= d_j(x)}.
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from .families import check_family

REAL_DIR = Path(__file__).resolve().parent / "real"
#: maps shipped per family and OpenFWI split, and the members of the OpenFWI zips they came from
REAL_SPLITS: dict[str, dict[str, int]] = {
    "flatvel-a": {"train": 5000, "test": 1000},
    "curvevel-a": {"train": 5000, "test": 1000},
    "flatfault-a": {"test": 500},
}
#: families with real maps shipped in REAL_DIR
REAL_FAMILIES: tuple[str, ...] = tuple(REAL_SPLITS)
#: the families whose generators were calibrated on real maps before FlatFault-A's were shipped
#: (the data chapter's calibration figures)
CALIBRATION_FAMILIES: tuple[str, ...] = ("flatvel-a", "curvevel-a")
ENCODING = "layer-depth-v1"
FLOAT_ENCODING = "float32-deflate-v1"


def real_sample_path(family: str, split: str = "test") -> Path:
    """Path of the shipped file of a family's split (it may not exist: see :data:`REAL_SPLITS`)."""
    return REAL_DIR / f"{check_family(family)}-{split}.npz"


def real_splits(family: str) -> dict[str, int]:
    """``{split: number of maps}`` shipped for ``family`` (empty for a family without real maps)."""
    return dict(REAL_SPLITS.get(check_family(family), {}))


def float32_sha256(maps: np.ndarray) -> str:
    """SHA-256 of the maps as C-ordered float32 bytes: identifies the original arrays exactly."""
    return hashlib.sha256(np.ascontiguousarray(maps, dtype=np.float32).tobytes()).hexdigest()


def encode_layered_maps(maps: np.ndarray) -> dict[str, np.ndarray]:
    """Losslessly encode integer, depth-monotone velocity maps.

    Args:
        maps: [n, 1, nz, nx] in m/s; integer values in [0, 65535], every column non-decreasing with
            depth, at most 256 distinct values per map, nz <= 255.

    Returns: arrays for ``np.savez_compressed``: values uint16 [sum L_i], n_values uint16 [n],
        depth uint8 [sum (L_i - 1), nx], shape int64 [4], encoding, sha256 (of the float32 input).

    Raises:
        ValueError: the maps do not satisfy the conditions above, or do not decode exactly.
    """
    v = np.asarray(maps)
    if v.ndim != 4 or v.shape[1] != 1:
        raise ValueError(f"maps must be [n, 1, nz, nx], got shape {v.shape}")
    n, _, nz, nx = v.shape
    if nz > 255:
        raise ValueError(f"layer encoding stores depths as uint8, nz must be <= 255, got {nz}")
    m = v[:, 0]
    if not np.all(np.isfinite(m)) or np.any(m != np.round(m)) or m.min() < 0 or m.max() > 65535:
        raise ValueError("layer encoding needs integer velocities in [0, 65535]")
    if np.any(np.diff(m, axis=1) < 0):
        raise ValueError("layer encoding needs every column to be non-decreasing with depth")
    values, n_values, depth = [], [], []
    for x in m:
        u = np.unique(x)
        if len(u) > 256:
            raise ValueError(f"layer encoding allows at most 256 distinct values per map, got {len(u)}")
        values.append(u.astype(np.uint16))
        n_values.append(len(u))
        depth.append((x[None, :, :] <= u[:-1, None, None]).sum(axis=1).astype(np.uint8))  # [L-1, nx]
    enc = {
        "values": np.concatenate(values),
        "n_values": np.asarray(n_values, dtype=np.uint16),
        "depth": np.concatenate(depth, axis=0) if depth else np.zeros((0, nx), np.uint8),
        "shape": np.asarray(v.shape, dtype=np.int64),
        "encoding": np.asarray(ENCODING),
        "sha256": np.asarray(float32_sha256(v)),
    }
    if not np.array_equal(decode_layered_maps(enc), v.astype(np.float32)):
        raise ValueError("layer encoding did not round-trip exactly")
    return enc


def decode_layered_maps(enc: dict[str, np.ndarray]) -> np.ndarray:
    """Inverse of ``encode_layered_maps``: float32 [n, 1, nz, nx] in m/s."""
    if str(enc["encoding"]) != ENCODING:
        raise ValueError(f"unknown encoding {str(enc['encoding'])!r}, expected {ENCODING!r}")
    n, c, nz, nx = (int(s) for s in enc["shape"])
    values = np.asarray(enc["values"], dtype=np.float32)
    n_values = np.asarray(enc["n_values"], dtype=np.int64)
    depth = np.asarray(enc["depth"], dtype=np.int64)
    if c != 1 or len(n_values) != n or len(values) != n_values.sum() or depth.shape != (n_values.sum() - n, nx):
        raise ValueError("inconsistent layer-encoded arrays")
    out = np.empty((n, 1, nz, nx), dtype=np.float32)
    z = np.arange(nz)[:, None, None]
    v0 = np.concatenate([[0], np.cumsum(n_values)])
    d0 = np.concatenate([[0], np.cumsum(n_values - 1)])
    for i in range(n):
        d = depth[d0[i]:d0[i + 1]].T[None]  # [1, nx, L-1]
        out[i, 0] = values[v0[i]:v0[i + 1]][np.count_nonzero(z >= d, axis=-1)]
    return out


def encode_maps(maps: np.ndarray) -> dict[str, np.ndarray]:
    """Lossless encoding of velocity maps [n, 1, nz, nx]: the layer encoding where the maps allow it
    (integer, depth-monotone), else the float32 maps themselves (deflated by ``np.savez_compressed``)."""
    try:
        return encode_layered_maps(maps)
    except ValueError:
        v = np.ascontiguousarray(maps, dtype=np.float32)
        if v.ndim != 4 or v.shape[1] != 1:
            raise ValueError(f"maps must be [n, 1, nz, nx], got shape {v.shape}") from None
        return {"maps": v, "shape": np.asarray(v.shape, dtype=np.int64), "encoding": np.asarray(FLOAT_ENCODING),
                "sha256": np.asarray(float32_sha256(v))}


def decode_maps(enc: dict[str, np.ndarray]) -> np.ndarray:
    """Inverse of :func:`encode_maps`: float32 [n, 1, nz, nx] in m/s."""
    if str(enc["encoding"]) == FLOAT_ENCODING:
        return np.asarray(enc["maps"], dtype=np.float32).reshape(tuple(int(s) for s in enc["shape"]))
    return decode_layered_maps(enc)


def _npy_number(name: str) -> int:
    digits = "".join(ch for ch in Path(name).stem if ch.isdigit())
    return int(digits) if digits else -1


def write_real_maps(family: str, split: str, zip_path: str | os.PathLike, members: list[str] | None = None,
                    out_dir: str | os.PathLike = REAL_DIR) -> Path:
    """Build the shipped file of ``family``'s ``split`` from an OpenFWI zip of ``vmodelN.npy`` files.

    ``members`` defaults to every ``.npy`` in the zip in OpenFWI's numeric order (``vmodel1``,
    ``vmodel2``, …, ``vmodel10``): the order of the samples in OpenFWI's split. Written atomically;
    returns the path.
    """
    from ..files import atomic_save_npz

    fam = check_family(family)
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted((n for n in zf.namelist() if n.endswith(".npy")), key=_npy_number)
        if not names:
            raise ValueError(f"{zip_path} holds no .npy file")
        members = list(members or names)
        maps = np.concatenate([np.load(io.BytesIO(zf.read(m))) for m in members])
    enc = encode_maps(maps)
    enc["source"] = np.asarray(f"{Path(zip_path).name}:{','.join(members)}")
    path = Path(out_dir) / f"{fam}-{split}.npz"
    atomic_save_npz(path, enc)
    return path


@lru_cache(maxsize=None)
def _load_cached(family: str, split: str) -> np.ndarray:
    path = real_sample_path(family, split)
    with np.load(path, allow_pickle=False) as f:
        enc = {k: f[k] for k in f.files}
    maps = decode_maps(enc)
    if float32_sha256(maps) != str(enc["sha256"]):
        raise ValueError(f"shipped real maps {path} do not match their recorded SHA-256")
    maps.setflags(write=False)
    return maps


def real_maps_sha256(family: str, split: str = "test") -> str:
    """The recorded SHA-256 of a shipped split's float32 maps (identifies the maps a store was built from)."""
    with np.load(real_sample_path(family, split), allow_pickle=False) as f:
        return str(f["sha256"])


def load_real_velocity(family: str, n: int | None = None, split: str = "test") -> np.ndarray:
    """Real OpenFWI velocity maps shipped with the package.

    Args:
        family: a family in REAL_FAMILIES ("flatvel-a", "curvevel-a", "flatfault-a"; any spelling
            ``check_family`` accepts).
        n: number of maps (the first n of the split, in OpenFWI's order), or None for all.
        split: OpenFWI's "train" or "test" split (:data:`REAL_SPLITS` says which are shipped).

    Returns:
        v: float32 [n, 1, 70, 70] in m/s (a fresh, writable copy).

    Raises:
        ValueError: unknown family, a family or split without shipped real maps, or n out of range.
    """
    fam = check_family(family)
    if fam not in REAL_FAMILIES:
        raise ValueError(f"no real maps are shipped for {fam!r}; available: {', '.join(REAL_FAMILIES)}")
    if split not in REAL_SPLITS[fam]:
        raise ValueError(f"no real {split!r} maps are shipped for {fam!r}; available splits: "
                         f"{', '.join(REAL_SPLITS[fam])}")
    maps = _load_cached(fam, split)
    if n is None:
        return maps.copy()
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or not 0 <= n <= len(maps):
        raise ValueError(f"n must be an integer in [0, {len(maps)}] or None, got {n!r}")
    return maps[: int(n)].copy()
