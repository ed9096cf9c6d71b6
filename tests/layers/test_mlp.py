"""The time-conditioned residual MLP denoiser (fwilab.layers.mlp): shapes, dtypes, time dependence,
gradients, bad input."""

import pytest
import torch

from fwilab.layers.mlp import MLPDenoiser, ResidualMLPBlock


def denoiser(**kw) -> MLPDenoiser:
    torch.manual_seed(0)
    return MLPDenoiser(**{**dict(in_features=12, width=16, depth=2), **kw})


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(dtype):
    m = denoiser().to(dtype)
    x = torch.randn(5, 12, dtype=dtype)
    out = m(x, torch.arange(1, 6))
    assert out.shape == (5, 12) and out.dtype == dtype
    assert torch.equal(m(x, torch.tensor(3)), m(x, torch.full((5,), 3)))    # a scalar step is broadcast


@pytest.mark.parametrize("scale_shift", [True, False])
def test_the_output_depends_on_the_step_and_every_parameter_gets_a_gradient(scale_shift):
    m = denoiser(scale_shift=scale_shift)
    x = torch.randn(4, 12)
    a, b = m(x, torch.full((4,), 1)), m(x, torch.full((4,), 200))
    assert not torch.allclose(a, b)
    (a.square().mean() + b.square().mean()).backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not float(p.grad.abs().max()) > 1e-8]
    assert missing == []


def test_a_block_is_residual():
    block = ResidualMLPBlock(8, 4)
    torch.nn.init.zeros_(block.linear2.weight)
    torch.nn.init.zeros_(block.linear2.bias)
    x = torch.randn(3, 8)
    assert torch.equal(block(x, torch.randn(3, 4)), x)


def test_bad_input_raises_a_clear_error():
    m = denoiser()
    with pytest.raises(ValueError, match=r"x \[batch, 12\]"):
        m(torch.randn(2, 1, 12), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"shape \[2\]"):
        m(torch.randn(2, 12), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="depth"):
        MLPDenoiser(12, 16, 0)
    with pytest.raises(ValueError, match="dropout"):
        MLPDenoiser(12, 16, 1, dropout=1.0)
