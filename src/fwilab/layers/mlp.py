"""A time-conditioned residual MLP: the denoiser of a diffusion model on flat latent vectors.

UB-Diff diffuses a 128-d co-latent ``z`` with no spatial layout (one vector per sample). Its release
feeds it to lucidrains' ``Unet1D`` as a one-channel sequence of length 128 (``[B, 1, 128]``), which
convolves neighbouring latent entries as if their order meant something; nothing in the encoder gives
the entries an order (the co-latent is the output of a convolution with a full-map kernel, one
channel per entry), so a fully connected denoiser is the natural reading, and this module is one:

- the step ``t [B]`` → :class:`~fwilab.layers.unet.TimestepEmbedding` (sinusoids of ``width``
  frequencies → Linear → SiLU → Linear, ``width`` wide), shared by every block;
- ``Linear(in_features → width)`` → ``depth`` × :class:`ResidualMLPBlock` → LayerNorm → SiLU →
  ``Linear(width → in_features)``.

:class:`ResidualMLPBlock` is the UNet's :class:`~fwilab.layers.resnet.ResidualBlock` with the
convolutions replaced by Linear layers and GroupNorm by LayerNorm: ``LN → SiLU → Linear → time
injection → SiLU → dropout → Linear``, plus the input; the time embedding scales and shifts the
second normalisation (``h = LN(h)·(1 + scale) + shift``, LDM's ``use_scale_shift_norm``) or is
added (``scale_shift=False``). As in the UNet, the output layer is not zero-initialised, so every
parameter gets a gradient from the first step.

Shapes: ``x [B, in_features]``, ``t [B]`` integer steps → ``[B, in_features]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fwilab.layers.unet import TimestepEmbedding

#: LDM's GroupNorm eps, reused for the LayerNorms
LAYER_NORM_EPS: float = 1e-6


class ResidualMLPBlock(nn.Module):
    """Pre-activation residual MLP block conditioned on a time embedding (module docstring).

    Args:
        dim: features in and out.
        time_dim: width of the time embedding it reads.
        dropout: dropout before the second Linear.
        scale_shift: inject the embedding as a scale and shift of the second LayerNorm.

    Shapes: ``x [B, dim]``, ``emb [B, time_dim]`` → ``[B, dim]``.
    """

    def __init__(self, dim: int, time_dim: int, dropout: float = 0.0, scale_shift: bool = True):
        super().__init__()
        self.scale_shift = scale_shift
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.linear1 = nn.Linear(dim, dim)
        self.time = nn.Linear(time_dim, 2 * dim if scale_shift else dim)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.linear1(F.silu(self.norm1(x)))
        t = self.time(F.silu(emb))
        if self.scale_shift:
            scale, shift = t.chunk(2, dim=-1)
            h = self.norm2(h) * (1 + scale) + shift
        else:
            h = self.norm2(h + t)
        return x + self.linear2(self.dropout(F.silu(h)))


class MLPDenoiser(nn.Module):
    """Residual MLP predicting the noise (or ``v``) of a diffusion step on flat vectors.

    Args:
        in_features: the latent's width (UB-Diff: 128).
        width: hidden width of the blocks and of the time embedding.
        depth: residual blocks (≥ 1).
        dropout: dropout inside the blocks.
        scale_shift: scale-shift time injection (default).

    Forward: ``x [B, in_features]``, ``t [B]`` (or a scalar) integer steps → ``[B, in_features]``.
    """

    def __init__(self, in_features: int, width: int = 256, depth: int = 3, dropout: float = 0.0,
                 scale_shift: bool = True):
        super().__init__()
        for name, value in (("in_features", in_features), ("width", width), ("depth", depth)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MLPDenoiser.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLPDenoiser.dropout must lie in [0, 1), got {dropout!r}")
        self.in_features = in_features
        self.time_embed = TimestepEmbedding(width, width)
        self.linear_in = nn.Linear(in_features, width)
        self.blocks = nn.ModuleList(ResidualMLPBlock(width, width, dropout, scale_shift) for _ in range(depth))
        self.norm_out = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.linear_out = nn.Linear(width, in_features)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"MLPDenoiser expects x [batch, {self.in_features}], got shape {tuple(x.shape)}")
        t = torch.as_tensor(t, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"MLPDenoiser expects steps t of shape [{x.shape[0]}] (one per sample), "
                             f"got {tuple(t.shape)}")
        emb = self.time_embed(t, x.dtype)
        h = self.linear_in(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.linear_out(F.silu(self.norm_out(h)))


__all__ = ["LAYER_NORM_EPS", "MLPDenoiser", "ResidualMLPBlock"]
