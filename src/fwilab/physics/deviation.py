"""Deviation of a decoded seismic–velocity pair from the wave equation (WaveDiffusion §2, Fig. 5).

For a pair ``(ŝ, v̂)`` decoded from a latent, the paper simulates the records ``s(v̂)`` of the
decoded velocity with a finite-difference solver and reports the L2 distance ``‖ŝ − s(v̂)‖``. Its
magnitudes — 0.0016 for reconstructed training pairs, 0.013 for decoded random latents — only make
sense **per element on normalised data** (a plain L2 norm over the 5 × 1000 × 70 records of
[-1, 1] data would be of order 10–100): :func:`pde_deviation` therefore returns

- ``mse`` ``[B]``: ``mean((ŝ − s(v̂))²)`` over the ``shot × time × receiver`` elements of each
  sample, on the normalised [-1, 1] scale (our reading of the paper's number);
- ``relative_l2`` ``[B]``: ``‖ŝ − s(v̂)‖ / ‖s(v̂)‖`` per sample, free of any scale convention.

``s(v̂)`` is computed the way the training records are: ``v̂`` (normalised) → m/s by
:func:`~fwilab.data.normalize.denormalize_velocity` (clipped to the normalisation range
1500 … 4500 m/s first: a decoder's output may stray outside [-1, 1], and the solver needs a
positive velocity under the CFL limit) → :func:`~fwilab.physics.solver.forward_model` at the
acquisition's full rate (OpenFWI: nt = 1000, dt = 1 ms) → :func:`~fwilab.data.transforms.decimate_time`
by ``decimate`` (1000 → 250 at 4) → :func:`~fwilab.data.normalize.normalize_seismic` with the
family's amplitude range. The solver runs on whole batches (``chunk`` models at a time).

:func:`null_pde_deviation` is the baseline a deviation is judged against: each ``ŝ_i`` paired with
an unrelated ``v̂_{π(i)}``, ``π(i) = (i + 1) mod B`` (a fixed derangement: no sample keeps its own
velocity), simulated once for the batch.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from fwilab.data.normalize import VELOCITY_MAX, VELOCITY_MIN, denormalize_velocity, normalize_seismic
from fwilab.data.transforms import decimate_time, decimated_length

from .acquisition import OPENFWI, Acquisition
from .solver import forward_model


class PDEDeviation(NamedTuple):
    """Per-sample deviation of ``ŝ`` from ``s(v̂)``: ``mse [B]`` (normalised scale) and ``relative_l2 [B]``."""

    mse: torch.Tensor
    relative_l2: torch.Tensor


def _check_pair(seismic_hat: torch.Tensor, velocity_hat: torch.Tensor, acquisition: Acquisition,
                decimate: int) -> None:
    nt = decimated_length(acquisition.nt, decimate)
    expected = (acquisition.n_shots, nt, acquisition.n_receivers)
    if not isinstance(seismic_hat, torch.Tensor) or not isinstance(velocity_hat, torch.Tensor):
        raise ValueError("pde_deviation expects torch tensors for seismic_hat and velocity_hat")
    if seismic_hat.dim() != 4 or tuple(seismic_hat.shape[1:]) != expected:
        raise ValueError(f"seismic_hat must be [batch, {expected[0]}, {expected[1]}, {expected[2]}] (shot, time "
                         f"after ×{decimate} decimation of {acquisition.nt} samples, receiver), "
                         f"got shape {tuple(seismic_hat.shape)}")
    if velocity_hat.dim() != 4 or tuple(velocity_hat.shape[1:]) != (1, acquisition.nz, acquisition.nx):
        raise ValueError(f"velocity_hat must be [batch, 1, {acquisition.nz}, {acquisition.nx}], "
                         f"got shape {tuple(velocity_hat.shape)}")
    if seismic_hat.shape[0] != velocity_hat.shape[0]:
        raise ValueError(f"seismic_hat and velocity_hat batches differ: {seismic_hat.shape[0]} vs "
                         f"{velocity_hat.shape[0]}")
    if seismic_hat.shape[0] < 1:
        raise ValueError("pde_deviation needs a non-empty batch")


def simulated_records(velocity_hat: torch.Tensor, *, family: str, acquisition: Acquisition = OPENFWI,
                      decimate: int = 4, path: str = "auto", chunk: int | None = None) -> torch.Tensor:
    """Normalised records ``s(v̂)`` of normalised velocities, as the training data are made.

    Args:
        velocity_hat: ``[B, 1, nz, nx]`` normalised velocity ([-1, 1] ↔ 1500 … 4500 m/s; clipped to it).
        family: OpenFWI dataset whose amplitude range normalises the records (``normalize_seismic``).
        acquisition: the survey at its full time rate (OpenFWI: nt = 1000, dt = 1 ms).
        decimate: time decimation factor of the model's records (4: 1000 → 250).
        path: :func:`~fwilab.physics.solver.forward_model`'s path.
        chunk: models per solver call (``None``: the whole batch at once).

    Returns:
        ``[B, n_shots, ceil(nt / decimate), n_receivers]`` float32 on ``velocity_hat``'s device.
    """
    if chunk is not None and (not isinstance(chunk, int) or chunk < 1):
        raise ValueError(f"chunk must be a positive integer or None, got {chunk!r}")
    v = denormalize_velocity(velocity_hat.detach().float().clamp(-1.0, 1.0)).clamp(VELOCITY_MIN, VELOCITY_MAX)
    size = chunk or v.shape[0]
    records = [forward_model(part, acquisition, path=path) for part in v.split(size)]
    raw = torch.cat(records).cpu().numpy()                                # [B, shot, nt, receiver]
    decimated = torch.from_numpy(decimate_time(raw, decimate, axis=-2))
    return normalize_seismic(decimated, family=family).to(velocity_hat.device)


def _deviation(seismic_hat: torch.Tensor, simulated: torch.Tensor) -> PDEDeviation:
    diff = (seismic_hat.detach().float() - simulated).flatten(1)
    reference = simulated.flatten(1).norm(dim=1)
    return PDEDeviation(diff.pow(2).mean(dim=1), diff.norm(dim=1) / reference.clamp_min(torch.finfo(diff.dtype).tiny))


def pde_deviation(seismic_hat: torch.Tensor, velocity_hat: torch.Tensor, *, family: str,
                  acquisition: Acquisition = OPENFWI, decimate: int = 4, path: str = "auto",
                  chunk: int | None = None) -> PDEDeviation:
    """Deviation of decoded pairs from the wave equation: ``ŝ`` against the simulated ``s(v̂)``.

    Args:
        seismic_hat: ``[B, n_shots, ceil(nt / decimate), n_receivers]`` decoded records, normalised.
        velocity_hat: ``[B, 1, nz, nx]`` decoded velocity, normalised.
        family, acquisition, decimate, path, chunk: see :func:`simulated_records`.

    Returns:
        :class:`PDEDeviation` with ``mse [B]`` (per element, normalised scale) and ``relative_l2 [B]``.

    Raises:
        ValueError: shapes that do not match the acquisition (or each other), an unknown family.
    """
    _check_pair(seismic_hat, velocity_hat, acquisition, decimate)
    simulated = simulated_records(velocity_hat, family=family, acquisition=acquisition, decimate=decimate,
                                  path=path, chunk=chunk)
    return _deviation(seismic_hat, simulated)


def null_pde_deviation(seismic_hat: torch.Tensor, velocity_hat: torch.Tensor, *, family: str,
                       acquisition: Acquisition = OPENFWI, decimate: int = 4, path: str = "auto",
                       chunk: int | None = None) -> PDEDeviation:
    """:func:`pde_deviation` of mismatched pairs ``(ŝ_i, v̂_{(i + 1) mod B})``: the no-physics baseline.

    Needs ``B ≥ 2``; the records of every ``v̂`` are simulated once and rolled by one sample.
    """
    _check_pair(seismic_hat, velocity_hat, acquisition, decimate)
    if seismic_hat.shape[0] < 2:
        raise ValueError("null_pde_deviation pairs each sample with another one: it needs a batch of at least 2")
    simulated = simulated_records(velocity_hat, family=family, acquisition=acquisition, decimate=decimate,
                                  path=path, chunk=chunk)
    return _deviation(seismic_hat, simulated.roll(-1, dims=0))


__all__ = ["PDEDeviation", "null_pde_deviation", "pde_deviation", "simulated_records"]
