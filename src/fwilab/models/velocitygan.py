"""VelocityGAN (Zhang & Lin 2020; OpenFWI ``network.py`` / ``gan_train.py``): InversionNet as
the generator, a convolutional critic, Wasserstein loss with gradient penalty (WGAN-GP,
Gulrajani et al. 2017) plus L1 and L2 terms on the velocity map.

The pieces a training loop needs:

- generator: :class:`~fwilab.models.inversionnet.InversionNet` (or :func:`velocitygan_generator`);
- critic: :class:`Discriminator` (OpenFWI's, 1,180,003 parameters on 70×70 maps);
- :func:`critic_loss` — ``E[D(fake)] − E[D(real)] + λ·GP``, minimised by the critic
  :data:`N_CRITIC` times per generator step;
- :func:`generator_adversarial_loss` — ``−E[D(fake)]``; :func:`generator_loss` adds the
  official L1/L2 weights.

As in OpenFWI the critic has BatchNorm. Strictly, a batch-normalised critic is not a function of
one sample, so the per-sample gradient penalty is only approximately a Lipschitz constraint
(Gulrajani et al. suggest layer norm); ``norm='in'`` is offered for that variant.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from fwilab.layers.conv import ConvBlock
from fwilab.models.inversionnet import InversionNet, scaled_dims
from fwilab.physics.acquisition import OPENFWI, Acquisition

# OpenFWI gan_train.py defaults: -g1v 100, -g2v 100, -adv 1, -gp 10, -nc 5.
L1_WEIGHT: float = 100.0          # OpenFWI gan_train.py: --lambda_g1v 100.0
L2_WEIGHT: float = 100.0          # OpenFWI gan_train.py: --lambda_g2v 100.0
ADVERSARIAL_WEIGHT: float = 1.0   # OpenFWI gan_train.py: --lambda_adv 1.0
GP_WEIGHT: float = 10.0           # OpenFWI gan_train.py: --lambda_gp 10.0 (Gulrajani et al. λ = 10)
N_CRITIC: int = 5                 # OpenFWI gan_train.py: --n_critic 5 critic steps per generator step
# OpenFWI gan_train.py: AdamW(lr 1e-4, betas (0, 0.9), weight decay 1e-4) for both networks, batch 64.
LEARNING_RATE: float = 1e-4
ADAM_BETAS: tuple[float, float] = (0.0, 0.9)
WEIGHT_DECAY: float = 1e-4
BATCH_SIZE: int = 64

#: OpenFWI network.py: Discriminator(dim1=32, dim2=64, dim3=128, dim4=256).
OFFICIAL_CRITIC_DIMS: tuple[int, int, int, int] = (32, 64, 128, 256)

#: OpenFWI network.py: the critic's last ConvBlock has kernel 5, no padding (5×5 → 1×1 on 70×70).
OFFICIAL_CRITIC_LAST_KERNEL: int = 5


def velocitygan_generator(acquisition: Acquisition = OPENFWI, **kwargs) -> InversionNet:
    """VelocityGAN's generator: InversionNet on ``acquisition`` (kwargs go to InversionNet)."""
    return InversionNet(acquisition, **kwargs)


class Discriminator(nn.Module):
    """OpenFWI's VelocityGAN critic: four stages (3×3 conv stride 2, 3×3 conv), each
    conv + BN + LeakyReLU(0.2), halving the map 70 → 35 → 18 → 9 → 5 with 32/64/128/256
    channels, then a conv to one channel over the whole remaining map (5×5 for 70×70, found by a
    dry shape calculation for other sizes), also followed by BN + LeakyReLU as in OpenFWI.

    Note on the official design: in training mode the last BatchNorm standardises the batch's
    scores, so each batch's pre-activation scores have mean exactly β and standard deviation γ;
    ``E[D(real)] − E[D(fake)]`` (real and fake scored in separate passes, as in OpenFWI) then comes
    only from the LeakyReLU's asymmetry, and β's gradient is zero whenever both batches have
    the same number of positive scores. With ``norm='in'`` or ``'none'`` the score block has no
    normalisation.

    Args:
        acquisition: gives the map size ``(nz, nx)``; default OPENFWI (70×70).
        in_shape: ``(nz, nx)`` directly, instead of ``acquisition``.
        dims: channel widths of the four stages (official (32, 64, 128, 256)).
        width: multiplier on ``dims``; norm: ``'bn'`` (official), ``'in'`` or ``'none'``.

    Forward: ``velocity [batch, 1, nz, nx]`` (normalised) → score ``[batch, 1]``.
    """

    def __init__(self, acquisition: Acquisition | None = None, *,
                 in_shape: tuple[int, int] | None = None,
                 dims: tuple[int, int, int, int] = OFFICIAL_CRITIC_DIMS, width: float = 1.0,
                 norm: str = "bn"):
        super().__init__()
        if acquisition is not None and in_shape is not None:
            raise ValueError("give either an acquisition or in_shape, not both")
        if in_shape is None:
            acq = acquisition if acquisition is not None else OPENFWI
            in_shape = (acq.nz, acq.nx)
        self.in_shape = (int(in_shape[0]), int(in_shape[1]))
        if min(self.in_shape) < 1:
            raise ValueError(f"Discriminator: map size must be positive, got {self.in_shape}")
        if len(dims) != 4:
            raise ValueError(f"Discriminator needs four channel widths, got {dims}")
        self.dims = scaled_dims(width, tuple(dims))

        self.features = nn.Sequential()
        c_in, (h, w) = 1, self.in_shape
        for i, c in enumerate(self.dims, start=1):
            for j, block in ((1, ConvBlock(c_in, c, stride=2, norm=norm)), (2, ConvBlock(c, c, norm=norm))):
                self.features.add_module(f"convblock{i}_{j}", block)
                h, w = block.output_shape(h, w)
            c_in = c
        #: feature-map size before the last conv (5×5 on 70×70 maps)
        self.last_kernel = (h, w)
        # The score block normalises a single 1×1 value per sample. OpenFWI uses BatchNorm there;
        # InstanceNorm of a 1×1 map would output the constant β, so other norms get none.
        self.score_norm = "bn" if norm == "bn" else "none"
        self.features.add_module("convblock5", ConvBlock(c_in, 1, kernel_size=(h, w), padding=0,
                                                         norm=self.score_norm))

    def forward(self, velocity: torch.Tensor) -> torch.Tensor:
        """``velocity [batch, 1, nz, nx]`` → critic score ``[batch, 1]``."""
        if velocity.dim() != 4 or tuple(velocity.shape[1:]) != (1, *self.in_shape):
            raise ValueError(
                f"Discriminator expects velocity maps [batch, 1, {self.in_shape[0]}, "
                f"{self.in_shape[1]}], got {tuple(velocity.shape)}"
            )
        return self.features(velocity).flatten(1)


Critic = Callable[[torch.Tensor], torch.Tensor]


def _check_pair(real: torch.Tensor, fake: torch.Tensor) -> None:
    if real.shape != fake.shape:
        raise ValueError(f"real and fake batches differ in shape: {tuple(real.shape)} vs {tuple(fake.shape)}")
    if real.dim() < 2 or real.shape[0] < 1:
        raise ValueError(f"expected a batch [batch, ...], got shape {tuple(real.shape)}")


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor,
                     weight: float = GP_WEIGHT, generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP penalty ``weight · E[(‖∇ₓ D(x̂)‖₂ − 1)²]`` at ``x̂ = α·real + (1 − α)·fake``.

    ``α ~ U(0, 1)`` is drawn once per sample; the norm is over all of a sample's entries.
    The graph is kept (``create_graph=True``) so the penalty can be back-propagated into the
    critic's parameters. ``fake`` is detached: the penalty never reaches the generator.

    Args:
        critic: maps ``[batch, ...]`` to scores ``[batch]`` or ``[batch, 1]``.
        real, fake: batches of the same shape, e.g. velocity ``[batch, 1, nz, nx]``.
        weight: λ (OpenFWI / Gulrajani et al.: 10).
        generator: optional ``torch.Generator`` for α (reproducibility).

    Returns:
        scalar tensor, the weighted penalty.
    """
    _check_pair(real, fake)
    real, fake = real.detach(), fake.detach()
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, generator=generator, dtype=real.dtype,
                       device=real.device if generator is None else generator.device)
    alpha = alpha.to(real.device)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(interpolates)
    (grad,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    grad_norm = grad.flatten(1).norm(2, dim=1)
    return weight * ((grad_norm - 1) ** 2).mean()


def critic_loss(critic: Critic, real: torch.Tensor, fake: torch.Tensor, gp_weight: float = GP_WEIGHT,
                return_terms: bool = False, generator: torch.Generator | None = None):
    """WGAN-GP critic loss ``E[D(fake)] − E[D(real)] + λ·GP`` (OpenFWI ``utils.Wasserstein_GP``).

    ``fake`` is detached, so this loss only trains the critic.

    Args:
        critic: the critic, e.g. :class:`Discriminator`.
        real: true velocity ``[batch, 1, nz, nx]`` (normalised); fake: generated, same shape.
        gp_weight: λ of the gradient penalty (default :data:`GP_WEIGHT` = 10).
        return_terms: also return ``{'wasserstein': E[D(real)] − E[D(fake)],
            'gradient_penalty': weighted penalty}`` (detached) for logging.

    Returns:
        scalar loss tensor, or ``(loss, terms)`` when ``return_terms``.
    """
    _check_pair(real, fake)
    fake = fake.detach()
    score_real = critic(real).mean()
    score_fake = critic(fake).mean()
    penalty = gradient_penalty(critic, real, fake, weight=gp_weight, generator=generator)
    loss = score_fake - score_real + penalty
    if return_terms:
        return loss, {"wasserstein": (score_real - score_fake).detach(), "gradient_penalty": penalty.detach()}
    return loss


def generator_adversarial_loss(critic: Critic, fake: torch.Tensor) -> torch.Tensor:
    """Generator's adversarial loss ``−E[D(fake)]`` (unweighted; gradients flow into ``fake``)."""
    return -critic(fake).mean()


def generator_loss(fake: torch.Tensor, target: torch.Tensor, critic: Critic | None = None,
                   l1_weight: float = L1_WEIGHT, l2_weight: float = L2_WEIGHT,
                   adversarial_weight: float = ADVERSARIAL_WEIGHT) -> torch.Tensor:
    """VelocityGAN generator loss ``100·L1 + 100·MSE + 1·(−E[D(fake)])`` (OpenFWI ``criterion_g``).

    ``fake``, ``target``: velocity ``[batch, 1, nz, nx]`` (normalised). Without ``critic`` only
    the L1 + L2 terms are returned (as OpenFWI when ``model_d`` is None).
    """
    if fake.shape != target.shape:
        raise ValueError(f"prediction and target differ in shape: {tuple(fake.shape)} vs {tuple(target.shape)}")
    loss = l1_weight * F.l1_loss(fake, target) + l2_weight * F.mse_loss(fake, target)
    if critic is not None:
        loss = loss + adversarial_weight * generator_adversarial_loss(critic, fake)
    return loss
