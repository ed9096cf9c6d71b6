"""Conv blocks: the dry shape rules agree with torch, block composition, centre crop."""

import pytest
import torch
from torch import nn

from fwilab.layers import ConvBlock, ConvTanhBlock, DeconvBlock, center_crop, conv_output_size


@pytest.mark.parametrize("n,k,s,p", [(1000, 7, 2, 3), (63, 3, 2, 1), (70, 3, 1, 1), (9, 9, 1, 0), (35, 3, 2, 1)])
def test_conv_output_size_matches_torch(n, k, s, p):
    conv = nn.Conv2d(1, 1, (k, 1), (s, 1), (p, 0))
    assert conv(torch.zeros(1, 1, n, 1)).shape[2] == conv_output_size(n, k, s, p)


@pytest.mark.parametrize("kernel,stride,padding", [(5, 1, 0), (4, 2, 1), ((2, 3), (2, 1), (0, 1))])
def test_block_output_shape_matches_forward(kernel, stride, padding):
    x = torch.randn(2, 3, 11, 7)
    conv = ConvBlock(3, 4, kernel, stride, padding)
    deconv = DeconvBlock(3, 4, kernel, stride, padding)
    assert conv(x).shape[2:] == conv.output_shape(11, 7)
    assert deconv(x).shape[2:] == deconv.output_shape(11, 7)


def test_block_is_conv_bn_leaky_relu():
    block = ConvBlock(2, 3)
    kinds = [type(m) for m in block.layers]
    assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU]
    assert block.layers[2].negative_slope == 0.2
    assert [type(m) for m in ConvTanhBlock(2, 1).layers] == [nn.Conv2d, nn.BatchNorm2d, nn.Tanh]
    assert [type(m) for m in ConvBlock(2, 3, norm="none").layers] == [nn.Conv2d, nn.LeakyReLU]
    with pytest.raises(ValueError, match="normalisation"):
        ConvBlock(2, 3, norm="ln")


def test_center_crop_is_openfwi_crop_for_70():
    x = torch.randn(1, 2, 80, 80)
    # OpenFWI: F.pad(x, [-5, -5, -5, -5]) — 5 pixels off every side
    assert torch.equal(center_crop(x, 70, 70), x[..., 5:75, 5:75])
    # odd excess: the extra row/column goes at the bottom/right
    assert torch.equal(center_crop(x, 21, 20), x[..., 29:50, 30:50])
    with pytest.raises(ValueError):
        center_crop(x, 81, 70)
