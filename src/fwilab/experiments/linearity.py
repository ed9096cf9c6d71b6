"""Chapter "InvLINT": the near-linear relation between integral transforms, and the model built on it.

InvLINT (Feng et al., ICML 2022) claims that after two fixed integral transforms the seismic data
``U`` and the velocity map ``Y`` are related by a near-linear map ``Y ≈ A U``, that ``A`` has few
essential dimensions, and that a five-layer network built on it (frozen transforms and ridge map,
a one-block transformer decoder) matches InversionNet with ~6 % of its parameters and ~5 % of its
FLOPs. This chapter tests each claim on our data.

Pieces (each saved when it finishes, so an interrupted run resumes at the first missing one):

* ``linearity-<family>``: sine-kernel U and Gaussian-kernel Y over the train / validation / test
  splits; the ridge map A at the paper's α = 1 and at α chosen on validation; Table 11's MAE / MSE
  on train and test beside ``ymax − ymin`` and ``|ymean|``; R²; two controls (the same regression
  on the raw, untransformed seismic data, and on random time kernels in place of the sines); the
  normalised singular values of A — all for ``y = c`` (the default) and ``y = c²`` (Eq. 10);
* ``decoder-kernels-<family>``, ``kernel-counts-<family>``, ``encoder-kernels-<family>``: the
  kernel tables (2/3, 6/7) and the N × M grid (Table 8, Fig. 4) by the ridge fit alone (α chosen
  on validation per variant, scored on test), with a velocity-space score: the linear read-out
  MAE [m/s] (see :func:`readout_mae`);
* ``invlint-<family>-s<k>``: InvLINT trained (encoder fitted on the train split, decoder by
  :func:`~fwilab.training.runs.train_and_evaluate`), ``inversionnet-<family>-s<k>``: InversionNet
  trained with the baselines chapter's recipe for the same epochs on the same splits;
* ``invlint-<kind>-<value>-<family>-s<k>``: trained variants (decoder architectures, kernels,
  kernel counts, ``y = c²``) on the variant families;
* ``fwi-<family>``: multiscale classic FWI on the first test samples (shared with the baselines
  chapter, :func:`fwilab.experiments.baselines.classic_fwi`);
* ``costs``: parameters, FLOPs and single-thread CPU latency at batch 1 of every model.

Input convention (decided here): the integral transforms take the seismic data exactly as the data
splits hand them to every model — OpenFWI's ``sign·log1p`` then min-max to [-1, 1] (§4.1.2: "the
input seismic data ... are normalized to the range [-1, 1]"); the raw amplitudes span ~6 orders of
magnitude, so a ridge fit on them would be dominated by the direct arrival.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

import numpy as np
import torch

from ..claims import Claim, judge
from ..config import ExperimentConfig, OpenFWIFilesMixin, SurveyMixin
from ..data.families import check_family
from ..data.splits import FamilySplits, check_openfwi_files, load_family_splits
from ..layers.integral import DECODER_KERNELS, ENCODER_KERNELS, SeismicIntegralTransform, VelocityIntegralTransform
from ..metrics import VELOCITY_SCALE, count_flops, count_parameters, cpu_latency, mean_std
from ..models.inversionnet import InversionNet, scaled_dims
from ..models.invlint import DECODERS, EMBED_DIM, TARGETS, InvLINT, fit_linear_map, linearity_report, singular_values
from ..report import pm, seconds
from ..results import Artifact, run_piece
from ..training.fit import FitConfig
from ..training.losses import l1
from ..training.runs import train_and_evaluate
from .baselines import A_FAMILIES, checkpoint_root, classic_fwi

CHAPTER = "linearity"

# --- the paper's numbers (InvLINT, ICML 2022) ----------------------------------------------------
#: Table 1: MAE, MSE (de-normalised units), SSIM, parameters, FLOPs of InversionNet and InvLINT.
PAPER_TABLE1 = {
    "Kimberlina-Leakage": {"InversionNet": (9.43, 1086.99, 0.9868, 15.81e6, 563.52e6),
                           "InvLINT": (8.13, 1534.60, 0.9812, 1.49e6, 44.30e6)},
    "Marmousi": {"InversionNet": (149.67, 45936.23, 0.7889, 24.41e6, 189.58e6),
                 "InvLINT": (136.67, 36003.43, 0.7972, 1.45e6, 9.31e6)},
    "Salt": {"InversionNet": (25.98, 8669.98, 0.9764, 13.74e6, 32.37e6),
             "InvLINT": (24.60, 8840.79, 0.9742, 1.62e6, 5.98e6)},
}
#: Table 11: ridge fit on (train, test): MAE, MSE, ymax − ymin, |ymean| (seismic datasets).
PAPER_TABLE11 = {
    "Kimberlina-Leakage": {"train": (2.83, 45.48, 884.4, 490.93), "test": (4.63, 245.09, 885.27, 492.65)},
    "Marmousi": {"train": (4.26, 33.38, 107.05, 4.92), "test": (4.29, 33.9, 103.01, 5.1)},
    "Salt": {"train": (0.28, 0.46, 51.3, 12.11), "test": (0.48, 1.98, 49.35, 11.97)},
}
#: Tables 2 (Marmousi) and 6 (Kimberlina-Leakage): encoder kernel → MAE (their units).
PAPER_ENCODER_KERNELS = {
    "sin": (136.67, 8.13), "sin_sin": (138.76, 11.07), "sin_cos": (128.33, 8.88),
    "cos_sin": (140.14, 10.95), "sin_sum": (141.58, 8.17), "sin_plus": (142.12, 8.10),
}
#: Tables 3 (Marmousi) and 7 (Kimberlina-Leakage): decoder kernel → MAE.
PAPER_DECODER_KERNELS = {
    "gaussian": (136.67, 8.13), "sinc": (138.02, 8.90), "gaussian_sigma": (138.19, 8.84),
    "sin_sin": (177.36, 15.41), "cos_sin": (165.38, 15.40), "sin_cos": (175.92, 15.37),
    "sin_sum": (209.47, 12.86), "sin_plus": (216.12, 13.21),
}
#: Table 8 (Kimberlina-Leakage): (N, M) → MAE.
PAPER_KERNEL_COUNTS = {(2048, 512): 8.13, (1024, 512): 8.63, (4096, 512): 8.29, (2048, 128): 8.76,
                       (2048, 1024): 8.59}
#: Tables 4/5 (Marmousi) and 9/10 (Kimberlina-Leakage): decoder → (MAE Marmousi, MAE KL, params, FLOPs).
PAPER_DECODERS = {
    "transformer": (136.67, 8.13, 1.45e6, 9.3e6), "conv2": (140.72, 13.42, 0.30e6, 9.2e6),
    "deconv1": (167.98, 21.32, 0.35e6, 10.8e6), "deconv-conv5": (126.59, 6.86, 12.71e6, 94.6e6),
    "up-conv5": (128.74, 6.87, 4.01e6, 56.7e6), "unshared-linear": (138.82, 8.14, None, None),
    "transformer2": (134.24, 8.24, None, None), "transformer3": (132.19, 8.09, None, None),
}
#: §4.2: training 9× faster (1 h vs 9 h, Marmousi), CPU inference 16× faster (5 ms vs 80 ms, batch 1, one thread).
PAPER_TRAIN_SPEEDUP, PAPER_LATENCY_SPEEDUP = 9.0, 16.0
#: §4.5: MAE of InvLINT vs multiscale FWI on 5 samples per dataset.
PAPER_FWI = {"Kimberlina-Leakage": (11.7, 42.0), "Marmousi": (140.7, 199.5), "Salt": (26.1, 176.6)}

# --- our settings --------------------------------------------------------------------------------
#: §4.1.2: AdamW β (0.5, 0.999), weight decay 1e-4, lr 1e-3, cosine warm restarts T0 = 5, T_mult = 2.
BETAS: tuple[float, float] = (0.5, 0.999)
WEIGHT_DECAY: float = 1e-4
T0, T_MULT = 5, 2
#: The paper's minimum learning rate "1 × 10⁻³" equals its initial one (a constant rate; surely a
#: typo); ours is 1e-5.
MIN_LR: float = 1e-5
#: Fig. 5 truncates the normalised singular values at 150; "essential" = above this fraction of the largest.
SV_TOP: int = 150
ESSENTIAL_THRESHOLD: float = 1e-2
#: the penalties α tried on the validation split (the paper's α = 1 among them); wide because the
#: 2-D encoder kernels' U integrates over the receivers instead of averaging them (larger by about the
#: receiver count) and the raw control's Gram matrix sums over every time sample and receiver. A choice
#: on the grid's edge is flagged in the claims (the best penalty may lie beyond it).
ALPHAS: tuple[float, ...] = tuple(float(10.0 ** k) for k in range(-2, 9))
#: the controls' grid reaches further down: a control that must fit "clearly worse" gets every chance
#: to fit well (the random kernels chose ALPHAS' lower edge on FlatVel-A at `cpu`)
CONTROL_ALPHAS: tuple[float, ...] = tuple(float(10.0 ** k) for k in range(-6, 9))
#: the control must fit "clearly worse": its test MSE at least this many times the transform's
CONTROL_FACTOR: float = 1.5
#: comparable accuracy: InvLINT's mean MAE at most this many times InversionNet's (paper: 0.86-0.95×)
COMPARABLE_FACTOR: float = 1.10
#: the three families of the cpu profile (the baselines chapter's cpu splits)
CPU_FAMILIES: tuple[str, ...] = ("flatvel-a", "curvevel-a", "flatfault-a")

#: Trained variants, "<kind>:<value>": decoder architectures (Tables 4/5/9/10), encoder and
#: decoder kernels (Tables 2/3/6/7), kernel counts "NxM" (Table 8), the Eq. 10 target.
DECODER_VARIANTS = tuple(f"decoder:{d}" for d in DECODERS if d != "transformer")
ENCODER_VARIANTS = tuple(f"encoder_kernel:{k}" for k in ENCODER_KERNELS if k != "sin")
DECODER_KERNEL_VARIANTS = tuple(f"decoder_kernel:{k}" for k in DECODER_KERNELS if k != "gaussian")
COUNT_VARIANTS = ("counts:1024x512", "counts:4096x512", "counts:2048x128", "counts:2048x1024")
ALL_VARIANTS = DECODER_VARIANTS + ENCODER_VARIANTS + DECODER_KERNEL_VARIANTS + COUNT_VARIANTS + ("target:c2",)


def parse_variant(spec: str) -> tuple[str, Any]:
    """``"decoder:conv2"`` → ``("decoder", "conv2")``; ``"counts:1024x512"`` → ``("counts", (1024, 512))``."""
    kind, _, value = str(spec).partition(":")
    tables = {"decoder": DECODERS, "encoder_kernel": ENCODER_KERNELS, "decoder_kernel": DECODER_KERNELS,
              "target": TARGETS}
    if kind in tables and value in tables[kind]:
        return kind, value
    if kind == "counts":
        n, _, m = value.partition("x")
        if n.isdigit() and m.isdigit() and int(n) > 0 and int(m) > 0:
            return kind, (int(n), int(m))
    raise ValueError(f"unknown InvLINT variant {spec!r}: use decoder:<{'|'.join(DECODERS)}>, "
                     f"encoder_kernel:<name>, decoder_kernel:<name>, target:c2 or counts:<N>x<M>")


@dataclass(frozen=True)
class LinearityConfig(SurveyMixin, OpenFWIFilesMixin, ExperimentConfig):
    """Parameters of the InvLINT chapter.

    Attributes:
        families: families analysed and trained on (InvLINT and InversionNet, ``n_seeds`` each).
        encoder_kernel_families: families of the encoder-kernel ridge sweep (the 2-D kernels cost
            70× the default's transform on CPU); variant_families: those the trained variants run on.
        variants: trained variants (:data:`ALL_VARIANTS` spells them), one seed each.
        n_seeds: training seeds (``seed``, ``seed + 1``, ...); ``seed`` also seeds the data.
        n_train, n_val, n_test: split sizes per family; nt, nbc: acquisition (OpenFWI 1000, 120).
        n_sine, n_gauss: N and M (paper 2048, 512); embed_dim: token width k of the decoder.
        encoder_alpha: ridge penalty of the trained models' A; None: chosen on validation from
            :data:`ALPHAS` (the linearity analysis reports the paper's α = 1 too).
        kernel_counts: the N × M grid (Fig. 4: 128..4096).
        epochs, batch_size, lr: InvLINT training (paper: batch 128, lr 1e-3; AdamW β (0.5, 0.999),
            cosine warm restarts T0 = 5, T_mult = 2 are fixed).
        decoder_width: channel multiplier of the (Deconv + Conv)×5 / (Up + Conv)×5 decoders.
        inversionnet_width, inversionnet_batch_size, inversionnet_lr: InversionNet with the
            baselines chapter's recipe at this profile, trained for the same ``epochs``.
        fwi_samples, fwi_iterations, fwi_frequencies, fwi_smooth_cells: classic FWI as the
            baselines chapter runs it, on the first test samples of every family.

    Cost of a run (estimates):

    * ``smoke``: ~20 s on 2 CPU cores (16 samples at nt = 200, N = 64, one epoch).
    * ``cpu``: ~20 min on 2 quiet cores with the baselines chapter's cached splits (400 / 50 / 100
      of FlatVel-A, CurveVel-A, FlatFault-A): InversionNet width 0.25, 9 runs × 5 epochs at
      ~35 samples/s ≈ 9.5 min; InvLINT 9 runs ≈ 2.5 min; 8 trained variants on CurveVel-A ≈ 3.5 min
      (the two InversionNet-style decoders at width 0.25 dominate); the ridge analyses ≈ 1 min
      per family and the 2-D encoder kernels ≈ 1.5 min on CurveVel-A; costs ≈ 0.5 min. No FWI
      (``fwi_iterations = 0``, it would add ~10 min a family): the baselines chapter runs it on
      FlatVel-A's same split, and the claim is judged at full only. (Measured on contended cores, these were 1.5-3× longer.)
    * ``full``: five A families at 6,000 / 500 / 1,000 on one H100: every piece under 8 min —
      InversionNet (width 1, 35 epochs) ≈ 4-6 min, InvLINT and its variants ≈ 1-3 min, ridge
      pieces < 2 min, FWI 5 samples × 120 steps ≈ 3-5 min; ~3.5 h for the whole chapter
      (5 × 3 × 2 training runs, 2 × 27 variants).
    """

    CHAPTER: ClassVar[str] = CHAPTER
    SCOPE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"families", "encoder_kernel_families", "variant_families", "variants", "n_seeds"})
    families: tuple[str, ...] = A_FAMILIES
    encoder_kernel_families: tuple[str, ...] = A_FAMILIES
    variant_families: tuple[str, ...] = ("curvevel-a", "flatfault-a")
    variants: tuple[str, ...] = ALL_VARIANTS
    n_seeds: int = 3
    n_train: int = 6000
    n_val: int = 500
    n_test: int = 1000
    nt: int = 1000
    nbc: int = 120
    n_sine: int = 2048
    n_gauss: int = 512
    embed_dim: int = EMBED_DIM
    encoder_alpha: float | None = None
    kernel_counts: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    epochs: int = 35  # 5 + 10 + 20: ends where a warm-restart cycle does
    batch_size: int = 128
    lr: float = 1e-3
    decoder_width: float = 1.0
    inversionnet_width: float = 1.0
    inversionnet_batch_size: int = 64
    inversionnet_lr: float = 1e-4
    fwi_samples: int = 5
    fwi_iterations: int = 40
    fwi_frequencies: tuple[float, ...] = (5.0, 10.0, 15.0)
    fwi_smooth_cells: float = 10.0
    progress: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(families=("flatvel-a",), encoder_kernel_families=("flatvel-a",),
                      variant_families=("flatvel-a",), variants=("decoder:conv2",), n_seeds=1,
                      n_train=8, n_val=4, n_test=4, nt=200, nbc=20, n_sine=64, n_gauss=16, embed_dim=16,
                      kernel_counts=(16, 64), epochs=1, batch_size=4, decoder_width=0.125,
                      inversionnet_width=0.125, inversionnet_batch_size=4, inversionnet_lr=1e-4,
                      fwi_samples=1, fwi_iterations=1, fwi_frequencies=(10.0,)),
        # the baselines chapter's cpu splits and InversionNet recipe (width 0.25, batch 16, lr 5e-4)
        "cpu": dict(families=CPU_FAMILIES, encoder_kernel_families=("curvevel-a",),
                    variant_families=("curvevel-a",), variants=DECODER_VARIANTS + ("target:c2",),
                    n_train=400, n_val=50, n_test=100, epochs=5, batch_size=16, decoder_width=0.25,
                    inversionnet_width=0.25, inversionnet_batch_size=16, inversionnet_lr=5e-4,
                    fwi_samples=1, fwi_iterations=0),  # FWI: the baselines chapter runs it on these splits
        "full": dict(),
    }

    def validate(self) -> None:
        self.validate_data_fields()
        for name in ("families", "encoder_kernel_families", "variant_families"):
            object.__setattr__(self, name, tuple(check_family(f) for f in getattr(self, name)))
        if not self.families:
            raise ValueError("families must name at least one family")
        for name in ("encoder_kernel_families", "variant_families"):
            extra = sorted(set(getattr(self, name)) - set(self.families))
            if extra:
                raise ValueError(f"{name} {extra} must be among families {list(self.families)}")
        for v in self.variants:
            parse_variant(v)
        for name in ("n_seeds", "n_val", "n_test", "nt", "n_sine", "n_gauss", "embed_dim", "epochs",
                     "batch_size", "inversionnet_batch_size", "fwi_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_train < 2:
            raise ValueError(f"n_train must be >= 2 (a ridge fit with intercept), got {self.n_train}")
        if self.fwi_iterations < 0:
            raise ValueError(f"fwi_iterations must be >= 0, got {self.fwi_iterations}")
        if self.fwi_samples > self.n_test:
            raise ValueError(f"fwi_samples ({self.fwi_samples}) cannot exceed n_test ({self.n_test})")
        for name in ("decoder_width", "inversionnet_width"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.encoder_alpha is not None and not (self.encoder_alpha > 0 and math.isfinite(self.encoder_alpha)):
            raise ValueError(f"encoder_alpha must be a finite number > 0 or None, got {self.encoder_alpha}")
        if not self.kernel_counts or any(int(k) < 1 for k in self.kernel_counts):
            raise ValueError(f"kernel_counts must be positive integers, got {self.kernel_counts}")
        object.__setattr__(self, "kernel_counts", tuple(sorted(int(k) for k in set(self.kernel_counts))))
        for name in ("n_sine", "n_gauss"):
            if getattr(self, name) not in self.kernel_counts:
                raise ValueError(f"{name} ({getattr(self, name)}) must be one of kernel_counts {self.kernel_counts} "
                                 "(the grid is compared with the default)")

    def invlint_fit_config(self, seed: int, checkpoint_dir) -> FitConfig:
        return FitConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, betas=BETAS,
                         weight_decay=WEIGHT_DECAY, schedule="cosine-warm-restarts", T0=T0, T_mult=T_MULT,
                         min_lr=MIN_LR, device=self.device, seed=seed, checkpoint_dir=str(checkpoint_dir),
                         progress=self.progress, drop_last=True)

    def inversionnet_fit_config(self, seed: int, checkpoint_dir) -> FitConfig:
        # the baselines chapter's BaselinesConfig.fit_config, with this chapter's epochs
        return FitConfig(epochs=self.epochs, batch_size=self.inversionnet_batch_size, lr=self.inversionnet_lr,
                         device=self.device, seed=seed, checkpoint_dir=str(checkpoint_dir),
                         progress=self.progress, drop_last=True)


# =================================================================================================
# Ridge regression for many α, and the scores of a fit


@contextmanager
def one_cpu_thread():
    """Run a dense eigen/singular value solver on one CPU thread.

    The matrices here are often of low rank (layered maps give few independent Y; A inherits
    it); MKL's multi-threaded divide-and-conquer then synchronises its threads at every deflation
    step and, on a machine whose cores are busy with other work, takes seconds for a 400 × 400
    Gram matrix that one thread solves in 30 ms (measured on the 2-core CI machine; the SVD of a
    512 × 10240 map: 19 s vs < 1 s).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _eigh(K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if K.device.type != "cpu":
        return torch.linalg.eigh(K)
    with one_cpu_thread():
        return torch.linalg.eigh(K)


def _singular_values(weight: torch.Tensor) -> torch.Tensor:
    """Normalised singular values of A (float64, CPU, descending)."""
    with one_cpu_thread():
        return singular_values(weight.cpu())


class RidgePath:
    """Ridge regression ``Y ≈ U Aᵀ + b`` for many penalties α from one eigendecomposition.

    Dual (kernel) form: with the training features centred, ``Uc = U − ū`` [n, D], and their
    Gram matrix ``K = Uc Ucᵀ = Q Λ Qᵀ`` [n, n], the ridge prediction for new features ``U'`` is
    ``(U' − ū) Ucᵀ Q (Λ + α)⁻¹ Qᵀ (Y − ȳ) + ȳ`` — the solution of
    :func:`~fwilab.models.invlint.fit_linear_map` (intercept fitted, not penalised) for every α,
    whatever D. Float64 throughout.

    Build it from features (:meth:`from_features`, keeps ``Uc`` for :meth:`cross`) or from a Gram
    matrix computed elsewhere (:func:`centred_grams`, for features too wide to hold).
    """

    def __init__(self, gram: torch.Tensor, features: torch.Tensor | None = None,
                 feature_mean: torch.Tensor | None = None):
        K = torch.as_tensor(gram).to(torch.float64)
        if K.dim() != 2 or K.shape[0] != K.shape[1] or K.shape[0] < 2:
            raise ValueError(f"gram must be a square matrix of at least 2 samples, got {tuple(K.shape)}")
        lam, Q = _eigh(0.5 * (K + K.T))
        self.lam, self.Q = lam.clamp_min(0.0), Q
        self.features, self.feature_mean = features, feature_mean

    @classmethod
    def from_features(cls, U: torch.Tensor) -> "RidgePath":
        U = U.to(torch.float64)
        mean = U.mean(0)
        Uc = U - mean
        return cls(Uc @ Uc.T, Uc, mean)

    @property
    def n(self) -> int:
        return self.Q.shape[0]

    def cross(self, U_new: torch.Tensor) -> torch.Tensor:
        """``(U' − ū) Ucᵀ`` [n_new, n] for features of the training kind."""
        if self.features is None:
            raise ValueError("this RidgePath was built from a Gram matrix: pass cross-Gram matrices instead")
        return (U_new.to(self.features) - self.feature_mean) @ self.features.T

    def basis(self, cross: torch.Tensor) -> torch.Tensor:
        """Project a cross-Gram matrix [n_new, n] onto the eigenvectors: ``cross Q``."""
        return cross.to(self.Q) @ self.Q

    def targets(self, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Qᵀ (Y − ȳ), ȳ)`` for training targets ``Y [n, M]``."""
        Y = Y.to(self.Q)
        if Y.dim() != 2 or Y.shape[0] != self.n:
            raise ValueError(f"Y must be [{self.n}, M], got {tuple(Y.shape)}")
        mean = Y.mean(0)
        return self.Q.T @ (Y - mean), mean

    def predict(self, basis: torch.Tensor, targets: tuple[torch.Tensor, torch.Tensor], alpha: float) -> torch.Tensor:
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
        R, mean = targets
        return (basis / (self.lam + alpha)) @ R + mean

    def select(self, basis_val: torch.Tensor, targets, Y_val: torch.Tensor,
               alphas: Sequence[float] = ALPHAS) -> tuple[float, list[float]]:
        """The α of ``alphas`` with the smallest validation MSE, and the MSE of each α."""
        Y_val = Y_val.to(self.Q)
        mses = [float((self.predict(basis_val, targets, a) - Y_val).pow(2).mean()) for a in alphas]
        return float(alphas[int(np.argmin(mses))]), mses


def centred_grams(train: torch.Tensor, others: Sequence[torch.Tensor], device: torch.device | str = "cpu",
                  chunk: int = 8192) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Gram matrices of features centred by the training mean, streamed over feature chunks.

    Args:
        train: ``[n, ...]`` training features (flattened to ``[n, D]``; kept where they are).
        others: further sets ``[n_k, ...]`` of the same features.
        chunk: features moved to ``device`` (float64) at a time, so D may be very large (raw
            seismic data: shot·time·receiver = 350,000).

    Returns ``(K [n, n], [K_k [n_k, n]])`` with ``K = Xc Xcᵀ``, ``K_k = (X_k − x̄) Xcᵀ``.
    """
    X = train.reshape(train.shape[0], -1)
    Os = [o.reshape(o.shape[0], -1) for o in others]
    if any(o.shape[1] != X.shape[1] for o in Os):
        raise ValueError("every set must have the training set's features")
    K = torch.zeros(X.shape[0], X.shape[0], dtype=torch.float64, device=device)
    Ks = [torch.zeros(o.shape[0], X.shape[0], dtype=torch.float64, device=device) for o in Os]
    for j in range(0, X.shape[1], chunk):
        x = X[:, j:j + chunk].to(device, torch.float64)
        mean = x.mean(0)
        xc = x - mean          # not in place: for float64 input .to() returns the caller's tensor
        K += xc @ xc.T
        for o, Ko in zip(Os, Ks):
            Ko += (o[:, j:j + chunk].to(device, torch.float64) - mean) @ xc.T
    return K, Ks


def scores(pred: torch.Tensor, Y: torch.Tensor) -> dict[str, float]:
    """Table 11's scores of predictions ``pred`` of targets ``Y`` [n, M], plus R² and MAE / range.

    ``linearity_report`` of the identity map applied to the predictions: ``mae``, ``mse``, ``r2``,
    ``y_range`` (``ymax − ymin``), ``y_abs_mean``; ``rel_mae = mae / y_range``.
    """
    pred, Y = pred.detach().double().cpu(), Y.detach().double().cpu()
    out = linearity_report(torch.eye(pred.shape[1], dtype=torch.float64), pred, Y)
    out["rel_mae"] = out["mae"] / out["y_range"] if out["y_range"] > 0 else float("nan")
    return out


# =================================================================================================
# Integral transforms of the splits


def _transform(dataset, fns: Sequence[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]],
               device: torch.device, batch: int = 64) -> list[torch.Tensor]:
    """Apply ``fn(seismic, velocity)`` to every batch of a (seismic, velocity) tensor dataset.

    Returns one float64 tensor ``[n, ...]`` per function, on ``device``.
    """
    x_all, v_all = dataset.tensors
    outs: list[list[torch.Tensor]] = [[] for _ in fns]
    with torch.no_grad():
        for i in range(0, len(x_all), batch):
            x, v = x_all[i:i + batch].to(device), v_all[i:i + batch].to(device)
            for out, fn in zip(outs, fns):
                out.append(fn(x, v).to(torch.float64))
    return [torch.cat(o) for o in outs]


PARTS = ("train", "val", "test")


def _parts(splits: FamilySplits, fns, device) -> dict[str, list[torch.Tensor]]:
    return {p: _transform(getattr(splits, p), fns, device) for p in PARTS}


def _velocity_pixels(splits: FamilySplits, device) -> dict[str, torch.Tensor]:
    return {p: getattr(splits, p).tensors[1].flatten(1).to(device, torch.float64) for p in PARTS}


def _fit_on(path: RidgePath, cross: dict[str, torch.Tensor], Y: dict[str, torch.Tensor],
            alphas: Sequence[float]) -> dict[str, Any]:
    """α chosen on validation; test scores at that α and at the paper's α = 1; test predictions."""
    tg = path.targets(Y["train"])
    b_val, b_test = path.basis(cross["val"]), path.basis(cross["test"])
    alpha, val_mse = path.select(b_val, tg, Y["val"], alphas)
    pred = {"val": path.predict(b_val, tg, alpha), "test": path.predict(b_test, tg, alpha)}
    return {"alpha": alpha, "val_mse": val_mse, "test": scores(pred["test"], Y["test"]),
            "test_alpha1": scores(path.predict(b_test, tg, 1.0), Y["test"]), "pred": pred}


def readout_mae(Y_train: torch.Tensor, pixels: dict[str, torch.Tensor], Y_hat: dict[str, torch.Tensor],
                alphas: Sequence[float] = ALPHAS) -> float:
    """Velocity MAE [m/s] of the linear read-out of predicted kernel integrals.

    A velocity-space score of a ridge fit that is comparable across kernels and kernel counts
    (Y itself is not: each kernel has its own units). The read-out is the linear pseudo-inverse of
    the velocity transform: a ridge map from the *true* integrals ``Y_train`` to the training
    maps' pixels, its α chosen on the validation maps from the *predicted* integrals
    ``Y_hat['val']``; scored on ``Y_hat['test']``. A linear decoder, so a lower bound on what the
    trained (nonlinear) decoder can add.
    """
    path = RidgePath.from_features(Y_train)
    tg = path.targets(pixels["train"])
    b_val, b_test = path.basis(path.cross(Y_hat["val"])), path.basis(path.cross(Y_hat["test"]))
    alpha, _ = path.select(b_val, tg, pixels["val"], alphas)
    return float((path.predict(b_test, tg, alpha) - pixels["test"]).abs().mean()) * VELOCITY_SCALE


def _ridge_variant(path: RidgePath, cross, Y, pixels) -> dict[str, Any]:
    fit = _fit_on(path, cross, Y, ALPHAS)
    out = {"alpha": fit["alpha"], "test": fit["test"], "test_alpha1": fit["test_alpha1"]}
    if pixels is not None:
        out["readout_mae_ms"] = readout_mae(Y["train"], pixels, fit["pred"])
    return out


# =================================================================================================
# Pieces


def _transforms(config: LinearityConfig, n_sine: int | None = None, n_gauss: int | None = None,
                encoder_kernel: str = "sin", decoder_kernel: str = "gaussian", device="cpu"):
    acq = config.acquisition
    enc = SeismicIntegralTransform.from_acquisition(acq, n_sine or config.n_sine, encoder_kernel).to(device)
    dec = VelocityIntegralTransform.from_acquisition(acq, n_gauss or config.n_gauss, decoder_kernel).to(device)
    return enc, dec


def _linearity(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    from ..models.invlint import velocity_target

    device = config.torch_device
    enc, dec = _transforms(config, device=device)
    gen = torch.Generator().manual_seed(config.seed)
    # control: N random time kernels (Gaussian noise) in place of the sines, same receiver average
    random_kernels = (torch.randn(config.acquisition.nt, config.n_sine, generator=gen, dtype=torch.float64)
                      / math.sqrt(config.acquisition.nt)).to(device)
    fns = [lambda x, v: enc(x),
           lambda x, v: dec(v),
           lambda x, v: dec(velocity_target(v, "c2")),
           lambda x, v: ((x.double() @ enc.receiver_weights.double()) @ random_kernels).flatten(1)]
    parts = _parts(splits, fns, device)
    U = {p: parts[p][0] for p in PARTS}
    Ys = {"c": {p: parts[p][1] for p in PARTS}, "c2": {p: parts[p][2] for p in PARTS}}
    U_rand = {p: parts[p][3] for p in PARTS}

    path = RidgePath.from_features(U["train"])
    cross = {p: path.cross(U[p]) for p in ("val", "test")}
    metrics: dict[str, Any] = {"n_features": int(U["train"].shape[1]), "n_targets": int(Ys["c"]["train"].shape[1])}
    arrays: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(config.seed)
    for target, Y in Ys.items():
        fit = _fit_on(path, cross, Y, ALPHAS)
        A1 = fit_linear_map(U["train"], Y["train"], 1.0)
        A_best = fit_linear_map(U["train"], Y["train"], fit["alpha"])
        sv1 = _singular_values(A1.weight)
        sv_best = _singular_values(A_best.weight)
        metrics[target] = {
            "alpha1": {"train": scores(A1(U["train"]), Y["train"]), "test": scores(A1(U["test"]), Y["test"])},
            "best": {"alpha": fit["alpha"], "train": scores(A_best(U["train"]), Y["train"]), "test": fit["test"]},
            "essential_alpha1": int((sv1 > ESSENTIAL_THRESHOLD).sum()),
            "essential_best": int((sv_best > ESSENTIAL_THRESHOLD).sum()),
            "essential_by_threshold": {f"{t:g}": int((sv1 > t).sum()) for t in (1e-1, 1e-2, 1e-3)},
            "rank_bound": int(min(A1.weight.shape[0], U["train"].shape[0] - 1)),
        }
        arrays[f"{target}/sv_alpha1"] = sv1[:SV_TOP].numpy()
        arrays[f"{target}/sv_best"] = sv_best[:SV_TOP].numpy()
        arrays[f"{target}/val_mse"] = np.asarray(fit["val_mse"])
        # a sample of (true, predicted) test integrals for the scatter plot (α chosen on validation)
        yt, yp = Y["test"].cpu().numpy().ravel(), fit["pred"]["test"].cpu().numpy().ravel()
        idx = rng.choice(yt.size, size=min(3000, yt.size), replace=False)
        arrays[f"{target}/scatter_true"] = yt[idx].astype(np.float32)
        arrays[f"{target}/scatter_pred"] = yp[idx].astype(np.float32)

    # controls (target c): random kernels, and the raw normalised seismic data with no transform
    controls = {}
    rpath = RidgePath.from_features(U_rand["train"])
    rfit = _fit_on(rpath, {p: rpath.cross(U_rand[p]) for p in ("val", "test")}, Ys["c"], CONTROL_ALPHAS)
    controls["random-kernels"] = {"alpha": rfit["alpha"], "test": rfit["test"]}
    arrays["control/random-kernels/val_mse"] = np.asarray(rfit["val_mse"])
    x = {p: getattr(splits, p).tensors[0] for p in PARTS}
    K, (K_val, K_test) = centred_grams(x["train"], [x["val"], x["test"]], device)
    raw = RidgePath(K)
    rawfit = _fit_on(raw, {"val": K_val, "test": K_test}, Ys["c"], CONTROL_ALPHAS)
    controls["raw-data"] = {"alpha": rawfit["alpha"], "test": rawfit["test"],
                            "n_features": int(x["train"][0].numel())}
    arrays["control/raw-data/val_mse"] = np.asarray(rawfit["val_mse"])
    metrics["controls"] = controls
    return metrics, arrays


def _decoder_kernels(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    device = config.torch_device
    enc, _ = _transforms(config, device=device)
    U = {p: v[0] for p, v in _parts(splits, [lambda x, v: enc(x)], device).items()}
    path = RidgePath.from_features(U["train"])
    cross = {p: path.cross(U[p]) for p in ("val", "test")}
    pixels = _velocity_pixels(splits, device)
    out = {}
    for kernel in DECODER_KERNELS:
        _, dec = _transforms(config, decoder_kernel=kernel, device=device)
        Y = {p: v[0] for p, v in _parts(splits, [lambda x, v: dec(v)], device).items()}
        out[kernel] = _ridge_variant(path, cross, Y, pixels)
    return {"kernels": out}, {}


def _encoder_kernels(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    device = config.torch_device
    _, dec = _transforms(config, device=device)
    Y = {p: v[0] for p, v in _parts(splits, [lambda x, v: dec(v)], device).items()}
    pixels = _velocity_pixels(splits, device)
    out = {}
    for kernel in ENCODER_KERNELS:
        enc, _ = _transforms(config, encoder_kernel=kernel, device=device)
        U = {p: v[0] for p, v in _parts(splits, [lambda x, v: enc(x)], device).items()}
        path = RidgePath.from_features(U["train"])
        out[kernel] = _ridge_variant(path, {p: path.cross(U[p]) for p in ("val", "test")}, Y, pixels)
        out[kernel]["u_rms"] = float(U["train"].pow(2).mean().sqrt())
    return {"kernels": out}, {}


def _kernel_counts(config: LinearityConfig, splits: FamilySplits) -> tuple[dict, dict]:
    device = config.torch_device
    counts = config.kernel_counts
    enc, _ = _transforms(config, n_sine=max(counts), device=device)
    shots = config.acquisition.n_shots
    U_max = {p: v[0].view(v[0].shape[0], shots, -1) for p, v in _parts(splits, [lambda x, v: enc(x)], device).items()}
    pixels = _velocity_pixels(splits, device)
    Ys = {}
    for m in counts:
        _, dec = _transforms(config, n_gauss=m, device=device)
        Ys[m] = {p: v[0] for p, v in _parts(splits, [lambda x, v: dec(v)], device).items()}
    grid = {k: np.full((len(counts), len(counts)), np.nan) for k in ("r2", "rel_mae", "readout_mae_ms", "alpha")}
    for i, n in enumerate(counts):
        U = {p: u[:, :, :n].flatten(1) for p, u in U_max.items()}     # sine kernels 1..n of each shot
        path = RidgePath.from_features(U["train"])
        cross = {p: path.cross(U[p]) for p in ("val", "test")}
        for j, m in enumerate(counts):
            r = _ridge_variant(path, cross, Ys[m], pixels)
            grid["r2"][i, j], grid["rel_mae"][i, j] = r["test"]["r2"], r["test"]["rel_mae"]
            grid["readout_mae_ms"][i, j], grid["alpha"][i, j] = r["readout_mae_ms"], r["alpha"]
    return {"counts": list(counts)}, {f"grid_{k}": v for k, v in grid.items()}


def _invlint_model(config: LinearityConfig, variant: str | None = None) -> InvLINT:
    opts: dict[str, Any] = dict(n_sine=config.n_sine, n_gauss=config.n_gauss, embed_dim=config.embed_dim,
                                dims=scaled_dims(config.decoder_width))
    if variant is not None:
        kind, value = parse_variant(variant)
        if kind == "counts":
            opts["n_sine"], opts["n_gauss"] = value
        else:
            opts[kind] = value
    return InvLINT(config.acquisition, **opts)


def fit_encoder(model: InvLINT, splits: FamilySplits, alpha: float | None, progress: bool = False) -> dict[str, Any]:
    """Fit InvLINT's ridge map A on the train split; α fixed or (None) chosen on validation.

    The encoder lives on the model's device; U and Y are computed once per split. Returns the
    chosen α and the wall time [s].
    """
    t0 = time.perf_counter()
    U, Y = model.integrals(splits.train, progress=progress)
    if alpha is None:
        U_val, Y_val = model.integrals(splits.val, progress=progress)
        dev = model.ridge_weight.device
        path = RidgePath.from_features(U.to(dev))
        alpha, _ = path.select(path.basis(path.cross(U_val.to(dev))), path.targets(Y.to(dev)), Y_val.to(dev))
    model.fit_encoder(U.to(model.ridge_weight.device), Y.to(model.ridge_weight.device), alpha=alpha)
    return {"encoder_alpha": float(alpha), "encoder_fit_s": round(time.perf_counter() - t0, 3)}


def _train_invlint(config: LinearityConfig, splits: FamilySplits, seed: int, name: str,
                   variant: str | None = None) -> tuple[dict, dict]:
    torch.manual_seed(seed)
    model = _invlint_model(config, variant).to(config.torch_device)
    enc = fit_encoder(model, splits, config.encoder_alpha, progress=False)
    m, a = train_and_evaluate(model, splits.train, splits.val, splits.test, loss=l1,
                              config=config.invlint_fit_config(seed, checkpoint_root(config) / name))
    m.update(enc, train_total_s=m["train_s"] + enc["encoder_fit_s"], parameters=count_parameters(model))
    return m, a


def _train_inversionnet(config: LinearityConfig, splits: FamilySplits, seed: int, name: str) -> tuple[dict, dict]:
    torch.manual_seed(seed)
    model = InversionNet(acquisition=config.acquisition, width=config.inversionnet_width)
    m, a = train_and_evaluate(model, splits.train, splits.val, splits.test, loss=l1,
                              config=config.inversionnet_fit_config(seed, checkpoint_root(config) / name))
    m.update(train_total_s=m["train_s"], parameters=count_parameters(model))
    return m, a


def _cost(model: torch.nn.Module, shape: tuple[int, ...], repeats: int) -> dict[str, float]:
    """Parameters, GFLOPs per sample and median single-thread CPU latency [s] at batch 1."""
    model = model.cpu().eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # §4.2: "a single thread of an Intel Xeon"
    try:
        latency = cpu_latency(model, shape, repeats=repeats, warmup=1)
    finally:
        torch.set_num_threads(threads)
    return {"parameters": count_parameters(model), "gflops": count_flops(model, shape) / 1e9,
            "cpu_latency_s": latency}


def _fitted_for_costs(model: InvLINT) -> InvLINT:
    """A model whose A is fitted to random numbers: the costs do not depend on A's values."""
    g = torch.Generator().manual_seed(0)
    model.fit_encoder(torch.randn(4, model.n_features, generator=g), torch.randn(4, model.n_targets, generator=g))
    return model


def _costs(config: LinearityConfig) -> tuple[dict, dict]:
    acq = config.acquisition
    shape = acq.seismic_shape
    repeats = 3 if config.profile == "smoke" else 10
    models: dict[str, dict[str, float]] = {}
    for width in dict.fromkeys((1.0, config.inversionnet_width)):
        models[f"InversionNet (width {width:g})"] = _cost(InversionNet(acquisition=acq, width=width), shape, repeats)
    default = _fitted_for_costs(_invlint_model(config))
    models["InvLINT"] = _cost(default, shape, repeats)
    # the frozen encoder alone: integral transform + ridge map (no trainable weights)
    models["InvLINT"]["encoder_gflops"] = count_flops(_EncoderOnly(default), shape) / 1e9
    decoders = {}
    for d in DECODERS:
        widths = (1.0, config.decoder_width) if d in ("deconv-conv5", "up-conv5") else (1.0,)
        for w in dict.fromkeys(widths):
            m = InvLINT(acq, n_sine=config.n_sine, n_gauss=config.n_gauss, embed_dim=config.embed_dim,
                        decoder=d, dims=scaled_dims(w))
            key = d if w == 1.0 else f"{d} (width {w:g})"
            decoders[key] = _cost(_fitted_for_costs(m), shape, max(1, repeats // 3))
    return {"models": models, "decoders": decoders}, {}


class _EncoderOnly(torch.nn.Module):
    def __init__(self, model: InvLINT):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.encode(x)


def run(config: LinearityConfig) -> Artifact:
    metrics: dict[str, Any] = {"linearity": {}, "decoder_kernels": {}, "encoder_kernels": {}, "kernel_counts": {},
                               "runs": [], "fwi": {}}
    arrays: dict[str, np.ndarray] = {}
    check_openfwi_files(config, config.families)   # before the first family trains

    def piece(name: str, fn, unrelated=()) -> dict[str, Any]:
        m, a = run_piece(config, name, fn, unrelated=unrelated)
        arrays.update({f"{name}/{k}": v for k, v in a.items()})
        return m

    for fam in config.families:
        splits = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        metrics["linearity"][fam] = piece(f"linearity-{fam}", lambda: _linearity(config, splits))
        metrics["decoder_kernels"][fam] = piece(f"decoder-kernels-{fam}", lambda: _decoder_kernels(config, splits))["kernels"]
        metrics["kernel_counts"][fam] = piece(f"kernel-counts-{fam}", lambda: _kernel_counts(config, splits))
        if fam in config.encoder_kernel_families:
            metrics["encoder_kernels"][fam] = piece(f"encoder-kernels-{fam}",
                                                    lambda: _encoder_kernels(config, splits))["kernels"]
        jobs = [("invlint", None, s) for s in config.seeds] + [("inversionnet", None, s) for s in config.seeds]
        if fam in config.variant_families:
            jobs += [("invlint", v, config.seed) for v in config.variants]
        for model, variant, seed in jobs:
            tag = "" if variant is None else "-" + variant.replace(":", "-")
            name = f"{model}{tag}-{fam}-s{seed}"
            if model == "invlint":
                fn = lambda: _train_invlint(config, splits, seed, name, variant)  # noqa: E731
            else:
                fn = lambda: _train_inversionnet(config, splits, seed, name)  # noqa: E731
            m = piece(name, fn)
            metrics["runs"].append({"model": model, "variant": variant or "default", "family": fam,
                                    "seed": seed, **m})
        if config.fwi_iterations > 0:
            metrics["fwi"][fam] = piece(f"fwi-{fam}", lambda: classic_fwi(
                splits, config.acquisition, samples=config.fwi_samples, iterations=config.fwi_iterations,
                frequencies=config.fwi_frequencies, smooth_cells=config.fwi_smooth_cells,
                progress=config.progress, device=config.torch_device))
        arrays[f"truth/{fam}"] = np.asarray(splits.test.tensors[1][:4].numpy(), dtype=np.float32)
    metrics["costs"] = piece("costs", lambda: _costs(config), unrelated={"openfwi_dir"})   # no data involved
    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics, arrays)]
    return art


# =================================================================================================
# Summaries and claims


def summary(metrics: dict[str, Any], model: str = "invlint", variant: str = "default") -> dict[str, dict[str, float]]:
    """Mean and standard deviation over seeds of a model's test metrics and training time, per family."""
    out: dict[str, dict[str, float]] = {}
    runs = [r for r in metrics["runs"] if r["model"] == model and r["variant"] == variant]
    for fam in dict.fromkeys(r["family"] for r in runs):
        rs = [r for r in runs if r["family"] == fam]
        row: dict[str, float] = {"seeds": len(rs)}
        for key in ("mae", "mse", "ssim", "mae_ms", "rmse_ms", "train_total_s", "best_epoch", "inference_s_per_sample"):
            row[key], row[f"{key}_std"] = mean_std(r[key] for r in rs)
        out[fam] = row
    return out


def variant_table(metrics: dict[str, Any], family: str, seed: int) -> dict[str, dict[str, float]]:
    """Test metrics of the default model (seed ``seed``) and every trained variant on one family."""
    return {r["variant"]: r for r in metrics["runs"]
            if r["model"] == "invlint" and r["family"] == family and r["seed"] == seed}


def _alpha(alpha: float, grid: Sequence[float] = ALPHAS) -> str:
    """A chosen ridge penalty, flagged when it sits on the edge of the grid tried (the best may lie beyond)."""
    edge = " (grid edge)" if alpha in (min(grid), max(grid)) else ""
    return f"{alpha:g}{edge}"


def _paper_rel_mae() -> dict[str, float]:
    return {d: t["test"][0] / t["test"][2] for d, t in PAPER_TABLE11.items()}


def sine_closeness() -> float:
    """How close the paper itself calls "close": the largest ratio of the sine encoder's MAE to the best
    encoder kernel's over Tables 2 and 6 (Marmousi: 136.67 / 128.33, 1.065)."""
    return max(PAPER_ENCODER_KERNELS["sin"][d] / min(v[d] for v in PAPER_ENCODER_KERNELS.values())
               for d in range(2))


def _kernel_winners(table: dict[str, dict[str, Any]]) -> tuple[str, dict[str, float]]:
    """(the kernel with the lowest read-out MAE, read-out MAE [m/s] of every kernel)."""
    maes = {k: v["readout_mae_ms"] for k, v in table.items()}
    best = min(maes, key=maes.get)
    return best, maes


def judge_claims(config: LinearityConfig, metrics: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[Claim]:
    p = config.profile
    claims: list[Claim] = []
    size = (f"{config.data_source}, {config.n_train} / {config.n_val} / {config.n_test} train / validation / test "
            f"samples per family (theirs: Kimberlina-Leakage ~16k, Marmousi 24k, Salt 120 training samples); "
            "their datasets differ from ours, so ratios and rankings are compared")
    lin = metrics["linearity"]

    # 1. near-linearity (Table 11) with a control
    paper_rel = _paper_rel_mae()
    bound = max(paper_rel.values())
    rows, ok, control_worse = [], 0, 0
    for fam, m in lin.items():
        t = m["c"]["best"]["test"]
        raw = m["controls"]["raw-data"]["test"]
        rnd = m["controls"]["random-kernels"]["test"]
        ok += t["rel_mae"] <= bound
        control_worse += raw["mse"] >= CONTROL_FACTOR * t["mse"]
        rows.append(f"{fam}: test MAE {t['mae']:.2f} of range {t['y_range']:.1f} ({100 * t['rel_mae']:.1f} %), "
                    f"R² {t['r2']:.3f} (α = {_alpha(m['c']['best']['alpha'])}; at α = 1: R² "
                    f"{m['c']['alpha1']['test']['r2']:.3f}); raw-data control R² {raw['r2']:.3f}, "
                    f"MSE ×{raw['mse'] / t['mse']:.2f}; random time kernels R² {rnd['r2']:.3f} "
                    f"(α = {_alpha(m['controls']['random-kernels']['alpha'], CONTROL_ALPHAS)})")
    n = len(lin)
    claims.append(Claim(
        id="invlint.near-linear", paper="InvLINT",
        statement="After the sine and Gaussian integral transforms, seismic data and velocity are related by a "
                  "near-linear map: a ridge regression Y ≈ A U fits held-out data closely.",
        theirs="Table 11, test MAE / (ymax − ymin): " + "; ".join(f"{d}: {100 * r:.1f} %" for d, r in paper_rel.items()),
        ours="; ".join(rows),
        rule=f"holds if on every family the test MAE / (ymax − ymin) of the ridge fit (α chosen on validation) is "
             f"at most the paper's largest ({100 * bound:.1f} %, Marmousi) and the same regression on the raw, "
             f"untransformed data has at least {CONTROL_FACTOR:g}× its test MSE (U is linear in the raw data, so "
             "this control tests whether the transform's compression generalises better, not linearity itself; "
             "the random time kernels span nearly the same time functions as the sines when N ≥ nt, so they are "
             "shown, not judged); partly if the first holds on at "
             f"least half the families; judged at cpu and full (a ridge fit's held-out error is an honest measure "
             f"from a few hundred samples: the paper's Salt has 120)",
        verdict=judge(p, ok == n and control_worse == n, 2 * ok >= n),
        chapter=CHAPTER, profile=p, setting=size + f"; target y = c (normalised velocity), N = {config.n_sine}, "
                                                  f"M = {config.n_gauss}; input: normalised seismic in [-1, 1]"))

    # 2. few essential dimensions (Fig. 5)
    counts = {fam: m["c"]["essential_alpha1"] for fam, m in lin.items()}
    bounds = {fam: m["c"]["rank_bound"] for fam, m in lin.items()}
    few = [fam for fam, c in counts.items() if c < 100]
    # the paper names no threshold: a count below 100 that holds only at ours is threshold-dependent
    lower = {fam: m["c"]["essential_by_threshold"].get("0.001") for fam, m in lin.items()}
    robust = [fam for fam in few if lower[fam] is not None and lower[fam] < 100]
    claims.append(Claim(
        id="invlint.few-dimensions", paper="InvLINT",
        statement="The linear map A has fewer than 100 essential dimensions on every dataset.",
        theirs="Fig. 5: normalised singular values (first 150) fall off within < 100 dimensions on all four datasets",
        ours="; ".join(f"{fam}: {c} of at most {bounds[fam]} above {ESSENTIAL_THRESHOLD:g}"
                       f" (y = c², {lin[fam]['c2']['essential_alpha1']}; above 1e-3: "
                       f"{lin[fam]['c']['essential_by_threshold'].get('0.001', '–')}; test R² of this A "
                       f"{lin[fam]['c']['alpha1']['test']['r2']:.2f})" for fam, c in counts.items()),
        rule=f"count of singular values of A (α = 1, y = c) above {ESSENTIAL_THRESHOLD:g} × the largest (our "
             "threshold: the paper states none, and the count grows as it falls); holds if < 100 on every "
             "family at this threshold and still < 100 at 1e-3 (not an artefact of the threshold), partly if "
             f"< 100 at {ESSENTIAL_THRESHOLD:g} on at least half; judged at cpu and full, where the rank "
             "bound min(M, n_train − 1) is well above 100, so a count below 100 is not forced by the sample size",
        verdict=judge(p, len(robust) == len(counts), 2 * len(few) >= len(counts)) if min(bounds.values()) > 150
        else judge(p, False, judged_at=()),
        chapter=CHAPTER, profile=p, setting=size))

    # 3. comparable accuracy (Table 1)
    inv, net = summary(metrics, "invlint"), summary(metrics, "inversionnet")
    fams = [f for f in inv if f in net]
    ratios = {f: inv[f]["mae"] / net[f]["mae"] for f in fams}
    comparable = [f for f, r in ratios.items() if r <= COMPARABLE_FACTOR]
    loose = [f for f, r in ratios.items() if r <= 1.5]
    claims.append(Claim(
        id="invlint.comparable-accuracy", paper="InvLINT",
        statement="InvLINT is as accurate as InversionNet trained on the same data.",
        theirs="Table 1, MAE InvLINT / InversionNet: " + "; ".join(
            f"{d}: {t['InvLINT'][0]} / {t['InversionNet'][0]} = {t['InvLINT'][0] / t['InversionNet'][0]:.2f}"
            for d, t in PAPER_TABLE1.items()),
        ours="; ".join(f"{f}: {pm(inv[f]['mae'], inv[f]['mae_std'], inv[f]['seeds'])} vs "
                       f"{pm(net[f]['mae'], net[f]['mae_std'], net[f]['seeds'])} = {ratios[f]:.2f}" for f in fams),
        rule=f"normalised test MAE, mean over {config.n_seeds} seed(s); holds if InvLINT's is at most "
             f"{COMPARABLE_FACTOR:g}× InversionNet's on every family, partly if at most 1.5× on at least half; "
             "judged at the full profile only (the cpu run trains both for a few epochs on 400 samples, "
             "InversionNet at width 0.25: an equal-budget snapshot, not the converged comparison the paper makes)",
        verdict=judge(p, len(comparable) == len(fams) and fams, 2 * len(loose) >= len(fams), judged_at=("full",)),
        chapter=CHAPTER, profile=p,
        setting=size + f"; {config.epochs} epochs each, InversionNet width {config.inversionnet_width:g}"))

    # 4. cost (Table 1, §4.2)
    c = metrics["costs"]["models"]
    official, ours = c["InversionNet (width 1)"], c["InvLINT"]
    pr, fr = ours["parameters"] / official["parameters"], ours["gflops"] / official["gflops"]
    speed = official["cpu_latency_s"] / ours["cpu_latency_s"]
    paper_pr = {d: t["InvLINT"][3] / t["InversionNet"][3] for d, t in PAPER_TABLE1.items()}
    paper_fr = {d: t["InvLINT"][4] / t["InversionNet"][4] for d, t in PAPER_TABLE1.items()}
    # the paper's seismic dataset with our geometry (5 shots × 1000 steps × 70 receivers → 70 × 70)
    cost_ok = pr <= paper_pr["Marmousi"] and fr <= paper_fr["Marmousi"]
    # the frozen ridge map A [M, shot·N] and its bias: stored with the model, not trained
    frozen = config.n_gauss * (len(config.acquisition.source_x) * config.n_sine + 1)
    claims.append(Claim(
        id="invlint.cost", paper="InvLINT",
        statement="InvLINT needs ~6 % of InversionNet's parameters and ~5 % of its FLOPs, and runs 16× faster "
                  "on a CPU at batch 1.",
        theirs="parameters " + ", ".join(f"{d} {100 * r:.1f} %" for d, r in paper_pr.items())
               + "; FLOPs " + ", ".join(f"{d} {100 * r:.1f} %" for d, r in paper_fr.items())
               + f"; CPU latency {PAPER_LATENCY_SPEEDUP:g}× (5 vs 80 ms)",
        ours=f"trainable parameters {ours['parameters'] / 1e6:.2f} M / {official['parameters'] / 1e6:.2f} M = "
             f"{100 * pr:.1f} % (with the frozen ridge map A, {frozen / 1e6:.2f} M values more, "
             f"{100 * (ours['parameters'] + frozen) / official['parameters']:.1f} %); "
             f"FLOPs {1e3 * ours['gflops']:.1f} M / {1e3 * official['gflops']:.0f} M = {100 * fr:.1f} % "
             f"(of which the frozen encoder {1e3 * ours['encoder_gflops']:.1f} M); latency "
             f"{1e3 * ours['cpu_latency_s']:.1f} vs {1e3 * official['cpu_latency_s']:.1f} ms = {speed:.1f}×",
        rule="against the official-width InversionNet on our acquisition (5 shots × 1000 steps × 70 receivers → "
             "70×70, as Marmousi's); parameters are the trainable ones (the paper's InvLINT counts, e.g. "
             "1.45 M on Marmousi, cannot include its map A either: M × shots·N values, millions at N = 2048, "
             "M = 512); holds if the parameter and "
             "FLOP ratios are at most the paper's on Marmousi "
             f"and the single-thread latency speed-up is at least {PAPER_LATENCY_SPEEDUP / 2:g}× "
             "(half the paper's); partly if the ratios hold; judged at cpu and full (these depend on the "
             "architectures and the OpenFWI geometry only, the same at both; smoke uses a shorter record)",
        verdict=judge(p, cost_ok and speed >= PAPER_LATENCY_SPEEDUP / 2, cost_ok),
        chapter=CHAPTER, profile=p,
        setting="FLOPs counted by torch's FlopCounterMode (matrix products and convolutions, a multiply-add = 2), "
                "integral transforms included, for both networks (the paper's InversionNet count, 190 M on "
                "Marmousi, follows another convention, so only ratios compare); latency: median of "
                "single-thread forward passes on this run's CPU"))

    # 5. training time to the same epoch budget
    speedups = {f: net[f]["train_total_s"] / inv[f]["train_total_s"] for f in fams}
    fast = [f for f, s in speedups.items() if s >= PAPER_TRAIN_SPEEDUP / 2]
    claims.append(Claim(
        id="invlint.training-speed", paper="InvLINT",
        statement="InvLINT trains ~9× faster than InversionNet.",
        theirs=f"§4.2: {PAPER_TRAIN_SPEEDUP:g}× (1 h vs 9 h on Marmousi, one GPU)",
        ours="; ".join(f"{f}: {seconds(inv[f]['train_total_s'])} (encoder fit included) vs {seconds(net[f]['train_total_s'])} "
                       f"= {speedups[f]:.1f}×" for f in fams),
        rule=f"wall time of {config.epochs} epochs (InvLINT: the ridge fit plus decoder training), mean over seeds; "
             f"holds if InvLINT is at least {PAPER_TRAIN_SPEEDUP / 2:g}× faster (half the paper's) on every family, "
             "partly if faster on every family; judged at the full profile only (InversionNet trains at full "
             "width on a GPU there; the cpu run's width-0.25 network is not the paper's baseline)",
        verdict=judge(p, len(fast) == len(fams) and fams, all(s > 1 for s in speedups.values()), judged_at=("full",)),
        chapter=CHAPTER, profile=p,
        setting=f"InvLINT batch {config.batch_size}, InversionNet batch {config.inversionnet_batch_size} "
                f"(the baselines recipe); same epochs and samples"))

    # 6. kernel choice (Tables 2/3/6/7), ridge read-out MAE
    dk = metrics["decoder_kernels"]
    gauss_wins = [f for f, t in dk.items() if _kernel_winners(t)[0] == "gaussian"]
    ek = metrics["encoder_kernels"]
    sine_close = []
    ek_rows = []
    close = sine_closeness()
    for f, t in ek.items():
        best, maes = _kernel_winners(t)
        sine_close += [f] if maes["sin"] <= close * maes[best] else []
        ek_rows.append(f"{f}: best encoder {best} ({maes[best]:.0f} m/s), sine {maes['sin']:.0f} m/s")
    dk_rows = [f"{f}: best decoder kernel {_kernel_winners(t)[0]} ({_kernel_winners(t)[1][_kernel_winners(t)[0]]:.0f}"
               f" m/s), Gaussian {t['gaussian']['readout_mae_ms']:.0f} m/s" for f, t in dk.items()]
    # one split, no seeds: a Gaussian within the paper's own "close" gap of the best kernel is a tie, not a loss
    gauss_ties = [f for f, t in dk.items()
                  if t["gaussian"]["readout_mae_ms"] <= close * min(_kernel_winners(t)[1].values())]
    holds = len(gauss_wins) == len(dk) and len(sine_close) == len(ek)
    partly = (len(gauss_ties) == len(dk) and dk) or (len(sine_close) == len(ek) and ek)
    claims.append(Claim(
        id="invlint.kernel-choice", paper="InvLINT",
        statement="The Gaussian velocity kernel beats the other decoder kernels; the 1-D sine encoder kernel is "
                  "close to the best encoder kernel (which depends on the dataset).",
        theirs="Tables 3/7: Gaussian best on both datasets; Tables 2/6: best encoder sin(nπt)cos(nπx) on "
               "Marmousi (128.3 vs 136.7), sin(nπt)+sin(nπx) on Kimberlina-Leakage (8.10 vs 8.13)",
        ours="; ".join(dk_rows + ek_rows),
        rule="ridge-only proxy at every profile: velocity MAE of the linear read-out of the ridge prediction "
             "(α chosen on validation per kernel, scored on test); holds if the Gaussian is the best decoder "
             f"kernel on every family and the sine within {100 * (close - 1):.1f} % of the best encoder kernel "
             "(the largest gap the paper's own Tables 2/6 call close) on every family swept; partly if on every "
             "family the Gaussian is the best or within that gap of it (a tie on one split), or the sine "
             "condition holds; "
             "judged at cpu and full (a ridge fit of a few hundred samples ranks "
             "linear features honestly; the trained decoders of the variants are shown beside it at full)",
        verdict=judge(p, holds, bool(partly)),
        chapter=CHAPTER, profile=p, setting=size))

    # 7. number of kernels (Table 8, Fig. 4)
    kc = metrics["kernel_counts"]
    near = []
    kc_rows = []
    for f, m in kc.items():
        grid = arrays[f"kernel-counts-{f}/grid_readout_mae_ms"]
        counts = list(m["counts"])
        default = grid[counts.index(config.n_sine), counts.index(config.n_gauss)]
        i, j = np.unravel_index(np.nanargmin(grid), grid.shape)
        near += [f] if default <= 1.05 * grid[i, j] else []
        kc_rows.append(f"{f}: default {default:.0f} m/s, best N = {counts[i]}, M = {counts[j]} ({grid[i, j]:.0f} m/s)")
    claims.append(Claim(
        id="invlint.kernel-count", paper="InvLINT",
        statement="N = 2048 sine and M = 512 Gaussian kernels are an appropriate choice: near the best of the "
                  "N × M grid.",
        theirs="Table 8 (Kimberlina-Leakage): " + "; ".join(f"N={a}, M={b}: {v}" for (a, b), v in PAPER_KERNEL_COUNTS.items()),
        ours="; ".join(kc_rows),
        rule="ridge-only proxy (linear read-out MAE, α chosen on validation per cell) over the N × M grid; holds "
             "if the default is within 5 % of the grid's best on every family, partly on at least half; judged "
             "at cpu and full (see invlint.kernel-choice)",
        verdict=judge(p, len(near) == len(kc), 2 * len(near) >= len(kc)),
        chapter=CHAPTER, profile=p, setting=size))

    # 8. decoder architecture (Tables 4/5/9/10), trained variants
    arch_rows, arch_ok, arch_part = [], 0, 0
    fams_v = [f for f in config.variant_families if f in metrics["linearity"]]
    for f in fams_v:
        t = variant_table(metrics, f, config.seed)
        mae = {k.split(":", 1)[-1]: v["mae"] for k, v in t.items() if k == "default" or k.startswith("decoder:")}
        if "default" not in mae or not {"conv2", "deconv1", "deconv-conv5"} <= set(mae):
            continue
        shallow = mae["default"] < mae["conv2"] and mae["default"] < mae["deconv1"]
        deep = mae["deconv-conv5"] < mae["default"]
        arch_ok += shallow and deep
        arch_part += shallow or deep
        arch_rows.append(f"{f}: transformer {mae['default']:.4f}, conv2 {mae['conv2']:.4f}, deconv1 "
                         f"{mae['deconv1']:.4f}, (deconv+conv)×5 {mae['deconv-conv5']:.4f}")
    arch_statement = ("A transformer block + linear layer decodes better than shallow conv/deconv decoders; "
                      "InversionNet's deep deconv decoder is better still, at 9× the parameters.")
    arch_theirs = ("Table 4 (Marmousi) MAE: transformer 136.7, conv×2 140.7, deconv×1 168.0, (deconv+conv)×5 126.6; "
                   "Table 9 (Kimberlina-Leakage): 8.13, 13.42, 21.32, 6.86")
    if arch_rows:
        claims.append(Claim(
            id="invlint.decoder-architecture", paper="InvLINT", statement=arch_statement, theirs=arch_theirs,
            ours="normalised test MAE, one seed: " + "; ".join(arch_rows),
            rule="holds if on every variant family the transformer beats conv×2 and deconv×1 and (deconv+conv)×5 "
                 "beats the transformer, partly if either ordering holds on one; judged at full only (the cpu "
                 "run trains each decoder for a few epochs, which favours the smaller ones)",
            verdict=judge(p, arch_ok == len(arch_rows), arch_part >= 1, judged_at=("full",)),
            chapter=CHAPTER, profile=p, setting=size + f"; {config.epochs} epochs, conv decoders at width "
                                                      f"{config.decoder_width:g}"))
    else:
        claims.append(Claim(
            id="invlint.decoder-architecture", paper="InvLINT", statement=arch_statement, theirs=arch_theirs,
            ours="the decoder variants this claim compares were not all trained in this run",
            rule="needs the variants decoder:conv2, decoder:deconv1 and decoder:deconv-conv5 on a variant family",
            verdict=judge(p, False, judged_at=()), chapter=CHAPTER, profile=p,
            setting=f"variants trained: {list(config.variants)} on {list(config.variant_families)}"))

    # 9. against classic FWI (§4.5)
    fwi_statement = "InvLINT is more accurate than multiscale classic FWI, at a fraction of the time per sample."
    fwi_theirs = "§4.5 MAE InvLINT vs FWI: " + "; ".join(f"{d}: {a} vs {b}" for d, (a, b) in PAPER_FWI.items())
    if not metrics["fwi"]:
        claims.append(Claim(
            id="invlint.beats-fwi", paper="InvLINT", statement=fwi_statement, theirs=fwi_theirs,
            ours="classic FWI not run at this profile", rule="needs classic FWI (fwi_iterations > 0)",
            verdict=judge(p, False, judged_at=()), chapter=CHAPTER, profile=p,
            setting="classic FWI is off in this run (fwi_iterations = 0; at cpu the baselines chapter runs it "
                    "against InversionNet on the same splits)"))
    if metrics["fwi"]:
        rows, wins, partial = [], 0, 0
        for fam, f in metrics["fwi"].items():
            k = int(f["n"])
            per_seed = [float(np.mean(arrays[f"invlint-{fam}-s{s}/test_mae_per_sample"][:k]) * VELOCITY_SCALE)
                        for s in config.seeds if f"invlint-{fam}-s{s}/test_mae_per_sample" in arrays]
            mean, std = mean_std(per_seed)
            learned_s = inv[fam]["inference_s_per_sample"]
            faster = learned_s < f["s_per_sample"]
            wins += mean + std < f["mae_ms"] and faster
            partial += mean < f["mae_ms"]
            rows.append(f"{fam}: {pm(mean, std, len(per_seed), '.1f')} vs {f['mae_ms']:.1f} m/s, "
                        f"{seconds(learned_s)} vs {seconds(f['s_per_sample'])} per sample")
        nf = len(metrics["fwi"])
        claims.append(Claim(
            id="invlint.beats-fwi", paper="InvLINT", statement=fwi_statement, theirs=fwi_theirs,
            ours="InvLINT vs FWI on the same test samples, MAE and time per sample (inference vs inversion; "
                 "training not counted): " + "; ".join(rows),
            rule="holds if on every family InvLINT's mean + std MAE over seeds is below FWI's and its time per "
                 "sample is below FWI's, partly if its mean MAE is below on at least one; judged at full only "
                 "(at cpu FWI gets a handful of steps per band and InvLINT a few epochs: neither is the method "
                 "the paper ran)",
            verdict=judge(p, wins == nf, partial >= 1, judged_at=("full",)),
            chapter=CHAPTER, profile=p,
            setting=f"{config.fwi_samples} test sample(s) per family; FWI {config.fwi_iterations} Adam steps per band "
                    f"{list(config.fwi_frequencies)} Hz from the true model smoothed over {config.fwi_smooth_cells:g} "
                    "cells (the baselines chapter's)"))
    return claims


CONFIG = LinearityConfig
