"""The EMA of a model's weights (fwilab.training.ema): the closed-form average, buffers copied,
the shadow frozen and in eval mode, state round trip, bad input."""

import copy

import pytest
import torch
from torch import nn

from fwilab.training.ema import EMA


def net(seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()


def set_weights(model: nn.Module, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("decay", [0.9, 0.995])
def test_after_k_updates_the_shadow_is_the_closed_form_weighted_average(decay):
    model = net()
    theta = [[p.detach().clone() for p in model.parameters()]]          # θ_0: the weights at construction
    ema = EMA(model, decay)
    k = 7
    for i in range(1, k + 1):
        theta.append(set_weights(model, seed=i))
        ema.update(model)
    for j, averaged in enumerate(ema.shadow.parameters()):
        # θ̄_k = d^k·θ_0 + (1 − d)·Σ_{i=1…k} d^{k−i}·θ_i
        expected = decay ** k * theta[0][j] + sum((1 - decay) * decay ** (k - i) * theta[i][j] for i in range(1, k + 1))
        torch.testing.assert_close(averaged, expected, rtol=1e-12, atol=1e-14)
    assert int(ema.updates) == k


def test_buffers_are_copied_not_averaged_and_the_model_is_untouched():
    model = net()
    ema = EMA(model, 0.5)
    model.train()
    model(torch.randn(8, 3, dtype=torch.float64))                        # moves the BatchNorm statistics
    before = copy.deepcopy(model.state_dict())
    ema.update(model)
    for (name, mine), theirs in zip(ema.shadow.named_buffers(), model.buffers()):
        assert torch.equal(mine, theirs), name
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_decay_zero_copies_the_model():
    model = net()
    ema = EMA(model, 0.0)
    set_weights(model, seed=3)
    ema.update(model)
    assert all(torch.equal(a, b) for a, b in zip(ema.shadow.parameters(), model.parameters()))


def test_the_shadow_is_frozen_in_eval_mode_and_predicts():
    model = net()
    ema = EMA(model)
    assert ema.decay == 0.995
    assert all(not p.requires_grad for p in ema.shadow.parameters())
    ema.train()
    assert not ema.shadow.training
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.equal(ema(x), ema.shadow(x))


def test_state_dict_round_trip_and_copy_to():
    model = net()
    ema = EMA(model, 0.9)
    for i in range(3):
        set_weights(model, seed=10 + i)
        ema.update(model)
    other = EMA(net(seed=5), 0.9)
    other.load_state_dict(ema.state_dict())
    assert int(other.updates) == 3
    assert all(torch.equal(a, b) for a, b in zip(other.shadow.parameters(), ema.shadow.parameters()))
    target = net(seed=6)
    ema.copy_to(target)
    assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), ema.shadow.state_dict().values()))


@pytest.mark.parametrize("decay", [-0.1, 1.0, float("nan"), True])
def test_bad_decay_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        EMA(net(), decay)


def test_a_different_model_is_refused():
    ema = EMA(net())
    with pytest.raises(ValueError, match="differ from the shadow"):
        ema.update(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="shape"):
        ema.update(nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2)))
