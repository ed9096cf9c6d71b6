"""The diffusion chapter's config: :class:`DiffusionConfig` with its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import ExperimentConfig, OpenFWIFilesMixin, SurveyMixin
from ...data.families import check_family
from ...models.diffusion import LatentDiffusionConfig
from ...models.vqae import VARIANTS, VQAEConfig
from ...training.fit import FitConfig

CHAPTER = "diffusion"


@dataclass(frozen=True)
class DiffusionConfig(SurveyMixin, OpenFWIFilesMixin, ExperimentConfig):
    """Parameters of the diffusion chapter (WaveDiffusion's two stages at our scale).

    Attributes:
        families: families with a 2VQ autoencoder and its joint latent diffusion (W1, W2, W3, W5).
        comparison_family: where the 1VQ model and the separately trained diffusion models run too (W4).
        n_train, n_val, n_test: split sizes of the cached datasets (at ``cpu`` the baselines chapter's, so the
            store is shared and its reference InversionNet compares on the same data).
        train_samples, val_samples: samples of the splits the models train and select on (the first ones).
        deviation_samples: pairs per deviation curve and per generated set (≥ 32 at ``cpu``).
        curve_steps: diffusion steps at which the deviation is measured, forward and backward (≥ 10).
        fd_samples: generated and real samples of each domain Fréchet distance.
        refine_samples, refine_steps, refine_candidates: the refinement (W5): test pairs, last backward
            steps, candidate latents per step.
        nt, nbc, maps, decimate: the records (the models read ``nt / decimate`` samples).
        model_size: autoencoder and UNet preset (smoke | cpu | full).
        ae_epochs, ae_batch_size, ae_lr: stage 1; ldm_epochs, ldm_batch_size, ldm_lr: stage 2;
            schedule, warmup_epochs, grad_clip: both.
        separate: also train one diffusion model per modality on the comparison family (W4).
        reference_baselines: compare inversion with the baselines chapter's reference InversionNet (same splits).
        n_bootstrap: resamples of the bootstrap intervals.
    """

    CHAPTER: ClassVar[str] = CHAPTER
    #: only the families choose which pieces run: the comparison family and ``separate`` change what the
    #: 2VQ piece of that family holds, so they stay in the piece hash
    SCOPE_FIELDS: ClassVar[frozenset[str]] = frozenset({"families"})
    SUPPORTS_DECIMATION: ClassVar[bool] = True
    families: tuple[str, ...] = ("flatvel-a", "curvevel-a")
    comparison_family: str = "curvevel-a"
    n_train: int = 4500
    n_val: int = 500
    n_test: int = 1000
    train_samples: int = 4500
    val_samples: int = 500
    deviation_samples: int = 64
    curve_steps: tuple[int, ...] = (0, 25, 50, 100, 200, 300, 400, 500, 600, 700, 850, 1000)
    fd_samples: int = 1000
    refine_samples: int = 100
    refine_steps: int = 10
    refine_candidates: int = 100
    nt: int = 1000
    nbc: int = 120
    maps: str = "real"
    decimate: int = 4
    model_size: str = "full"
    ae_epochs: int = 30
    ae_batch_size: int = 32
    ae_lr: float = 4.5e-6 * 32
    ldm_epochs: int = 200
    ldm_batch_size: int = 64
    ldm_lr: float = 2e-4
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    grad_clip: float = 1.0
    separate: bool = True
    reference_baselines: bool = False
    n_bootstrap: int = 1000
    progress: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(families=("flatvel-a",), comparison_family="flatvel-a", n_train=8, n_val=4, n_test=8,
                      train_samples=8, val_samples=4, deviation_samples=4, curve_steps=(0, 500, 1000),
                      fd_samples=4, refine_samples=2, refine_steps=2, refine_candidates=3, nt=200, nbc=20,
                      maps="generated", decimate=4, model_size="smoke", ae_epochs=2, ae_batch_size=4, ae_lr=1e-3,
                      ldm_epochs=2, ldm_batch_size=4, ldm_lr=1e-3, schedule="constant", warmup_epochs=0.0,
                      n_bootstrap=50),
        # the baselines chapter's real-map splits at nt 250; every number below is sized to the chapter's
        # 90 minutes on 2 cores (see the package docstring)
        "cpu": dict(n_train=4500, n_val=500, n_test=1000, train_samples=4500, val_samples=200,
                    deviation_samples=32, fd_samples=256, refine_samples=16, model_size="cpu", ae_epochs=6,
                    ae_lr=1e-3, ldm_epochs=60, ldm_lr=5e-4, warmup_epochs=0.3, reference_baselines=True,
                    n_bootstrap=1000),
        "full": dict(),
    }

    def validate(self) -> None:
        self.validate_data_fields()
        object.__setattr__(self, "families", tuple(check_family(f) for f in self.families))
        object.__setattr__(self, "comparison_family", check_family(self.comparison_family))
        object.__setattr__(self, "curve_steps", tuple(sorted({int(t) for t in self.curve_steps})))
        if not self.families:
            raise ValueError("families must name at least one family")
        if self.comparison_family not in self.families:
            raise ValueError(f"comparison_family {self.comparison_family!r} must be one of families {self.families}")
        for name in ("n_train", "n_val", "n_test", "train_samples", "val_samples", "deviation_samples", "fd_samples",
                     "refine_samples", "refine_steps", "refine_candidates", "nt", "ae_epochs", "ae_batch_size",
                     "ldm_epochs", "ldm_batch_size", "n_bootstrap"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        for part, n in (("train_samples", self.n_train), ("val_samples", self.n_val)):
            if getattr(self, part) > n:
                raise ValueError(f"{part} ({getattr(self, part)}) cannot exceed the split's {n} samples")
        for name, limit in (("deviation_samples", min(self.train_samples, self.n_test)),
                            ("fd_samples", min(self.train_samples, self.n_test)), ("refine_samples", self.n_test)):
            if getattr(self, name) > limit:
                raise ValueError(f"{name} ({getattr(self, name)}) cannot exceed the {limit} pairs available")
        if self.deviation_samples < 2:
            raise ValueError("deviation_samples must be >= 2 (the mismatched-pair baseline pairs samples)")
        if self.model_size not in ("smoke", "cpu", "full"):
            raise ValueError(f"model_size must be smoke, cpu or full, got {self.model_size!r}")
        timesteps = self.ldm_config("2vq").timesteps
        if any(not 0 <= t <= timesteps for t in self.curve_steps) or len(self.curve_steps) < 2:
            raise ValueError(f"curve_steps must be at least two steps in 0 … {timesteps}, got {self.curve_steps}")
        if not self.refine_steps <= timesteps:
            raise ValueError(f"refine_steps ({self.refine_steps}) cannot exceed T = {timesteps}")
        if self.reference_baselines:
            from ..baselines.config import BaselinesConfig, check_reference_splits

            check_reference_splits(self, BaselinesConfig.preset(self.profile).width)
            if self.train_samples != self.n_train:
                raise ValueError("reference_baselines: the autoencoders must train on the reference's data "
                                 f"(train_samples = n_train = {self.n_train}), got {self.train_samples}")
        self.fit_config("ae", 0)
        self.fit_config("ldm", 0)

    def vqae_config(self, variant: str) -> VQAEConfig:
        if variant not in VARIANTS:
            raise ValueError(f"unknown autoencoder variant {variant!r}: choose one of {VARIANTS}")
        return VQAEConfig.preset(self.model_size, self.acquisition, variant=variant, time_decimation=self.decimate)

    def ldm_config(self, variant: str, channels: int | None = None) -> LatentDiffusionConfig:
        """The UNet of ``variant``'s latent (``channels`` overrides the latent's channel count: the separately
        trained models diffuse one modality's half)."""
        ae = self.vqae_config(variant)
        over = {} if channels is None else {"latent_channels": channels}
        return LatentDiffusionConfig.preset(self.model_size, ae, **over)

    def fit_config(self, stage: str, seed: int, checkpoint_dir: str | None = None) -> FitConfig:
        """The fit recipe of ``stage`` (``"ae"`` or ``"ldm"``)."""
        if stage not in ("ae", "ldm"):
            raise ValueError(f"stage must be 'ae' or 'ldm', got {stage!r}")
        epochs, batch, lr = ((self.ae_epochs, self.ae_batch_size, self.ae_lr) if stage == "ae"
                             else (self.ldm_epochs, self.ldm_batch_size, self.ldm_lr))
        return FitConfig(epochs=epochs, batch_size=min(batch, self.train_samples), lr=lr, schedule=self.schedule,
                         warmup_epochs=self.warmup_epochs, grad_clip=self.grad_clip, device=self.device, seed=seed,
                         progress=self.progress, drop_last=True, checkpoint_dir=checkpoint_dir)


CONFIG = DiffusionConfig
