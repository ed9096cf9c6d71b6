"""The routing-statistics chapter's config: :class:`RoutingConfig` with its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import ExperimentConfig, OpenFWIFilesMixin, SurveyMixin
from ...data.families import check_family
from ...models.spamoe import LOAD_BALANCE_MODES, SPAMoEConfig
from ...training.fit import FitConfig

CHAPTER = "routing"


@dataclass(frozen=True)
class RoutingConfig(SurveyMixin, OpenFWIFilesMixin, ExperimentConfig):
    """Parameters of the routing-statistics chapter.

    Attributes:
        families: families whose training samples are pooled (and whose test samples are routed).
        load_balances: load-balancing variants trained (``released``: no gradient; ``gradient``: the
            same term with its gradient; ``uniform``: target 1/E with its gradient).
        n_seeds: seeds per variant.
        n_train, n_val, n_test: split sizes of the cached datasets: at ``full`` just the samples used
            (see the spectral chapter's config); at ``cpu`` the other chapters' splits.
        train_per_family, val_per_family, test_per_family: samples of each family used.
        nt, nbc, model_size, epochs, batch_size, lr, schedule, warmup_epochs, grad_clip, bound_weight:
            as in the spectral chapter.
    """

    CHAPTER: ClassVar[str] = CHAPTER
    #: the families are not scope here: one model trains on all of them
    SCOPE_FIELDS: ClassVar[frozenset[str]] = frozenset({"load_balances", "n_seeds"})
    families: tuple[str, ...] = ("flatvel-a", "curvevel-a", "flatfault-a", "curvefault-a", "style-a")
    load_balances: tuple[str, ...] = ("released", "gradient", "uniform")
    n_seeds: int = 2
    n_train: int = 500
    n_val: int = 60
    n_test: int = 200
    train_per_family: int = 500
    val_per_family: int = 60
    test_per_family: int = 200
    nt: int = 1000
    nbc: int = 120
    model_size: str = "full"
    epochs: int = 8
    batch_size: int = 32
    lr: float = 3e-4
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    grad_clip: float = 1.0
    bound_weight: float = 1.0
    progress: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(families=("flatvel-a", "curvevel-a"), n_seeds=1, n_train=8, n_val=4, n_test=4,
                      train_per_family=2, val_per_family=2, test_per_family=4, nt=200, nbc=20,
                      model_size="smoke", epochs=2, batch_size=4, lr=1e-3, schedule="constant",
                      warmup_epochs=0.0),
        "cpu": dict(families=("flatvel-a", "curvevel-a", "flatfault-a"), n_seeds=1, n_train=400, n_val=50,
                    n_test=100, train_per_family=32, val_per_family=8, test_per_family=50, model_size="cpu",
                    epochs=4, batch_size=8, lr=5e-4, schedule="constant", warmup_epochs=0.0),
        "full": dict(),
    }

    def validate(self) -> None:
        self.validate_data_fields()
        object.__setattr__(self, "families", tuple(check_family(f) for f in self.families))
        if not self.families:
            raise ValueError("families must name at least one family")
        if not self.load_balances or any(v not in LOAD_BALANCE_MODES for v in self.load_balances):
            raise ValueError(f"load_balances must be a non-empty subset of {LOAD_BALANCE_MODES}, "
                             f"got {self.load_balances}")
        for name in ("n_seeds", "n_train", "n_val", "n_test", "train_per_family", "val_per_family",
                     "test_per_family", "nt", "epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        for part in ("train", "val", "test"):
            if getattr(self, f"{part}_per_family") > getattr(self, f"n_{part}"):
                raise ValueError(f"{part}_per_family ({getattr(self, f'{part}_per_family')}) cannot exceed "
                                 f"n_{part} ({getattr(self, f'n_{part}')})")
        if self.batch_size > self.train_per_family * len(self.families):
            raise ValueError(f"batch_size ({self.batch_size}) exceeds the pooled training samples")
        if self.model_size not in ("smoke", "cpu", "full"):
            raise ValueError(f"model_size must be smoke, cpu or full, got {self.model_size!r}")
        if not (self.lr > 0 and self.bound_weight >= 0 and self.grad_clip > 0):
            raise ValueError("lr and grad_clip must be > 0 and bound_weight >= 0")
        self.fit_config(0)

    def fit_config(self, seed: int) -> FitConfig:
        return FitConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, schedule=self.schedule,
                         warmup_epochs=self.warmup_epochs, grad_clip=self.grad_clip, device=self.device,
                         seed=seed, progress=self.progress, drop_last=True)

    def model_config(self, load_balance: str, rho_min: float) -> SPAMoEConfig:
        return SPAMoEConfig.preset(self.model_size, self.acquisition, bound="hinge", rho_min=rho_min,
                                   bound_weight=self.bound_weight, load_balance=load_balance,
                                   routing="learned", bands="soft", top_k=2)


CONFIG = RoutingConfig
