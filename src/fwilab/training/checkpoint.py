"""Checkpoints written atomically, and the random-number state a resumed run needs.

A checkpoint is a dict saved with ``torch.save`` to a temporary file in the same directory, flushed
to disk and renamed over the target (``os.replace``), so a crash mid-write leaves the previous
checkpoint intact. Everything stored is loadable with ``torch.load(weights_only=True)``: RNG states
are kept as tensors and plain Python values, configs as dicts.

Layout of a run's ``checkpoint_dir``::

    last.pt             the state at the end of the latest epoch (model, optimizer, schedule step,
                        grad scaler, train-step state, RNG states, epoch hooks' state, curves, best
                        score, config)
    best.pt             the model weights of the best validation epoch, with its epoch and score
    epoch_0003.pt ...   per-epoch copies of last.pt, only with keep_epoch_checkpoints

The fit loop's resume helpers live here too: :func:`_check_resumable` (the config fields a resumed run
must agree on, :data:`TRAJECTORY_FIELDS`) and :func:`_resumed_best_state`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ..files import atomic_write

LAST = "last.pt"
BEST = "best.pt"
#: glob of the per-epoch copies (:func:`epoch_checkpoint_name`)
EPOCH_GLOB = "epoch_*.pt"

#: FitConfig fields that shape the optimisation trajectory: a resumed run must agree on them.
TRAJECTORY_FIELDS: tuple[str, ...] = (
    "batch_size", "lr", "weight_decay", "betas", "schedule", "warmup_epochs", "T0", "T_mult",
    "min_lr", "milestones", "gamma", "grad_clip", "amp", "seed", "drop_last", "select_by", "select_mode",
)
#: schedules whose rate at a step depends on the run's total length (``epochs``)
LENGTH_DEPENDENT_SCHEDULES: frozenset[str] = frozenset({"cosine"})


def epoch_checkpoint_name(epoch: int) -> str:
    """File name of the copy kept for ``epoch`` (1-based, the number of completed epochs)."""
    return f"epoch_{epoch:04d}.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """``torch.save(state)`` to ``path`` atomically (temp file in the same directory + os.replace)."""
    return atomic_write(path, lambda fh: torch.save(state, fh))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no pickled code)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


def remove_checkpoints(checkpoint_dir: str | os.PathLike) -> None:
    """Delete the checkpoints a run keeps in ``checkpoint_dir`` (``last.pt``, ``best.pt``, the per-epoch
    copies); other files there are left alone."""
    d = Path(checkpoint_dir)
    for p in [d / LAST, d / BEST, *d.glob(EPOCH_GLOB)]:
        p.unlink(missing_ok=True)


def latest_checkpoint(checkpoint_dir: str | os.PathLike) -> Path | None:
    """``<checkpoint_dir>/last.pt`` if present, else None."""
    p = Path(checkpoint_dir) / LAST
    return p if p.exists() else None


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's legacy global, torch's CPU and (if any) CUDA generators."""
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state({
        "bit_generator": n["bit_generator"],
        "state": {"key": n["key"].cpu().numpy().astype(np.uint32), "pos": n["pos"]},
        "has_gauss": n["has_gauss"],
        "gauss": n["gauss"],
    })
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in states])


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


# --------------------------------------------------------------------------------------------
# resume
# --------------------------------------------------------------------------------------------

def _state_copy(state: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A CPU copy of a module's state dict (or of a state dict)."""
    items = state.state_dict().items() if isinstance(state, nn.Module) else state.items()
    return {k: v.detach().to("cpu", copy=True) for k, v in items}


def _resumed_best_state(ckpt_dir: Path, resumed: Mapping[str, Any]) -> dict[str, torch.Tensor] | None:
    """The weights of the best epoch recorded in a resumed ``last.pt``: from ``best.pt`` when that
    file holds the same epoch; from ``last.pt`` itself when its own epoch is the best (the run stopped
    after writing last.pt and before best.pt); else None (the weights are lost)."""
    best_epoch = resumed["best_epoch"]
    if best_epoch is None:
        return None
    best_file = ckpt_dir / BEST
    if best_file.exists():
        best = load_checkpoint(best_file)
        if best.get("epoch") == best_epoch:
            return best["model"]
    if int(resumed["epoch"]) == best_epoch:
        return _state_copy(resumed["model"])
    return None


# ``config`` is a FitConfig (not imported here: fit imports this module)
def _check_resumable(saved: Mapping[str, Any], config: Any) -> None:
    now = config.to_dict()
    fields = TRAJECTORY_FIELDS + (("epochs",) if now.get("schedule") in LENGTH_DEPENDENT_SCHEDULES else ())
    diff = [f for f in fields if saved.get(f) != now.get(f)]
    if diff:
        details = ", ".join(f"{f}: checkpoint {saved.get(f)!r} vs now {now.get(f)!r}" for f in diff)
        raise ValueError(f"cannot resume: the checkpoint was written with a different config ({details})")
