"""Networks composed from :mod:`fwilab.layers`."""

from fwilab.models.inversionnet import OFFICIAL_DIMS, InversionNet
from fwilab.models.velocitygan import (
    Discriminator,
    critic_loss,
    generator_adversarial_loss,
    generator_loss,
    gradient_penalty,
    velocitygan_generator,
)

__all__ = [
    "OFFICIAL_DIMS",
    "InversionNet",
    "Discriminator",
    "critic_loss",
    "generator_adversarial_loss",
    "generator_loss",
    "gradient_penalty",
    "velocitygan_generator",
]
