"""Residual convolutional blocks of the VQGAN / latent-diffusion family, and a ResNet encoder/decoder pair.

The blocks follow taming-transformers / CompVis LDM (``diffusionmodules/model.py`` and
``openaimodel.py``), which WaveDiffusion builds on (paper §A.1: "ResNet blocks"):

- :class:`ResidualBlock`: ``GroupNorm → SiLU → conv3×3 → [time injection] → GroupNorm → SiLU →
  dropout → conv3×3``, plus the input (through a 1×1 conv when the channel count changes). With a
  time embedding it is the diffusion UNet's block: the embedding is mapped to ``2·C_out`` numbers
  that scale and shift the second normalisation, ``h = GN(h)·(1 + scale) + shift`` (LDM's
  ``use_scale_shift_norm=True``, the paper's "scale-shift normalization"), or to ``C_out`` numbers
  added to the features (``scale_shift=False``).
- :class:`Downsample` / :class:`Upsample`: a stride-``(s_h, s_w)`` 3×3 conv, and nearest-neighbour
  ×``(s_h, s_w)`` followed by a 3×3 conv. The strides are per axis so one network can halve the
  time axis of a seismic record more often than its receiver axis.
- :class:`SelfAttention2d`: multi-head self-attention over the ``H·W`` positions of a feature map,
  pre-normalised, residual.
- :class:`ResNetEncoder` / :class:`ResNetDecoder`: ``len(channel_mult)`` levels of residual
  blocks, with a (per-axis) resampling between consecutive levels; :func:`halving_strides` says
  which transitions halve which axis (the first ones: the expensive high-resolution levels are the
  fewest). The encoder maps ``[B, C_in, H, W] → [B, C_latent, H/2^{n_h}, W/2^{n_w}]``; the decoder
  inverts the shapes.

GroupNorm uses ``gcd(groups, channels)`` groups (32 as LDM when the width allows), so narrow
smoke-sized networks still normalise.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: LDM ``Normalize``: GroupNorm(num_groups=32, eps=1e-6)
NORM_GROUPS: int = 32
NORM_EPS: float = 1e-6


def group_norm(channels: int, groups: int = NORM_GROUPS) -> nn.GroupNorm:
    """GroupNorm over ``gcd(groups, channels)`` groups (LDM: 32 groups, eps 1e-6)."""
    if channels < 1 or groups < 1:
        raise ValueError(f"group_norm needs channels ≥ 1 and groups ≥ 1, got {channels}, {groups}")
    return nn.GroupNorm(math.gcd(groups, channels), channels, eps=NORM_EPS)


def _stride(stride: int | Sequence[int]) -> tuple[int, int]:
    pair = (stride, stride) if isinstance(stride, int) else tuple(int(s) for s in stride)
    if len(pair) != 2 or any(s not in (1, 2) for s in pair):
        raise ValueError(f"a resampling stride must be 1 or 2 per axis, got {stride!r}")
    return pair


class ResidualBlock(nn.Module):
    """Pre-activation residual block, optionally conditioned on a time embedding.

    Args:
        in_channels, out_channels: feature maps in and out.
        time_dim: width of the time embedding it reads (``None``: unconditioned, the autoencoders' block).
        dropout: dropout rate before the second convolution.
        scale_shift: inject the embedding as a scale and shift of the second GroupNorm (LDM
            ``use_scale_shift_norm``); otherwise it is added after the first convolution.
        groups: GroupNorm groups (see :func:`group_norm`).

    Shapes: ``x [B, in_channels, H, W]``, ``emb [B, time_dim]`` → ``[B, out_channels, H, W]``.
    """

    def __init__(self, in_channels: int, out_channels: int, time_dim: int | None = None, dropout: float = 0.0,
                 scale_shift: bool = True, groups: int = NORM_GROUPS):
        super().__init__()
        self.time_dim = time_dim
        self.scale_shift = scale_shift
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time = None if time_dim is None else \
            nn.Linear(time_dim, 2 * out_channels if scale_shift else out_channels)
        self.norm2 = group_norm(out_channels, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        if (emb is None) != (self.time is None):
            raise ValueError("ResidualBlock: give a time embedding exactly when the block was built with time_dim "
                             f"(time_dim={self.time_dim}, embedding given: {emb is not None})")
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time is None:
            h = self.norm2(h)
        else:
            t = self.time(F.silu(emb))[:, :, None, None]
            if self.scale_shift:
                scale, shift = t.chunk(2, dim=1)
                h = self.norm2(h) * (1 + scale) + shift
            else:
                h = self.norm2(h + t)
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class Downsample(nn.Module):
    """A 3×3 convolution of stride ``(s_h, s_w)`` (each 1 or 2): ``[B, C, H, W] → [B, C, ⌈H/s_h⌉, ⌈W/s_w⌉]``."""

    def __init__(self, channels: int, stride: int | Sequence[int] = 2):
        super().__init__()
        self.stride = _stride(stride)
        self.conv = nn.Conv2d(channels, channels, 3, stride=self.stride, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour ×``(s_h, s_w)`` then a 3×3 conv: ``[B, C, H, W] → [B, C, s_h·H, s_w·W]``."""

    def __init__(self, channels: int, scale: int | Sequence[int] = 2):
        super().__init__()
        self.scale = _stride(scale)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=self.scale, mode="nearest"))


class SelfAttention2d(nn.Module):
    """Residual multi-head self-attention over a feature map's positions.

    ``x + proj(softmax(q·kᵀ/√d)·v)`` with ``q, k, v`` 1×1 projections of ``GroupNorm(x)`` split into
    ``heads`` heads of ``d = C/heads`` channels; ``[B, C, H, W] → [B, C, H, W]``.
    """

    def __init__(self, channels: int, heads: int = 1, groups: int = NORM_GROUPS):
        super().__init__()
        if heads < 1 or channels % heads:
            raise ValueError(f"SelfAttention2d: {channels} channels do not split into {heads} heads")
        self.heads = heads
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)          # [B, heads, H·W, C/heads]
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


def halving_strides(input_size: Sequence[int], output_size: Sequence[int], transitions: int) -> list[tuple[int, int]]:
    """Per-axis strides of ``transitions`` resamplings taking ``input_size`` to ``output_size``.

    Each axis is halved ``n = log2(input/output)`` times, at the first ``n`` transitions (stride 2
    there, 1 after). ``(256, 64) → (16, 16)`` over 5 transitions: ``(2,2), (2,2), (2,1), (2,1), (1,1)``.

    Raises:
        ValueError: an axis ratio is not a power of two, or needs more halvings than ``transitions``.
    """
    strides = [[1, 1] for _ in range(transitions)]
    for axis, (n_in, n_out) in enumerate(zip(input_size, output_size)):
        ratio = n_in / n_out if n_out > 0 else 0.0
        halvings = round(math.log2(ratio)) if ratio >= 1 else -1
        if halvings < 0 or n_out * 2 ** halvings != n_in:
            raise ValueError(f"size {tuple(input_size)} does not reach {tuple(output_size)} by halving: axis {axis} "
                             f"({n_in} → {n_out}) needs a power-of-two ratio")
        if halvings > transitions:
            raise ValueError(f"size {tuple(input_size)} → {tuple(output_size)} needs {halvings} halvings on axis "
                             f"{axis} but the network has only {transitions} transitions (len(channel_mult) − 1)")
        for i in range(halvings):
            strides[i][axis] = 2
    return [tuple(s) for s in strides]


class ResNetEncoder(nn.Module):
    """Convolutional ResNet encoder (taming ``Encoder`` without attention).

    ``conv3×3 → for each level: num_res_blocks residual blocks (width base·mult[i]), then a
    downsample (strides from :func:`halving_strides`) unless it is the last level → two residual
    blocks → GroupNorm → SiLU → conv3×3`` to ``out_channels``.

    Shapes: ``[B, in_channels, *input_size] → [B, out_channels, *output_size]``.
    """

    def __init__(self, in_channels: int, out_channels: int, input_size: Sequence[int], output_size: Sequence[int],
                 base_channels: int, channel_mult: Sequence[int], num_res_blocks: int = 1,
                 groups: int = NORM_GROUPS, dropout: float = 0.0):
        super().__init__()
        if not channel_mult or num_res_blocks < 1:
            raise ValueError("ResNetEncoder needs a non-empty channel_mult and num_res_blocks ≥ 1")
        self.input_size, self.output_size = tuple(input_size), tuple(output_size)
        strides = halving_strides(input_size, output_size, len(channel_mult) - 1)
        widths = [base_channels * m for m in channel_mult]
        self.conv_in = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        layers: list[nn.Module] = []
        ch = base_channels
        for level, width in enumerate(widths):
            for _ in range(num_res_blocks):
                layers.append(ResidualBlock(ch, width, dropout=dropout, groups=groups))
                ch = width
            if level < len(strides) and strides[level] != (1, 1):
                layers.append(Downsample(ch, strides[level]))
        self.levels = nn.Sequential(*layers)
        self.mid = nn.Sequential(ResidualBlock(ch, ch, groups=groups), ResidualBlock(ch, ch, groups=groups))
        self.norm_out = group_norm(ch, groups)
        self.conv_out = nn.Conv2d(ch, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(f"ResNetEncoder expects [batch, channel, {self.input_size[0]}, {self.input_size[1]}], "
                             f"got shape {tuple(x.shape)}")
        h = self.mid(self.levels(self.conv_in(x)))
        return self.conv_out(F.silu(self.norm_out(h)))


class ResNetDecoder(nn.Module):
    """The encoder's mirror (taming ``Decoder`` without attention).

    ``conv3×3 (to base·mult[-1]) → two residual blocks → for each level from the deepest:
    num_res_blocks residual blocks, then an upsample (the encoder's strides reversed) unless it is
    the top level → GroupNorm → SiLU → conv3×3`` to ``out_channels``; no output activation.

    Shapes: ``[B, in_channels, *latent_size] → [B, out_channels, *output_size]``.
    """

    def __init__(self, in_channels: int, out_channels: int, latent_size: Sequence[int], output_size: Sequence[int],
                 base_channels: int, channel_mult: Sequence[int], num_res_blocks: int = 1,
                 groups: int = NORM_GROUPS, dropout: float = 0.0):
        super().__init__()
        if not channel_mult or num_res_blocks < 1:
            raise ValueError("ResNetDecoder needs a non-empty channel_mult and num_res_blocks ≥ 1")
        self.latent_size, self.output_size = tuple(latent_size), tuple(output_size)
        strides = halving_strides(output_size, latent_size, len(channel_mult) - 1)
        widths = [base_channels * m for m in channel_mult]
        ch = widths[-1]
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)
        self.mid = nn.Sequential(ResidualBlock(ch, ch, groups=groups), ResidualBlock(ch, ch, groups=groups))
        layers: list[nn.Module] = []
        for level in reversed(range(len(widths))):
            for _ in range(num_res_blocks):
                layers.append(ResidualBlock(ch, widths[level], dropout=dropout, groups=groups))
                ch = widths[level]
            if level > 0 and strides[level - 1] != (1, 1):
                layers.append(Upsample(ch, strides[level - 1]))
        self.levels = nn.Sequential(*layers)
        self.norm_out = group_norm(ch, groups)
        self.conv_out = nn.Conv2d(ch, out_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 4 or tuple(z.shape[-2:]) != self.latent_size:
            raise ValueError(f"ResNetDecoder expects [batch, channel, {self.latent_size[0]}, {self.latent_size[1]}], "
                             f"got shape {tuple(z.shape)}")
        h = self.levels(self.mid(self.conv_in(z)))
        return self.conv_out(F.silu(self.norm_out(h)))


__all__ = ["NORM_EPS", "NORM_GROUPS", "Downsample", "ResNetDecoder", "ResNetEncoder", "ResidualBlock",
           "SelfAttention2d", "Upsample", "group_norm", "halving_strides"]
