"""Vector quantisation with an exponential-moving-average codebook (VQ-VAE, van den Oord et al. 2017, App. A.1).

A codebook ``e [K, D]`` of ``K`` codes of dimension ``D``. For an encoder output ``z [B, D, H, W]``
each of the ``N = B·H·W`` vectors ``z_i`` is assigned its nearest code (Euclidean),
``k_i = argmin_k ‖z_i − e_k‖²``, and replaced by it:

- **straight-through estimator**: the forward value is ``e_{k_i}``, the gradient passes to ``z``
  unchanged, ``z_q = z + sg(e_k − z)`` (``sg`` = stop-gradient);
- **commitment loss** ``β·mean_i ‖z_i − sg(e_{k_i})‖²/D`` (a mean over all ``N·D`` elements, as
  taming-transformers' ``mean((z_q.detach() − z)²)``), ``β = 0.25``; it pulls the encoder toward
  its codes;
- **EMA codebook** (no codebook loss, no codebook gradient: ``e`` is a buffer). Per training step,
  with ``n_k = #{i: k_i = k}`` and ``m_k = Σ_{i: k_i = k} z_i``::

      N_k ← γ·N_k + (1 − γ)·n_k                      (cluster sizes, γ = decay = 0.99)
      M_k ← γ·M_k + (1 − γ)·m_k                      (cluster sums)
      Ñ_k = (N_k + ε) / (Σ_j N_j + K·ε) · Σ_j N_j     (Laplace smoothing, ε = 1e-5)
      e_k = M_k / Ñ_k

  ``N_k`` starts at 1 and ``M_k`` at ``e_k`` (each code counts as one virtual assignment at its
  initial value), so the first updates move a code part way toward the mean of its inputs rather
  than dividing by a near-zero count;
- **dead-code restart**: a code assigned no vector for ``restart_after`` consecutive training steps
  is re-initialised to a random vector of the current batch's encoder outputs (``N_k = 1``,
  ``M_k = e_k``, its idle counter reset). ``restart_after = 0`` disables it.

The codebook changes only in training mode (or when ``update=True`` is forced) and never under
``update=False`` — quantising diffusion samples must not move it. Distances are computed in
float32 whatever the input dtype. Data-parallel training would need the counts and sums
all-reduced before the update; that is not done here.

Usage statistics of a batch: ``perplexity = exp(−Σ_k p_k log p_k)`` with ``p_k = n_k / N`` (1 when
one code takes everything, ``K`` when all are used equally) and ``usage`` = fraction of the ``K``
codes used at least once.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: taming-transformers / VQ-VAE: β of the commitment loss
COMMITMENT_WEIGHT: float = 0.25
#: VQ-VAE App. A.1 (and sonnet's VectorQuantizerEMA): decay γ of the moving averages
EMA_DECAY: float = 0.99
#: sonnet VectorQuantizerEMA: ε of the Laplace smoothing of the cluster sizes
LAPLACE_EPS: float = 1e-5


def codebook_statistics(indices: torch.Tensor, codebook_size: int) -> dict[str, torch.Tensor]:
    """Counts, perplexity and usage of an assignment.

    Args:
        indices: integer codes of any shape, values in ``0 … codebook_size − 1``.

    Returns:
        ``counts`` ``[K]`` (float), ``perplexity`` (0-d, ``exp`` of the entropy of ``counts / N``),
        ``usage`` (0-d, fraction of codes with a nonzero count).
    """
    counts = torch.bincount(indices.reshape(-1), minlength=codebook_size).float()
    p = counts / counts.sum().clamp_min(1.0)
    entropy = -(p * torch.log(p.clamp_min(1e-30))).sum()
    return {"counts": counts, "perplexity": torch.exp(entropy), "usage": (counts > 0).float().mean()}


class VectorQuantizer(nn.Module):
    """EMA vector quantiser (see the module docstring).

    Args:
        codebook_size: K.
        dim: D, the channels of the maps it quantises.
        commitment_weight: β (0.25).
        decay: γ of the EMA (0.99).
        eps: Laplace smoothing ε (1e-5).
        restart_after: training steps without an assignment before a code is restarted (0: never).

    Buffers: ``codebook [K, D]``, ``cluster_size [K]`` (N_k), ``cluster_sum [K, D]`` (M_k),
    ``idle_steps [K]`` (int64, consecutive training steps since a code was last assigned).

    Forward: ``z [B, D, H, W]`` → ``(z_q [B, D, H, W], indices [B, H, W] int64, aux)`` with ``aux``
    holding ``commitment_loss`` (0-d, with gradient to ``z``), ``perplexity``, ``usage`` (0-d,
    detached), ``counts [K]`` and ``restarted`` (codes restarted by this call, an int).
    """

    def __init__(self, codebook_size: int, dim: int, commitment_weight: float = COMMITMENT_WEIGHT,
                 decay: float = EMA_DECAY, eps: float = LAPLACE_EPS, restart_after: int = 100):
        super().__init__()
        for name, value in (("codebook_size", codebook_size), ("dim", dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"VectorQuantizer.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"VectorQuantizer.decay must lie in [0, 1), got {decay!r}")
        if not (math.isfinite(commitment_weight) and commitment_weight >= 0):
            raise ValueError(f"VectorQuantizer.commitment_weight must be finite and ≥ 0, got {commitment_weight!r}")
        if not eps > 0:
            raise ValueError(f"VectorQuantizer.eps must be > 0, got {eps!r}")
        if not isinstance(restart_after, int) or restart_after < 0:
            raise ValueError(f"VectorQuantizer.restart_after must be an integer ≥ 0 (0: never), got {restart_after!r}")
        self.codebook_size, self.dim = codebook_size, dim
        self.commitment_weight, self.decay, self.eps = float(commitment_weight), float(decay), float(eps)
        self.restart_after = restart_after
        # VQ-VAE / taming initialisation: uniform in ±1/K
        codebook = torch.empty(codebook_size, dim).uniform_(-1.0 / codebook_size, 1.0 / codebook_size)
        self.register_buffer("codebook", codebook)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("cluster_sum", codebook.clone())
        self.register_buffer("idle_steps", torch.zeros(codebook_size, dtype=torch.long))

    def extra_repr(self) -> str:
        return (f"codebook_size={self.codebook_size}, dim={self.dim}, commitment_weight={self.commitment_weight}, "
                f"decay={self.decay}, restart_after={self.restart_after}")

    def _check(self, z: torch.Tensor) -> None:
        if z.dim() != 4 or z.shape[1] != self.dim:
            raise ValueError(f"VectorQuantizer expects z [batch, {self.dim}, H, W] (D = {self.dim} channels), "
                             f"got shape {tuple(z.shape)}")

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code of each row of ``flat [N, D]`` → ``[N]`` int64.

        ``‖z − e‖² = ‖z‖² − 2 z·e + ‖e‖²`` in float32; ties go to the lowest index."""
        flat = flat.float()
        e = self.codebook.float()
        distances = flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ e.t() + e.pow(2).sum(1)[None]
        return distances.argmin(dim=1)

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes of ``indices [B, H, W]`` → ``[B, D, H, W]`` (the inverse of the assignment)."""
        if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
            raise ValueError(f"VectorQuantizer.embed expects integer indices, got {indices.dtype}")
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.codebook_size):
            raise ValueError(f"code indices must lie in 0 … {self.codebook_size - 1}, "
                             f"got {int(indices.min())} … {int(indices.max())}")
        return F.embedding(indices, self.codebook).movedim(-1, 1)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        one_hot = F.one_hot(indices, self.codebook_size).to(flat.dtype)    # [N, K]
        self.cluster_size.mul_(self.decay).add_(one_hot.sum(0), alpha=1.0 - self.decay)
        self.cluster_sum.mul_(self.decay).add_(one_hot.t() @ flat, alpha=1.0 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.codebook_size * self.eps) * total
        self.codebook.copy_(self.cluster_sum / smoothed[:, None])

    @torch.no_grad()
    def _restart_dead(self, flat: torch.Tensor, counts: torch.Tensor) -> int:
        self.idle_steps.add_(1).masked_fill_(counts > 0, 0)
        if self.restart_after == 0:
            return 0
        dead = (self.idle_steps >= self.restart_after).nonzero(as_tuple=True)[0]
        if dead.numel() == 0:
            return 0
        n = flat.shape[0]
        pick = torch.randperm(n, device=flat.device)[:dead.numel()] if n >= dead.numel() else \
            torch.randint(n, (dead.numel(),), device=flat.device)
        fresh = flat[pick]
        self.codebook[dead] = fresh
        self.cluster_sum[dead] = fresh
        self.cluster_size[dead] = 1.0
        self.idle_steps[dead] = 0
        return int(dead.numel())

    def forward(self, z: torch.Tensor, update: bool | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Quantise ``z [B, D, H, W]``; ``update`` (default: ``self.training``) runs the EMA and restarts."""
        self._check(z)
        b, d, h, w = z.shape
        flat = z.detach().float().movedim(1, -1).reshape(-1, d)             # [N, D]
        indices = self.nearest(flat)                                       # [N]
        codes = self.codebook[indices].to(z.dtype).reshape(b, h, w, d).movedim(-1, 1)
        commitment = self.commitment_weight * F.mse_loss(z, codes.detach())
        z_q = z + (codes - z).detach()                                     # straight-through
        stats = codebook_statistics(indices, self.codebook_size)
        restarted = 0
        if self.training if update is None else update:
            self._ema_update(flat, indices)
            restarted = self._restart_dead(flat, stats["counts"])
        aux = {"commitment_loss": commitment, "perplexity": stats["perplexity"], "usage": stats["usage"],
               "counts": stats["counts"], "restarted": restarted}
        return z_q, indices.reshape(b, h, w), aux


__all__ = ["COMMITMENT_WEIGHT", "EMA_DECAY", "LAPLACE_EPS", "VectorQuantizer", "codebook_statistics"]
