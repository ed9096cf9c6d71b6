"""Why SPAMoE's router collapses, as measured (fwilab.experiments.spamoe.router_diagnostics), and the
repaired variant (gate_mode="repaired"): the attention on the raw magnitude spectrum is one-hot,
only the selected experts get a task gradient, and the repaired gates depend on the input."""

import numpy as np
import torch
from torch.utils.data import TensorDataset

from fwilab.experiments.spamoe import SPAMoEMonitor, router_diagnostics, train_spamoe
from fwilab.layers.router import SpectralAttentionRouter
from fwilab.models.spamoe import SPAMoE, SPAMoEConfig
from fwilab.physics.acquisition import OPENFWI

TINY = OPENFWI.replace(nt=48, nz=16, nx=16, source_x=(0, 8, 15), receiver_x=tuple(range(16)))


def _entropy(router, x):
    _, attention = router.gate_parts(x)
    a = attention.double().clamp_min(1e-300)
    return float((-(a * a.log()).sum(-1) / np.log(a.shape[-1])).mean())


def test_the_raw_magnitude_makes_the_attention_one_hot_and_the_log_magnitude_does_not():
    """A latent map with a large mean (as the encoder's are: the DC bin dominates the spectrum)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 8, 16, 16, generator=g) + 20.0
    torch.manual_seed(0)
    released = SpectralAttentionRouter(8, 3)
    torch.manual_seed(0)
    repaired = SpectralAttentionRouter(8, 3, gate_mode="repaired")
    flat, spread = _entropy(released, x), _entropy(repaired, x)
    assert flat < 0.2 and spread > flat + 0.3


def test_the_repaired_gates_depend_on_the_input():
    torch.manual_seed(0)
    router = SpectralAttentionRouter(8, 3, gate_mode="repaired")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 8, 16, 16, generator=g) * torch.linspace(0.1, 10.0, 16).view(16, 1, 1, 1)
    logits, _ = router.gate_parts(x)
    assert logits.std(0).min() > 1e-3                                  # per expert, across samples
    assert not torch.allclose(router.gates(x[:8]), router.gates(x[8:]), atol=1e-4)


def test_only_the_selected_experts_get_a_task_gradient_and_the_grads_are_left_as_found():
    torch.manual_seed(0)
    model = SPAMoE(SPAMoEConfig.preset("smoke", TINY))
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, *TINY.seismic_shape, generator=g)
    y = torch.rand(6, 1, 16, 16, generator=g) * 2 - 1
    d = router_diagnostics(model, x, y)
    assert all(p.grad is None for p in model.parameters()) and model.training     # left as found
    model.eval()
    with torch.no_grad():
        model(x)
    selected = set(np.unique(model.aux["top_indices"].numpy()).tolist())
    assert set(np.flatnonzero(d["expert_grad"] > 0).tolist()) == selected
    assert d["router_grad"] > 0 and d["gate_spread"].shape == (3,)
    assert d["attention_entropy"].shape == (1,) and 0.0 <= d["attention_entropy"][0] <= 1.0


def test_the_monitor_records_the_diagnostics_at_initialisation_and_every_epoch(tmp_path):
    g = torch.Generator().manual_seed(1)

    def split(n):
        return TensorDataset(torch.randn(n, *TINY.seismic_shape, generator=g), torch.rand(n, 1, 16, 16, generator=g) * 2 - 1)

    from fwilab.training import FitConfig

    train, val, test = split(8), split(4), split(4)
    config = SPAMoEConfig.preset("smoke", TINY, gate_mode="repaired")
    _, arrays = train_spamoe(config, FitConfig(epochs=2, batch_size=4, lr=1e-3, device="cpu", progress=False),
                             train, val, test, tmp_path, keep_predictions=0, log=lambda msg: None)
    np.testing.assert_array_equal(arrays["diag_epoch"], [0, 1, 2])
    assert arrays["diag_expert_grad"].shape == (3, 3) and arrays["diag_gate_spread"].shape == (3, 3)
    np.testing.assert_array_equal(arrays["monitor_epoch"], [1, 2])
    monitor = SPAMoEMonitor(SPAMoE(config), probe=val)
    assert list(monitor.history) == [0]
