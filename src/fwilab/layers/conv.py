"""Convolutional building blocks of OpenFWI's networks (InversionNet, VelocityGAN's critic).

Every block is one (transposed) convolution, an optional normalisation and an activation,
as in OpenFWI ``network.py`` (``ConvBlock``, ``DeconvBlock``, ``ConvBlock_Tanh``):

- :class:`ConvBlock`:   Conv2d → BatchNorm2d → LeakyReLU(0.2)
- :class:`DeconvBlock`: ConvTranspose2d → BatchNorm2d → LeakyReLU(0.2)
- :class:`ConvTanhBlock`: Conv2d → BatchNorm2d → tanh (the output layer, values in (-1, 1))

:func:`conv_output_size` / :func:`deconv_output_size` are the shape rules of ``nn.Conv2d`` and
``nn.ConvTranspose2d`` along one axis; models use them for dry shape calculations (e.g. the size
of InversionNet's last encoder kernel) instead of hard-coding numbers.
"""

from __future__ import annotations

from typing import Union

import torch
from torch import nn

#: OpenFWI network.py: ``nn.LeakyReLU(relu_slop=0.2)`` in every ConvBlock / DeconvBlock.
LEAKY_RELU_SLOPE: float = 0.2

#: Normalisations a block accepts. OpenFWI's default is ``'bn'``; ``'in'`` is InstanceNorm2d
#: (affine, as a drop-in for critics trained with a gradient penalty); ``'none'`` leaves it out.
#: (OpenFWI's ``'ln'`` option builds ``nn.LayerNorm(channels)``, which normalises the *last
#: spatial* axis of a conv feature map rather than the channels; it is not offered here.)
NORMS: tuple[str, ...] = ("bn", "in", "none")

IntPair = Union[int, tuple[int, int]]


def _pair(v: IntPair) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    if len(v) != 2:
        raise ValueError(f"expected an int or a pair of ints, got {v!r}")
    return int(v[0]), int(v[1])


def conv_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of ``nn.Conv2d`` along one axis: ``floor((n + 2p − k)/s) + 1``."""
    out = (n + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"a convolution with kernel {kernel}, stride {stride}, padding {padding} "
            f"does not fit an input of length {n} (output length {out})"
        )
    return out


def deconv_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0,
                       output_padding: int = 0) -> int:
    """Output length of ``nn.ConvTranspose2d`` along one axis: ``(n − 1)·s − 2p + k + output_padding``."""
    return (n - 1) * stride - 2 * padding + kernel + output_padding


def make_norm(norm: str, channels: int) -> nn.Module | None:
    """The normalisation layer named by ``norm`` for ``channels`` feature maps (None for ``'none'``)."""
    if norm == "bn":
        return nn.BatchNorm2d(channels)
    if norm == "in":
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == "none":
        return None
    raise ValueError(f"unknown normalisation {norm!r}: choose one of {', '.join(NORMS)}")


class _Block(nn.Module):
    """A sequence ``layer → norm → activation``; subclasses choose the three."""

    def __init__(self, layer: nn.Module, norm: str, out_channels: int, activation: nn.Module):
        super().__init__()
        layers = [layer]
        norm_layer = make_norm(norm, out_channels)
        if norm_layer is not None:
            layers.append(norm_layer)
        layers.append(activation)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvBlock(_Block):
    """Conv2d → norm → LeakyReLU(0.2) (OpenFWI ``ConvBlock``).

    Args:
        in_channels, out_channels: feature maps in and out.
        kernel_size, stride, padding: as ``nn.Conv2d`` (defaults 3, 1, 1: a size-preserving 3×3 conv).
        norm: one of :data:`NORMS` (default ``'bn'``).
        slope: LeakyReLU negative slope (default 0.2).

    Shapes: ``[batch, in_channels, H, W] → [batch, out_channels, H', W']`` with
    ``H' = conv_output_size(H, ...)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair = 3,
                 stride: IntPair = 1, padding: IntPair = 1, norm: str = "bn",
                 slope: float = LEAKY_RELU_SLOPE):
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        conv = nn.Conv2d(in_channels, out_channels, self.kernel_size, self.stride, self.padding)
        # not in-place: keeps autograd.grad through the block (gradient penalty) free of surprises
        super().__init__(conv, norm, out_channels, nn.LeakyReLU(slope))

    def output_shape(self, height: int, width: int) -> tuple[int, int]:
        """Spatial output shape for a ``height × width`` input (dry shape calculation)."""
        return tuple(conv_output_size(n, k, s, p) for n, k, s, p in
                     zip((height, width), self.kernel_size, self.stride, self.padding))


class DeconvBlock(_Block):
    """ConvTranspose2d → norm → LeakyReLU(0.2) (OpenFWI ``DeconvBlock``; defaults k2 s2 p0).

    Shapes: ``[batch, in_channels, H, W] → [batch, out_channels, (H−1)·s − 2p + k, ...]``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair = 2,
                 stride: IntPair = 2, padding: IntPair = 0, output_padding: IntPair = 0,
                 norm: str = "bn", slope: float = LEAKY_RELU_SLOPE):
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.output_padding = _pair(padding), _pair(output_padding)
        deconv = nn.ConvTranspose2d(in_channels, out_channels, self.kernel_size, self.stride,
                                    self.padding, self.output_padding)
        super().__init__(deconv, norm, out_channels, nn.LeakyReLU(slope))

    def output_shape(self, height: int, width: int) -> tuple[int, int]:
        """Spatial output shape for a ``height × width`` input (dry shape calculation)."""
        return tuple(deconv_output_size(n, k, s, p, op) for n, k, s, p, op in
                     zip((height, width), self.kernel_size, self.stride, self.padding,
                         self.output_padding))


class ConvTanhBlock(_Block):
    """Conv2d → norm → tanh (OpenFWI ``ConvBlock_Tanh``): the output layer, values in (-1, 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair = 3,
                 stride: IntPair = 1, padding: IntPair = 1, norm: str = "bn"):
        conv = nn.Conv2d(in_channels, out_channels, _pair(kernel_size), _pair(stride), _pair(padding))
        super().__init__(conv, norm, out_channels, nn.Tanh())


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop the last two axes of ``x`` to ``height × width`` around the centre.

    When the excess is odd the extra row/column is removed at the bottom/right:
    ``top = (H − height) // 2``. For 80 → 70 this is OpenFWI's ``F.pad(x, [-5, -5, -5, -5])``.
    """
    h, w = x.shape[-2:]
    if height > h or width > w:
        raise ValueError(f"cannot crop a {h}×{w} map to {height}×{width}")
    top, left = (h - height) // 2, (w - width) // 2
    return x[..., top:top + height, left:left + width]
