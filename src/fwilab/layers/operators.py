"""SPAMoE's three neural-operator experts, built from ``neuraloperator`` (``neuralop`` 2.0) layers.

Each expert maps latent feature maps ``[batch, in_channels, nz, nx]`` to
``[batch, out_channels, nz, nx]`` (for SPAMoE: the routed encoder features → one velocity channel).

What the released code runs (``zhenyuwang12366/SPAMoE``; FACTS.md §2) and what the paper says:

- ``"fno"`` — a Fourier neural operator, neuralop's :class:`~neuralop.models.FNO`
  (16 × 16 modes, 4 layers, lifting/projection ratio 2 as released).
- ``"mno"`` — the paper calls this a *multiwavelet* neural operator; the released code runs a
  **multiscale FNO** (``neuralop/models/multiscale_no.py``): the input (with a grid embedding) is
  resampled to scales 1.0 / 0.6 / 0.3, each scale has its own lifting MLP and Fourier layers,
  and the branches are fused coarse-to-fine by 1×1 convolutions (``concat → 1×1 conv → GELU``)
  before a projection MLP. No wavelets anywhere. Note: the released branch calls
  ``FNOBlocks(x)``, i.e. ``forward(x, index=0)``, so of the 3 Fourier layers declared per branch
  **only the first runs**; :class:`MultiscaleFNO` builds exactly the layers that run
  (``n_layers=1`` reproduces the released computation; larger values run them all).
- ``"lno"`` — the paper calls this a *local neural operator*; the released code runs
  neuraloperator's :class:`~neuralop.models.LocalNO` (Liu-Schiaffini et al. 2024: Fourier layers
  with parallel differential and local-integral DISCO kernels; 16 × 16 modes, 3 layers), not the
  local neural operator of Li et al. Its DISCO kernels are tied to ``grid_shape``.

Fourier modes are clipped to the grid (``n ≤ size`` per axis) so the smoke presets' small grids
work; all code is device-agnostic (the same layers run on CUDA).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

with warnings.catch_warnings():   # neuralop imports emit deprecation chatter on import
    warnings.simplefilter("ignore")
    from neuralop.layers.channel_mlp import ChannelMLP
    from neuralop.layers.embeddings import GridEmbeddingND
    from neuralop.layers.fno_block import FNOBlocks
    from neuralop.layers.resample import resample
    from neuralop.models import FNO, LocalNO

#: The experts SPAMoE's released model mixes (FACTS.md §2).
EXPERT_KINDS: tuple[str, ...] = ("fno", "mno", "lno")
#: Released MNO scales (config/seismic_moe_config.py, ``scale_factors``).
MNO_SCALES: tuple[float, ...] = (1.0, 0.6, 0.3)


def clip_modes(n_modes: int | tuple[int, int], grid_shape: tuple[int, int]) -> tuple[int, int]:
    """Fourier modes per axis, at most the grid size along that axis (and at least 1)."""
    if isinstance(n_modes, int):
        n_modes = (n_modes, n_modes)
    if len(n_modes) != 2 or len(grid_shape) != 2:
        raise ValueError(f"2-D modes and grid expected, got {n_modes} and {grid_shape}")
    if min(n_modes) < 1 or min(grid_shape) < 1:
        raise ValueError(f"modes and grid sizes must be ≥ 1, got {n_modes} and {grid_shape}")
    return tuple(int(min(m, s)) for m, s in zip(n_modes, grid_shape))


def fourier_expert(in_channels: int, out_channels: int, width: int, n_modes: int | tuple[int, int],
                   grid_shape: tuple[int, int], n_layers: int = 4) -> FNO:
    """SPAMoE's "FNO" expert: neuralop ``FNO`` with lifting/projection ratio 2 (released)."""
    return FNO(n_modes=clip_modes(n_modes, grid_shape), in_channels=in_channels,
               out_channels=out_channels, hidden_channels=width, n_layers=n_layers,
               lifting_channel_ratio=2, projection_channel_ratio=2)


def local_expert(in_channels: int, out_channels: int, width: int, n_modes: int | tuple[int, int],
                 grid_shape: tuple[int, int], n_layers: int = 3) -> LocalNO:
    """SPAMoE's "LNO" expert: neuralop ``LocalNO`` (differential + DISCO + Fourier layers).

    The DISCO kernels are built for ``grid_shape`` = the latent map's ``(nz, nx)``.
    """
    return LocalNO(n_modes=clip_modes(n_modes, grid_shape), in_channels=in_channels,
                   out_channels=out_channels, hidden_channels=width,
                   default_in_shape=tuple(int(s) for s in grid_shape), n_layers=n_layers,
                   disco_layers=True, diff_layers=True)


class MultiscaleFNO(nn.Module):
    """SPAMoE's "MNO" expert: a multiscale FNO with hierarchical 1×1-conv fusion (see module doc).

    Args:
        in_channels, out_channels: channels in and out.
        width: hidden channels of every branch.
        n_modes: modes at scale 1; a branch at scale s keeps ``min(n_modes, int(2·n_modes·s))``
            (released: 16, 16, 9 for 16 modes), clipped to its grid.
        grid_shape: ``(nz, nx)`` of the input maps (for the mode clipping only; any size runs).
        scales: resampling factor of each branch, finest first (released 1.0, 0.6, 0.3).
        n_layers: Fourier layers run per branch (released: 1 runs of 3 declared).
        lifting_ratio, projection_ratio: MLP widths as multiples of ``width`` (released 4).

    Forward: ``[B, in_channels, H, W]`` → ``[B, out_channels, H, W]``.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int, n_modes: int,
                 grid_shape: tuple[int, int], scales: tuple[float, ...] = MNO_SCALES, n_layers: int = 1,
                 lifting_ratio: int = 4, projection_ratio: int = 4):
        super().__init__()
        if not scales or any(not 0 < s <= 1 for s in scales):
            raise ValueError(f"MNO scales must lie in (0, 1], got {scales}")
        if int(n_layers) < 1:
            raise ValueError(f"MNO needs at least one Fourier layer per branch, got {n_layers}")
        self.scales = tuple(float(s) for s in scales)
        self.n_layers = int(n_layers)
        self.grid_embedding = GridEmbeddingND(in_channels=in_channels, dim=2, grid_boundaries=[[0.0, 1.0]] * 2)
        embedded = in_channels + 2
        self.liftings = nn.ModuleList(
            ChannelMLP(embedded, width, hidden_channels=lifting_ratio * width, n_layers=2) for _ in self.scales)
        self.branches = nn.ModuleList()
        for s in self.scales:
            branch_grid = tuple(max(1, int(g * s)) for g in grid_shape)
            modes = clip_modes(max(1, min(int(n_modes), int(2 * n_modes * s))), branch_grid)
            self.branches.append(FNOBlocks(width, width, n_modes=modes, n_layers=self.n_layers))
        self.fusions = nn.ModuleList(nn.Conv2d(2 * width, width, kernel_size=1) for _ in self.scales[1:])
        self.projection = ChannelMLP(width, out_channels, hidden_channels=projection_ratio * width, n_layers=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"MNO expects [batch, channel, H, W], got shape {tuple(x.shape)}")
        x = self.grid_embedding(x)
        height, width = x.shape[-2:]
        features = []
        for scale, lifting, branch in zip(self.scales, self.liftings, self.branches):
            h = x
            if scale != 1.0:
                shape = (max(1, int(height * scale)), max(1, int(width * scale)))
                h = resample(x, scale, axis=[2, 3], output_shape=shape)
            h = lifting(h)
            for index in range(self.n_layers):
                h = branch(h, index)
            features.append(h)
        fused = features[-1]   # coarse → fine: upsample, concatenate, 1×1 conv, GELU
        for i in range(len(self.scales) - 2, -1, -1):
            target = features[i].shape[-2:]
            fused = F.interpolate(fused, size=target, mode="bicubic", align_corners=False) \
                if fused.shape[-2:] != target else fused
            fused = F.gelu(self.fusions[i](torch.cat([fused, features[i]], dim=1)))
        return self.projection(fused)


def build_expert(kind: str, in_channels: int, out_channels: int, width: int, n_modes: int,
                 grid_shape: tuple[int, int], n_layers: int | None = None,
                 mno_scales: tuple[float, ...] = MNO_SCALES, *, mno_channel_ratio: int = 4) -> nn.Module:
    """One SPAMoE expert by name: ``"fno"`` (4 layers), ``"mno"`` (1 layer run per branch),
    ``"lno"`` (3 layers); ``n_layers`` overrides the released depth; ``mno_channel_ratio`` is the MNO's
    lifting/projection MLP width as a multiple of ``width`` (released 4)."""
    if kind == "fno":
        return fourier_expert(in_channels, out_channels, width, n_modes, grid_shape, n_layers or 4)
    if kind == "mno":
        return MultiscaleFNO(in_channels, out_channels, width, n_modes, grid_shape, mno_scales, n_layers or 1,
                             lifting_ratio=mno_channel_ratio, projection_ratio=mno_channel_ratio)
    if kind == "lno":
        return local_expert(in_channels, out_channels, width, n_modes, grid_shape, n_layers or 3)
    raise ValueError(f"unknown expert {kind!r}: choose from {EXPERT_KINDS}")


__all__ = ["EXPERT_KINDS", "MNO_SCALES", "MultiscaleFNO", "build_expert", "clip_modes",
           "fourier_expert", "local_expert"]
