"""A small 2-D UNet for denoising diffusion: ``ε_θ(x_t, t)``.

The layout is the CompVis LDM / OpenAI "guided diffusion" UNet (``openaimodel.py``) that
WaveDiffusion's joint diffusion model uses (paper §A.1.2), reduced to its essentials:

- the integer step ``t [B]`` → :func:`timestep_embedding` (sinusoidal, ``model_channels`` wide) →
  Linear → SiLU → Linear, ``4·model_channels`` wide, injected into every residual block
  (:class:`~fwilab.layers.resnet.ResidualBlock`, scale-shift normalisation by default, as the paper);
- ``conv3×3`` → for each level ``i``: ``num_res_blocks`` residual blocks of width
  ``model_channels·channel_mult[i]``, the level's output kept as a skip, then a stride-2 downsample
  unless it is the last level;
- middle: residual block → self-attention (optional; ``attention=True``) → residual block, at the
  lowest resolution ``H / 2^{len(channel_mult)−1}``;
- for each level from the deepest: nearest ×2 upsample (not at the deepest), the skip of that level
  concatenated along channels, ``num_res_blocks`` residual blocks;
- GroupNorm → SiLU → conv3×3 back to ``in_channels``.

Simplifications against LDM, stated: one skip per level rather than one per block; attention only
at the lowest resolution (the paper's model attends at 32, 16, 8 and 4 with 8 heads); resampling
by convolution, not by residual blocks (``resblock_updown``); the output convolution is not
zero-initialised (so every parameter gets a gradient from the first step).

Shapes: ``x [B, C, H, W]`` (H and W divisible by ``2^{len(channel_mult)−1}``), ``t [B]`` integer
diffusion steps → ``[B, C, H, W]``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fwilab.layers.resnet import NORM_GROUPS, Downsample, ResidualBlock, SelfAttention2d, Upsample, group_norm

#: LDM / "Attention is all you need": the longest period of the sinusoidal time embedding
MAX_PERIOD: float = 10_000.0


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = MAX_PERIOD) -> torch.Tensor:
    """Sinusoidal embedding of diffusion steps (LDM ``timestep_embedding``).

    ``emb[b] = [cos(t_b·ω_0), …, cos(t_b·ω_{h−1}), sin(t_b·ω_0), …, sin(t_b·ω_{h−1})]`` with
    ``h = dim // 2`` and ``ω_k = max_period^{−k/h}`` (a zero column appended when ``dim`` is odd).

    Args:
        t: ``[B]`` steps (integer or float).
        dim: embedding width.

    Returns:
        float32 ``[B, dim]``.
    """
    if t.dim() != 1:
        raise ValueError(f"timestep_embedding expects steps t of shape [batch], got {tuple(t.shape)}")
    if dim < 1:
        raise ValueError(f"timestep_embedding needs dim ≥ 1, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / max(half, 1))
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, dim % 2))


class TimestepEmbedding(nn.Sequential):
    """The diffusion step as a learned vector: :func:`timestep_embedding` → Linear → SiLU → Linear.

    ``t [B]`` → sinusoids ``[B, frequency_dim]`` → ``[B, dim]`` (LDM's ``time_embed``; the UNet uses
    ``frequency_dim = model_channels`` and ``dim = 4·model_channels``). A ``Sequential``, so its
    parameters are named ``0.weight`` … ``2.bias`` as LDM's.
    """

    def __init__(self, frequency_dim: int, dim: int):
        if frequency_dim < 1 or dim < 1:
            raise ValueError(f"TimestepEmbedding needs positive widths, got frequency_dim={frequency_dim}, dim={dim}")
        super().__init__(nn.Linear(frequency_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.frequency_dim = frequency_dim

    def forward(self, t: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``t [B]`` → ``[B, dim]``; the sinusoids are cast to ``dtype`` (default: the weights')."""
        emb = timestep_embedding(t, self.frequency_dim)
        return super().forward(emb.to(dtype or self[0].weight.dtype))


class UNet(nn.Module):
    """Time-conditioned UNet predicting the noise of a diffusion step (see the module docstring).

    Args:
        in_channels: channels of ``x`` (and of the output).
        model_channels: width of the first level (paper: 128).
        channel_mult: per-level width multipliers (paper: (1, 2, 2, 4, 4)).
        num_res_blocks: residual blocks per level (paper: 2).
        attention: self-attention in the middle block (the lowest resolution).
        heads: attention heads (paper: 8).
        dropout: dropout inside residual blocks.
        scale_shift: scale-shift time injection (paper: enabled).
        groups: GroupNorm groups (see :func:`~fwilab.layers.resnet.group_norm`).
    """

    def __init__(self, in_channels: int, model_channels: int = 32, channel_mult: Sequence[int] = (1, 2),
                 num_res_blocks: int = 1, attention: bool = True, heads: int = 1, dropout: float = 0.0,
                 scale_shift: bool = True, groups: int = NORM_GROUPS):
        super().__init__()
        if in_channels < 1 or model_channels < 1 or num_res_blocks < 1 or not channel_mult \
                or any(m < 1 for m in channel_mult):
            raise ValueError(f"UNet needs positive in_channels, model_channels, num_res_blocks and channel_mult, got "
                             f"{in_channels}, {model_channels}, {num_res_blocks}, {tuple(channel_mult)}")
        self.in_channels = in_channels
        self.model_channels = model_channels
        self.channel_mult = tuple(channel_mult)
        time_dim = 4 * model_channels
        self.time_embed = TimestepEmbedding(model_channels, time_dim)

        def block(c_in: int, c_out: int) -> ResidualBlock:
            return ResidualBlock(c_in, c_out, time_dim, dropout=dropout, scale_shift=scale_shift, groups=groups)

        widths = [model_channels * m for m in channel_mult]
        self.conv_in = nn.Conv2d(in_channels, model_channels, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        ch = model_channels
        for level, width in enumerate(widths):
            self.down.append(nn.ModuleList(block(ch if i == 0 else width, width) for i in range(num_res_blocks)))
            ch = width
            self.downsample.append(Downsample(ch) if level < len(widths) - 1 else nn.Identity())
        self.mid1 = block(ch, ch)
        self.mid_attention = SelfAttention2d(ch, heads, groups) if attention else nn.Identity()
        self.mid2 = block(ch, ch)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(widths))):
            width = widths[level]
            self.upsample.append(Upsample(ch) if level < len(widths) - 1 else nn.Identity())
            self.up.append(nn.ModuleList(block(ch + width if i == 0 else width, width) for i in range(num_res_blocks)))
            ch = width
        self.norm_out = group_norm(ch, groups)
        self.conv_out = nn.Conv2d(ch, in_channels, 3, padding=1)

    @property
    def size_multiple(self) -> int:
        """H and W must be multiples of this: ``2^{len(channel_mult)−1}``."""
        return 2 ** (len(self.channel_mult) - 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet expects x [batch, {self.in_channels}, H, W], got shape {tuple(x.shape)}")
        m = self.size_multiple
        if x.shape[-2] % m or x.shape[-1] % m:
            raise ValueError(f"UNet with {len(self.channel_mult)} levels needs H and W divisible by {m}, "
                             f"got {tuple(x.shape[-2:])}")
        t = torch.as_tensor(t, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"UNet expects steps t of shape [{x.shape[0]}] (one per sample), got {tuple(t.shape)}")
        emb = self.time_embed(t, x.dtype)
        h = self.conv_in(x)
        skips = []
        for blocks, down in zip(self.down, self.downsample):
            for b in blocks:
                h = b(h, emb)
            skips.append(h)
            h = down(h)
        h = self.mid2(self.mid_attention(self.mid1(h, emb)), emb)
        for blocks, up in zip(self.up, self.upsample):
            h = torch.cat([up(h), skips.pop()], dim=1)
            for b in blocks:
                h = b(h, emb)
        return self.conv_out(F.silu(self.norm_out(h)))


__all__ = ["MAX_PERIOD", "TimestepEmbedding", "UNet", "timestep_embedding"]
