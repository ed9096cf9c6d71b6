"""The OpenFWI file layout: discovering, validating, reading (memory-mapped) and writing file pairs.

OpenFWI stores each dataset as numpy files of 500 samples (FACTS.md §1, OpenFWI ``README.md``):

* **Vel and Style families** — ``data/dataN.npy`` (seismic, float32 ``(500, 5, 1000, 70)`` =
  (sample, shot, time, receiver)) beside ``model/modelN.npy`` (velocity, float32
  ``(500, 1, 70, 70)`` = (sample, channel, depth, width) in m/s), N = 1, 2, … The files may also sit
  directly in the root. Split by file number: Vel 1–48 train, 49–60 test; Style 1–120 train, 121–134 test.
* **Fault families** — ``seisG_1_K.npy`` beside ``velG_1_K.npy`` in the root, G ∈ {2, 3, 4} (A) or
  {6, 7, 8} (B), K = 0…35. Split by K: 0–31 train, 32–35 val (our ``"test"``).

Datasets *we* generate (:mod:`fwilab.data.generate`) are always written in the Vel layout
(``data/dataN.npy`` + ``model/modelN.npy``), whatever the family, with a metadata JSON
(:data:`METADATA_NAME`) beside them. For a Fault family in the Vel layout the train split is files
1–96 and the test split 97–108: the same 48k / 6k samples as OpenFWI's 96 + 12 Fault files.

Every file is written to a temporary name (``.<name>.<random>.tmp``) and renamed with
``os.replace``, so a file with its final name is complete; temporary files are ignored here.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..files import atomic_write
from .normalize import DATA_RANGE, VELOCITY_MAX, VELOCITY_MIN, dataset_name, normalize_seismic, normalize_velocity

#: Samples per file in every OpenFWI dataset (OpenFWI dataset_config.json / dataset.py: file_size = 500).
SAMPLES_PER_FILE: int = 500

#: Metadata JSON written beside a generated dataset (family, seed, acquisition, per-file ranges).
METADATA_NAME: str = "fwilab_dataset.json"

SPLITS: tuple[str, ...] = ("train", "test", "all")

#: Last training file number in the Vel layout, per family kind (OpenFWI README / split_files:
#: Vel 1–48 train of 60, Style 1–120 train of 134; Fault 96 of 108 files are training data, which
#: is how we number a Fault family written in the Vel layout).
VEL_LAYOUT_LAST_TRAIN_FILE: dict[str, int] = {"vel": 48, "style": 120, "fault": 96}

#: Last training index K of the Fault layout ``seisG_1_K.npy`` (OpenFWI split_files: 0–31 train, 32–35 val).
FAULT_LAYOUT_LAST_TRAIN_INDEX: int = 31

_VEL_SEISMIC = re.compile(r"^data(\d+)\.npy$")
_VEL_MODEL = re.compile(r"^model(\d+)\.npy$")
_FAULT_SEISMIC = re.compile(r"^seis(\d+)_(\d+)_(\d+)\.npy$")
_FAULT_MODEL = re.compile(r"^vel(\d+)_(\d+)_(\d+)\.npy$")


def family_kind(family: str | None) -> str | None:
    """'vel', 'fault' or 'style' for an OpenFWI family name ('flatvel-a' → 'vel'); None if neither."""
    if family is None:
        return None
    name = dataset_name(family)
    if "fault" in name:
        return "fault"
    if name.startswith("style"):
        return "style"
    if "vel" in name:
        return "vel"
    return None


@dataclass(frozen=True)
class FilePair:
    """One seismic file and its velocity file.

    ``layout`` is 'vel' (``dataN``/``modelN``; ``key`` = (N,)) or 'fault' (``seisG_1_K``/``velG_1_K``;
    ``key`` = (G, 1, K)).
    """

    seismic: Path
    velocity: Path
    layout: str
    key: tuple[int, ...]


def vel_layout_paths(root: str | os.PathLike, index: int) -> tuple[Path, Path]:
    """``(root/data/data{index}.npy, root/model/model{index}.npy)``."""
    root = Path(root)
    return root / "data" / f"data{index}.npy", root / "model" / f"model{index}.npy"


def _scan(folder: Path, pattern: re.Pattern) -> dict[tuple[int, ...], Path]:
    found: dict[tuple[int, ...], Path] = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = pattern.match(p.name)  # temporary '.name.xyz.tmp' files never match
            if m and p.is_file():
                found[tuple(int(g) for g in m.groups())] = p
    return found


def _pair_up(seismic: dict, model: dict, layout: str, generated: bool = False) -> list[FilePair]:
    lonely_seismic = sorted(set(seismic) - set(model))
    if lonely_seismic:
        names = ", ".join(str(seismic[k]) for k in lonely_seismic)
        raise ValueError(f"seismic file(s) without their velocity file: {names}")
    lonely_model = sorted(set(model) - set(seismic))
    # write_pair writes the velocity file first, so an interrupted generator may leave one alone;
    # in a generated folder the metadata check names the missing seismic file instead
    if lonely_model and not generated:
        names = ", ".join(str(model[k]) for k in lonely_model)
        raise ValueError(f"velocity file(s) without their seismic file: {names}")
    return [FilePair(seismic[k], model[k], layout, k) for k in sorted(seismic)]


def find_pairs(root: str | os.PathLike) -> list[FilePair]:
    """All file pairs under ``root`` in either layout, ordered by file number (see module docstring).

    Raises ``FileNotFoundError`` if ``root`` is not a folder and ``ValueError`` if it holds no pair,
    or a seismic file lacks its velocity file (or the reverse, except in a generated folder, where
    an interrupted :func:`write_pair` may leave a velocity file alone), naming the files.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"OpenFWI dataset folder {root} does not exist")
    pairs: list[FilePair] = []
    generated = (root / METADATA_NAME).exists()
    # Vel/Style layout: data/ + model/ sub-folders, or the files directly in the root
    for sdir, mdir in ((root / "data", root / "model"), (root, root)):
        pairs += _pair_up(_scan(sdir, _VEL_SEISMIC), _scan(mdir, _VEL_MODEL), "vel", generated)
    pairs += _pair_up(_scan(root, _FAULT_SEISMIC), _scan(root, _FAULT_MODEL), "fault")
    keys = [(p.layout, p.key) for p in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{root} holds the same file number both in data/ and in the root folder")
    if not pairs:
        raise ValueError(
            f"no OpenFWI files under {root}: expected data/dataN.npy + model/modelN.npy "
            f"(Vel/Style layout) or seisG_1_K.npy + velG_1_K.npy (Fault layout)"
        )
    layouts = {p.layout for p in pairs}
    if len(layouts) > 1:
        raise ValueError(f"{root} mixes the Vel layout (dataN.npy) and the Fault layout (seisG_1_K.npy)")
    return pairs


def discover_pairs(root: str | os.PathLike) -> list[tuple[Path, Path]]:
    """``[(seismic_path, velocity_path), …]`` of every file pair under ``root``, in file order."""
    return [(p.seismic, p.velocity) for p in find_pairs(root)]


def pair_split(pair: FilePair, kind: str | None) -> str:
    """'train' or 'test' for a file pair, by OpenFWI's file-number rule for its layout and family kind."""
    if pair.layout == "fault":
        return "train" if pair.key[-1] <= FAULT_LAYOUT_LAST_TRAIN_INDEX else "test"
    if kind not in VEL_LAYOUT_LAST_TRAIN_FILE:
        raise ValueError(
            f"cannot tell the train/test split of {pair.seismic.name}: the family is unknown "
            f"(pass family=, e.g. 'flatvel-a', or split='all')"
        )
    return "train" if pair.key[0] <= VEL_LAYOUT_LAST_TRAIN_FILE[kind] else "test"


def read_metadata(root: str | os.PathLike) -> dict[str, Any] | None:
    """The generator's metadata JSON of a dataset folder, or None for a dataset without one."""
    path = Path(root) / METADATA_NAME
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"unreadable dataset metadata {path}: {err}") from None


def _header(path: Path) -> np.ndarray:
    """The array memory-mapped read-only (reads the header only)."""
    try:
        return np.load(path, mmap_mode="r")
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"cannot read {path} as a .npy array: {err}") from None


def check_pair(seismic: str | os.PathLike, velocity: str | os.PathLike) -> tuple[int, tuple, tuple, np.dtype]:
    """Validate one file pair from the headers alone.

    Returns ``(n_samples, seismic_sample_shape, velocity_sample_shape, dtype)``. Raises ``ValueError``
    naming both files if they differ in sample count or dtype, or are not 4-D floating arrays
    [sample, shot, time, receiver] / [sample, 1, depth, width].
    """
    seismic, velocity = Path(seismic), Path(velocity)
    s, v = _header(seismic), _header(velocity)
    if s.ndim != 4:
        raise ValueError(f"{seismic}: seismic must be 4-D [sample, shot, time, receiver], got shape {s.shape}")
    if v.ndim != 4 or v.shape[1] != 1:
        raise ValueError(f"{velocity}: velocity must be 4-D [sample, 1, depth, width], got shape {v.shape}")
    if s.shape[0] != v.shape[0]:
        raise ValueError(
            f"mismatched sample counts: {seismic} holds {s.shape[0]} samples but {velocity} holds {v.shape[0]}"
        )
    if s.dtype != v.dtype:
        raise ValueError(f"mismatched dtypes: {seismic} is {s.dtype} but {velocity} is {v.dtype}")
    if not np.issubdtype(s.dtype, np.floating):
        raise ValueError(f"{seismic} and {velocity} must hold floating-point data, got {s.dtype}")
    return s.shape[0], tuple(s.shape[1:]), tuple(v.shape[1:]), s.dtype


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False))


def write_pair(root: str | os.PathLike, index: int, seismic: np.ndarray, velocity: np.ndarray) -> tuple[Path, Path]:
    """Write one file pair in the Vel layout, atomically: ``data/data{index}.npy`` and ``model/model{index}.npy``.

    Args:
        seismic: [sample, shot, time, receiver], raw amplitudes; stored as float32.
        velocity: [sample, 1, depth, width] in m/s; stored as float32.

    The velocity file is written first, so a seismic file with its final name always has its
    velocity file beside it. Returns ``(seismic_path, velocity_path)``.
    """
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or index < 1:
        raise ValueError(f"file index must be an integer >= 1 (OpenFWI numbers files from 1), got {index!r}")
    seismic, velocity = np.asarray(seismic), np.asarray(velocity)
    if seismic.ndim != 4:
        raise ValueError(f"seismic must be 4-D [sample, shot, time, receiver], got shape {seismic.shape}")
    if velocity.ndim != 4 or velocity.shape[1] != 1:
        raise ValueError(f"velocity must be 4-D [sample, 1, depth, width], got shape {velocity.shape}")
    if seismic.shape[0] != velocity.shape[0]:
        raise ValueError(f"seismic holds {seismic.shape[0]} samples but velocity holds {velocity.shape[0]}")
    for name, a in (("seismic", seismic), ("velocity", velocity)):
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"{name} must be floating-point, got {a.dtype}")
    seis_path, vel_path = vel_layout_paths(root, int(index))
    _atomic_save_npy(vel_path, np.ascontiguousarray(velocity, dtype=np.float32))
    _atomic_save_npy(seis_path, np.ascontiguousarray(seismic, dtype=np.float32))
    return seis_path, vel_path


def _infer_family(root: Path, family: str | None, metadata: dict | None) -> str | None:
    if metadata is not None and metadata.get("family"):
        stored = dataset_name(metadata["family"])
        if family is not None and dataset_name(family) != stored:
            unknown = "" if dataset_name(family) in DATA_RANGE else f" ({family!r} is not an OpenFWI family)"
            raise ValueError(f"family={family!r} but the dataset at {root} was generated as {stored!r}{unknown}")
        return stored
    if family is not None:
        return dataset_name(family)
    # real OpenFWI folders are named after their dataset, e.g. FlatVel_A
    guess = dataset_name(root.resolve().name)
    return guess if guess in DATA_RANGE else None


def _select_files(pairs: list[FilePair], files: Iterable[int | str | os.PathLike]) -> list[FilePair]:
    chosen = []
    for f in files:
        if isinstance(f, (int, np.integer)) and not isinstance(f, bool):
            match = [p for p in pairs if p.layout == "vel" and p.key[0] == int(f)]
        else:
            name = Path(f).name
            match = [p for p in pairs if p.seismic.name == name]
        if not match:
            known = ", ".join(p.seismic.name for p in pairs)
            raise ValueError(f"no file {f!r} in the dataset (seismic files: {known})")
        chosen += match
    return chosen


def check_generated_complete(root: Path, pairs: list[FilePair], metadata: dict | None) -> None:
    """A generated dataset must hold every file its metadata promises (else a rerun finishes it)."""
    if metadata is None or metadata.get("layout") != "vel":
        return
    n, per_file = int(metadata.get("n", 0)), int(metadata.get("samples_per_file", SAMPLES_PER_FILE))
    present = {p.key[0] for p in pairs if p.layout == "vel"}
    missing = [i for i in range(1, -(-n // per_file) + 1) if i not in present]
    if missing:
        names = ", ".join(f"data{i}.npy" for i in missing)
        raise ValueError(f"generated dataset {root} is incomplete: {names} missing (of {n} samples); "
                         f"rerun generate_dataset with the same arguments to finish it")


class OpenFWIDataset(Dataset):
    """(seismic, velocity) pairs of an OpenFWI-layout folder, memory-mapped and read lazily.

    Args:
        root: dataset folder (either layout, see the module docstring).
        family: OpenFWI dataset name, e.g. 'flatvel-a'; taken from the metadata of a generated
            dataset, else guessed from the folder name (``FlatVel_A``). Needed for the Vel-layout
            split and for the real-data seismic range.
        split: 'train', 'test' or 'all' — OpenFWI's split by file number (ignored when ``files`` is given).
        files: explicit files to use instead of a split: Vel-layout file numbers (``[1, 2]``) or
            seismic file names (``["seis2_1_0.npy"]``).
        normalize: map seismic and velocity to [-1, 1] as OpenFWI does (:mod:`fwilab.data.normalize`).
            The seismic range is ``data_range`` if given, else OpenFWI's constant for the family
            (:data:`DATA_RANGE`, as the chapters' splits use), else — for a generated family OpenFWI
            does not have — the dataset's own range (metadata JSON: min/max over all its files, so it
            moves when the folder grows and includes the test files: pass ``data_range`` instead).
        transform: optional ``transform(seismic, velocity) -> (seismic, velocity)`` applied last.
        n: use only the first ``n`` samples of the selection.
        data_range: raw amplitude range ``(data_min, data_max)`` to normalise with, e.g. the
            training set's range when reading a test set.

    Item ``i`` is ``(seismic [shot, time, receiver], velocity [1, depth, width])``, float32 tensors
    (raw amplitudes and m/s when ``normalize=False``). Files are opened with
    ``np.load(mmap_mode='r')`` on first use in each process and never pickled, so DataLoader
    workers each map the files themselves.
    """

    def __init__(self, root: str | os.PathLike, family: str | None = None, split: str = "train",
                 files: Sequence[int | str | os.PathLike] | None = None, normalize: bool = True,
                 transform: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
                 *, n: int | None = None, data_range: tuple[float, float] | None = None) -> None:
        self.root = Path(root)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        pairs = find_pairs(self.root)
        self.metadata = read_metadata(self.root)
        self.family = _infer_family(self.root, family, self.metadata)
        self.split = split
        check_generated_complete(self.root, pairs, self.metadata)
        if files is not None:
            pairs = _select_files(pairs, files)
        elif split != "all":
            kind = family_kind(self.family)
            if kind is None and self.family is not None and any(p.layout == "vel" for p in pairs):
                raise ValueError(f"family {self.family!r} is not an OpenFWI family ({', '.join(DATA_RANGE)}): "
                                 f"cannot tell the {split!r} split of {self.root} by OpenFWI's file numbers; "
                                 f"pass split='all' (or files=[...])")
            pairs = [p for p in pairs if pair_split(p, kind) == split]
            if not pairs:
                raise ValueError(f"the {split!r} split of {self.root} (family {self.family!r}) holds no files")

        counts, seismic_shape, velocity_shape, first = [], None, None, None
        for p in pairs:
            count, s_shape, v_shape, _ = check_pair(p.seismic, p.velocity)
            if first is None:
                seismic_shape, velocity_shape, first = s_shape, v_shape, p
            elif (s_shape, v_shape) != (seismic_shape, velocity_shape):
                raise ValueError(
                    f"mismatched sample shapes: {p.seismic} / {p.velocity} hold {s_shape} / {v_shape} "
                    f"per sample but {first.seismic} / {first.velocity} hold {seismic_shape} / {velocity_shape}"
                )
            counts.append(count)
        self.pairs: list[FilePair] = pairs
        self.seismic_shape: tuple[int, ...] = seismic_shape  # (shot, time, receiver)
        self.velocity_shape: tuple[int, ...] = velocity_shape  # (1, depth, width)
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        total = int(self._offsets[-1])
        if n is not None:
            if not isinstance(n, (int, np.integer)) or n < 1 or n > total:
                raise ValueError(f"n must be an integer in 1..{total} (samples in the selection), got {n!r}")
            total = int(n)
        self._len = total

        self.normalize = bool(normalize)
        self.transform = transform
        self.velocity_range: tuple[float, float] = (VELOCITY_MIN, VELOCITY_MAX)
        self.data_range: tuple[float, float] | None = self._resolve_data_range(data_range)
        self._open: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _resolve_data_range(self, data_range: tuple[float, float] | None) -> tuple[float, float] | None:
        if data_range is not None:
            lo, hi = (float(x) for x in data_range)
            return lo, hi
        if self.family in DATA_RANGE:   # a constant per dataset, as OpenFWI: the same whatever the split
            return DATA_RANGE[self.family]
        if self.metadata is not None and "data_min" in self.metadata:
            return float(self.metadata["data_min"]), float(self.metadata["data_max"])
        if self.normalize:
            raise ValueError(
                f"no seismic data range for {self.root}: it has no {METADATA_NAME} and family "
                f"{self.family!r} is not one of {', '.join(DATA_RANGE)}; pass family=, data_range= or normalize=False"
            )
        return None

    def __len__(self) -> int:
        return self._len

    def _arrays(self, f: int) -> tuple[np.ndarray, np.ndarray]:
        if f not in self._open:
            p = self.pairs[f]
            self._open[f] = (np.load(p.seismic, mmap_mode="r"), np.load(p.velocity, mmap_mode="r"))
        return self._open[f]

    def _find(self, index: int) -> tuple[int, int]:
        index = int(index)
        if not -self._len <= index < self._len:
            raise IndexError(f"sample {index} out of range for a dataset of {self._len}")
        index %= self._len
        f = bisect.bisect_right(self._offsets, index) - 1
        return f, index - int(self._offsets[f])

    def locate(self, index: int) -> tuple[FilePair, int]:
        """The file pair and the row within it that hold sample ``index``."""
        f, row = self._find(index)
        return self.pairs[f], row

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        f, row = self._find(index)
        s, v = self._arrays(f)
        seismic = torch.from_numpy(np.array(s[row], dtype=np.float32))  # copy out of the memory map
        velocity = torch.from_numpy(np.array(v[row], dtype=np.float32))
        if self.normalize:
            seismic = normalize_seismic(seismic, data_min=self.data_range[0], data_max=self.data_range[1])
            velocity = normalize_velocity(velocity, *self.velocity_range)
        if self.transform is not None:
            seismic, velocity = self.transform(seismic, velocity)
        return seismic, velocity

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_open"] = {}  # memory maps would pickle as whole arrays; each process maps its own
        return state

    def __repr__(self) -> str:
        return (f"OpenFWIDataset({str(self.root)!r}, family={self.family!r}, split={self.split!r}, "
                f"files={len(self.pairs)}, samples={self._len}, seismic={self.seismic_shape}, "
                f"velocity={self.velocity_shape}, normalize={self.normalize})")
