"""UB-Diff (Yang et al. 2025): a co-latent generator of seismic–velocity pairs, trained on unbalanced data.

**The autoencoder** (:class:`CoLatentAutoencoder`, the release's ``VSNet``) is "1 in, 2 out": a
velocity map is encoded to one co-latent vector, from which two decoders write the map *and* its
seismic record, so a sampled co-latent yields a pair:

- :class:`VelocityEncoder`: ``velocity [B, 1, nz, nx]`` (normalised to [-1, 1]) → ``z [B, latent_dim]``
  in (-1, 1). A 3×3 conv, then ``len(encoder_mult)`` levels of residual blocks
  (:class:`~fwilab.layers.resnet.ResidualBlock`, GroupNorm/SiLU) with a stride-2
  :class:`~fwilab.layers.resnet.Downsample` between levels (70 → 35 → 18 → 9 → 5 at five levels),
  GroupNorm → SiLU → a convolution whose kernel is the whole remaining map (so the code is 1×1, the
  sizes found by a dry shape calculation from ``(nz, nx)``, as InversionNet's ``convblock8``) → tanh.
  The release (``Encoder_v``): conv-BN-ReLU blocks of widths 32/64/128 down to 16×16, 256 channels
  down to 2×2 by hand-set kernels that only fit 70×70, then conv-BN-tanh to 128×1×1. Ours keeps
  the tanh (the co-latent lies in (-1, 1), so the diffusion sampler may clip ``x̂_0`` there, as the
  release does) and drops the BatchNorm before it.
- :class:`VelocityDecoder`: ``z`` → ``Linear(latent_dim → dims[4])`` → norm → LeakyReLU(0.2) (the
  release's ``fc_v``, ``batch_norm_v``) → InversionNet's decoder
  (:func:`~fwilab.models.inversionnet.inversionnet_decoder`: 1×1 → 80×80) → centre crop to
  ``(nz, nx)`` → conv-BN-tanh: ``velocity [B, 1, nz, nx]`` in (-1, 1). This *is* the release's
  ``Decoder_V`` (OpenFWI's InversionNet decoder at ``dim5 = 128``), with OpenFWI's LeakyReLU(0.2)
  where the release has ReLU.
- the seismic decoder, :class:`~fwilab.layers.patches.PatchQueryDecoder`: ``z`` → ``[B, n_shots, nt,
  n_receivers]`` (normalised units, no output activation). **Not the released decoder.** FACTS §3
  measures the release's seismic head as ``Linear(128 → 640)``-BN-LeakyReLU, a 2-layer transformer
  (8 heads) over one token, then one ``Linear(640 → 5·1000·70)`` holding 224 M parameters; even on
  our ×4-decimated records (``nt`` 250) that last layer would hold 640·87,500 + 87,500 ≈ 56 M, more
  than a CPU profile can train. (The snapshot of the release stored for this project,
  ``encoder_decoder/encoder.py`` at b7a47b5, holds a transposed-convolution ``Decoder_S`` instead,
  with a comment that the paper's decoder was not released.) Ours is a **token-sequence decoder over
  patches of the [shot, time, receiver] grid**: the co-latent becomes ``condition_tokens`` tokens
  that condition a small transformer whose learned query tokens, one per patch of ``patch_size``
  samples, are decoded by one linear head shared by all patches and reassembled into the record
  (zero padding at the ends of each axis cropped; :func:`~fwilab.layers.patches.unpatchify`). The
  paper's motivation holds — a transformer for the temporal modality, a CNN for the spatial one —
  and the parameter count no longer scales with the record's size.

**Two-step training on unbalanced data** (the paper's Eqs. 2–3; :data:`TRAINING_STEPS`,
:meth:`CoLatentAutoencoder.set_training_step`, which sets ``requires_grad`` per parameter group
(:data:`PARAMETER_GROUPS`) and keeps the frozen groups in eval mode, so BatchNorm statistics do not
move either):

- ``"step1"``: encoder + velocity decoder trained on *all* velocity maps (the majority modality;
  no seismic needed): :func:`step1_loss`, the reconstruction loss of the velocity map;
- ``"step2"``: encoder and velocity branch frozen, the seismic decoder trained on the (few) pairs:
  :func:`step2_loss`, the reconstruction loss of the seismic record from the map's co-latent;
- ``"joint"``: the paper's "UB-Diff w/o opt" ablation, everything trained together on the pairs
  only: :func:`joint_loss`, the sum of both reconstruction losses. (Calling it after step 1 is the
  paper's step 2 with the freeze flag off.)

The reconstruction loss is ``l1_weight·L1 + l2_weight·MSE`` (default ``1·L1``; the release's
``train_EncDec.py`` uses ``1·L1 + 1·L2`` — set ``l2_weight=1`` for that).

**The latent DDPM** (:class:`LatentDDPM`): diffusion on the co-latent, as the release's
``GaussianDiffusion1D``: the cosine schedule (Nichol & Dhariwal), ``T = 256``, v-prediction, MSE on
``v`` weighted by ``SNR/(SNR + 1) = ᾱ_t`` (lucidrains' ``pred_v`` loss weight, which makes it equal
to the ε-MSE), ``x̂_0`` clipped to [-1, 1] when sampling; all through
:class:`~fwilab.models.diffusion.NoiseSchedule` (one diffusion implementation for the project).
The denoiser is a residual MLP (:class:`~fwilab.layers.mlp.MLPDenoiser`) where the release uses a
1-D UNet over the 128 entries (``Unet1D(dim=128, dim_mults=(1, 2, 2, 4))``, 21.3 M): the co-latent's
entries have no order for a convolution to exploit. An EMA of the denoiser's weights
(:class:`~fwilab.training.ema.EMA`, decay 0.995) is kept, and :meth:`LatentDDPM.sample` and
:meth:`UBDiff.generate` **sample with the EMA weights** by default. The release keeps an EMA too
(ema_pytorch, β = 0.995, updated every 10 steps after a warm-up; ours is updated at every
:meth:`LatentDDPM.update_ema` call, without warm-up), but its ``generation.py`` samples with the raw
weights (``trainer.model.diffusion.sample``; only its in-training previews use ``ema.ema_model``);
``use_ema=False`` reproduces that.

:class:`UBDiff` holds the two: :meth:`UBDiff.diffusion_loss` (the frozen encoder's latents of
velocity maps → the DDPM loss) and :meth:`UBDiff.generate` (EMA sampling → decoded pairs).

Shapes all come from the acquisition (:meth:`UBDiffConfig.preset`); records are ×``time_decimation``
decimated first (``nt = ceil(acquisition.nt / 4)``: 250 on OpenFWI), as for WaveDiffusion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fwilab.layers.conv import LEAKY_RELU_SLOPE, NORMS, ConvTanhBlock, center_crop, conv_output_size, make_norm
from fwilab.layers.mlp import MLPDenoiser
from fwilab.layers.patches import PatchQueryDecoder, patch_grid
from fwilab.layers.resnet import NORM_GROUPS, Downsample, ResidualBlock, group_norm
from fwilab.models.diffusion import BETA_SCHEDULES, LOSSES, PARAMETERIZATIONS, WEIGHTINGS, NoiseSchedule, StepCallback
from fwilab.models.inversionnet import DECODER_SIDE, inversionnet_decoder
from fwilab.models.pairs import PairShapes, preset_fields
from fwilab.physics.acquisition import OPENFWI, Acquisition
from fwilab.training.ema import UBDIFF_EMA_DECAY, EMA
from fwilab.training.losses import l1, mse

#: the autoencoder's parameter groups, one submodule each
PARAMETER_GROUPS: tuple[str, ...] = ("encoder", "velocity_decoder", "seismic_decoder")
#: the training steps and the groups each one trains (the others are frozen)
TRAINABLE_GROUPS: dict[str, tuple[str, ...]] = {
    "step1": ("encoder", "velocity_decoder"),
    "step2": ("seismic_decoder",),
    "joint": PARAMETER_GROUPS,
}
TRAINING_STEPS: tuple[str, ...] = tuple(TRAINABLE_GROUPS)
#: UB-Diff's release (``train_diff.py``): ``--time_steps 256``
UBDIFF_TIMESTEPS: int = 256
#: UB-Diff's release: ``dim5 = 128``, the co-latent's width
UBDIFF_LATENT_DIM: int = 128
#: the release clips x̂_0 to the tanh range when sampling (lucidrains ``clip_denoised=True``)
LATENT_BOUND: float = 1.0


def _positive_int(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}.{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class UBDiffConfig(PairShapes):
    """Sizes of UB-Diff's autoencoder and latent DDPM. Build with :meth:`preset` (``smoke | cpu | full``).

    Geometry (from the acquisition): ``n_shots``, ``nt`` (after decimation), ``n_receivers``, ``nz``,
    ``nx``; ``time_decimation`` records the factor ``nt`` was decimated by.

    Co-latent: ``latent_dim``. Velocity encoder: ``encoder_channels`` (first width),
    ``encoder_mult`` (per-level multipliers; ``len − 1`` halvings), ``encoder_res_blocks``,
    ``norm_groups``. Velocity decoder: ``velocity_dims`` (InversionNet's five widths; ``dims[4]`` is
    the width of the 1×1 code), ``decoder_norm`` (``"bn"`` as released, ``"in"``, ``"none"``).
    Seismic decoder: ``patch_size`` (shot, time, receiver samples per patch), ``token_dim``,
    ``token_depth``, ``token_heads``, ``condition_tokens``, ``mlp_ratio``. Reconstruction loss:
    ``l1_weight``, ``l2_weight``.

    Latent DDPM: ``timesteps`` T, ``beta_schedule``, ``parameterization``, ``denoiser_width``,
    ``denoiser_depth``, ``denoiser_dropout``, ``ema_decay``, ``diffusion_loss``,
    ``diffusion_weighting``, ``clip_latent`` (clip ``x̂_0`` to [-1, 1] when sampling).
    """

    latent_dim: int = UBDIFF_LATENT_DIM
    encoder_channels: int = 32
    encoder_mult: tuple[int, ...] = (1, 2, 4, 8, 8)
    encoder_res_blocks: int = 1
    norm_groups: int = NORM_GROUPS
    velocity_dims: tuple[int, int, int, int, int] = (32, 64, 128, 256, 128)
    decoder_norm: str = "bn"
    patch_size: tuple[int, int, int] = (1, 10, 10)
    token_dim: int = 256
    token_depth: int = 4
    token_heads: int = 8
    condition_tokens: int = 8
    mlp_ratio: float = 4.0
    l1_weight: float = 1.0
    l2_weight: float = 0.0
    timesteps: int = UBDIFF_TIMESTEPS
    beta_schedule: str = "cosine"
    parameterization: str = "v"
    denoiser_width: int = 1024
    denoiser_depth: int = 4
    denoiser_dropout: float = 0.0
    ema_decay: float = UBDIFF_EMA_DECAY
    diffusion_loss: str = "mse"
    diffusion_weighting: str = "alpha_bar"
    clip_latent: bool = True

    def __post_init__(self) -> None:
        for name in ("encoder_mult", "velocity_dims", "patch_size"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        owner = "UBDiffConfig"
        for name in ("n_shots", "nt", "n_receivers", "nz", "nx", "time_decimation", "latent_dim", "encoder_channels",
                     "encoder_res_blocks", "norm_groups", "token_dim", "token_depth", "token_heads", "condition_tokens",
                     "timesteps", "denoiser_width", "denoiser_depth"):
            _positive_int(owner, name, getattr(self, name))
        if max(self.nz, self.nx) > DECODER_SIDE:
            raise ValueError(f"UB-Diff's velocity decoder (InversionNet's) makes {DECODER_SIDE}×{DECODER_SIDE} maps; "
                             f"a {self.nz}×{self.nx} map is larger")
        if not self.encoder_mult or any(not isinstance(m, int) or isinstance(m, bool) or m < 1
                                        for m in self.encoder_mult):
            raise ValueError(f"{owner}.encoder_mult must be a non-empty tuple of positive integers, "
                             f"got {self.encoder_mult!r}")
        if len(self.velocity_dims) != 5 or any(not isinstance(d, int) or d < 1 for d in self.velocity_dims):
            raise ValueError(f"{owner}.velocity_dims must be five positive integers (InversionNet's dim1..dim5), "
                             f"got {self.velocity_dims!r}")
        if self.decoder_norm not in NORMS:
            raise ValueError(f"{owner}.decoder_norm={self.decoder_norm!r}: choose one of {NORMS}")
        patch_grid(self.seismic_shape, self.patch_size)   # validates the patch size
        if self.token_dim % self.token_heads:
            raise ValueError(f"{owner}: token_dim {self.token_dim} does not split into {self.token_heads} heads")
        if not (math.isfinite(self.mlp_ratio) and self.mlp_ratio > 0):
            raise ValueError(f"{owner}.mlp_ratio must be finite and > 0, got {self.mlp_ratio!r}")
        for name in ("l1_weight", "l2_weight"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{owner}.{name} must be finite and ≥ 0, got {value!r}")
        if self.l1_weight + self.l2_weight == 0:
            raise ValueError(f"{owner}: l1_weight and l2_weight are both 0, so the reconstruction loss is empty")
        if self.timesteps < 2:
            raise ValueError(f"{owner}.timesteps must be ≥ 2, got {self.timesteps}")
        for name, options in (("beta_schedule", BETA_SCHEDULES), ("parameterization", PARAMETERIZATIONS),
                              ("diffusion_loss", LOSSES), ("diffusion_weighting", WEIGHTINGS)):
            if getattr(self, name) not in options:
                raise ValueError(f"{owner}.{name}={getattr(self, name)!r}: choose one of {options}")
        if not 0.0 <= self.denoiser_dropout < 1.0:
            raise ValueError(f"{owner}.denoiser_dropout must lie in [0, 1), got {self.denoiser_dropout!r}")
        if not (isinstance(self.ema_decay, (int, float)) and 0.0 <= self.ema_decay < 1.0):
            raise ValueError(f"{owner}.ema_decay must lie in [0, 1), got {self.ema_decay!r}")

    @property
    def patch_grid(self) -> tuple[int, int, int]:
        """Patches per (shot, time, receiver) axis of the seismic decoder."""
        return patch_grid(self.seismic_shape, self.patch_size)

    @property
    def n_patches(self) -> int:
        return math.prod(self.patch_grid)

    @classmethod
    def preset(cls, profile: str, acquisition: Acquisition = OPENFWI, **overrides: Any) -> "UBDiffConfig":
        """Sizes per profile, geometry from ``acquisition`` (at its full time rate: ``nt`` here is
        ``ceil(acquisition.nt / time_decimation)``); ``overrides`` set any field. Every profile uses
        the release's diffusion: cosine schedule, T = 256, v-prediction, EMA 0.995.

        Parameter counts on OpenFWI (5 × 250 × 70 records, 70 × 70 maps):

        - ``smoke``: co-latent 16; encoder width 4, multipliers (1, 2, 2); velocity widths
          (4, 8, 8, 16, 16); seismic patches 1 × 25 × 14 (250 tokens) of width 16, one block, 2 heads,
          2 condition tokens; denoiser 32 wide, one block — milliseconds (autoencoder 0.08 M,
          denoiser 0.01 M).
        - ``cpu``: the release's co-latent of 128 (a 128-d MLP denoiser costs little; a smaller one
          would only lose information); encoder width 16, multipliers (1, 2, 2, 4, 4) (70 → 5 × 5);
          velocity widths (16, 32, 64, 128, 128); patches 1 × 25 × 10 (350 tokens) of width 64, two
          blocks, 4 heads, 4 condition tokens; denoiser 256 wide, three blocks (autoencoder 1.8 M:
          encoder 0.43, velocity decoder 1.21, seismic decoder 0.17; denoiser 1.0 M).
        - ``full``: co-latent 128; encoder width 32, multipliers (1, 2, 4, 8, 8); the release's
          velocity decoder widths (32, 64, 128, 256, 128); patches 1 × 10 × 10 (875 tokens) of width
          256, four blocks, 8 heads, 8 condition tokens; denoiser 1,024 wide, four blocks
          (autoencoder 10.3 M: encoder 4.0 — the release's 2.2 —, velocity decoder 2.57 — the
          release's 2.56 —, seismic decoder 3.7 — the release's 237; denoiser 19.2 M, the release's
          1-D UNet 21.3 M).
        """
        sizes: dict[str, dict[str, Any]] = {
            "smoke": dict(latent_dim=16, encoder_channels=4, encoder_mult=(1, 2, 2), velocity_dims=(4, 8, 8, 16, 16),
                          patch_size=(1, 25, 14), token_dim=16, token_depth=1, token_heads=2, condition_tokens=2,
                          denoiser_width=32, denoiser_depth=1),
            "cpu": dict(latent_dim=UBDIFF_LATENT_DIM, encoder_channels=16, encoder_mult=(1, 2, 2, 4, 4),
                        velocity_dims=(16, 32, 64, 128, 128), patch_size=(1, 25, 10), token_dim=64, token_depth=2,
                        token_heads=4, condition_tokens=4, denoiser_width=256, denoiser_depth=3),
            "full": dict(),
        }
        return cls(**preset_fields(cls, profile, sizes, acquisition, overrides))


# ----------------------------------------------------------------------------- the autoencoder


class VelocityEncoder(nn.Module):
    """Velocity map → co-latent (module docstring): ``[B, 1, nz, nx]`` → ``[B, latent_dim]`` in (-1, 1).

    Args:
        map_shape: ``(nz, nx)``.
        latent_dim: width of the co-latent.
        base_channels, channel_mult, num_res_blocks, groups: the residual levels' widths
            ``base·mult[i]``, blocks per level and GroupNorm groups.
    """

    def __init__(self, map_shape: Sequence[int], latent_dim: int, base_channels: int, channel_mult: Sequence[int],
                 num_res_blocks: int = 1, groups: int = NORM_GROUPS):
        super().__init__()
        self.map_shape = tuple(int(n) for n in map_shape)
        widths = [base_channels * m for m in channel_mult]
        self.conv_in = nn.Conv2d(1, base_channels, 3, padding=1)
        layers: list[nn.Module] = []
        ch, (h, w) = base_channels, self.map_shape
        for level, width in enumerate(widths):
            for _ in range(num_res_blocks):
                layers.append(ResidualBlock(ch, width, groups=groups))
                ch = width
            if level < len(widths) - 1:
                layers.append(Downsample(ch))
                h, w = conv_output_size(h, 3, 2, 1), conv_output_size(w, 3, 2, 1)   # ⌈n/2⌉
        self.levels = nn.Sequential(*layers)
        #: the feature map's size before the full-map convolution (5 × 5 from 70 × 70 over four halvings)
        self.code_kernel = (h, w)
        self.norm_out = group_norm(ch, groups)
        self.conv_out = nn.Conv2d(ch, latent_dim, kernel_size=(h, w))

    def forward(self, velocity: torch.Tensor) -> torch.Tensor:
        if velocity.dim() != 4 or tuple(velocity.shape[1:]) != (1, *self.map_shape):
            raise ValueError(f"the velocity encoder expects maps [batch, 1, {self.map_shape[0]}, {self.map_shape[1]}], "
                             f"got shape {tuple(velocity.shape)}")
        h = self.levels(self.conv_in(velocity))
        return torch.tanh(self.conv_out(F.silu(self.norm_out(h))).flatten(1))       # [B, latent_dim]


class VelocityDecoder(nn.Module):
    """Co-latent → velocity map (module docstring): ``[B, latent_dim]`` → ``[B, 1, nz, nx]`` in (-1, 1).

    Args:
        latent_dim: width of the co-latent.
        map_shape: ``(nz, nx)``, at most 80 × 80.
        dims: InversionNet's five widths ``(dim1 … dim5)``.
        norm: ``"bn"`` (released), ``"in"`` or ``"none"``.
    """

    def __init__(self, latent_dim: int, map_shape: Sequence[int], dims: Sequence[int], norm: str = "bn"):
        super().__init__()
        self.latent_dim = latent_dim
        self.map_shape = tuple(int(n) for n in map_shape)
        dims = tuple(dims)
        self.projection = nn.Linear(latent_dim, dims[4])                 # the release's fc_v
        projection_norm = make_norm(norm, dims[4])                        # batch_norm_v, on the 1×1 code
        self.projection_norm = nn.Identity() if projection_norm is None else projection_norm
        self.decoder = inversionnet_decoder(dims, norm)
        self.head = ConvTanhBlock(dims[0], 1, norm=norm)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"the velocity decoder expects co-latents [batch, {self.latent_dim}], "
                             f"got shape {tuple(z.shape)}")
        code = self.projection(z)[:, :, None, None]                                    # [B, dim5, 1, 1]
        code = F.leaky_relu(self.projection_norm(code), LEAKY_RELU_SLOPE)
        x = center_crop(self.decoder(code), *self.map_shape)                           # [B, dim1, nz, nx]
        return self.head(x)                                                            # [B, 1, nz, nx]


class CoLatentAutoencoder(nn.Module):
    """UB-Diff's 1-in-2-out autoencoder (the release's ``VSNet``; module docstring).

    ``encode(velocity [B, 1, nz, nx]) → z [B, latent_dim]``; ``decode(z) → (seismic [B, n_shots,
    nt, n_receivers], velocity [B, 1, nz, nx])``; ``forward(velocity)`` is both.
    :meth:`set_training_step` chooses which parameter groups train.
    """

    def __init__(self, config: UBDiffConfig | None = None):
        super().__init__()
        self.config = c = config or UBDiffConfig()
        self.encoder = VelocityEncoder((c.nz, c.nx), c.latent_dim, c.encoder_channels, c.encoder_mult,
                                       c.encoder_res_blocks, c.norm_groups)
        self.velocity_decoder = VelocityDecoder(c.latent_dim, (c.nz, c.nx), c.velocity_dims, c.decoder_norm)
        self.seismic_decoder = PatchQueryDecoder(c.latent_dim, c.seismic_shape, c.patch_size, c.token_dim,
                                                 c.token_depth, c.token_heads, c.condition_tokens, c.mlp_ratio)
        #: the training step last set (None: nothing frozen)
        self.training_step: str | None = None

    # ------------------------------------------------------------------ the two steps

    @property
    def frozen_groups(self) -> tuple[str, ...]:
        if self.training_step is None:
            return ()
        return tuple(g for g in PARAMETER_GROUPS if g not in TRAINABLE_GROUPS[self.training_step])

    def set_training_step(self, step: str) -> list[nn.Parameter]:
        """Train the groups of ``step`` (:data:`TRAINABLE_GROUPS`), freeze the others; return the trainable
        parameters (for the optimiser).

        Frozen groups get ``requires_grad=False`` and stay in eval mode across :meth:`train` calls, so
        neither their weights nor their BatchNorm statistics change (the release's ``freeze_*``).
        """
        if step not in TRAINABLE_GROUPS:
            raise ValueError(f"unknown training step {step!r}: choose one of {TRAINING_STEPS}")
        self.training_step = step
        for group in PARAMETER_GROUPS:
            getattr(self, group).requires_grad_(group in TRAINABLE_GROUPS[step])
        self.train(self.training)
        return self.trainable_parameters()

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def train(self, mode: bool = True) -> "CoLatentAutoencoder":
        super().train(mode)
        for group in self.frozen_groups:
            getattr(self, group).eval()
        return self

    # ------------------------------------------------------------------ encoding and decoding

    def _check(self, name: str, x: torch.Tensor, shape: tuple[int, ...]) -> None:
        if x.dim() != 1 + len(shape) or tuple(x.shape[1:]) != shape:
            dims = {"velocity": "[batch, 1, nz, nx]", "seismic": "[batch, shot, time, receiver]"}[name]
            raise ValueError(f"UB-Diff expects {name} {dims} = [batch, {', '.join(map(str, shape))}], "
                             f"got shape {tuple(x.shape)}")

    def encode(self, velocity: torch.Tensor) -> torch.Tensor:
        """``velocity [B, 1, nz, nx]`` → co-latent ``z [B, latent_dim]`` in (-1, 1)."""
        self._check("velocity", velocity, self.config.velocity_shape)
        return self.encoder(velocity)

    def decode_velocity(self, z: torch.Tensor) -> torch.Tensor:
        """``z [B, latent_dim]`` → ``velocity [B, 1, nz, nx]`` in (-1, 1)."""
        return self.velocity_decoder(z)

    def decode_seismic(self, z: torch.Tensor) -> torch.Tensor:
        """``z [B, latent_dim]`` → ``seismic [B, n_shots, nt, n_receivers]``."""
        return self.seismic_decoder(z)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z [B, latent_dim]`` → ``(seismic [B, n_shots, nt, n_receivers], velocity [B, 1, nz, nx])``."""
        return self.decode_seismic(z), self.decode_velocity(z)

    def forward(self, velocity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``velocity [B, 1, nz, nx]`` → the pair decoded from its co-latent, ``(seismic, velocity)``."""
        return self.decode(self.encode(velocity))

    def reconstruction_loss(self, prediction: torch.Tensor, target: torch.Tensor, name: str
                            ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``l1_weight·L1 + l2_weight·MSE`` and its unweighted, detached terms ``{name}_l1``, ``{name}_l2``."""
        c = self.config
        total = prediction.new_zeros(())
        parts: dict[str, torch.Tensor] = {}
        for term, weight, fn in (("l1", c.l1_weight, l1), ("l2", c.l2_weight, mse)):
            if weight:
                value = fn(prediction, target)
                total = total + weight * value
                parts[f"{name}_{term}"] = value.detach()
        return total, parts


# ----------------------------------------------------------------------------- the losses of each step


def step1_loss(model: CoLatentAutoencoder, velocity: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Step 1 (paper Eq. 2): reconstruct velocity maps ``[B, 1, nz, nx]`` through the co-latent.

    Needs no seismic; trains the encoder and the velocity decoder. Returns ``(loss, parts)``.
    """
    return model.reconstruction_loss(model.decode_velocity(model.encode(velocity)), velocity, "velocity")


def step2_loss(model: CoLatentAutoencoder, seismic: torch.Tensor, velocity: torch.Tensor
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Step 2 (paper Eq. 3, freeze flag on): the seismic record ``[B, n_shots, nt, n_receivers]`` of each
    pair decoded from its map's co-latent; the encoder and velocity branch are frozen (the latent is
    computed without a graph). Returns ``(loss, parts)``."""
    model._check("seismic", seismic, model.config.seismic_shape)
    with torch.no_grad():
        z = model.encode(velocity)
    return model.reconstruction_loss(model.decode_seismic(z), seismic, "seismic")


def joint_loss(model: CoLatentAutoencoder, seismic: torch.Tensor, velocity: torch.Tensor
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """"UB-Diff w/o opt": both reconstructions of each pair, everything trained together. ``(loss, parts)``."""
    model._check("seismic", seismic, model.config.seismic_shape)
    seismic_hat, velocity_hat = model(velocity)
    seismic_loss, seismic_parts = model.reconstruction_loss(seismic_hat, seismic, "seismic")
    velocity_loss, velocity_parts = model.reconstruction_loss(velocity_hat, velocity, "velocity")
    return seismic_loss + velocity_loss, {**seismic_parts, **velocity_parts}


# ----------------------------------------------------------------------------- the latent DDPM


class LatentDDPM(nn.Module):
    """DDPM on the co-latent (module docstring): an :class:`~fwilab.layers.mlp.MLPDenoiser`, its
    :class:`~fwilab.models.diffusion.NoiseSchedule` and an :class:`~fwilab.training.ema.EMA` of it.

    ``forward(z_t [B, latent_dim], t [B]) → [B, latent_dim]`` is the raw denoiser's output (``v̂``
    under v-prediction); :meth:`loss` trains it; :meth:`update_ema` is to be called after each
    optimiser step; :meth:`sample` draws latents with the EMA weights (``use_ema=False``: the raw ones).
    """

    def __init__(self, config: UBDiffConfig | None = None):
        super().__init__()
        self.config = c = config or UBDiffConfig()
        self.denoiser = MLPDenoiser(c.latent_dim, c.denoiser_width, c.denoiser_depth, c.denoiser_dropout)
        self.schedule = NoiseSchedule(c.timesteps, beta_schedule=c.beta_schedule, parameterization=c.parameterization)
        self.ema = EMA(self.denoiser, c.ema_decay)

    def _check(self, z: torch.Tensor) -> None:
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"the latent DDPM expects co-latents [batch, {self.config.latent_dim}], "
                             f"got shape {tuple(z.shape)}")

    def forward(self, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self._check(z_t)
        return self.denoiser(z_t, t)

    def loss(self, z0: torch.Tensor, t: torch.Tensor | None = None, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """The denoising loss of clean co-latents ``z0 [B, latent_dim]`` (by default MSE on ``v``, weighted ᾱ_t)."""
        self._check(z0)
        c = self.config
        return self.schedule.training_loss(self.denoiser, z0, t, noise, generator, loss=c.diffusion_loss,
                                           weighting=c.diffusion_weighting)

    def update_ema(self) -> None:
        """Average the denoiser's current weights into the EMA (after each optimiser step)."""
        self.ema.update(self.denoiser)

    @torch.no_grad()
    def sample(self, n: int, *, steps: int | None = None, eta: float = 0.0, noise: torch.Tensor | None = None,
               generator: torch.Generator | None = None, use_ema: bool = True,
               callback: StepCallback | None = None) -> torch.Tensor:
        """``n`` co-latents ``[n, latent_dim]``: ancestral sampling over all T steps (``steps=None``) or DDIM
        over ``steps`` strided steps; with the EMA denoiser unless ``use_ema=False``; ``x̂_0`` clipped to
        [-1, 1] when ``clip_latent``."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"sample needs a positive integer n, got {n!r}")
        denoiser = self.ema.shadow if use_ema else self.denoiser
        was_training = denoiser.training
        denoiser.eval()
        p = next(denoiser.parameters())
        shape = (n, self.config.latent_dim)
        kw = dict(noise=noise, generator=generator, device=p.device, dtype=p.dtype, callback=callback,
                  clip_x0=LATENT_BOUND if self.config.clip_latent else None)
        try:
            if steps is None:
                return self.schedule.p_sample_loop(denoiser, shape, **kw)
            return self.schedule.ddim_sample_loop(denoiser, shape, steps, eta=eta, **kw)
        finally:
            denoiser.train(was_training)


class UBDiff(nn.Module):
    """UB-Diff: the co-latent autoencoder and the DDPM on its latents (module docstring)."""

    def __init__(self, config: UBDiffConfig | None = None):
        super().__init__()
        self.config = config or UBDiffConfig()
        self.autoencoder = CoLatentAutoencoder(self.config)
        self.diffusion = LatentDDPM(self.config)

    @torch.no_grad()
    def encode(self, velocity: torch.Tensor) -> torch.Tensor:
        """The (frozen) encoder's co-latents ``[B, latent_dim]`` of maps ``[B, 1, nz, nx]``, without a graph."""
        return self.autoencoder.encode(velocity)

    def diffusion_loss(self, velocity: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The DDPM loss on the co-latents of velocity maps ``[B, 1, nz, nx]`` (all maps can be used: the
        diffusion, like step 1, needs no seismic)."""
        return self.diffusion.loss(self.encode(velocity), generator=generator)

    @torch.no_grad()
    def generate(self, n: int, *, steps: int | None = None, eta: float = 0.0, noise: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, use_ema: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` generated pairs ``(seismic [n, n_shots, nt, n_receivers], velocity [n, 1, nz, nx])``, in
        normalised units: co-latents sampled with the EMA denoiser (:meth:`LatentDDPM.sample`), decoded
        by both decoders in eval mode (BatchNorm with its running statistics)."""
        z = self.diffusion.sample(n, steps=steps, eta=eta, noise=noise, generator=generator, use_ema=use_ema)
        was_training = self.autoencoder.training
        self.autoencoder.eval()
        try:
            return self.autoencoder.decode(z)
        finally:
            self.autoencoder.train(was_training)


__all__ = ["LATENT_BOUND", "PARAMETER_GROUPS", "TRAINABLE_GROUPS", "TRAINING_STEPS", "UBDIFF_LATENT_DIM",
           "UBDIFF_TIMESTEPS", "CoLatentAutoencoder", "LatentDDPM", "UBDiff", "UBDiffConfig", "VelocityDecoder",
           "VelocityEncoder", "joint_loss", "step1_loss", "step2_loss"]
