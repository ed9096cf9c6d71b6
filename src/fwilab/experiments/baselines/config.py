"""The baselines chapter's config: sizes and recipe per profile (:class:`BaselinesConfig`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...config import ExperimentConfig, OpenFWIFilesMixin, SurveyMixin
from ...data.families import FAMILIES, check_family
from ...models.inversionnet import InversionNet
from ...training.fit import FitConfig

CHAPTER = "baselines"

#: the five A families (InversionNet at cpu, VelocityGAN at full); all ten train InversionNet at full
A_FAMILIES = ("flatvel-a", "curvevel-a", "flatfault-a", "curvefault-a", "style-a")
#: fields the training pieces do not depend on, and those the classic-FWI pieces do not depend on
FWI_FIELDS = frozenset({"fwi_samples", "fwi_iterations", "fwi_frequencies", "fwi_smooth_cells"})
TRAINING_FIELDS = frozenset({"width", "epochs", "batch_size", "lr", "gan_epochs", "schedule", "warmup_epochs",
                             "bn_recalibration_batches", "decimate", "compile"})


@dataclass(frozen=True)
class BaselinesConfig(SurveyMixin, OpenFWIFilesMixin, ExperimentConfig):
    """Parameters of the baselines chapter.

    Attributes:
        families: families InversionNet is trained on; gan_families: those VelocityGAN is trained on;
            fwi_families: those classic FWI runs on (``None``: all of ``families``).
        n_seeds: training seeds per family (``seed``, ``seed + 1``, ...); ``seed`` also seeds the data.
        gan_seeds: VelocityGAN's seeds per family (the first of the same seeds; None: ``n_seeds``).
        n_train, n_val, n_test: split sizes per family (one generated dataset split by index, or the
            real files' splits: see :class:`~fwilab.config.OpenFWIFilesMixin`).
        nt, nbc: time steps and absorbing cells of the acquisition (OpenFWI: 1000 and 120).
        maps, decimate: real OpenFWI maps where they ship, and the networks' time decimation
            (:class:`~fwilab.config.OpenFWIFilesMixin`).
        width: InversionNet channel multiplier (1.0 = the official 24.4 M-parameter network).
        epochs, batch_size, lr: training (OpenFWI: 120 epochs, batch 256, AdamW lr 1e-4).
        schedule, warmup_epochs: the learning-rate schedule (OpenFWI: constant, no warm-up;
            :mod:`fwilab.training.schedules`).
        bn_recalibration_batches: BatchNorm statistics re-estimated on this many training batches
            before each validation (0: OpenFWI's running averages; :mod:`fwilab.training.batchnorm`).
        compile: ``torch.compile`` InversionNet's training step (inductor; 1.5x on 2 CPU cores, see
            ``make bench``; validation and VelocityGAN's adversarial step stay eager).
        gan_epochs: VelocityGAN epochs.
        fwi_samples, fwi_iterations, fwi_frequencies, fwi_smooth_cells: classic FWI on the first test
            samples: Adam steps per frequency stage, low-pass cut-offs [Hz] (low first), and the
            Gaussian smoothing [cells] of the true model that makes the starting model.
    """

    CHAPTER: ClassVar[str] = CHAPTER
    SCOPE_FIELDS: ClassVar[frozenset[str]] = frozenset({"families", "gan_families", "fwi_families", "n_seeds",
                                                        "gan_seeds"})
    SUPPORTS_DECIMATION: ClassVar[bool] = True
    families: tuple[str, ...] = FAMILIES
    gan_families: tuple[str, ...] = A_FAMILIES
    fwi_families: tuple[str, ...] | None = None
    n_seeds: int = 3
    gan_seeds: int | None = None
    n_train: int = 6000
    n_val: int = 500
    n_test: int = 1000
    nt: int = 1000
    nbc: int = 120
    width: float = 1.0
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-4
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    bn_recalibration_batches: int = 0
    compile: bool = False
    gan_epochs: int = 40
    fwi_samples: int = 5
    fwi_iterations: int = 40
    fwi_frequencies: tuple[float, ...] = (5.0, 10.0, 15.0)
    fwi_smooth_cells: float = 10.0
    progress: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # smoke: the real-map and decimation paths at toy size (a 200-step record, 20 absorbing cells)
        "smoke": dict(families=("flatvel-a",), gan_families=("flatvel-a",), n_seeds=1, n_train=8, n_val=4,
                      n_test=4, nt=200, nbc=20, maps="real", decimate=2, width=0.125, epochs=2, batch_size=4,
                      gan_epochs=1, fwi_samples=1, fwi_iterations=2, fwi_frequencies=(10.0,)),
        # cpu, the published reproduction: FlatVel-A and CurveVel-A on their real OpenFWI maps (train and
        # validation from all 5,000 of OpenFWI's train maps, scored on its 1,000 test maps), OpenFWI's survey,
        # records decimated ×4 (nt 250) for the networks, InversionNet at width 0.25 with warm-up + cosine at
        # lr 2e-3, a compiled training step and BatchNorm statistics re-estimated before each validation;
        # 3 seeds. Every piece's wall time is in the artifact (pieces_wall_s).
        # Budget on 2 cores: ~15 min per InversionNet piece (6), ~13 min per VelocityGAN piece (1), ~4 min of FWI.
        "cpu": dict(families=("flatvel-a", "curvevel-a"), gan_families=("flatvel-a",),
                    fwi_families=("flatvel-a",), n_seeds=3, n_train=4500, n_val=500, n_test=1000,
                    maps="real", decimate=4, width=0.25, epochs=50, batch_size=32, lr=2e-3, schedule="cosine",
                    warmup_epochs=2.0, bn_recalibration_batches=8, compile=True, gan_seeds=1, gan_epochs=30,
                    fwi_samples=10, fwi_iterations=5),
        "full": dict(maps="real"),
    }

    def validate(self) -> None:
        self.validate_data_fields()
        object.__setattr__(self, "families", tuple(check_family(f) for f in self.families))
        object.__setattr__(self, "gan_families", tuple(check_family(f) for f in self.gan_families))
        if not self.families:
            raise ValueError("families must name at least one family")
        fwi_families = self.families if self.fwi_families is None else self.fwi_families
        object.__setattr__(self, "fwi_families", tuple(check_family(f) for f in fwi_families))
        if not set(self.fwi_families) <= set(self.families):
            raise ValueError(f"fwi_families {self.fwi_families} must be among families {self.families} "
                             "(FWI is compared against InversionNet on the same test samples)")
        for name in ("n_seeds", "n_train", "n_val", "n_test", "nt", "epochs", "batch_size", "fwi_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.gan_seeds is not None and not 1 <= self.gan_seeds <= self.n_seeds:
            raise ValueError(f"gan_seeds must be between 1 and n_seeds ({self.n_seeds}), got {self.gan_seeds}")
        if self.gan_epochs < 0 or self.fwi_iterations < 0:
            raise ValueError("gan_epochs and fwi_iterations must be >= 0")
        if not 0 < self.width <= 1:
            raise ValueError(f"width must be in (0, 1], got {self.width}")
        if self.fwi_samples > self.n_test:
            raise ValueError(f"fwi_samples ({self.fwi_samples}) cannot exceed n_test ({self.n_test})")

    def fit_config(self, seed: int, checkpoint_dir: Path, epochs: int, compile: bool = False) -> FitConfig:
        """The fit recipe; ``compile`` (InversionNet's pieces pass :attr:`compile`) compiles the step."""
        return FitConfig(epochs=epochs, batch_size=self.batch_size, lr=self.lr, device=self.device, seed=seed,
                         schedule=self.schedule, warmup_epochs=self.warmup_epochs,
                         bn_recalibration_batches=self.bn_recalibration_batches, channels_last=True,
                         compile=compile, checkpoint_dir=str(checkpoint_dir), progress=self.progress,
                         drop_last=True)

    @property
    def gan_seed_list(self) -> tuple[int, ...]:
        """VelocityGAN's training seeds: the first ``gan_seeds`` of :attr:`seeds`."""
        return self.seeds[: self.n_seeds if self.gan_seeds is None else self.gan_seeds]

    def inversionnet(self, width: float | None = None) -> InversionNet:
        """An InversionNet for this config's records (nt after decimation) and maps."""
        a = self.acquisition
        return InversionNet(in_channels=a.n_shots, nt=self.data_nt, n_receivers=a.n_receivers,
                            out_shape=(a.nz, a.nx), width=self.width if width is None else width)


CONFIG = BaselinesConfig


def check_reference_splits(config: Any, width: float | None) -> None:
    """Another chapter compares with this chapter's reference pieces (``reference_baselines``): they are
    comparable only on the same splits and records, and at the same InversionNet width (``None``: a chapter
    that trains no InversionNet of its own). Raises a ``ValueError`` naming every field that differs from the
    baselines preset at ``config.profile``."""
    ref = BaselinesConfig.preset(config.profile)
    same = ("n_train", "n_val", "n_test", "nt", "nbc", "maps", "decimate")
    differ = [f"{k} {getattr(config, k)!r} (baselines: {getattr(ref, k)!r})" for k in same
              if getattr(config, k) != getattr(ref, k)]
    if differ:
        raise ValueError("reference_baselines needs the baselines chapter's splits at this profile; differs in "
                         + ", ".join(differ))
    if width is not None and width != ref.width:
        raise ValueError(f"reference_baselines: inversionnet_width {width:g} is not the "
                         f"baselines chapter's width {ref.width:g}")
