"""GPU tier: neuraloperator's FNO / LocalNO layers (SPAMoE's experts) on CUDA agree with the CPU and get
gradients (in float32: SPAMoE runs them so, CUDA having no bf16 FFT), and the whole SPAMoE step, with its
optimizer, runs under the fit loop's bf16 autocast. Skipped without a GPU; on the GPU
machine the neuraloperator wheels travel in the device kit (``bash .ci/device-kit``)."""

import pytest
import torch

from fwilab.layers.operators import EXPERT_KINDS, build_expert
from fwilab.models.spamoe import SPAMoE, SPAMoEConfig, SPAMoELoss
from fwilab.physics.acquisition import OPENFWI

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("kind", EXPERT_KINDS)
def test_expert_on_cuda_matches_cpu_and_gets_gradients(kind):
    torch.manual_seed(0)
    expert = build_expert(kind, 3, 1, width=16, n_modes=8, grid_shape=(70, 70), n_layers=2)
    x = torch.randn(4, 3, 70, 70)
    ref = expert(x)
    gpu = expert.cuda()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out = gpu(x.cuda())
    torch.testing.assert_close(out.cpu(), ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
    out.square().mean().backward()
    missing = [n for n, p in gpu.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing


def test_spamoe_training_step_on_cuda_at_the_openfwi_size():
    torch.manual_seed(0)
    model = SPAMoE(SPAMoEConfig.preset("smoke", OPENFWI, bound="hinge", load_balance="gradient")).cuda()
    x = torch.randn(2, *OPENFWI.seismic_shape, device="cuda")
    target = torch.rand(2, 1, OPENFWI.nz, OPENFWI.nx, device="cuda") * 2 - 1
    with torch.autocast("cuda", dtype=torch.bfloat16):
        pred = model(x)
    assert pred.shape == (2, 1, OPENFWI.nz, OPENFWI.nx)
    loss = SPAMoELoss(model)(pred.float(), target)
    loss.backward()
    assert torch.isfinite(loss)
    routed = [p for e in model.experts for p in e.parameters() if p.grad is not None]
    assert routed and all(torch.isfinite(p.grad).all() for p in routed)


def test_spamoe_trains_in_the_fit_loop_on_cuda():
    """The whole loop as the chapters run it on CUDA: bf16 autocast, channels-last, AdamW (not fused:
    the experts hold complex weights), a validation pass."""
    import math

    from torch.utils.data import TensorDataset

    from fwilab.training import FitConfig, fit

    torch.manual_seed(0)
    model = SPAMoE(SPAMoEConfig.preset("smoke", OPENFWI, bound="hinge", load_balance="uniform"))
    data = TensorDataset(torch.randn(4, *OPENFWI.seismic_shape), torch.rand(4, 1, OPENFWI.nz, OPENFWI.nx) * 2 - 1)
    result = fit(model, data, data, SPAMoELoss(model), FitConfig(epochs=1, batch_size=2, device="cuda", progress=False))
    assert all(math.isfinite(v) for v in result.curves["train_loss"] + result.curves["val_loss"])
