"""WaveDiffusion's stage 1: vector-quantised autoencoders of a seismic–velocity pair (paper §2, §A.1.1).

Two ResNet encoder/decoder branches (:class:`~fwilab.layers.resnet.ResNetEncoder` /
:class:`~fwilab.layers.resnet.ResNetDecoder`), one per modality, meet on one latent grid
``(h, w)`` so their latents can be stacked and diffused together (stage 2,
:mod:`fwilab.models.diffusion`):

- velocity ``[B, 1, nz, nx]`` (normalised to [-1, 1]; 70 × 70 on OpenFWI) is resized bilinearly
  to ``velocity_size`` (64 × 64, as the paper), encoded to ``[B, D, h, w]``, and decoded back and
  resized to ``nz × nx``;
- seismic ``[B, n_shots, nt, n_receivers]`` (normalised to [-1, 1]; the shots are the channels;
  ``nt`` is the record length after ×``time_decimation`` anti-aliased decimation,
  :func:`fwilab.data.transforms.decimate_time`: 1000 → 250) is resized bilinearly to
  ``seismic_size`` (time × receivers, 256 × 64), encoded to ``[B, D, h, w]`` and decoded back to
  ``nt × n_receivers``. The encoder halves the time axis more often than the receiver axis
  (:func:`~fwilab.layers.resnet.halving_strides`).

All shapes come from the acquisition (:meth:`VQAEConfig.preset`); no size is a literal here.

Encoders (:data:`ENCODERS`): the paper's stage 1 "extends conventional encoder-decoder FWI models by
incorporating an additional seismic decoder branch" and "functions as an image-to-image translation
network, analogous to BigFWI-B" (§2.1, §3.3): the latent is computed from the records alone and decoded
into both modalities, so stage 1 also inverts (:meth:`VQAutoencoder.invert`). That is ``encoder="seismic"``
(the default). ``encoder="pair"`` is the other reading, one encoder per modality, whose latent needs the
velocity too (it cannot invert).

Variants (:data:`VARIANTS`; the paper compares both, Table 1):

- ``"2vq"``: one EMA codebook per modality. The diffusion latent is ``[B, 2D, h, w]``, a seismic half
  then a velocity half, each quantised by its own codebook and read by its own decoder: with
  ``encoder="seismic"`` the encoder's ``2D`` output channels, with ``"pair"`` the two encoders'
  ``D``-channel latents stacked.
- ``"1vq"``: one shared latent ``[B, D, h, w]``, quantised by one codebook and read by **both**
  decoders. The paper says only "a single shared VQ codebook for both modalities"; with
  ``encoder="pair"`` our reading concatenates the two encoders' outputs and projects them by a 1×1
  convolution (a learned combination — a sum is the special case of equal identity blocks).

As in LDM, the latent diffusion diffuses the *pre-quantisation* latent (:meth:`VQAutoencoder.encode`);
a sample is quantised (:meth:`VQAutoencoder.quantize`) before it is decoded (:meth:`VQAutoencoder.decode`).

Sizes against the paper (§A.1.1: velocity 64 × 64, seismic 3 × 64 × 1024 — the records resized to
1024 time samples —, latent 16 × 16, embedding dimension 32, codebook 8,192, 3 residual blocks,
channel multipliers (1, 2, 2, 4, 4) for velocity and (1, 2, 2, 4, 4, 4, 8, 8) for seismic): our
records are decimated ×4 before the model, so the ``full`` preset resizes them to 256 (not 1024)
time samples × 64 receivers; the base width (not stated in the paper) is 128, taming's default.
``cpu`` uses an 8 × 8 latent from records resized to 128 × 32 and maps to 32 × 32, ``smoke`` a 4 × 4
one (see :meth:`VQAEConfig.preset`).

Two substitutions in the loss (:func:`vqae_loss`), stated:

- the paper's perceptual (LPIPS, weight 0.5) loss needs pretrained VGG weights that cannot be had
  offline; a Sobel gradient-difference term ``L1(|∇x̂|, |∇x|)`` (weight ``sobel_weight`` = 0.5)
  stands in for it, rewarding sharp edges (reflections, layer boundaries) as LPIPS does;
- no discriminator: the paper's starts at step 50,001, beyond any CPU run.

The codebooks are EMA-updated (:class:`~fwilab.layers.quantize.VectorQuantizer`: commitment
β = 0.25, decay 0.99, dead-code restart) rather than learned by taming's codebook loss; no
attention blocks in the autoencoders (taming has one at the lowest resolution); no output
activation (the targets lie in [-1, 1] and L1 keeps the outputs there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from fwilab.layers.quantize import COMMITMENT_WEIGHT, EMA_DECAY, VectorQuantizer
from fwilab.layers.resnet import NORM_GROUPS, ResNetDecoder, ResNetEncoder, halving_strides
from fwilab.layers.sobel import sobel_gradient_magnitude
from fwilab.models.pairs import PairShapes, preset_fields
from fwilab.physics.acquisition import OPENFWI, Acquisition

VARIANTS: tuple[str, ...] = ("2vq", "1vq")
#: what the latent is computed from: the records (the paper's stage-1 FWI model) or both modalities
ENCODERS: tuple[str, ...] = ("seismic", "pair")
#: the modalities, in the order of the stacked "2vq" latent
MODALITIES: tuple[str, ...] = ("seismic", "velocity")
#: WaveDiffusion §A.1.1: perceptual weight 0.5 (our Sobel term takes its place and weight)
SOBEL_WEIGHT: float = 0.5
#: WaveDiffusion §A.1.1: velocity maps resized 70 × 70 → 64 × 64
PAPER_VELOCITY_SIZE: tuple[int, int] = (64, 64)


@dataclass(frozen=True)
class VQAEConfig(PairShapes):
    """Sizes of a stage-1 VQ autoencoder. Build with :meth:`preset` (``smoke | cpu | full``).

    Geometry (from the acquisition): ``n_shots``, ``nt`` (after decimation), ``n_receivers``,
    ``nz``, ``nx``; ``time_decimation`` records the factor ``nt`` was decimated by.

    Network: ``variant`` (:data:`VARIANTS`), ``encoder`` (:data:`ENCODERS`), ``latent_size`` (h, w), ``velocity_size`` and
    ``seismic_size`` (the sizes the inputs are resized to; each must reach ``latent_size`` by
    halvings), ``base_channels``, ``velocity_mult`` / ``seismic_mult`` (per-level width
    multipliers; ``len − 1`` resamplings), ``num_res_blocks``, ``norm_groups``, ``dropout``.

    Quantiser: ``embed_dim`` D, ``codebook_size`` K, ``commitment_weight`` β, ``ema_decay``,
    ``restart_after`` (idle steps before a code is restarted; 0: never). Loss: ``sobel_weight``.
    """

    variant: str = "2vq"
    encoder: str = "seismic"
    latent_size: tuple[int, int] = (16, 16)
    velocity_size: tuple[int, int] = PAPER_VELOCITY_SIZE
    seismic_size: tuple[int, int] = (256, 64)
    base_channels: int = 128
    velocity_mult: tuple[int, ...] = (1, 2, 2, 4, 4)
    seismic_mult: tuple[int, ...] = (1, 2, 2, 4, 4, 4, 8, 8)
    num_res_blocks: int = 3
    norm_groups: int = NORM_GROUPS
    dropout: float = 0.0
    embed_dim: int = 32
    codebook_size: int = 8192
    commitment_weight: float = COMMITMENT_WEIGHT
    ema_decay: float = EMA_DECAY
    restart_after: int = 100
    sobel_weight: float = SOBEL_WEIGHT

    def __post_init__(self) -> None:
        for name in ("latent_size", "velocity_size", "seismic_size", "velocity_mult", "seismic_mult"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.variant not in VARIANTS:
            raise ValueError(f"VQAEConfig.variant={self.variant!r}: choose one of {VARIANTS}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"VQAEConfig.encoder={self.encoder!r}: choose one of {ENCODERS}")
        for name in ("n_shots", "nt", "n_receivers", "nz", "nx", "time_decimation", "base_channels",
                     "num_res_blocks", "norm_groups", "embed_dim", "codebook_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"VQAEConfig.{name} must be a positive integer, got {value!r}")
        for name in ("latent_size", "velocity_size", "seismic_size"):
            value = getattr(self, name)
            if len(value) != 2 or any(not isinstance(n, int) or n < 1 for n in value):
                raise ValueError(f"VQAEConfig.{name} must be two positive integers (height, width), got {value!r}")
        for name in ("velocity_mult", "seismic_mult"):
            value = getattr(self, name)
            if not value or any(not isinstance(m, int) or m < 1 for m in value):
                raise ValueError(f"VQAEConfig.{name} must be a non-empty tuple of positive integers, got {value!r}")
        halving_strides(self.velocity_size, self.latent_size, len(self.velocity_mult) - 1)
        halving_strides(self.seismic_size, self.latent_size, len(self.seismic_mult) - 1)
        if not isinstance(self.restart_after, int) or self.restart_after < 0:
            raise ValueError(f"VQAEConfig.restart_after must be an integer ≥ 0, got {self.restart_after!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"VQAEConfig.ema_decay must lie in [0, 1), got {self.ema_decay!r}")
        for name in ("commitment_weight", "sobel_weight"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"VQAEConfig.{name} must be finite and ≥ 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"VQAEConfig.dropout must lie in [0, 1), got {self.dropout!r}")

    @property
    def n_codebooks(self) -> int:
        return 2 if self.variant == "2vq" else 1

    @property
    def latent_channels(self) -> int:
        """Channels of the diffusion latent: ``2·embed_dim`` for ``2vq``, ``embed_dim`` for ``1vq``."""
        return self.n_codebooks * self.embed_dim

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """One sample's diffusion latent: ``(latent_channels, h, w)``."""
        return (self.latent_channels, *self.latent_size)

    @classmethod
    def preset(cls, profile: str, acquisition: Acquisition = OPENFWI, **overrides: Any) -> "VQAEConfig":
        """Sizes per profile, geometry from ``acquisition`` (at its full time rate: ``nt`` here is
        ``ceil(acquisition.nt / time_decimation)``); ``overrides`` set any field.

        - ``smoke``: 4 × 4 latent; velocity 16 × 16, seismic 32 × 16 internally; width 8, one
          residual block, D = 4, K = 32, restart after 10 idle steps — milliseconds (0.11 M parameters).
        - ``cpu``: 8 × 8 latent; velocity 32 × 32 (multipliers 1, 2, 4), seismic 128 × 32
          (1, 2, 2, 4, 4); width 16, one residual block; D = 8, K = 512, restart after 50 (1.1 M with the
          seismic encoder). At 256 × 64 / 64 × 64 internally a training step took ~5× longer (≈ 2.5 against
          14 samples/s on one busy core); the 32 × 32 velocity costs a resize floor of 0.013 (FlatVel-A) and
          0.021 (CurveVel-A) normalised MAE on the real maps, against 0.006 / 0.012 at the paper's 64 × 64.
        - ``full``: the paper's sizes (module docstring): 16 × 16 latent, velocity 64 × 64, seismic
          256 × 64, width 128, 3 residual blocks, the paper's multipliers, D = 32, K = 8,192 (505 M,
          most of it the seismic branch's 1,024-wide deepest levels; a GPU model).
        """
        sizes: dict[str, dict[str, Any]] = {
            "smoke": dict(latent_size=(4, 4), velocity_size=(16, 16), seismic_size=(32, 16), base_channels=8,
                          velocity_mult=(1, 2, 2), seismic_mult=(1, 2, 2, 2), num_res_blocks=1, embed_dim=4,
                          codebook_size=32, restart_after=10),
            "cpu": dict(latent_size=(8, 8), velocity_size=(32, 32), seismic_size=(128, 32),
                        base_channels=16, velocity_mult=(1, 2, 4), seismic_mult=(1, 2, 2, 4, 4),
                        num_res_blocks=1, embed_dim=8, codebook_size=512, restart_after=50),
            "full": dict(),
        }
        return cls(**preset_fields(cls, profile, sizes, acquisition, overrides))


class VQAEOutput(NamedTuple):
    """What :meth:`VQAutoencoder.forward` returns.

    ``seismic [B, n_shots, nt, n_receivers]``, ``velocity [B, 1, nz, nx]`` (reconstructions,
    normalised units); ``latent`` / ``latent_q`` ``[B, latent_channels, h, w]`` (before / after
    quantisation); ``indices [B, n_codebooks, h, w]``; ``aux`` (see :meth:`VQAutoencoder.quantize`).
    """

    seismic: torch.Tensor
    velocity: torch.Tensor
    latent: torch.Tensor
    latent_q: torch.Tensor
    indices: torch.Tensor
    aux: dict[str, Any]


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of the last two axes (``align_corners=False``); the identity at the same size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class VQAutoencoder(nn.Module):
    """Stage-1 VQ autoencoder of a seismic–velocity pair, ``"2vq"`` or ``"1vq"`` (module docstring).

    ``encode(seismic, velocity) → latent [B, C, h, w]`` (pre-quantisation, what diffusion diffuses),
    ``quantize(latent) → (latent_q, indices, aux)``, ``decode(latent_q) → (seismic_hat, velocity_hat)``,
    ``forward(seismic, velocity) → VQAEOutput``; :meth:`loss` is :func:`vqae_loss` with the
    configured Sobel weight. ``C = config.latent_channels``.
    """

    def __init__(self, config: VQAEConfig | None = None):
        super().__init__()
        self.config = c = config or VQAEConfig()
        common = dict(base_channels=c.base_channels, num_res_blocks=c.num_res_blocks, groups=c.norm_groups,
                      dropout=c.dropout)
        pair = c.encoder == "pair"
        # "seismic": the records' encoder yields the whole latent; "pair": each encoder one D-channel part
        self.seismic_encoder = ResNetEncoder(c.n_shots, c.embed_dim if pair else c.latent_channels, c.seismic_size,
                                             c.latent_size, channel_mult=c.seismic_mult, **common)
        self.velocity_encoder = ResNetEncoder(1, c.embed_dim, c.velocity_size, c.latent_size,
                                              channel_mult=c.velocity_mult, **common) if pair else None
        self.seismic_decoder = ResNetDecoder(c.embed_dim, c.n_shots, c.latent_size, c.seismic_size,
                                             channel_mult=c.seismic_mult, **common)
        self.velocity_decoder = ResNetDecoder(c.embed_dim, 1, c.latent_size, c.velocity_size,
                                              channel_mult=c.velocity_mult, **common)
        # "1vq" of a pair: the two encoders' outputs concatenated and projected to one shared latent
        self.fuse = nn.Conv2d(2 * c.embed_dim, c.embed_dim, 1) if pair and c.variant == "1vq" else None
        self.quantizers = nn.ModuleList(
            VectorQuantizer(c.codebook_size, c.embed_dim, c.commitment_weight, c.ema_decay,
                            restart_after=c.restart_after)
            for _ in range(c.n_codebooks))

    # ------------------------------------------------------------------ checks

    def _check_pair(self, seismic: torch.Tensor, velocity: torch.Tensor | None) -> None:
        c = self.config
        if seismic.dim() != 4 or tuple(seismic.shape[1:]) != c.seismic_shape:
            raise ValueError(f"seismic must be [batch, {c.n_shots}, {c.nt}, {c.n_receivers}] (shot, time after "
                             f"×{c.time_decimation} decimation, receiver), got shape {tuple(seismic.shape)}")
        if velocity is None:
            if c.encoder == "pair":
                raise ValueError("a pair encoder (encoder='pair') needs the velocity too: it cannot encode records alone")
            return
        if velocity.dim() != 4 or tuple(velocity.shape[1:]) != c.velocity_shape:
            raise ValueError(f"velocity must be [batch, 1, {c.nz}, {c.nx}], got shape {tuple(velocity.shape)}")
        if seismic.shape[0] != velocity.shape[0]:
            raise ValueError(f"seismic and velocity batches differ: {seismic.shape[0]} vs {velocity.shape[0]}")

    def _check_latent(self, latent: torch.Tensor) -> None:
        c = self.config
        if latent.dim() != 4 or tuple(latent.shape[1:]) != c.latent_shape:
            raise ValueError(f"a {c.variant} latent must be [batch, {c.latent_channels}, {c.latent_size[0]}, "
                             f"{c.latent_size[1]}], got shape {tuple(latent.shape)}")

    # ------------------------------------------------------------------ the three stages

    def encode(self, seismic: torch.Tensor, velocity: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised ``seismic [B, n_shots, nt, n_receivers]`` (and ``velocity [B, 1, nz, nx]``, which
        only ``encoder="pair"`` reads) → the pre-quantisation latent ``[B, latent_channels, h, w]``."""
        self._check_pair(seismic, velocity)
        c = self.config
        zs = self.seismic_encoder(resize(seismic, c.seismic_size))
        if self.velocity_encoder is None:
            return zs
        zv = self.velocity_encoder(resize(velocity, c.velocity_size))
        latent = torch.cat([zs, zv], dim=1)
        return latent if self.fuse is None else self.fuse(latent)

    def _split(self, latent: torch.Tensor) -> list[torch.Tensor]:
        return list(latent.chunk(self.config.n_codebooks, dim=1))

    def quantize(self, latent: torch.Tensor, update: bool | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Quantise a latent ``[B, C, h, w]`` (each codebook its ``embed_dim`` channels).

        ``update`` (default: training mode) lets the codebooks' EMA and restarts run; pass
        ``update=False`` to quantise diffusion samples without touching them.

        Returns:
            ``latent_q [B, C, h, w]`` (straight-through), ``indices [B, n_codebooks, h, w]`` and
            ``aux``: ``commitment_loss`` (0-d, summed over codebooks, with gradient),
            ``perplexity`` and ``usage`` (``[n_codebooks]``, detached), ``restarted`` (list of ints).
        """
        self._check_latent(latent)
        parts = [q(z, update=update) for q, z in zip(self.quantizers, self._split(latent))]
        aux = {"commitment_loss": sum(p[2]["commitment_loss"] for p in parts),
               "perplexity": torch.stack([p[2]["perplexity"] for p in parts]),
               "usage": torch.stack([p[2]["usage"] for p in parts]),
               "restarted": [p[2]["restarted"] for p in parts]}
        return torch.cat([p[0] for p in parts], dim=1), torch.stack([p[1] for p in parts], dim=1), aux

    def codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices ``[B, n_codebooks, h, w]`` → the quantised latent ``[B, C, h, w]``."""
        c = self.config
        if indices.dim() != 4 or tuple(indices.shape[1:]) != (c.n_codebooks, *c.latent_size):
            raise ValueError(f"indices must be [batch, {c.n_codebooks}, {c.latent_size[0]}, {c.latent_size[1]}], "
                             f"got shape {tuple(indices.shape)}")
        return torch.cat([q.embed(indices[:, k]) for k, q in enumerate(self.quantizers)], dim=1)

    def decode(self, latent_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantised latent ``[B, C, h, w]`` → ``(seismic [B, n_shots, nt, n_receivers], velocity [B, 1, nz, nx])``."""
        self._check_latent(latent_q)
        c = self.config
        parts = self._split(latent_q)
        zs, zv = (parts[0], parts[0]) if c.variant == "1vq" else parts
        seismic = resize(self.seismic_decoder(zs), (c.nt, c.n_receivers))
        velocity = resize(self.velocity_decoder(zv), (c.nz, c.nx))
        return seismic, velocity

    def invert(self, seismic: torch.Tensor) -> torch.Tensor:
        """Stage 1 as an FWI network: records ``[B, n_shots, nt, n_receivers]`` → velocity ``[B, 1, nz, nx]``
        (encode, quantise without touching the codebooks, decode); ``encoder="seismic"`` only."""
        latent_q = self.quantize(self.encode(seismic), update=False)[0]
        return self.decode(latent_q)[1]

    def forward(self, seismic: torch.Tensor, velocity: torch.Tensor | None = None) -> VQAEOutput:
        latent = self.encode(seismic, velocity)
        latent_q, indices, aux = self.quantize(latent)
        seismic_hat, velocity_hat = self.decode(latent_q)
        return VQAEOutput(seismic_hat, velocity_hat, latent, latent_q, indices, aux)

    def loss(self, output: VQAEOutput, seismic: torch.Tensor, velocity: torch.Tensor
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """:func:`vqae_loss` with ``config.sobel_weight``."""
        return vqae_loss(output, seismic, velocity, sobel_weight=self.config.sobel_weight)


def reconstruction_terms(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """``l1 = mean|x̂ − x|`` and ``sobel = mean| |∇x̂| − |∇x| |`` (Sobel magnitudes per channel,
    :func:`~fwilab.layers.sobel.sobel_gradient_magnitude`) of ``[B, C, H, W]`` maps."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction and target differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    return {"l1": F.l1_loss(pred, target),
            "sobel": F.l1_loss(sobel_gradient_magnitude(pred), sobel_gradient_magnitude(target))}


def vqae_loss(output: VQAEOutput, seismic: torch.Tensor, velocity: torch.Tensor, *,
              sobel_weight: float = SOBEL_WEIGHT) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Stage-1 loss: ``Σ_{m ∈ seismic, velocity} [L1_m + w·Sobel_m] + commitment``.

    ``L1_m`` and ``Sobel_m`` are :func:`reconstruction_terms` of each modality (the Sobel term in
    place of the paper's perceptual loss, ``w = 0.5`` its weight), ``commitment`` the quantisers'
    β-weighted commitment loss (``output.aux``); no discriminator.

    Returns:
        ``(total, parts)``; ``parts`` holds ``seismic_l1, seismic_sobel, velocity_l1, velocity_sobel,
        commitment`` detached, for logging.
    """
    if not (math.isfinite(sobel_weight) and sobel_weight >= 0):
        raise ValueError(f"sobel_weight must be finite and ≥ 0, got {sobel_weight!r}")
    parts: dict[str, torch.Tensor] = {}
    total = output.aux["commitment_loss"]
    for name, pred, target in (("seismic", output.seismic, seismic), ("velocity", output.velocity, velocity)):
        terms = reconstruction_terms(pred, target)
        total = total + terms["l1"] + sobel_weight * terms["sobel"]
        parts.update({f"{name}_{k}": v.detach() for k, v in terms.items()})
    parts["commitment"] = output.aux["commitment_loss"].detach()
    return total, parts


__all__ = ["ENCODERS", "MODALITIES", "PAPER_VELOCITY_SIZE", "SOBEL_WEIGHT", "VARIANTS", "VQAEConfig", "VQAEOutput",
           "VQAutoencoder", "reconstruction_terms", "resize", "vqae_loss"]
