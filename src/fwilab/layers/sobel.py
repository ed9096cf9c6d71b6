"""Sobel edge maps: the gradient magnitude shared by SPAMoE's released ``GradL1`` term and the VQ
autoencoders' gradient-difference loss (:mod:`fwilab.models.spamoe`, :mod:`fwilab.models.vqae`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sobel_gradient_magnitude(v: torch.Tensor) -> torch.Tensor:
    """``|∇v|`` by normalised Sobel kernels (released ``GradL1``): ``[B, C, H, W]`` → same shape.

    ``g_x = v ⋆ K_x``, ``K_x = [[1, 0, −1], [2, 0, −2], [1, 0, −1]] / 8``, ``K_y = K_xᵀ``
    (cross-correlation, replicate padding), ``|∇v| = sqrt(g_x² + g_y² + 1e−12)``. A ramp
    ``v = a·j`` gives ``|∇v| = |a|`` inside and ``|a|/2`` on the first/last column.
    """
    if v.dim() != 4:
        raise ValueError(f"expected [batch, channel, H, W], got shape {tuple(v.shape)}")
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], device=v.device, dtype=v.dtype) / 8.0
    channels = v.shape[1]
    padded = F.pad(v, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, kx.expand(channels, 1, 3, 3), groups=channels)
    gy = F.conv2d(padded, kx.t().expand(channels, 1, 3, 3), groups=channels)
    return torch.sqrt(gx ** 2 + gy ** 2 + 1e-12)


__all__ = ["sobel_gradient_magnitude"]
