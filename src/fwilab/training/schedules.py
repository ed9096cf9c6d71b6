"""Learning-rate schedules the papers use, as closed-form functions of the optimizer step.

A schedule is stateless: the rate at global step ``s`` (``steps_per_epoch`` steps an epoch) is a
formula of ``s``, so resuming a run needs only the step counter. Schedules:

- ``constant``: OpenFWI ``train.py`` (``WarmupMultiStepLR`` with no milestones, no warm-up).
- ``multistep``: OpenFWI's ``WarmupMultiStepLR``: ``lr·γ^(number of milestones ≤ epoch)``.
- ``cosine``: ``η_min + (η − η_min)·(1 + cos(π·t/T))/2`` over the ``T`` epochs after warm-up.
- ``cosine-warm-restarts``: SGDR (Loshchilov & Hutter 2017), as torch's
  ``CosineAnnealingWarmRestarts``: periods ``T_0, T_0·T_mult, T_0·T_mult², …``;
  SPAMoE trains with ``T_0 = 10``, ``T_mult = 2`` after a 5-epoch warm-up.

Warm-up (any schedule): linear, ``lr·(s + 1)/W`` for the first ``W = round(warmup_epochs ·
steps_per_epoch)`` steps; the main schedule's clock starts when warm-up ends (milestones of
``multistep`` count from the start of training, as in OpenFWI).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

SCHEDULES: tuple[str, ...] = ("constant", "multistep", "cosine", "cosine-warm-restarts")


@dataclass(frozen=True)
class LRSchedule:
    """Learning rate as a function of the global optimizer step.

    Args:
        base_lr: the peak rate η.
        kind: one of :data:`SCHEDULES`.
        total_epochs: length of the run (``cosine`` anneals over ``total_epochs − warmup_epochs``).
        warmup_epochs: linear warm-up length in epochs (may be fractional).
        T0, T_mult: first period (epochs) and period multiplier of ``cosine-warm-restarts``.
        min_lr: η_min of the cosine schedules.
        milestones, gamma: epochs at which ``multistep`` multiplies the rate by ``gamma``.
    """

    base_lr: float
    kind: str = "constant"
    total_epochs: float = 1.0
    warmup_epochs: float = 0.0
    T0: float = 10.0
    T_mult: int = 2
    min_lr: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r}: choose one of {', '.join(SCHEDULES)}")
        if not self.base_lr > 0:
            raise ValueError(f"learning rate must be positive, got {self.base_lr!r}")
        if self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs!r}")
        if not 0 <= self.min_lr <= self.base_lr:
            raise ValueError(f"min_lr must lie in [0, lr={self.base_lr}], got {self.min_lr!r}")
        if self.kind == "cosine" and not self.total_epochs > self.warmup_epochs:
            raise ValueError(f"cosine schedule: epochs ({self.total_epochs}) must exceed warmup_epochs "
                             f"({self.warmup_epochs})")
        if self.kind == "cosine-warm-restarts":
            if not self.T0 > 0:
                raise ValueError(f"cosine-warm-restarts: T0 must be positive, got {self.T0!r}")
            if not (isinstance(self.T_mult, int) and self.T_mult >= 1):
                raise ValueError(f"cosine-warm-restarts: T_mult must be an integer >= 1, got {self.T_mult!r}")
        if self.kind == "multistep":
            if list(self.milestones) != sorted(self.milestones):
                raise ValueError(f"multistep milestones must be increasing, got {self.milestones!r}")
            if not 0 < self.gamma <= 1:
                raise ValueError(f"multistep gamma must lie in (0, 1], got {self.gamma!r}")

    def warmup_steps(self, steps_per_epoch: int) -> int:
        return int(round(self.warmup_epochs * steps_per_epoch))

    def at_step(self, step: int, steps_per_epoch: int) -> float:
        """The rate for optimizer step ``step`` (0-based) of a run with ``steps_per_epoch``."""
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        warm = self.warmup_steps(steps_per_epoch)
        if step < warm:
            return self._main((step - warm) / steps_per_epoch, step / steps_per_epoch) * (step + 1) / warm
        return self._main((step - warm) / steps_per_epoch, step / steps_per_epoch)

    def at_epoch(self, epoch: float) -> float:
        """The main schedule at ``epoch`` epochs after warm-up (no warm-up factor): the curve
        that :meth:`at_step` follows once warm-up is over."""
        return self._main(epoch, epoch + self.warmup_epochs)

    def _main(self, t: float, epoch_abs: float) -> float:
        """``t``: epochs since warm-up ended (negative during warm-up); ``epoch_abs``: since start."""
        lr, lo = self.base_lr, self.min_lr
        t = max(t, 0.0)
        if self.kind == "constant":
            return lr
        if self.kind == "multistep":
            return lr * self.gamma ** bisect_right(list(self.milestones), epoch_abs)
        if self.kind == "cosine":
            T = self.total_epochs - self.warmup_epochs
            return lo + (lr - lo) * (1 + math.cos(math.pi * min(t, T) / T)) / 2
        # cosine-warm-restarts: the period index as torch's CosineAnnealingWarmRestarts.step(epoch)
        T0, m = self.T0, self.T_mult
        if m == 1:
            T_cur, T_i = t % T0, T0
        elif t >= T0:
            n = int(math.log(t / T0 * (m - 1) + 1, m))
            T_cur, T_i = t - T0 * (m ** n - 1) / (m - 1), T0 * m ** n
        else:
            T_cur, T_i = t, T0
        return lo + (lr - lo) * (1 + math.cos(math.pi * T_cur / T_i)) / 2
