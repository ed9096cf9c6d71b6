"""EMA vector quantiser (fwilab.layers.quantize): shapes, straight-through gradient, round trip, commitment,
the EMA update formula, dead-code restarts and usage statistics."""

import math

import pytest
import torch

from fwilab.layers.quantize import VectorQuantizer, codebook_statistics


def quantizer(k=3, d=2, codebook=None, **kw) -> VectorQuantizer:
    torch.manual_seed(0)
    vq = VectorQuantizer(k, d, **kw)
    if codebook is not None:
        vq.codebook.copy_(codebook)
        vq.cluster_sum.copy_(codebook)   # N_k = 1, M_k = e_k: the initial state
    return vq


def as_map(vectors: torch.Tensor) -> torch.Tensor:
    """``[N, D]`` → ``[1, D, 1, N]``: N vectors as one row of a feature map."""
    return vectors.t()[None, :, None, :].contiguous()


# ----------------------------------------------------------------------------- tier 1: shapes and dtypes


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("b,k,d,h,w", [(2, 16, 4, 3, 5), (1, 8, 1, 1, 1), (3, 32, 8, 4, 4)])
def test_shapes_and_dtypes(b, k, d, h, w, dtype):
    vq = quantizer(k, d)
    z = torch.randn(b, d, h, w, dtype=dtype)
    z_q, indices, aux = vq(z)
    assert z_q.shape == z.shape and z_q.dtype == dtype
    assert indices.shape == (b, h, w) and indices.dtype == torch.int64
    assert int(indices.min()) >= 0 and int(indices.max()) < k
    assert aux["commitment_loss"].dim() == 0 and aux["perplexity"].dim() == 0 and aux["usage"].dim() == 0
    assert aux["counts"].shape == (k,) and float(aux["counts"].sum()) == b * h * w
    assert vq.embed(indices).shape == (b, d, h, w)


def test_the_codebook_is_a_buffer_not_a_parameter():
    vq = quantizer(8, 4)
    assert list(vq.parameters()) == []
    assert {"codebook", "cluster_size", "cluster_sum", "idle_steps"} <= set(vq.state_dict())


# ----------------------------------------------------------------------------- tier 2: gradients


def test_straight_through_passes_the_gradient_to_z_unchanged():
    vq = quantizer(8, 3, commitment_weight=0.0).eval()
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    weights = torch.randn(2, 3, 4, 4)
    z_q, _, _ = vq(z)
    (z_q * weights).sum().backward()
    torch.testing.assert_close(z.grad, weights)


def test_the_commitment_gradient_pulls_z_toward_its_code():
    vq = quantizer(8, 3).eval()
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    _, indices, aux = vq(z)
    aux["commitment_loss"].backward()
    codes = vq.embed(indices)
    torch.testing.assert_close(z.grad, 0.25 * 2 * (z.detach() - codes) / z.numel())


# ----------------------------------------------------------------------------- tier 3: invariants


def test_quantising_a_codebook_vector_returns_its_index_and_itself():
    vq = quantizer(16, 4).eval()
    order = torch.tensor([3, 0, 15, 7, 7, 9])
    z = as_map(vq.codebook[order])
    z_q, indices, aux = vq(z)
    assert torch.equal(indices.reshape(-1), order)
    torch.testing.assert_close(z_q, z, rtol=0, atol=0)
    torch.testing.assert_close(vq.embed(indices), z, rtol=0, atol=0)
    assert float(aux["commitment_loss"]) == 0.0


def test_nearest_code_and_commitment_value_against_the_formula():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    vq = quantizer(3, 2, codebook).eval()
    vectors = torch.tensor([[0.1, 0.2], [0.9, -0.1], [0.2, 1.5], [0.6, 0.0]])
    _, indices, aux = vq(as_map(vectors))
    assert indices.reshape(-1).tolist() == [0, 1, 2, 1]
    chosen = codebook[[0, 1, 2, 1]]
    expected = 0.25 * ((vectors - chosen) ** 2).sum() / vectors.numel()   # β·mean over N·D elements
    assert math.isclose(float(aux["commitment_loss"]), float(expected), rel_tol=1e-6)


def test_ema_update_follows_the_decay_formula_and_moves_codes_toward_their_inputs():
    codebook = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    decay, eps = 0.9, 1e-5
    vq = quantizer(3, 2, codebook, decay=decay, eps=eps, restart_after=0).train()
    vectors = torch.tensor([[1.0, 1.0], [0.5, -0.5], [3.0, 1.0], [3.0, -1.0], [3.0, 0.5]])   # codes 0, 0, 1, 1, 1
    vq(as_map(vectors))
    # independently: N_k ← γ + (1 − γ)·n_k, M_k ← γ·e_k + (1 − γ)·m_k, Laplace smoothing, e_k = M_k / Ñ_k
    counts = torch.tensor([2.0, 3.0, 0.0], dtype=torch.float64)
    sums = torch.stack([vectors[:2].sum(0), vectors[2:].sum(0), torch.zeros(2)]).double()
    n = decay * 1.0 + (1 - decay) * counts
    m = decay * codebook.double() + (1 - decay) * sums
    smoothed = (n + eps) / (n.sum() + 3 * eps) * n.sum()
    expected = m / smoothed[:, None]
    torch.testing.assert_close(vq.codebook.double(), expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(vq.cluster_size.double(), n, rtol=1e-6, atol=1e-6)
    # each used code moved toward the mean of its inputs; the unused one stayed (up to the smoothing)
    for k, mean in ((0, vectors[:2].mean(0)), (1, vectors[2:].mean(0))):
        assert (vq.codebook[k] - mean).norm() < (codebook[k] - mean).norm()
    torch.testing.assert_close(vq.codebook[2], codebook[2], rtol=1e-3, atol=1e-3)


def test_with_many_steps_a_code_converges_to_the_mean_of_its_inputs():
    # one code, so the smoothing is exact (Ñ = N) and e = M / N is a weighted mean of e_0 and the inputs
    vq = quantizer(1, 2, torch.tensor([[10.0, 10.0]]), decay=0.5, restart_after=0).train()
    vectors = torch.tensor([[1.0, 2.0], [3.0, 0.0]])   # mean (2, 1)
    for _ in range(40):
        vq(as_map(vectors))
    torch.testing.assert_close(vq.codebook[0], torch.tensor([2.0, 1.0]), rtol=1e-5, atol=1e-5)


def test_eval_mode_and_update_false_leave_the_codebook_alone():
    vq = quantizer(8, 2).train()
    before = {k: v.clone() for k, v in vq.state_dict().items()}
    z = torch.randn(2, 2, 3, 3)
    vq(z, update=False)
    vq.eval()(z)
    for name, value in vq.state_dict().items():
        assert torch.equal(value, before[name]), name
    vq.eval()(z, update=True)
    assert not torch.equal(vq.codebook, before["codebook"])


def test_dead_codes_are_restarted_from_the_batch_after_restart_after_idle_steps():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 1.0], [100.0, 100.0]])   # code 2 is far from every input
    vq = quantizer(3, 2, codebook, restart_after=2).train()
    vectors = torch.tensor([[0.1, 0.0], [0.9, 1.1], [0.0, 0.2], [1.2, 0.8]])
    _, _, aux = vq(as_map(vectors))
    assert aux["restarted"] == 0 and vq.idle_steps.tolist() == [0, 0, 1]
    assert float(vq.codebook[2, 0]) > 50                                    # idle once: not yet dead
    _, _, aux = vq(as_map(vectors))
    assert aux["restarted"] == 1 and vq.idle_steps.tolist() == [0, 0, 0]
    restarted = vq.codebook[2]
    assert any(torch.equal(restarted, v) for v in vectors)                  # one of the batch's encoder outputs
    assert float(vq.cluster_size[2]) == 1.0 and torch.equal(vq.cluster_sum[2], restarted)
    _, indices, _ = vq(as_map(vectors))
    assert 2 in indices.reshape(-1).tolist()                                # and it is used again


def test_restart_after_zero_never_restarts():
    vq = quantizer(3, 2, torch.tensor([[0.0, 0.0], [1.0, 1.0], [100.0, 100.0]]), restart_after=0).train()
    for _ in range(5):
        _, _, aux = vq(as_map(torch.tensor([[0.1, 0.0], [0.9, 1.1]])))
        assert aux["restarted"] == 0
    assert int(vq.idle_steps[2]) == 5 and float(vq.codebook[2, 0]) > 50


def test_usage_and_perplexity_of_a_known_assignment():
    stats = codebook_statistics(torch.tensor([[0, 0], [1, 1]]), 4)          # two codes, equally often
    assert stats["counts"].tolist() == [2.0, 2.0, 0.0, 0.0]
    assert math.isclose(float(stats["perplexity"]), 2.0, rel_tol=1e-6)
    assert float(stats["usage"]) == 0.5
    uniform = codebook_statistics(torch.arange(8), 8)
    assert math.isclose(float(uniform["perplexity"]), 8.0, rel_tol=1e-6) and float(uniform["usage"]) == 1.0
    single = codebook_statistics(torch.full((10,), 3), 8)
    assert math.isclose(float(single["perplexity"]), 1.0, rel_tol=1e-6) and float(single["usage"]) == 1 / 8
    skewed = codebook_statistics(torch.tensor([0, 0, 0, 1]), 2)             # p = (3/4, 1/4)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert math.isclose(float(skewed["perplexity"]), math.exp(entropy), rel_tol=1e-6)


def test_forward_reports_the_batch_statistics():
    vq = quantizer(16, 4).eval()
    z = as_map(vq.codebook[torch.tensor([1, 1, 2, 2])])
    _, _, aux = vq(z)
    assert math.isclose(float(aux["perplexity"]), 2.0, rel_tol=1e-6) and float(aux["usage"]) == 2 / 16


# ----------------------------------------------------------------------------- bad input


def test_bad_input_raises_a_clear_error():
    vq = quantizer(8, 4)
    with pytest.raises(ValueError, match=r"z \[batch, 4, H, W\]"):
        vq(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="z"):
        vq(torch.randn(4, 4))
    with pytest.raises(ValueError, match="0 … 7"):
        vq.embed(torch.tensor([[[8]]]))
    with pytest.raises(ValueError, match="integer indices"):
        vq.embed(torch.zeros(1, 1, 1))
    with pytest.raises(ValueError, match="decay"):
        VectorQuantizer(8, 4, decay=1.0)
    with pytest.raises(ValueError, match="codebook_size"):
        VectorQuantizer(0, 4)
