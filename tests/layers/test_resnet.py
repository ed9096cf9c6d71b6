"""Residual blocks, per-axis resampling and the ResNet encoder/decoder pair (fwilab.layers.resnet)."""

import pytest
import torch

from fwilab.layers.resnet import (
    Downsample,
    ResidualBlock,
    ResNetDecoder,
    ResNetEncoder,
    SelfAttention2d,
    Upsample,
    group_norm,
    halving_strides,
)


def test_halving_strides_halve_each_axis_at_the_first_transitions():
    assert halving_strides((256, 64), (16, 16), 5) == [(2, 2), (2, 2), (2, 1), (2, 1), (1, 1)]
    assert halving_strides((64, 64), (16, 16), 4) == [(2, 2), (2, 2), (1, 1), (1, 1)]
    assert halving_strides((8, 8), (8, 8), 0) == []


@pytest.mark.parametrize("size,latent,transitions,match", [
    ((70, 70), (16, 16), 4, "power-of-two"),
    ((256, 64), (16, 16), 3, "needs 4 halvings"),
    ((8, 8), (16, 16), 4, "power-of-two"),
])
def test_halving_strides_refuse_sizes_that_halvings_cannot_reach(size, latent, transitions, match):
    with pytest.raises(ValueError, match=match):
        halving_strides(size, latent, transitions)


def test_resampling_shapes_per_axis():
    x = torch.randn(2, 4, 16, 8)
    assert Downsample(4, (2, 1))(x).shape == (2, 4, 8, 8)
    assert Downsample(4)(x).shape == (2, 4, 8, 4)
    assert Upsample(4, (2, 1))(x).shape == (2, 4, 32, 8)
    with pytest.raises(ValueError, match="1 or 2"):
        Downsample(4, 3)


def test_group_norm_takes_the_largest_group_count_that_divides():
    assert group_norm(8).num_groups == 8 and group_norm(64).num_groups == 32 and group_norm(48).num_groups == 16


@pytest.mark.parametrize("scale_shift", [True, False])
def test_residual_block_uses_its_time_embedding(scale_shift):
    torch.manual_seed(0)
    block = ResidualBlock(4, 6, time_dim=5, scale_shift=scale_shift)
    x = torch.randn(2, 4, 5, 5)
    a, b = block(x, torch.randn(2, 5)), block(x, torch.randn(2, 5))
    assert a.shape == (2, 6, 5, 5) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="time embedding"):
        block(x)
    with pytest.raises(ValueError, match="time embedding"):
        ResidualBlock(4, 4)(x, torch.randn(2, 5))


def test_self_attention_mixes_positions():
    torch.manual_seed(0)
    attention = SelfAttention2d(8, heads=2)
    x = torch.randn(1, 8, 4, 4)
    y = torch.cat([x[..., :1, :1] + 1.0, x.flatten(2)[..., 1:].reshape(1, 8, 1, 15)], dim=-1).reshape(1, 8, 4, 4)
    # changing one position changes the output at the others (a conv of size 1 would not)
    assert not torch.allclose(attention(x)[..., 3, 3], attention(y)[..., 3, 3])
    with pytest.raises(ValueError, match="heads"):
        SelfAttention2d(6, heads=4)


def test_encoder_and_decoder_shapes_invert():
    torch.manual_seed(0)
    enc = ResNetEncoder(3, 5, (32, 16), (4, 4), base_channels=8, channel_mult=(1, 2, 2, 2))
    dec = ResNetDecoder(5, 3, (4, 4), (32, 16), base_channels=8, channel_mult=(1, 2, 2, 2))
    z = enc(torch.randn(2, 3, 32, 16))
    assert z.shape == (2, 5, 4, 4)
    assert dec(z).shape == (2, 3, 32, 16)
    with pytest.raises(ValueError, match=r"ResNetEncoder expects \[batch, channel, 32, 16\]"):
        enc(torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"ResNetDecoder expects \[batch, channel, 4, 4\]"):
        dec(torch.randn(2, 5, 8, 8))
