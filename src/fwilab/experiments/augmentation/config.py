"""The augmentation chapter's config: :class:`AugmentationConfig`, its presets and checks, and the rows of the
tables (:data:`ROWS`) and the generators they draw from (:data:`GENERATORS`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import ExperimentConfig, OpenFWIFilesMixin, SurveyMixin
from ...data.families import check_family
from ...models.ubdiff import UBDiffConfig
from ...training.fit import FitConfig

CHAPTER = "augmentation"

#: the generators of training pairs, each trained (or loaded) once per family:
#:
#: * ``2vq``: WaveDiffusion's joint latent diffusion as the diffusion chapter trains it, on *all* the training
#:   pairs (the paper's generator saw 100 % of the real data): loaded from that chapter;
#: * ``2vq-sub``: the same model trained on the ``subset_fraction`` subset of pairs only (the control the paper
#:   lacks, and UB-Diff's "state-of-the-art diffusion baseline" trained on UB-Diff's pairs);
#: * ``ubdiff``: UB-Diff, step 1 on all the training velocity maps, step 2 on the subset's pairs;
#: * ``ubdiff-joint``: "UB-Diff w/o opt", trained jointly on the subset's pairs only.
GENERATORS: tuple[str, ...] = ("2vq", "2vq-sub", "ubdiff", "ubdiff-joint")

#: the InversionNet rows: ``name → (generator or None, fraction of the real training pairs or None)``; every row
#: trains the same InversionNet for the same number of optimiser steps and is scored on the real test maps
ROWS: dict[str, tuple[str | None, float | None]] = {
    "real-100": (None, 1.0),                 # WaveDiffusion Tables 2–3: the 100 % row
    "real-10": (None, 0.10),
    "real-1": (None, 0.01),
    "gen": ("2vq", None),                    # Table 2: generated pairs only
    "gen+real-10": ("2vq", 0.10),            # Table 3
    "gen+real-1": ("2vq", 0.01),
    "gen-sub+real-10": ("2vq-sub", 0.10),    # the control: the generator saw the 10 % only
    "gen-sub": ("2vq-sub", None),            # UB-Diff's downstream baseline: the diffusion baseline's pairs
    "ubdiff": ("ubdiff", None),              # UB-Diff's downstream claim: InversionNet on UB-Diff's pairs
}


def percent(fraction: float) -> str:
    """``0.1 → "10 %"`` for labels."""
    return f"{100 * fraction:g} %"


@dataclass(frozen=True)
class AugmentationConfig(SurveyMixin, OpenFWIFilesMixin, ExperimentConfig):
    """Parameters of the augmentation chapter (WaveDiffusion Tables 2–3, UB-Diff's FID and downstream claims).

    Attributes:
        families: families on which every generator and every row runs.
        rows: InversionNet rows trained (of :data:`ROWS`), each ``n_seeds`` times.
        n_train, n_val, n_test, nt, nbc, maps, decimate: the data: at ``cpu`` the baselines and diffusion
            chapters' splits (so the diffusion chapter's 2VQ generator saw exactly this chapter's 100 %).
        val_samples: validation pairs of every InversionNet row (real, the first of the split).
        subset_fraction: the "few pairs" of UB-Diff and of the control generator (the paper's 10 % row).
        gen_samples: generated pairs drawn from a generator for a training set.
        sample_steps: DDIM steps of the 2VQ generators (UB-Diff's DDPM samples with DDIM too, η = 0).
        width, batch_size, lr, schedule, warmup_epochs, bn_recalibration_batches, compile: the InversionNet
            recipe (the baselines chapter's, at the cpu width).
        epochs, samples_per_epoch: every row's length: ``epochs`` epochs of ``samples_per_epoch`` samples
            (``epochs · samples_per_epoch / batch_size`` optimiser steps whatever the training set's size;
            small sets are cycled).
        model_size: UB-Diff's preset (:meth:`~fwilab.models.ubdiff.UBDiffConfig.preset`) and the 2VQ's
            (the diffusion chapter's preset at this profile).
        ub_epochs, ub_batch_size, ub_lr: UB-Diff's step 1 (epochs over all maps), step 2 and the joint
            ablation (epochs over the subset's pairs, as ``ub_pair_samples`` samples per epoch), and its
            latent DDPM (``ub_ddpm_epochs`` over the co-latents).
        sub_ae_epochs, sub_ldm_epochs, sub_samples_per_epoch: the 2VQ trained on the subset (epochs of
            ``sub_samples_per_epoch`` samples, the subset cycled).
        fid_samples: generated and real pairs of each FID (≥ 250 at ``cpu``).
        deviation_samples: pairs of each PDE deviation.
        reference_baselines: report the baselines chapter's reference InversionNets (the trained-regime gate).
        n_bootstrap: resamples of the bootstrap intervals.
    """

    CHAPTER: ClassVar[str] = CHAPTER
    SCOPE_FIELDS: ClassVar[frozenset[str]] = frozenset({"families", "rows", "n_seeds", "reference_baselines"})
    SUPPORTS_DECIMATION: ClassVar[bool] = True
    families: tuple[str, ...] = ("flatvel-a", "curvevel-a")
    rows: tuple[str, ...] = tuple(ROWS)
    n_seeds: int = 3
    n_train: int = 4500
    n_val: int = 500
    n_test: int = 1000
    val_samples: int = 500
    nt: int = 1000
    nbc: int = 120
    maps: str = "real"
    decimate: int = 4
    subset_fraction: float = 0.1
    gen_samples: int = 4500
    sample_steps: int = 100
    width: float = 1.0
    batch_size: int = 32
    lr: float = 2e-3
    schedule: str = "cosine"
    warmup_epochs: float = 2.0
    bn_recalibration_batches: int = 8
    compile: bool = False
    epochs: int = 50
    samples_per_epoch: int = 4500
    model_size: str = "full"
    ub_epochs: int = 50
    ub_pair_samples: int = 4500
    ub_ddpm_epochs: int = 200
    ub_batch_size: int = 32
    ub_lr: float = 1e-3
    sub_ae_epochs: int = 30
    sub_ldm_epochs: int = 200
    sub_samples_per_epoch: int = 4500
    fid_samples: int = 1000
    deviation_samples: int = 64
    reference_baselines: bool = False
    n_bootstrap: int = 1000
    progress: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(families=("flatvel-a",), n_seeds=1, n_train=8, n_val=4, n_test=8, val_samples=4, nt=200,
                      nbc=20, maps="generated", subset_fraction=0.5, gen_samples=8, sample_steps=2, width=0.125,
                      batch_size=4, lr=1e-3, schedule="constant", warmup_epochs=0.0, bn_recalibration_batches=0,
                      epochs=1, samples_per_epoch=8, model_size="smoke", ub_epochs=1, ub_pair_samples=4,
                      ub_ddpm_epochs=1, ub_batch_size=4, ub_lr=1e-3, sub_ae_epochs=1, sub_ldm_epochs=1,
                      sub_samples_per_epoch=4, fid_samples=4, deviation_samples=2, n_bootstrap=20),
        # the baselines / diffusion chapters' real-map splits at nt 250 and the baselines InversionNet recipe at
        # width 0.25, every row for the same steps (a fraction of the reference recipe's 7,030: see the page)
        "cpu": dict(n_seeds=3, n_train=4500, n_val=500, n_test=1000, val_samples=200, gen_samples=1500,
                    width=0.25, epochs=6, samples_per_epoch=1504, compile=True, warmup_epochs=0.5,
                    model_size="cpu", ub_epochs=8, ub_pair_samples=1504, ub_ddpm_epochs=60, ub_batch_size=32,
                    sub_ae_epochs=4, sub_ldm_epochs=60, sub_samples_per_epoch=1504, fid_samples=250,
                    deviation_samples=32, reference_baselines=True),
        "full": dict(),
    }

    def validate(self) -> None:
        self.validate_data_fields()
        object.__setattr__(self, "families", tuple(check_family(f) for f in self.families))
        if not self.families:
            raise ValueError("families must name at least one family")
        unknown = [r for r in self.rows if r not in ROWS]
        if not self.rows or unknown:
            raise ValueError(f"rows must be a non-empty subset of {tuple(ROWS)}; unknown: {unknown}")
        for name in ("n_seeds", "n_train", "n_val", "n_test", "val_samples", "nt", "gen_samples", "sample_steps",
                     "batch_size", "epochs", "samples_per_epoch", "ub_epochs", "ub_pair_samples", "ub_ddpm_epochs",
                     "ub_batch_size", "sub_ae_epochs", "sub_ldm_epochs", "sub_samples_per_epoch", "fid_samples",
                     "deviation_samples", "n_bootstrap"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.val_samples > self.n_val:
            raise ValueError(f"val_samples ({self.val_samples}) cannot exceed the split's {self.n_val} samples")
        if not 0 < self.subset_fraction < 1:
            raise ValueError(f"subset_fraction must lie in (0, 1), got {self.subset_fraction!r}")
        if self.samples_per_epoch < self.batch_size:
            raise ValueError(f"samples_per_epoch ({self.samples_per_epoch}) is less than one batch ({self.batch_size})")
        if self.fid_samples > min(self.n_test, self.gen_samples) or self.deviation_samples > self.fid_samples:
            raise ValueError(f"fid_samples ({self.fid_samples}) cannot exceed the test split ({self.n_test}) or "
                             f"gen_samples ({self.gen_samples}), nor deviation_samples ({self.deviation_samples}) "
                             "fid_samples")
        if self.fid_samples < 2:
            raise ValueError("fid_samples must be >= 2 (a covariance needs two samples)")
        if not self.width > 0 or not self.lr > 0 or not self.ub_lr > 0:
            raise ValueError("width, lr and ub_lr must be > 0")
        if self.model_size not in ("smoke", "cpu", "full"):
            raise ValueError(f"model_size must be smoke, cpu or full, got {self.model_size!r}")
        diffusion = self.diffusion_config()
        same = ("n_train", "n_val", "n_test", "nt", "nbc", "maps", "decimate", "model_size")
        differ = [f"{k} {getattr(self, k)!r} (diffusion: {getattr(diffusion, k)!r})" for k in same
                  if getattr(self, k) != getattr(diffusion, k)]
        if differ or diffusion.train_samples != self.n_train:
            raise ValueError("the 2VQ generator is the diffusion chapter's, trained on this chapter's 100 %: the data "
                             "must be its splits at this profile; differs in " + (", ".join(differ) or
                                                                                  "train_samples"))
        if self.reference_baselines:
            from ..baselines.config import check_reference_splits

            check_reference_splits(self, self.width)
        self.fit_config(0)
        self.ubdiff_config()

    # ------------------------------------------------------------------ derived sizes and recipes

    @property
    def fractions(self) -> tuple[float, ...]:
        """The real fractions the rows and the generators use (sorted, largest first)."""
        fr = {f for r in self.rows for f in [ROWS[r][1]] if f is not None} | {self.subset_fraction}
        return tuple(sorted(fr, reverse=True))

    def subset_size(self, fraction: float) -> int:
        """Pairs in the ``fraction`` subset: the first ``round(fraction · n_train)`` training pairs (at least one)."""
        return max(1, int(round(fraction * self.n_train)))

    @property
    def generators(self) -> tuple[str, ...]:
        """Every generator some row or measurement needs (all four: the FIDs compare them)."""
        return GENERATORS

    @property
    def steps(self) -> int:
        """Optimiser steps of every InversionNet row."""
        return self.epochs * (self.samples_per_epoch // self.batch_size)

    def diffusion_config(self):
        """The diffusion chapter's config at this profile (its 2VQ generator and model sizes)."""
        from ..diffusion.config import DiffusionConfig

        return DiffusionConfig.preset(self.profile, results_dir=self.results_dir, device=self.device,
                                      progress=self.progress)

    def ubdiff_config(self) -> UBDiffConfig:
        return UBDiffConfig.preset(self.model_size, self.acquisition, time_decimation=self.decimate)

    def fit_config(self, seed: int, checkpoint_dir: str | None = None) -> FitConfig:
        """The InversionNet recipe of every row."""
        return FitConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, schedule=self.schedule,
                         warmup_epochs=self.warmup_epochs, bn_recalibration_batches=self.bn_recalibration_batches,
                         channels_last=True, compile=self.compile, device=self.device, seed=seed,
                         progress=self.progress, drop_last=True, samples_per_epoch=self.samples_per_epoch,
                         checkpoint_dir=checkpoint_dir)

    def generator_fit_config(self, epochs: int, batch_size: int, lr: float, seed: int, checkpoint_dir: str | None,
                             samples_per_epoch: int | None = None) -> FitConfig:
        """A generator's recipe (UB-Diff's steps and DDPM, the subset 2VQ): cosine with a short warm-up."""
        return FitConfig(epochs=epochs, batch_size=batch_size, lr=lr, schedule="cosine" if self.profile != "smoke"
                         else "constant", warmup_epochs=0.3 if self.profile != "smoke" else 0.0, grad_clip=1.0,
                         device=self.device, seed=seed, progress=self.progress, drop_last=True,
                         samples_per_epoch=samples_per_epoch, checkpoint_dir=checkpoint_dir)

    def inversionnet(self):
        """The InversionNet of every row (the baselines chapter's, at :attr:`width`)."""
        from ...models.inversionnet import InversionNet

        a = self.acquisition
        return InversionNet(in_channels=a.n_shots, nt=self.data_nt, n_receivers=a.n_receivers,
                            out_shape=(a.nz, a.nx), width=self.width)


CONFIG = AugmentationConfig
