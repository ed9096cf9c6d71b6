"""VelocityGAN: the official critic, and WGAN-GP losses against analytic values."""

import pytest
import torch
from torch import nn

from fwilab.metrics import count_parameters
from fwilab.models import InversionNet
from fwilab.models.velocitygan import (
    ADVERSARIAL_WEIGHT,
    GP_WEIGHT,
    L1_WEIGHT,
    L2_WEIGHT,
    N_CRITIC,
    Discriminator,
    critic_loss,
    generator_adversarial_loss,
    generator_loss,
    gradient_penalty,
)
from fwilab.physics.acquisition import OPENFWI

SMALL = OPENFWI.replace(nz=20, nx=20, nt=200, source_x=(0, 10, 19), receiver_x=tuple(range(20)))


def gradient_free(model, expected_zero=()):
    """Names of parameters without a usable gradient after a backward pass.

    Every parameter must have a finite ``.grad``. It must also be non-zero, except for (a) the
    bias of a convolution followed by a normalisation, which the mean subtraction cancels exactly
    (its gradient is round-off), and (b) the names in ``expected_zero``.
    """
    bad = []
    for name, p in model.named_parameters():
        if p.grad is None or not torch.isfinite(p.grad).all():
            bad.append(name)
            continue
        prefix = name.rsplit(".", 2)[0]  # '<block>.layers'
        block = model.get_submodule(prefix)
        cancelled = name.endswith("layers.0.bias") and len(block) == 3  # conv → norm → activation
        if not cancelled and name not in expected_zero and p.grad.abs().sum() == 0:
            bad.append(name)
    return bad


class LinearCritic(nn.Module):
    """D(x) = <w, x>: gradient w everywhere, so the penalty is λ·(‖w‖ − 1)² exactly."""

    def __init__(self, shape, norm):
        super().__init__()
        w = torch.randn(shape, dtype=torch.float64)
        self.w = nn.Parameter(w * (norm / w.norm()))

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1, keepdim=True)


def test_official_constants():
    # OpenFWI gan_train.py defaults
    assert (L1_WEIGHT, L2_WEIGHT, ADVERSARIAL_WEIGHT, GP_WEIGHT, N_CRITIC) == (100.0, 100.0, 1.0, 10.0, 5)


def test_official_discriminator_parameters_and_shapes():
    d = Discriminator(OPENFWI)
    assert count_parameters(d) == 1_180_003  # FACTS.md, OpenFWI network.py
    assert d.last_kernel == (5, 5)            # OpenFWI: ConvBlock(dim4, 1, kernel_size=5, padding=0)
    seen = {}
    for name, m in d.features.named_children():
        m.register_forward_hook(lambda mod, i, o, name=name: seen.__setitem__(name, tuple(o.shape[1:])))
    assert d(torch.randn(3, 1, 70, 70)).shape == (3, 1)
    assert seen == {"convblock1_1": (32, 35, 35), "convblock1_2": (32, 35, 35),
                    "convblock2_1": (64, 18, 18), "convblock2_2": (64, 18, 18),
                    "convblock3_1": (128, 9, 9), "convblock3_2": (128, 9, 9),
                    "convblock4_1": (256, 5, 5), "convblock4_2": (256, 5, 5),
                    "convblock5": (1, 1, 1)}


@pytest.mark.parametrize("acq", [SMALL, OPENFWI.replace(nz=33, nx=47, source_x=(0, 46), receiver_x=tuple(range(47)))])
def test_discriminator_other_sizes(acq):
    d = Discriminator(acq, width=0.5)
    assert d.dims == (16, 32, 64, 128)
    assert d(torch.randn(2, 1, acq.nz, acq.nx)).shape == (2, 1)
    with pytest.raises(ValueError, match="velocity maps"):
        d(torch.randn(2, 1, acq.nz + 1, acq.nx))


@pytest.mark.parametrize("norm,expected", [(1.0, 0.0), (2.0, GP_WEIGHT), (0.5, GP_WEIGHT * 0.25)])
def test_gradient_penalty_of_linear_critic(norm, expected):
    torch.manual_seed(0)
    critic = LinearCritic((1, 6, 5), norm)
    real, fake = torch.randn(4, 1, 6, 5, dtype=torch.float64), torch.randn(4, 1, 6, 5, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx(expected, abs=1e-10)


def test_gradient_penalty_of_quadratic_critic_matches_analytic():
    # D(x) = ½‖x‖² has ∇D(x̂) = x̂, so GP = λ·mean((‖α·real + (1−α)·fake‖ − 1)²) with the same α.
    real, fake = torch.randn(5, 1, 4, 4, dtype=torch.float64), torch.randn(5, 1, 4, 4, dtype=torch.float64)
    gp = gradient_penalty(lambda x: 0.5 * x.flatten(1).square().sum(1), real, fake, weight=3.0,
                          generator=torch.Generator().manual_seed(7))
    alpha = torch.rand((5, 1, 1, 1), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    x_hat = alpha * real + (1 - alpha) * fake
    expected = 3.0 * ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-12)


def test_critic_loss_of_linear_critic_and_no_gradient_to_generator():
    torch.manual_seed(1)
    critic = LinearCritic((1, 6, 5), 2.0)
    real = torch.randn(4, 1, 6, 5, dtype=torch.float64)
    source = torch.randn(4, 1, 6, 5, dtype=torch.float64, requires_grad=True)
    fake = 3 * source  # stands in for a generator's output
    loss, terms = critic_loss(critic, real, fake, return_terms=True)
    w = critic.w.detach()
    wasserstein = ((real * w).sum() - (fake.detach() * w).sum()) / 4
    assert terms["wasserstein"].item() == pytest.approx(wasserstein.item(), rel=1e-10)
    assert terms["gradient_penalty"].item() == pytest.approx(GP_WEIGHT, rel=1e-10)
    assert loss.item() == pytest.approx(-wasserstein.item() + GP_WEIGHT, rel=1e-10)
    loss.backward()
    assert source.grad is None          # the critic step never reaches the generator
    # d/dw [mean<w,fake> − mean<w,real> + λ(‖w‖−1)²] = mean(fake − real) + 2λ(‖w‖−1)·w/‖w‖
    expected_grad = (fake.detach() - real).mean(0) + 2 * GP_WEIGHT * (2.0 - 1) * w / 2.0
    torch.testing.assert_close(critic.w.grad, expected_grad)


def test_generator_losses():
    torch.manual_seed(2)
    critic = LinearCritic((1, 3, 3), 1.0)
    fake = torch.randn(2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    target = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    adv = generator_adversarial_loss(critic, fake)
    assert adv.item() == pytest.approx(-(fake * critic.w).sum().item() / 2)
    total = generator_loss(fake, target, critic)
    l1 = (fake - target).abs().mean()
    l2 = ((fake - target) ** 2).mean()
    assert total.item() == pytest.approx((100 * l1 + 100 * l2 + adv).item(), rel=1e-12)
    assert generator_loss(fake, target).item() == pytest.approx((100 * l1 + 100 * l2).item(), rel=1e-12)
    (g,) = torch.autograd.grad(adv, fake)
    torch.testing.assert_close(g, -critic.w.detach().expand_as(fake) / 2)


def test_gan_step_gives_every_parameter_a_gradient():
    torch.manual_seed(3)
    gen = InversionNet(SMALL, width=0.25)
    critic = Discriminator(SMALL, width=0.25)
    seismic = torch.randn(4, *SMALL.seismic_shape)
    real = torch.rand(4, 1, SMALL.nz, SMALL.nx) * 2 - 1
    fake = gen(seismic)
    d_loss = critic_loss(critic, real, fake)
    assert torch.isfinite(d_loss)
    d_loss.backward()
    # The official critic batch-normalises its 1×1 score: the last BN's shift β cancels between
    # E[D(real)] and E[D(fake)] unless the LeakyReLU sign counts differ (see Discriminator's note).
    assert gradient_free(critic, expected_zero={"features.convblock5.layers.1.bias"}) == []
    assert all(p.grad is None for p in gen.parameters())
    critic.zero_grad()
    generator_loss(fake, real, critic).backward()
    assert gradient_free(gen) == []
    # the penalty of the real (batch-normalised) critic is positive and differentiable
    assert gradient_penalty(critic, real, fake).item() > 0


def test_bad_input_raises():
    critic = LinearCritic((1, 3, 3), 1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        critic_loss(critic, torch.zeros(2, 1, 3, 3), torch.zeros(3, 1, 3, 3))
    with pytest.raises(ValueError, match="not both"):
        Discriminator(SMALL, in_shape=(20, 20))


def test_official_critic_batch_scores_are_standardised():
    # The quirk documented in Discriminator: in training mode the pre-activation scores of any
    # batch have mean β (0 at initialisation), whatever the input.
    torch.manual_seed(4)
    critic = Discriminator(SMALL, width=0.25)
    pre = {}
    critic.features.convblock5.layers[1].register_forward_hook(lambda m, i, o: pre.__setitem__("s", o))
    critic(torch.randn(6, 1, 20, 20) + 5.0)
    assert pre["s"].mean().item() == pytest.approx(0.0, abs=1e-5)


def test_instance_norm_critic_has_unnormalised_score_block():
    torch.manual_seed(5)
    critic = Discriminator(SMALL, width=0.25, norm="in")
    assert critic.score_norm == "none"
    real, fake = torch.rand(4, 1, 20, 20), -torch.rand(4, 1, 20, 20)
    critic_loss(critic, real, fake).backward()
    # the score's bias is a constant shift of D: it cancels in E[D(fake)] − E[D(real)]
    assert gradient_free(critic, expected_zero={"features.convblock5.layers.0.bias"}) == []
    # a per-sample critic: a sample's score does not depend on the rest of the batch
    critic.zero_grad()
    torch.testing.assert_close(critic(real)[1:2], critic(real[1:2]))
