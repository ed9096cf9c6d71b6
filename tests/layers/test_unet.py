"""Diffusion UNet (fwilab.layers.unet): timestep embedding, shapes, gradients, time conditioning, bad input."""

import math

import pytest
import torch

from fwilab.layers.unet import TimestepEmbedding, UNet, timestep_embedding


def unet(**kw) -> UNet:
    torch.manual_seed(0)
    return UNet(**{"in_channels": 4, "model_channels": 8, "channel_mult": (1, 2), "num_res_blocks": 1,
                   "heads": 2, **kw})


def test_timestep_embedding_is_cos_then_sin_of_geometric_frequencies():
    t = torch.tensor([0, 1, 500])
    emb = timestep_embedding(t, 6)
    assert emb.shape == (3, 6) and emb.dtype == torch.float32
    freqs = [10_000 ** (-k / 3) for k in range(3)]
    expected = [[math.cos(s * f) for f in freqs] + [math.sin(s * f) for f in freqs] for s in (0, 1, 500)]
    torch.testing.assert_close(emb, torch.tensor(expected), rtol=1e-5, atol=1e-5)
    odd = timestep_embedding(t, 7)
    assert odd.shape == (3, 7) and torch.equal(odd[:, -1], torch.zeros(3))
    with pytest.raises(ValueError, match=r"shape \[batch\]"):
        timestep_embedding(torch.zeros(2, 2), 4)


@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("channel_mult,size", [((1, 2), (4, 4)), ((1, 2, 2), (8, 4)), ((1,), (3, 5))])
def test_shapes(channel_mult, size, attention):
    model = unet(channel_mult=channel_mult, attention=attention)
    x = torch.randn(3, 4, *size)
    y = model(x, torch.tensor([1, 500, 1000]))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert model(x, torch.tensor(7)).shape == x.shape            # one step for the whole batch


def test_every_parameter_gets_a_gradient():
    # two channels a group: one channel a group would cancel the bias of the conv ahead of each GroupNorm
    model = unet(num_res_blocks=2, channel_mult=(1, 2, 2), groups=4)
    model(torch.randn(2, 4, 8, 8), torch.tensor([3, 900])).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not float(p.grad.abs().max()) > 1e-6]
    assert missing == []


def test_the_time_embedding_keeps_ldm_parameter_names():
    unet = UNet(2, model_channels=8, channel_mult=(1,), heads=1)
    names = [n for n in unet.state_dict() if n.startswith("time_embed.")]
    assert names == ["time_embed.0.weight", "time_embed.0.bias", "time_embed.2.weight", "time_embed.2.bias"]
    embed = TimestepEmbedding(8, 32)
    t = torch.tensor([1, 7])
    torch.testing.assert_close(embed(t), embed[2](torch.nn.functional.silu(embed[0](timestep_embedding(t, 8)))))


def test_the_output_depends_on_the_step():
    model = unet()
    x = torch.randn(2, 4, 4, 4).expand(2, 4, 4, 4)
    x = torch.cat([x[:1], x[:1]])                                  # two identical inputs …
    y = model(x, torch.tensor([10, 900]))                          # … at two steps
    assert not torch.allclose(y[0], y[1])
    torch.testing.assert_close(model(x, torch.tensor([10, 10]))[1], y[0])


def test_bad_input_raises_a_clear_error():
    model = unet(channel_mult=(1, 2, 2))
    with pytest.raises(ValueError, match="divisible by 4"):
        model(torch.randn(1, 4, 6, 8), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"x \[batch, 4, H, W\]"):
        model(torch.randn(1, 3, 8, 8), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"steps t of shape \[2\]"):
        model(torch.randn(2, 4, 8, 8), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="positive"):
        UNet(4, channel_mult=())
