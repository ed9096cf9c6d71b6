"""The routing-statistics chapter's config: :class:`RoutingConfig` with its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import ExperimentConfig, OpenFWIFilesMixin, SurveyMixin
from ...data.families import check_family
from ...models.spamoe import SPAMoEConfig
from ...training.fit import FitConfig

CHAPTER = "routing"

#: the routers trained, each one SPAMoE per seed on the pooled families: the released design (the load-balancing
#: term in the loss value without a gradient), two load-balancing ablations, and the minimal repair of the
#: gates as a labelled variant (not the paper's router; see :mod:`fwilab.layers.router`)
VARIANTS: dict[str, dict[str, Any]] = {
    "released": dict(load_balance="released"),
    # the released term with its gradient: its target is the router's own top-k choice, so it sharpens
    "lb-gradient": dict(load_balance="gradient"),
    # the released code's commented-out target 1/E, with its gradient: it pulls the mean gates toward balance
    "lb-uniform": dict(load_balance="uniform"),
    # the repair: the gates read log1p|F| and pool by the attention; load balance as released
    "repaired": dict(load_balance="released", gate_mode="repaired"),
}
#: the variants that are the paper's router (its gates as released): the claims about SPAMoE are judged on these
PAPER_VARIANTS: tuple[str, ...] = ("released", "lb-gradient", "lb-uniform")


@dataclass(frozen=True)
class RoutingConfig(SurveyMixin, OpenFWIFilesMixin, ExperimentConfig):
    """Parameters of the routing-statistics chapter.

    Attributes:
        families: families whose training samples are pooled (and whose test samples are routed).
        variants: routers trained, of :data:`VARIANTS` (``released``; ``lb-gradient``: the released
            load-balancing term with its gradient; ``lb-uniform``: target 1/E with its gradient;
            ``repaired``: log-magnitude gates pooled by the attention).
        n_seeds: seeds per variant.
        n_train, n_val, n_test: split sizes of the cached datasets: at ``full`` just the samples used
            (see the spectral chapter's config); at ``cpu`` the baselines chapter's splits, whose reference
            InversionNets (loaded, not retrained) say whether the data are learnable at this scale.
        train_per_family, val_per_family, test_per_family: samples of each family used.
        nt, nbc, model_size, epochs, batch_size, lr, schedule, warmup_epochs, grad_clip, bound_weight:
            as in the spectral chapter.
        maps, decimate: the records (see :class:`~fwilab.config.OpenFWIFilesMixin`); SPAMoE reads
            ``nt / decimate`` time samples.
        reference_baselines: report the baselines chapter's reference InversionNet of each family (its
            trained-regime check is part of this chapter's gate).
    """

    CHAPTER: ClassVar[str] = CHAPTER
    #: the families are not scope here: one model trains on all of them
    SCOPE_FIELDS: ClassVar[frozenset[str]] = frozenset({"variants", "n_seeds", "reference_baselines"})
    SUPPORTS_DECIMATION: ClassVar[bool] = True
    families: tuple[str, ...] = ("flatvel-a", "curvevel-a", "flatfault-a", "curvefault-a", "style-a")
    variants: tuple[str, ...] = ("released", "lb-gradient", "lb-uniform", "repaired")
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
    reference_baselines: bool = False
    progress: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(families=("flatvel-a", "curvevel-a"), n_seeds=1, n_train=8, n_val=4, n_test=4,
                      train_per_family=2, val_per_family=2, test_per_family=4, nt=200, nbc=20,
                      model_size="smoke", epochs=2, batch_size=4, lr=1e-3, schedule="constant",
                      warmup_epochs=0.0),
        # one SPAMoE per variant and seed on 1,500 real-map training pairs of each of FlatVel-A and CurveVel-A
        # (the baselines chapter's splits, nt 250), 5 epochs: ~6 min a run, 8 runs
        "cpu": dict(families=("flatvel-a", "curvevel-a"), n_seeds=2, n_train=4500, n_val=500, n_test=1000,
                    train_per_family=1500, val_per_family=100, test_per_family=500, maps="real", decimate=4,
                    model_size="cpu", epochs=5, batch_size=32, lr=1e-3, schedule="cosine", warmup_epochs=0.25,
                    reference_baselines=True),
        "full": dict(),
    }

    def validate(self) -> None:
        self.validate_data_fields()
        object.__setattr__(self, "families", tuple(check_family(f) for f in self.families))
        if not self.families:
            raise ValueError("families must name at least one family")
        if not self.variants or any(v not in VARIANTS for v in self.variants):
            raise ValueError(f"variants must be a non-empty subset of {tuple(VARIANTS)}, got {self.variants}")
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
        if self.reference_baselines:
            from ..baselines.config import check_reference_splits

            check_reference_splits(self, None)
            from ..baselines import BaselinesConfig

            missing = [f for f in self.families if f not in BaselinesConfig.preset(self.profile).families]
            if missing:
                raise ValueError(f"reference_baselines: the baselines chapter has no reference InversionNet of "
                                 f"{', '.join(missing)} at the {self.profile!r} profile")
        self.fit_config(0)

    def fit_config(self, seed: int) -> FitConfig:
        return FitConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, schedule=self.schedule,
                         warmup_epochs=self.warmup_epochs, grad_clip=self.grad_clip, device=self.device,
                         seed=seed, progress=self.progress, drop_last=True)

    def model_config(self, variant: str, rho_min: float) -> SPAMoEConfig:
        """The reference SPAMoE of the spectral chapter (bound enforced, learned top-2 over soft bands) with
        ``variant``'s router (:data:`VARIANTS`)."""
        return SPAMoEConfig.preset(self.model_size, self.model_acquisition, bound="hinge", rho_min=rho_min,
                                   bound_weight=self.bound_weight, routing="learned", bands="soft", top_k=2,
                                   **VARIANTS[variant])


CONFIG = RoutingConfig
