"""InversionNet: the official architecture on the OpenFWI acquisition, derived shapes elsewhere."""

import pytest
import torch

from fwilab.metrics import count_parameters
from fwilab.models import InversionNet
from fwilab.physics.acquisition import OPENFWI

# A small test geometry: 3 shots × 200 time steps × 20 receivers → 20×20 map.
SMALL = OPENFWI.replace(nz=20, nx=20, nt=200, source_x=(0, 10, 19), receiver_x=tuple(range(20)))

# FACTS.md / OpenFWI network.py comments: output of every encoder block on the OpenFWI acquisition.
OPENFWI_ENCODER_SHAPES = {
    "convblock1": (32, 500, 70),
    "convblock2_1": (64, 250, 70), "convblock2_2": (64, 250, 70),
    "convblock3_1": (64, 125, 70), "convblock3_2": (64, 125, 70),
    "convblock4_1": (128, 63, 70), "convblock4_2": (128, 63, 70),
    "convblock5_1": (128, 32, 35), "convblock5_2": (128, 32, 35),
    "convblock6_1": (256, 16, 18), "convblock6_2": (256, 16, 18),
    "convblock7_1": (256, 8, 9), "convblock7_2": (256, 8, 9),
    "convblock8": (512, 1, 1),
}
OPENFWI_DECODER_SHAPES = {
    "deconv1_1": (512, 5, 5), "deconv1_2": (512, 5, 5),
    "deconv2_1": (256, 10, 10), "deconv2_2": (256, 10, 10),
    "deconv3_1": (128, 20, 20), "deconv3_2": (128, 20, 20),
    "deconv4_1": (64, 40, 40), "deconv4_2": (64, 40, 40),
    "deconv5_1": (32, 80, 80), "deconv5_2": (32, 80, 80),
}


@pytest.fixture(scope="module")
def official():
    torch.manual_seed(0)
    return InversionNet(acquisition=OPENFWI)


def test_official_parameter_count(official):
    # FACTS.md (OpenFWI network.py): 24,409,123 trainable parameters, 8,667 BatchNorm buffers
    assert count_parameters(official) == 24_409_123
    assert sum(b.numel() for b in official.buffers()) == 8_667
    assert official.code_kernel == (8, 9)  # OpenFWI: kernel (8, ceil(70/8))


def test_official_block_shapes(official):
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, name=name: seen.__setitem__(name, tuple(o.shape[1:])))
             for name, m in list(official.encoder.named_children()) + list(official.decoder.named_children())]
    official.eval()
    try:
        with torch.no_grad():
            y = official(torch.randn(1, *OPENFWI.seismic_shape))
    finally:
        for h in hooks:
            h.remove()
        official.train()
    assert seen == {**OPENFWI_ENCODER_SHAPES, **OPENFWI_DECODER_SHAPES}
    assert y.shape == (1, 1, 70, 70)


@pytest.mark.parametrize("acq,code_kernel", [(SMALL, (2, 3)),
                                             (OPENFWI.replace(nz=21, nx=33, nt=150, source_x=(0, 16, 32),
                                                              receiver_x=tuple(range(33))), (2, 5))])
def test_small_acquisition_shapes(acq, code_kernel):
    net = InversionNet(acq)
    assert net.input_shape == (acq.n_shots, acq.nt, acq.n_receivers)
    assert net.code_kernel == code_kernel  # from the dry shape calculation
    assert net.encoder(torch.randn(2, *acq.seismic_shape)).shape == (2, 512, 1, 1)
    y = net(torch.randn(2, *acq.seismic_shape))
    assert y.shape == (2, 1, acq.nz, acq.nx)


def test_explicit_shapes_equal_acquisition():
    a = InversionNet(SMALL, width=0.25)
    b = InversionNet(in_channels=3, nt=200, n_receivers=20, out_shape=(20, 20), width=0.25)
    assert count_parameters(a) == count_parameters(b)
    assert a.code_kernel == b.code_kernel


def test_width_multiplier():
    net = InversionNet(SMALL, width=0.5)
    assert net.dims == (16, 32, 64, 128, 256)
    assert net.encoder.convblock8.layers[0].out_channels == 256
    assert count_parameters(net) < count_parameters(InversionNet(SMALL)) / 3
    assert InversionNet(SMALL, dims=(8, 8, 16, 16, 32)).dims == (8, 8, 16, 16, 32)


def test_output_in_open_interval_and_every_parameter_gets_a_gradient():
    torch.manual_seed(1)
    net = InversionNet(SMALL, width=0.5)
    x = torch.randn(4, *SMALL.seismic_shape)
    y = net(x)
    assert ((y > -1) & (y < 1)).all()
    assert y.std() > 0.1  # not collapsed to a constant
    y.square().mean().backward()
    missing = []
    for name, p in net.named_parameters():
        if p.grad is None or not torch.isfinite(p.grad).all():
            missing.append(name)
        # a conv bias right before BatchNorm is cancelled by the batch-mean subtraction, so its
        # gradient is round-off; every other parameter must get a non-zero gradient
        elif not name.endswith("layers.0.bias") and p.grad.abs().sum() == 0:
            missing.append(name)
    assert missing == []


def test_samples_are_independent_in_eval_mode():
    torch.manual_seed(2)
    net = InversionNet(SMALL, width=0.25).eval()
    x = torch.randn(3, *SMALL.seismic_shape)
    with torch.no_grad():
        batch = net(x)
        single = net(x[1:2])
    torch.testing.assert_close(batch[1:2], single, rtol=1e-4, atol=1e-5)


def test_bad_input_raises():
    net = InversionNet(SMALL, width=0.25)
    with pytest.raises(ValueError, match="shot, time, receiver"):
        net(torch.randn(2, 5, 200, 20))
    with pytest.raises(ValueError, match="not both"):
        InversionNet(SMALL, nt=100)
    with pytest.raises(ValueError, match="80"):
        InversionNet(OPENFWI.replace(nz=100, nx=100))
    with pytest.raises(ValueError, match="width"):
        InversionNet(SMALL, width=0)
