"""Building blocks shared by the models (conv blocks, spectral convs, routers, ...)."""

from fwilab.layers.conv import (
    LEAKY_RELU_SLOPE,
    NORMS,
    ConvBlock,
    ConvTanhBlock,
    DeconvBlock,
    center_crop,
    conv_output_size,
    deconv_output_size,
    make_norm,
)

__all__ = [
    "LEAKY_RELU_SLOPE",
    "NORMS",
    "ConvBlock",
    "ConvTanhBlock",
    "DeconvBlock",
    "center_crop",
    "conv_output_size",
    "deconv_output_size",
    "make_norm",
]
