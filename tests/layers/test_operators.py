"""SPAMoE's neural-operator experts (fwilab.layers.operators)."""

import pytest
import torch

from fwilab.layers.operators import MultiscaleFNO, build_expert, clip_modes


def test_modes_are_clipped_to_the_grid():
    assert clip_modes(16, (70, 70)) == (16, 16)
    assert clip_modes(16, (8, 12)) == (8, 12)
    assert clip_modes((4, 20), (10, 10)) == (4, 10)
    with pytest.raises(ValueError):
        clip_modes(0, (8, 8))


@pytest.mark.parametrize("kind", ["fno", "mno"])
def test_resolution_free_experts_run_at_two_resolutions(kind):
    torch.manual_seed(0)
    expert = build_expert(kind, 3, 1, width=8, n_modes=4, grid_shape=(16, 16))
    for size in (16, 24):
        y = expert(torch.randn(2, 3, size, size))
        assert y.shape == (2, 1, size, size) and torch.isfinite(y).all()


def test_fno_keeps_a_band_limited_field_consistent_across_resolutions():
    # one FNO, the same smooth field sampled on 32² and 64²: outputs agree on the shared points
    torch.manual_seed(0)
    expert = build_expert("fno", 1, 1, width=8, n_modes=4, grid_shape=(32, 32))

    def field(n):
        t = torch.arange(n, dtype=torch.float32) / n
        return (torch.sin(2 * torch.pi * t)[:, None] * torch.cos(2 * torch.pi * t)[None, :])[None, None]

    with torch.no_grad():
        coarse, fine = expert(field(32)), expert(field(64))[..., ::2, ::2]
    # the grid embedding samples [0, 1] with endpoints, so the two grids are not exactly nested
    assert (coarse - fine).abs().max() < 0.01 * coarse.abs().max()   # a different field: 0.15


@pytest.mark.parametrize("kind", ["fno", "mno", "lno"])
def test_every_expert_parameter_receives_a_gradient(kind):
    torch.manual_seed(0)
    expert = build_expert(kind, 3, 1, width=8, n_modes=4, grid_shape=(12, 14), n_layers=2)
    expert(torch.randn(2, 3, 12, 14)).square().sum().backward()
    missing = [n for n, p in expert.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, missing


def test_mno_builds_one_branch_per_scale_with_scaled_modes():
    mno = MultiscaleFNO(4, 1, width=8, n_modes=16, grid_shape=(70, 70), scales=(1.0, 0.6, 0.3))
    # released: min(16, int(32·s)) → 16, 16, 9 (grids 70, 42, 21)
    assert [tuple(b.n_modes) for b in mno.branches] == [(16, 16), (16, 16), (9, 9)]
    assert len(mno.fusions) == 2


def test_unknown_expert_is_refused():
    with pytest.raises(ValueError, match="unknown expert"):
        build_expert("wno", 3, 1, 8, 4, (16, 16))
