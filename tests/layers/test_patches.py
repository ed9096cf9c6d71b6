"""Patches of a [shot, time, receiver] record and the query-token decoder (fwilab.layers.patches):
the patch grid, the patchify/unpatchify bijection, each patch's content, the decoder's shapes,
gradients and its use of the condition, bad input."""

import math

import pytest
import torch

from fwilab.layers.patches import PatchQueryDecoder, patch_grid, patchify, unpatchify

#: (record shape, patch size): tiling exactly, padding on every axis, and OpenFWI's cpu layout
LAYOUTS = [((4, 12, 6), (2, 3, 3)), ((3, 12, 16), (2, 5, 7)), ((5, 250, 70), (1, 25, 10))]


def test_patch_grid_rounds_up():
    assert patch_grid((5, 250, 70), (1, 25, 10)) == (5, 10, 7)
    assert patch_grid((3, 12, 16), (2, 5, 7)) == (2, 3, 3)
    assert patch_grid((3, 12, 16), (1, 25, 14)) == (3, 1, 2)


@pytest.mark.parametrize("shape,patch", LAYOUTS)
def test_unpatchify_inverts_patchify_exactly(shape, patch):
    x = torch.randn(2, *shape, dtype=torch.float64)
    patches = patchify(x, patch)
    assert patches.shape == (2, math.prod(patch_grid(shape, patch)), math.prod(patch))
    assert torch.equal(unpatchify(patches, patch, shape), x)


@pytest.mark.parametrize("shape,patch", LAYOUTS)
def test_patchify_is_a_bijection_onto_the_padded_patch_lists(shape, patch):
    numel = math.prod(shape)
    x = torch.arange(1, numel + 1, dtype=torch.float64).reshape(1, *shape)
    patches = patchify(x, patch)
    values = patches.flatten()
    # every sample appears exactly once; every other entry is padding (zero)
    assert torch.equal(values[values != 0].sort().values, x.flatten())
    assert int((values == 0).sum()) == patches.numel() - numel
    # and patchify ∘ unpatchify is the identity on such patch lists
    assert torch.equal(patchify(unpatchify(patches, patch, shape), patch), patches)


def test_each_patch_holds_its_block_in_row_major_order():
    shape, patch = (3, 12, 16), (2, 5, 7)
    x = torch.randn(1, *shape, dtype=torch.float64)
    patches = patchify(x, patch)
    grid = patch_grid(shape, patch)
    padded = torch.zeros(1, *(g * p for g, p in zip(grid, patch)), dtype=torch.float64)
    padded[:, :shape[0], :shape[1], :shape[2]] = x
    k = 0
    for i in range(grid[0]):
        for j in range(grid[1]):
            for m in range(grid[2]):
                block = padded[0, i * patch[0]:(i + 1) * patch[0], j * patch[1]:(j + 1) * patch[1],
                               m * patch[2]:(m + 1) * patch[2]]
                assert torch.equal(patches[0, k], block.flatten()), (i, j, m)
                k += 1


def decoder(**kw) -> PatchQueryDecoder:
    torch.manual_seed(0)
    args = dict(condition_dim=6, shape=(3, 12, 16), patch=(1, 5, 7), dim=16, depth=1, heads=2, condition_tokens=2)
    return PatchQueryDecoder(**{**args, **kw})


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_decoder_writes_the_record_shape(dtype):
    d = decoder().to(dtype)
    out = d(torch.randn(4, 6, dtype=dtype))
    assert out.shape == (4, 3, 12, 16) and out.dtype == dtype
    assert d.n_patches == 3 * 3 * 3 and d.head.out_features == 35


def test_decoder_uses_the_condition_and_every_parameter_gets_a_gradient():
    d = decoder()
    c = torch.randn(3, 6)
    out = d(c)
    assert not torch.allclose(out[0], out[1])          # the queries are shared; the outputs differ by condition
    out.square().mean().backward()
    missing = [n for n, p in d.named_parameters() if p.grad is None or not float(p.grad.abs().max()) > 0]
    assert missing == []


def test_bad_input_raises_a_clear_error():
    with pytest.raises(ValueError, match="patch size"):
        decoder(patch=(0, 5, 7))
    with pytest.raises(ValueError, match="record shape"):
        patch_grid((3, 12), (1, 1, 1))
    with pytest.raises(ValueError, match="heads"):
        decoder(dim=15, heads=2)
    with pytest.raises(ValueError, match=r"condition \[batch, 6\]"):
        decoder()(torch.randn(2, 5))
    with pytest.raises(ValueError, match="shot, time, receiver"):
        patchify(torch.randn(2, 12, 16), (1, 5, 7))
    with pytest.raises(ValueError, match=r"patches \[batch, 27, 35\]"):
        unpatchify(torch.randn(2, 26, 35), (1, 5, 7), (3, 12, 16))
