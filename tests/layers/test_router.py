"""SPAMoE's frequency router (fwilab.layers.router): gates, top-k, bands, load balance."""

import math

import pytest
import torch

from fwilab.layers.router import (
    SpectralAttentionRouter,
    band_mixing_weights,
    load_balance_loss,
    selection_frequency,
    top_k_gates,
)
from fwilab.layers.spectral import band_centres


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("n_experts", [3, 4])
def test_top_k_gates_sum_to_one_over_exactly_k_experts(k, n_experts):
    gates = torch.softmax(torch.randn(16, n_experts), dim=-1)
    combine, indices = top_k_gates(gates, k)
    torch.testing.assert_close(combine.sum(-1), torch.ones(16))
    assert ((combine > 0).sum(-1) == k).all()
    off = torch.ones_like(combine, dtype=torch.bool).scatter(1, indices, False)
    assert (combine[off] == 0).all()                       # exactly zero, not small
    # the selected ones are the k largest, in proportion to their gates
    assert torch.equal(indices, gates.topk(k, dim=-1).indices)
    picked = gates.gather(1, indices)
    torch.testing.assert_close(combine.gather(1, indices), picked / picked.sum(-1, keepdim=True))


def test_top_k_refuses_k_above_the_expert_count():
    with pytest.raises(ValueError, match="top_k"):
        top_k_gates(torch.rand(2, 3), 4)


@pytest.mark.parametrize("k", [1, 2])
def test_router_combine_weights_sum_to_one_over_k_experts(k):
    torch.manual_seed(0)
    router = SpectralAttentionRouter(6, 3, top_k=k)
    routing = router(torch.randn(10, 6, 12, 12))
    torch.testing.assert_close(routing.gates.sum(-1), torch.ones(10))
    torch.testing.assert_close(routing.combine_weights.sum(-1), torch.ones(10))
    assert ((routing.combine_weights > 0).sum(-1) == k).all()
    assert routing.expert_inputs.shape == (3, 10, 6, 12, 12)
    counts = torch.bincount(routing.top_indices.reshape(-1), minlength=3).float()
    torch.testing.assert_close(routing.selection_frequency, counts / (10 * k))
    torch.testing.assert_close(routing.mean_gate, routing.gates.mean(0))


def test_uniform_routing_always_picks_the_first_k_experts():
    router = SpectralAttentionRouter(4, 3, top_k=2, routing="uniform")
    routing = router(torch.randn(5, 4, 8, 8))
    assert torch.equal(routing.top_indices, torch.tensor([[0, 1]] * 5))
    torch.testing.assert_close(routing.combine_weights, torch.tensor([[0.5, 0.5, 0.0]] * 5))
    torch.testing.assert_close(routing.gates, torch.full((5, 3), 1 / 3))


def test_random_routing_picks_k_distinct_experts_with_equal_weight():
    torch.manual_seed(3)
    router = SpectralAttentionRouter(4, 3, top_k=2, routing="random")
    routing = router(torch.randn(64, 4, 8, 8))
    assert all(len(set(row.tolist())) == 2 for row in routing.top_indices)
    assert set(routing.combine_weights.unique().tolist()) == {0.0, 0.5}
    assert (routing.selection_frequency > 0.2).all()     # every expert drawn sometimes


def test_band_mixing_weights_match_the_formula():
    centres = band_centres(3, dtype=torch.float64)
    w = band_mixing_weights(centres.clone(), centres, 10.0)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, dtype=torch.float64))
    z = 1 + math.exp(-2.5) + math.exp(-10)
    assert w[0, 0].item() == pytest.approx(1 / z)
    assert w[0, 1].item() == pytest.approx(math.exp(-2.5) / z)
    # rows sum to one, columns need not (Σ_e w_eb = 0.995, 1.011, 0.995 at initialisation)
    z1 = 1 + 2 * math.exp(-2.5)
    col0 = (1 + math.exp(-10)) / z + math.exp(-2.5) / z1
    col1 = 2 * math.exp(-2.5) / z + 1 / z1
    torch.testing.assert_close(w.sum(0), torch.tensor([col0, col1, col0], dtype=torch.float64))


def test_hard_bands_without_mixing_partition_the_input():
    router = SpectralAttentionRouter(3, 3, bands="hard", band_mixing=False).double()
    x = torch.randn(2, 3, 14, 18, dtype=torch.float64)
    torch.testing.assert_close(router(x).expert_inputs.sum(0), x)


def test_hard_bands_with_mixing_weigh_each_band_by_its_column_sum():
    router = SpectralAttentionRouter(3, 3, bands="hard").double()
    x = torch.randn(2, 3, 14, 18, dtype=torch.float64)
    no_mix = SpectralAttentionRouter(3, 3, bands="hard", band_mixing=False).double()
    raw = no_mix(x).expert_inputs                        # band b = expert b's input without mixing
    w = router.mixing_matrix().detach()
    expected = torch.einsum("b,bnchw->nchw", w.sum(0), raw)
    torch.testing.assert_close(router(x).expert_inputs.sum(0), expected)
    assert not torch.allclose(expected, x)                # mixing does not preserve the sum


def test_moved_preferences_break_the_partition_as_documented():
    router = SpectralAttentionRouter(3, 3, bands="hard").double()
    with torch.no_grad():
        router.preference.copy_(torch.tensor([0.0, 0.1, 0.2]))   # all experts prefer low bands
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    assert not torch.allclose(router(x).expert_inputs.sum(0), x)


def test_no_bands_give_every_expert_the_whole_input():
    router = SpectralAttentionRouter(3, 3, bands="none")
    x = torch.randn(2, 3, 10, 10)
    inputs = router(x).expert_inputs
    for e in range(3):
        assert torch.equal(inputs[e], x)


def test_soft_bands_route_low_frequencies_to_the_low_preference_expert():
    router = SpectralAttentionRouter(1, 3, bands="soft")
    i = torch.arange(32.0)
    smooth = torch.cos(2 * math.pi * 2 * i / 32)[None, :].expand(32, 32)   # r ≈ 0.09
    inputs = router(smooth[None, None]).expert_inputs
    energies = inputs.pow(2).sum(dim=(1, 2, 3, 4))
    assert energies[0] > 10 * energies[1] > 10 * energies[2]


def test_load_balance_matches_hand_computation_and_has_a_gate_gradient():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]], requires_grad=True)
    gates = torch.softmax(logits, -1)
    _, indices = top_k_gates(gates, 1)
    freq = selection_frequency(indices, 3)
    torch.testing.assert_close(freq, torch.tensor([0.5, 0.5, 0.0]))
    value = load_balance_loss(gates, indices, 0.1)
    expected = 0.1 * ((gates.mean(0) - freq) ** 2).mean()
    torch.testing.assert_close(value, expected)
    value.backward()
    assert logits.grad.abs().sum() > 0


def test_router_parameters_get_gradients_through_the_combine_weights():
    router = SpectralAttentionRouter(4, 3, top_k=2)
    routing = router(torch.randn(6, 4, 8, 8))
    (routing.combine_weights * torch.randn(6, 3)).sum().backward()
    for name in ("qkv.weight", "attention_out.weight", "gate.weight"):
        assert dict(router.named_parameters())[name].grad.abs().sum() > 0, name


def test_the_monitored_statistics_carry_no_graph():
    """mean gate, selection frequency, band mixing and preferences are records for the monitor: kept
    over an epoch, a graph attached to them would hold every batch's activations alive."""
    router = SpectralAttentionRouter(4, 3, top_k=2)
    routing = router(torch.randn(6, 4, 8, 8))
    assert routing.gates.requires_grad            # the gates themselves train
    for name in ("mean_gate", "selection_frequency", "band_mixing", "preference"):
        assert not getattr(routing, name).requires_grad, name


def test_bad_router_options_are_refused():
    with pytest.raises(ValueError, match="routing"):
        SpectralAttentionRouter(4, 3, routing="greedy")
    with pytest.raises(ValueError, match="bands"):
        SpectralAttentionRouter(4, 3, bands="wavelet")
    with pytest.raises(ValueError, match="top_k"):
        SpectralAttentionRouter(4, 2, top_k=3)
    with pytest.raises(ValueError, match="router expects"):
        SpectralAttentionRouter(4, 3)(torch.randn(2, 5, 8, 8))


def _optimise_balance_term(target: str, k: int, steps: int = 400) -> tuple[torch.Tensor, torch.Tensor]:
    """Gates of 256 samples from free logits, trained on the load-balancing term alone: the share of
    the top-k selections per expert before and after."""
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(256, 3, generator=g) * 0.5 + torch.tensor([0.3, -0.2, 0.0])).requires_grad_()
    opt = torch.optim.SGD([logits], lr=50.0)

    def shares():
        return selection_frequency(top_k_gates(torch.softmax(logits.detach(), dim=-1), k)[1], 3)

    before = shares()
    for _ in range(steps):
        gates = torch.softmax(logits, dim=-1)
        _, indices = top_k_gates(gates, k)
        opt.zero_grad()
        load_balance_loss(gates, indices, weight=1.0, target=target).backward()
        opt.step()
    return before, shares()


@pytest.mark.parametrize("k", [1, 2])
def test_the_released_selection_target_concentrates_routing_and_the_uniform_target_spreads_it(k):
    # the released term's target is the router's own top-k choice: with its gradient it rewards the
    # experts chosen more often than their mean gate, i.e. it sharpens rather than balances
    before, after = _optimise_balance_term("selection", k)
    assert after.min() < before.min() / 5, (before, after)          # the least-used expert drops out
    _, spread = _optimise_balance_term("uniform", k)
    assert spread.min() > before.min() and spread.max() - spread.min() < before.max() - before.min()


def test_a_collapsed_routing_costs_nothing_under_the_selection_target():
    gates = torch.tensor([[0.5, 0.5, 0.0]]).repeat(8, 1)
    _, indices = top_k_gates(gates, 2)
    assert float(load_balance_loss(gates, indices, weight=1.0)) == 0.0
    assert float(load_balance_loss(gates, indices, weight=1.0, target="uniform")) > 0.02
    with pytest.raises(ValueError, match="target"):
        load_balance_loss(gates, indices, target="balanced")
