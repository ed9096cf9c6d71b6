"""A ViT-S/16-style encoder for seismic gathers, trained from scratch.

SPAMoE's released encoder (``neuralop/models/encoder.py``, ``Encoder_Dino``; FACTS.md §2) is
timm's DINOv3 ViT-S/16 (``vit_small_patch16_dinov3.lvd1689m``: patch 16, width 384, 12 blocks,
6 heads, 4 register tokens, RoPE), with pretrained weights. Those weights cannot be had offline,
so fwilab trains a plain pre-norm ViT of the same shape from scratch; differences from DINOv3:
learned absolute position embeddings (interpolated when the token grid changes) instead of RoPE,
and no LayerScale. Register tokens are kept as an option (``n_registers``).

The seismic encoder follows the released "pad_then_interp" mode:

1. reflect-pad ``[B, 1, nt, width]`` at the bottom/right to a multiple of the patch size
   (OpenFWI: 1000 × 350 → 1008 × 352, a 63 × 22 token grid);
2. the ViT → patch tokens ``[B, dim, 63, 22]`` (class and register tokens dropped);
3. a 1×1 convolution (no bias) to ``out_channels`` (released 128);
4. bilinear resize to the velocity grid ``(nz, nx)`` (``align_corners=False``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + Attn(LN x)``, then ``x + MLP(LN x)`` (GELU, ratio 4)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"ViT width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(round(dim * mlp_ratio))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(attended)
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """Plain ViT returning the patch-token grid.

    Args:
        in_channels: image channels (1 for the side-by-side shot gathers).
        image_shape: ``(H, W)`` the position embedding is built for (multiples of ``patch_size``).
        patch_size: square patch side (16 for ViT-S/16).
        dim, depth, heads, mlp_ratio: width, blocks, heads, MLP ratio (ViT-S: 384, 12, 6, 4).
        n_registers: extra learned tokens (DINOv3 uses 4); dropped from the output.

    Forward: ``[B, in_channels, H, W]`` (multiples of the patch) → ``[B, dim, H/p, W/p]``.
    """

    def __init__(self, in_channels: int, image_shape: tuple[int, int], patch_size: int = 16, dim: int = 384,
                 depth: int = 12, heads: int = 6, mlp_ratio: float = 4.0, n_registers: int = 0):
        super().__init__()
        if patch_size < 1 or any(s % patch_size for s in image_shape):
            raise ValueError(f"image shape {image_shape} is not a multiple of the patch size {patch_size}")
        if depth < 0 or n_registers < 0:
            raise ValueError(f"depth and n_registers must be ≥ 0, got {depth}, {n_registers}")
        self.patch_size = int(patch_size)
        self.grid = (image_shape[0] // patch_size, image_shape[1] // patch_size)
        self.n_prefix = 1 + int(n_registers)
        self.patch_embed = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.prefix_tokens = nn.Parameter(torch.zeros(1, self.n_prefix, dim))
        self.position = nn.Parameter(torch.zeros(1, dim, *self.grid))
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        nn.init.trunc_normal_(self.position, std=0.02)
        nn.init.trunc_normal_(self.prefix_tokens, std=0.02)
        self.apply(self._init_linear)

    @staticmethod
    def _init_linear(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x)                                   # [B, D, gh, gw]
        b, d, gh, gw = tokens.shape
        position = self.position
        if (gh, gw) != self.grid:
            position = F.interpolate(position, size=(gh, gw), mode="bicubic", align_corners=False)
        tokens = (tokens + position).flatten(2).transpose(1, 2)        # [B, gh·gw, D]
        tokens = torch.cat([self.prefix_tokens.expand(b, -1, -1), tokens], dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        tokens = self.norm(tokens)[:, self.n_prefix:]
        return tokens.transpose(1, 2).reshape(b, d, gh, gw)


class SeismicViTEncoder(nn.Module):
    """Shot gathers side by side → latent feature maps on the velocity grid.

    Args:
        input_shape: ``(nt, n_shots·n_receivers)`` of the side-by-side gathers.
        out_channels: channels of the latent maps (released 128).
        out_shape: ``(nz, nx)`` of the velocity grid.
        patch_size, dim, depth, heads, mlp_ratio, n_registers: see :class:`VisionTransformer`.

    Forward: ``seismic [B, 1, nt, n_shots·n_receivers]`` → ``latent [B, out_channels, nz, nx]``.
    """

    def __init__(self, input_shape: tuple[int, int], out_channels: int, out_shape: tuple[int, int],
                 patch_size: int = 16, dim: int = 384, depth: int = 12, heads: int = 6,
                 mlp_ratio: float = 4.0, n_registers: int = 0):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.patch_size = int(patch_size)
        padded = tuple(math.ceil(s / patch_size) * patch_size for s in self.input_shape)
        self.vit = VisionTransformer(1, padded, patch_size, dim, depth, heads, mlp_ratio, n_registers)
        self.projection = nn.Conv2d(dim, out_channels, kernel_size=1, bias=False)

    def pad_to_patches(self, x: torch.Tensor) -> torch.Tensor:
        """Reflect-pad bottom/right to a multiple of the patch size (released "pad_then_interp")."""
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % self.patch_size, (-w) % self.patch_size
        if pad_h == 0 and pad_w == 0:
            return x
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"
        return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"encoder expects [batch, 1, nt, shots·receivers], got shape {tuple(x.shape)}")
        grid = self.projection(self.vit(self.pad_to_patches(x)))
        return F.interpolate(grid, size=self.out_shape, mode="bilinear", align_corners=False)


__all__ = ["SeismicViTEncoder", "TransformerBlock", "VisionTransformer"]
