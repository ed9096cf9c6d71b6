"""The artifact store: every number in the book comes from one of these files.

An artifact is one chapter run: its config and config hash, provenance (seed, git commit and dirty
flag, device, torch version, wall time, date), metrics and tables as JSON, curves and arrays as one
NPZ, and the claims it judged. Layout::

    <results_dir>/<chapter>/<profile>/artifact.json
    <results_dir>/<chapter>/<profile>/arrays.npz

Both files are written to a temporary name and renamed, so an interrupted run never leaves a
half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import io
import json
import os
import platform
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

import numpy as np
import torch

from .config import EXECUTION_FIELDS, ExperimentConfig
from .devices import device_name, resolve_device
from .files import atomic_save_npz, atomic_write, atomic_write_bytes, atomic_write_text  # noqa: F401 (re-exported)

ARTIFACT_JSON = "artifact.json"
ARRAYS_NPZ = "arrays.npz"
#: key of the arrays file that pairs it with its artifact.json (written first, so a stop between the
#: two writes leaves a pair whose ids differ: :func:`load_artifact` refuses it)
PAIR_ID = "__artifact_pair__"
SCHEMA_VERSION = 1


def repo_root() -> Path | None:
    """The git work tree holding this package, if any."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 else None


#: environment variables that name the commit (and "1"/"0" dirty flag) of a copy of the tree without its
#: git folder, such as the one a lent GPU machine runs (set by .ci/device-check from the device kit)
GIT_COMMIT_ENV, GIT_DIRTY_ENV = "FWILAB_GIT_COMMIT", "FWILAB_GIT_DIRTY"


def git_state() -> dict[str, Any]:
    """Commit hash and dirty flag of the work tree; outside git, those named by :data:`GIT_COMMIT_ENV`
    and :data:`GIT_DIRTY_ENV`, else 'unknown'."""
    root = repo_root()
    if root is None:
        dirty = os.environ.get(GIT_DIRTY_ENV)
        return {"commit": os.environ.get(GIT_COMMIT_ENV) or "unknown",
                "dirty": None if dirty is None else dirty.strip() not in ("", "0", "false", "False")}
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
    commit = git("rev-parse", "HEAD") or "unknown"
    # results/ itself is rewritten by runs; it does not make the code dirty
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"))
    return {"commit": commit, "dirty": dirty}


def provenance(config: ExperimentConfig, wall_s: float, device: torch.device | None = None) -> dict[str, Any]:
    device = device or resolve_device(config.device)
    return {
        "chapter": config.CHAPTER,
        "profile": config.profile,
        "seed": config.seed,
        "config_hash": config.config_hash,
        **{f"git_{k}": v for k, v in git_state().items()},
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "wall_s": round(float(wall_s), 3),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


@dataclass
class Artifact:
    """One chapter run: config, provenance, JSON-able metrics/tables, arrays and judged claims."""

    chapter: str
    config: dict[str, Any]
    provenance: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    claims: list[dict[str, Any]] = field(default_factory=list)

    @property
    def profile(self) -> str:
        return self.config["profile"]

    @property
    def config_hash(self) -> str:
        return self.provenance["config_hash"]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "chapter": self.chapter,
            "config": self.config,
            "provenance": self.provenance,
            "metrics": self.metrics,
            "claims": self.claims,
            "arrays": sorted(self.arrays),
        }


def artifact_dir(results_dir: str | os.PathLike, chapter: str, profile: str) -> Path:
    return Path(results_dir) / chapter / profile


def _default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.Tensor):
        return o.detach().cpu().tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def save_artifact(artifact: Artifact, results_dir: str | os.PathLike) -> Path:
    """Write the artifact atomically (arrays first, then the JSON that points at them)."""
    d = artifact_dir(results_dir, artifact.chapter, artifact.profile)
    pair = uuid.uuid4().hex
    atomic_save_npz(d / ARRAYS_NPZ, {**artifact.arrays, PAIR_ID: np.array(pair)})
    blob = {**artifact.to_json(), "arrays_pair": pair}
    atomic_write_text(d / ARTIFACT_JSON, json.dumps(blob, indent=1, default=_default, allow_nan=True))
    return d


class IncompleteArtifact(ValueError):
    """An artifact.json whose arrays file is missing arrays or belongs to another write."""


def load_artifact(results_dir: str | os.PathLike, chapter: str, profile: str) -> Artifact:
    d = artifact_dir(results_dir, chapter, profile)
    path = d / ARTIFACT_JSON
    if not path.exists():
        raise FileNotFoundError(f"no artifact for chapter {chapter!r} at profile {profile!r} under {d}")
    blob = json.loads(path.read_text())
    arrays: dict[str, np.ndarray] = {}
    pair = None
    if (d / ARRAYS_NPZ).exists():
        with np.load(d / ARRAYS_NPZ, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != PAIR_ID}
            pair = str(z[PAIR_ID]) if PAIR_ID in z.files else None
    missing = set(blob.get("arrays", [])) - set(arrays)
    if missing:
        raise IncompleteArtifact(f"artifact {path} lists arrays {sorted(missing)} missing from {d / ARRAYS_NPZ}")
    if "arrays_pair" in blob and blob["arrays_pair"] != pair:
        raise IncompleteArtifact(f"{d / ARRAYS_NPZ} is not the arrays file of {path} (a write was interrupted "
                                 "between the two files)")
    return Artifact(chapter=blob["chapter"], config=blob["config"], provenance=blob["provenance"],
                    metrics=blob.get("metrics", {}), arrays=arrays, claims=blob.get("claims", []))


def iter_artifacts(results_dir: str | os.PathLike):
    """Every artifact under ``results_dir`` (chapter/profile order)."""
    for p in sorted(Path(results_dir).glob(f"*/*/{ARTIFACT_JSON}")):
        yield load_artifact(results_dir, p.parent.parent.name, p.parent.name)


ClaimsHook = Callable[[list, dict], list]


def run_or_load(config: ExperimentConfig, run: Callable[[ExperimentConfig], Artifact],
                log: Callable[[str], None] = print, overridden_claims: ClaimsHook | None = None) -> Artifact:
    """Load the artifact whose config hash matches ``config``, else run and save it.

    ``config.recompute`` forces a fresh run. ``run(config)`` returns an :class:`Artifact` without
    provenance; this function times it and adds provenance before saving. ``overridden_claims(claims,
    overrides)`` rewrites the claims of a run whose parameters differ from its preset (loaded or fresh,
    before saving); the store knows no claims, so the caller hands it in
    (:func:`fwilab.experiments.run_chapter` passes :func:`fwilab.claims.unjudged_for_overrides`).
    """
    rewrite = overridden_claims or (lambda claims, overrides: claims)
    device = resolve_device(config.device)   # a GPU asked for and missing fails here, loading or not
    try:
        found = load_artifact(config.results_dir, config.CHAPTER, config.profile)
    except FileNotFoundError:
        found = None
    except IncompleteArtifact as exc:
        log(f"{exc}: recomputing")
        found = None
    if found is not None and not config.recompute:
        if found.config_hash == config.config_hash:
            # an artifact saved before overridden runs were left unjudged
            found.claims = rewrite(found.claims, config.preset_overrides())
            p = found.provenance
            log(f"loaded {config.CHAPTER}/{config.profile} from {config.results_dir} "
                f"(commit {str(p.get('git_commit'))[:10]}, {p.get('device_name')}, {p.get('wall_s')} s)")
            return found
        log(f"the artifact {config.CHAPTER}/{config.profile} under {config.results_dir} was made with "
            f"{_config_change(found.config, config)}: it is replaced by this run's (its pieces stay, so "
            f"running with its parameters again re-assembles it from them)")
    _PIECE_TIMES.clear()
    t0 = time.perf_counter()
    artifact = run(config)
    wall = time.perf_counter() - t0
    artifact.provenance = provenance(config, wall, device)
    if _PIECE_TIMES:  # resumed pieces were computed earlier: their compute time is the run's cost
        artifact.provenance["pieces_wall_s"] = dict(_PIECE_TIMES)
        artifact.provenance["compute_wall_s"] = round(sum(_PIECE_TIMES.values()), 3)
    artifact.config = config.to_dict()
    overrides = config.preset_overrides()
    if overrides:
        artifact.claims = rewrite(artifact.claims, overrides)
        log(f"this run differs from the {config.profile} preset in {', '.join(overrides)}: its claims are "
            "listed but not judged")
    if is_main_process():
        save_artifact(artifact, config.results_dir)
    log(f"computed {config.CHAPTER}/{config.profile} in {wall:.1f} s; saved under {config.results_dir}")
    return artifact


def _config_change(saved: dict[str, Any], config: ExperimentConfig) -> str:
    """``seed=0 (now 1), lr=0.001 (now 0.002)``: the fields in which a saved artifact's config differs."""
    now = {k: v for k, v in config.to_dict().items() if k not in EXECUTION_FIELDS}   # the neutral defaults too
    diff = [f"{k}={saved.get(k)!r} (now {v!r})" for k, v in now.items() if saved.get(k) != v]
    return ", ".join(diff) if diff else f"another config (hash {config.config_hash} now)"


def piece_path(config: ExperimentConfig, name: str, unrelated: Iterable[str] = ()) -> Path:
    """Where one resumable piece of a chapter run (e.g. one training run) keeps its result."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return (artifact_dir(config.results_dir, config.CHAPTER, config.profile) / "pieces"
            / f"{safe}-{config.piece_hash_without(unrelated)}.npz")


#: compute time of each piece of the chapter run in progress (computed now or loaded), for its provenance
_PIECE_TIMES: dict[str, float] = {}
#: True while :func:`run_piece` computes a piece of a run that recomputes (``config.recompute``)
_RECOMPUTING: contextvars.ContextVar[bool] = contextvars.ContextVar("fwilab_recomputing", default=False)


def recomputing() -> bool:
    """Whether the piece being computed belongs to a run that recomputes (``config.recompute``): its
    training must start afresh, not resume the checkpoints an earlier run left (see
    :func:`fwilab.training.runs.train_and_evaluate`)."""
    return _RECOMPUTING.get()


def _compute_s(metrics: dict[str, Any]) -> float:
    """A piece's compute time: its wall time, or its training's total time when that is longer (a
    training run that resumed from checkpoints reports the epochs of every session as ``train_s``)."""
    return round(max(float(metrics.get("piece_wall_s", 0.0)), float(metrics.get("train_s", 0.0) or 0.0)), 3)


def is_main_process() -> bool:
    """True outside ``torchrun`` and on its rank 0: only that process writes artifacts and pieces."""
    return int(os.environ.get("RANK", "0")) == 0


class BudgetExhausted(RuntimeError):
    """Raised by :func:`run_piece` when the time budget set by :func:`piece_budget` leaves no room for the
    next piece; every piece finished so far is saved, so the same run continues where it stopped."""


#: the clock of the time budget (monotonic seconds)
_clock: Callable[[], float] = time.monotonic

#: the time budget of the run in progress: monotonic deadline, the longest piece so far [s] (computed in
#: this run, or loaded with its recorded time), and the pieces computed within it
_BUDGET: dict[str, Any] = {"deadline": None, "longest_s": 0.0, "computed": []}


@contextlib.contextmanager
def piece_budget(seconds: float | None):
    """Run a chapter's pieces within ``seconds`` of wall time (``None``: no limit).

    The first piece computed in the run always starts; each later one only while ``now + longest piece
    so far`` stays inside the budget (the longest of those computed in this run and of those loaded, by
    their recorded compute time). So a session with a hard time limit (a lent GPU for a few minutes) can
    spend it on whole pieces and leave the rest to the next session: :class:`BudgetExhausted` ends the
    run, the finished pieces stay saved, and the same command continues later.
    """
    if seconds is not None and seconds <= 0:
        raise ValueError(f"the time budget must be positive, got {seconds} s")
    if seconds is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # each rank would judge the budget on its own clock and could stop at a different piece
        raise ValueError("a time budget is for single-process runs, not under torchrun")
    saved = dict(_BUDGET, computed=list(_BUDGET["computed"]))
    _BUDGET.update(deadline=None if seconds is None else _clock() + float(seconds), longest_s=0.0, computed=[])
    try:
        yield _BUDGET
    finally:
        _BUDGET.update(saved)


def _check_budget(name: str) -> None:
    deadline = _BUDGET["deadline"]
    # the first piece computed in a run always starts (a loaded piece longer than the whole budget must
    # not stall the run for good); later ones only while the longest piece so far still fits
    if deadline is not None and _BUDGET["computed"] and _clock() + _BUDGET["longest_s"] > deadline:
        raise BudgetExhausted(f"time budget spent before piece {name} (the longest piece took "
                              f"{_BUDGET['longest_s']:.0f} s); computed in this run: {', '.join(_BUDGET['computed'])}. "
                              "Run the same command again to continue.")


def run_piece(config: ExperimentConfig, name: str, compute: Callable[[], tuple[dict[str, Any], dict[str, np.ndarray]]],
              log: Callable[[str], None] = print, unrelated: Iterable[str] = ()) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run one piece of a chapter (``compute() -> (metrics, arrays)``) once; later calls load it.

    A long chapter is a sequence of pieces (one per family, seed and model), each saved atomically when
    it finishes, so an interrupted run resumes at the first missing piece. Pieces are keyed by the
    chapter's piece hash (the config less the fields that only choose which pieces run, such as the
    families), so a changed config recomputes them but adding a family does not; ``config.recompute``
    recomputes them too. ``unrelated`` names config fields this piece does not depend on.
    """
    path = piece_path(config, name, unrelated)
    if path.exists() and not config.recompute:
        with np.load(path, allow_pickle=False) as z:
            metrics = json.loads(str(z["__metrics__"]))
            arrays = {k: z[k] for k in z.files if k != "__metrics__"}
        log(f"  piece {name}: loaded")
        _PIECE_TIMES[name] = _compute_s(metrics)
        # a loaded piece's recorded time tells the budget how long this chapter's pieces take
        _BUDGET["longest_s"] = max(_BUDGET["longest_s"], _PIECE_TIMES[name])
        return metrics, arrays
    _check_budget(name)
    started = _clock()
    token = _RECOMPUTING.set(bool(config.recompute))
    try:
        metrics, arrays = compute()
    finally:
        _RECOMPUTING.reset(token)
    wall_s = _clock() - started
    _BUDGET["longest_s"] = max(_BUDGET["longest_s"], wall_s)
    _BUDGET["computed"].append(name)
    state = git_state()
    metrics = {**metrics, "piece_wall_s": round(wall_s, 3), "piece_git_commit": state["commit"],
               "piece_git_dirty": state["dirty"], "piece_device": str(resolve_device(config.device))}
    blob = json.dumps(metrics, default=_default, allow_nan=True)
    if is_main_process():
        atomic_save_npz(path, {**arrays, "__metrics__": np.array(blob)})
    log(f"  piece {name}: computed in {metrics['piece_wall_s']:.1f} s")
    _PIECE_TIMES[name] = _compute_s(metrics)
    return metrics, arrays
