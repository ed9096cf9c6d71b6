import pytest
import torch

from fwilab.training.losses import WeightedSum, l1, l1_plus_l2, l2, loss_with_parts, mse


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 1, 7, 7, generator=g), torch.randn(4, 1, 7, 7, generator=g)


def test_l1_l2_match_their_definitions(pair):
    p, t = pair
    assert torch.allclose(l1(p, t), (p - t).abs().mean())
    assert torch.allclose(l2(p, t), ((p - t) ** 2).mean())
    assert mse is l2


def test_weighted_sum_total_and_unweighted_parts(pair):
    p, t = pair
    loss = WeightedSum({"l1": (100.0, l1), "l2": (0.5, mse)})
    total, parts = loss.with_parts(p, t)
    assert set(parts) == {"l1", "l2"}
    assert torch.allclose(parts["l1"], (p - t).abs().mean())
    assert torch.allclose(total, 100 * parts["l1"] + 0.5 * parts["l2"])
    assert torch.equal(loss(p, t), total)
    assert not parts["l1"].requires_grad


def test_weighted_sum_gradient_is_weighted(pair):
    p, t = pair
    p = p.clone().requires_grad_(True)
    WeightedSum({"l2": (3.0, mse)})(p, t).backward()
    assert torch.allclose(p.grad, 3.0 * 2 * (p - t).detach() / p.numel())


def test_openfwi_default_is_l1_plus_l2(pair):
    p, t = pair
    assert torch.allclose(l1_plus_l2(p, t), l1(p, t) + l2(p, t))


def test_loss_with_parts_plain_and_tuple(pair):
    p, t = pair
    total, parts = loss_with_parts(l1, p, t)
    assert parts == {} and torch.equal(total, l1(p, t))
    total, parts = loss_with_parts(lambda a, b: (l2(a, b), {"x": l1(a, b)}), p, t)
    assert set(parts) == {"x"}
    with pytest.raises(ValueError, match="scalar"):
        loss_with_parts(lambda a, b: (a - b) ** 2, p, t)


def test_bad_inputs_raise(pair):
    p, t = pair
    with pytest.raises(ValueError, match="shape"):
        l1(p, t[:, :, :3])
    with pytest.raises(ValueError, match="at least one"):
        WeightedSum({})
    with pytest.raises(ValueError, match="identifier"):
        WeightedSum({"a b": (1.0, l1)})
    with pytest.raises(ValueError, match="weight, loss_fn"):
        WeightedSum({"l1": l1})
    with pytest.raises(ValueError, match="non-finite"):
        WeightedSum({"l1": (float("nan"), l1)})
