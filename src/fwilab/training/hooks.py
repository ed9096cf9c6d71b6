"""Epoch hooks: per-epoch statistics that belong to a run, saved in its checkpoints.

A hook (:class:`EpochHook`) is called by :func:`fwilab.training.fit.fit` at the end of every epoch,
before the checkpoint; its state goes into ``last.pt`` and is restored on resume
(:func:`_restore_hooks`). Plain ``callbacks`` (``callback(record)`` after the checkpoint) need no
protocol.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable


@runtime_checkable
class EpochHook(Protocol):
    """Per-epoch statistics that belong to the run: ``end_epoch(record)`` runs at the end of each epoch,
    before its checkpoint, and ``state_dict()`` is saved in that checkpoint (``last.pt``, key ``hooks``)
    and handed back to ``load_state_dict`` on resume. So an epoch's statistics and its weights are saved
    together: a run stopped after a checkpoint keeps both, one stopped before it redoes the epoch with
    neither. The state must load under ``torch.load(weights_only=True)``: tensors and plain values."""

    def end_epoch(self, record: dict[str, float]) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _restore_hooks(hooks: Sequence[EpochHook], saved: Sequence[dict[str, Any]] | None, path: Path) -> None:
    """Give each hook its state from a resumed checkpoint (saved in the same order)."""
    if not hooks:
        return
    if saved is None or len(saved) != len(hooks):
        warnings.warn(f"{path} holds the state of {0 if saved is None else len(saved)} epoch hooks, not "
                      f"{len(hooks)}: the hooks' statistics start at the resumed epoch", RuntimeWarning,
                      stacklevel=3)
        return
    for hook, state in zip(hooks, saved):
        hook.load_state_dict(state)
