"""Adapters that let the one fit loop (:func:`fwilab.training.fit.fit`) train the generative models.

The fit loop trains ``loss(module(x), y)`` on ``(x, y)`` pairs and evaluates the same way, with
checkpoints, exact resume and best-epoch selection. Two adapters fit the generative chapters into it:

* :class:`PairAutoencoderFit` — a stage-1 autoencoder of seismic–velocity pairs. A pair travels as one
  *packed* row ``[n_shots·nt·n_receivers + nz·nx]`` (:func:`pack_pairs`; records first); the module
  unpacks it, reconstructs both modalities, and returns them packed; its :meth:`~PairAutoencoderFit.loss`
  is the model's own (``model.loss(output, seismic, velocity)``, the quantiser's commitment included,
  read from the forward pass like SPAMoE's auxiliary terms).
* :class:`DenoiserFit` — a latent diffusion model. ``x`` is a batch of clean latents; the module draws
  the steps ``t ~ U{1 … T}`` and the noise from the global generator (whose state the checkpoints keep,
  so a resumed run draws the same) and returns the network's prediction beside its target
  (``[B, 2, C, h, w]``); :func:`denoising_l1` is the L1 between the two (WaveDiffusion §A.1.2).

And UB-Diff's (:mod:`fwilab.models.ubdiff`):

* :class:`CoLatentFit` — one training step of the co-latent autoencoder: ``"step1"`` maps → maps (all
  velocity maps, no seismic), ``"step2"`` maps → records (the few pairs; encoder and velocity branch
  frozen), ``"joint"`` maps → packed pairs (the "w/o opt" ablation); its :meth:`~CoLatentFit.loss` is
  the model's reconstruction loss of that step;
* :class:`LatentDDPMFit` — the latent DDPM: ``z0`` → the model's own (ᾱ-weighted v-MSE) loss, which
  :func:`own_loss` passes through; with :class:`EMAStep` as the fit loop's step the EMA of the
  denoiser is updated after every optimiser step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .steps import SupervisedStep


def pack_pairs(seismic: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """``seismic [B, S, T, R]`` and ``velocity [B, 1, Z, X]`` → one row per pair ``[B, S·T·R + Z·X]``."""
    if seismic.dim() != 4 or velocity.dim() != 4 or seismic.shape[0] != velocity.shape[0]:
        raise ValueError(f"expected seismic [B, shot, time, receiver] and velocity [B, 1, depth, width] with one "
                         f"batch, got {tuple(seismic.shape)} and {tuple(velocity.shape)}")
    return torch.cat([seismic.flatten(1), velocity.flatten(1)], dim=1)


def unpack_pairs(packed: torch.Tensor, seismic_shape: tuple[int, int, int],
                 velocity_shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`pack_pairs` for one sample's ``seismic_shape`` and ``velocity_shape``."""
    ns, nv = int(torch.tensor(seismic_shape).prod()), int(torch.tensor(velocity_shape).prod())
    if packed.dim() != 2 or packed.shape[1] != ns + nv:
        raise ValueError(f"packed pairs must be [batch, {ns} + {nv}], got shape {tuple(packed.shape)}")
    b = packed.shape[0]
    return packed[:, :ns].reshape(b, *seismic_shape), packed[:, ns:].reshape(b, *velocity_shape)


class PairAutoencoderFit(nn.Module):
    """A pair autoencoder (``forward(seismic, velocity)`` → an output with ``.seismic``/``.velocity``,
    ``loss(output, seismic, velocity)`` → ``(total, parts)``) as a ``packed → packed`` module.

    Use the module as the fit loop's model, :meth:`loss` as its loss, and
    ``TensorDataset(packed, packed)`` as the data (the same tensor twice: no copy).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        c = model.config
        self.seismic_shape, self.velocity_shape = tuple(c.seismic_shape), tuple(c.velocity_shape)
        self.last: Any = None

    def unpack(self, packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return unpack_pairs(packed, self.seismic_shape, self.velocity_shape)

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        seismic, velocity = self.unpack(packed)
        self.last = self.model(seismic, velocity)
        return pack_pairs(self.last.seismic, self.last.velocity)

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The model's loss of the last forward pass (``pred`` is its packed output) against ``target``."""
        if self.last is None:
            raise ValueError("PairAutoencoderFit.loss: the model has not run a forward pass yet")
        seismic, velocity = self.unpack(target)
        return self.model.loss(self.last, seismic, velocity)


class DenoiserFit(nn.Module):
    """A latent diffusion model (``forward(z_t, t)`` → prediction, ``.schedule`` a
    :class:`~fwilab.models.diffusion.NoiseSchedule`) as ``z0 → [prediction, target]``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, z0: torch.Tensor) -> torch.Tensor:
        schedule = self.model.schedule
        b = z0.shape[0]
        t = torch.randint(1, schedule.timesteps + 1, (b,), device=z0.device)
        noise = torch.randn_like(z0)
        prediction = self.model(schedule.q_sample(z0, t, noise), t)
        target = noise if schedule.parameterization == "eps" else schedule.v_target(z0, t, noise)
        return torch.stack([prediction, target], dim=1)


def denoising_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean|prediction − target|`` of a :class:`DenoiserFit` output (``target``, the clean latents, unused)."""
    if pred.dim() < 2 or pred.shape[1] != 2:
        raise ValueError(f"expected [batch, 2, ...] (prediction, target), got shape {tuple(pred.shape)}")
    return (pred[:, 0] - pred[:, 1]).abs().mean()


class CoLatentFit(nn.Module):
    """UB-Diff's :class:`~fwilab.models.ubdiff.CoLatentAutoencoder` at one training ``step`` as a fit-loop module
    (the groups the step does not train are frozen by :meth:`~fwilab.models.ubdiff.CoLatentAutoencoder.set_training_step`).

    Data per step (``x`` → ``y``): ``"step1"`` velocity ``[B, 1, nz, nx]`` → the same maps;
    ``"step2"`` velocity → seismic ``[B, n_shots, nt, n_receivers]``; ``"joint"`` velocity → the packed pair
    (:func:`pack_pairs`).
    """

    def __init__(self, model: nn.Module, step: str):
        super().__init__()
        self.model = model
        self.step = step
        model.set_training_step(step)

    def forward(self, velocity: torch.Tensor) -> torch.Tensor:
        m = self.model
        if self.step == "step1":
            return m.decode_velocity(m.encode(velocity))
        if self.step == "step2":
            with torch.no_grad():
                z = m.encode(velocity)
            return m.decode_seismic(z)
        return pack_pairs(*m(velocity))

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        m = self.model
        if self.step == "step1":
            return m.reconstruction_loss(pred, target, "velocity")
        if self.step == "step2":
            return m.reconstruction_loss(pred, target, "seismic")
        c = m.config
        shapes = (tuple(c.seismic_shape), tuple(c.velocity_shape))
        (s_hat, v_hat), (s, v) = unpack_pairs(pred, *shapes), unpack_pairs(target, *shapes)
        seismic_loss, seismic_parts = m.reconstruction_loss(s_hat, s, "seismic")
        velocity_loss, velocity_parts = m.reconstruction_loss(v_hat, v, "velocity")
        return seismic_loss + velocity_loss, {**seismic_parts, **velocity_parts}


class LatentDDPMFit(nn.Module):
    """A diffusion model with its own ``loss(z0)`` (UB-Diff's :class:`~fwilab.models.ubdiff.LatentDDPM`) as
    ``z0 → loss``: the steps and noise come from the global generator (kept by the checkpoints), and
    :func:`own_loss` is the fit loop's loss."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, z0: torch.Tensor) -> torch.Tensor:
        return self.model.loss(z0)


def own_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The loss a module computed itself (:class:`LatentDDPMFit`); ``target`` is unused."""
    if pred.dim() != 0:
        raise ValueError(f"own_loss expects the module's scalar loss, got shape {tuple(pred.shape)}")
    return pred


class EMAStep(SupervisedStep):
    """The supervised update followed by ``update_ema()`` of the wrapped model (``ctx.module.model``): the
    EMA of UB-Diff's denoiser moves after every optimiser step, and is saved with the weights."""

    def __call__(self, x: torch.Tensor, y: torch.Tensor, ctx) -> dict[str, torch.Tensor]:
        out = super().__call__(x, y, ctx)
        ctx.module.model.update_ema()
        return out


__all__ = ["CoLatentFit", "DenoiserFit", "EMAStep", "LatentDDPMFit", "PairAutoencoderFit", "denoising_l1",
           "own_loss", "pack_pairs", "unpack_pairs"]
