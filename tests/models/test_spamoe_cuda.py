"""GPU tier: neuraloperator's FNO / LocalNO layers (SPAMoE's experts) and the whole SPAMoE step on CUDA,
in float32 and under the fit loop's bf16 autocast, agree with the CPU. Skipped without a GPU; on the GPU
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
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = gpu(x.cuda())
    y.float().square().mean().backward()
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
