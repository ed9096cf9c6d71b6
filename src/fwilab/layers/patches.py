"""Patches of a [shot, time, receiver] record, and a decoder that writes a record patch by patch.

**Patches.** A record ``x [B, S, T, R]`` (shots, time samples, receivers) is cut into blocks of
``patch = (p_s, p_t, p_r)`` samples on the grid :func:`patch_grid` ``= (⌈S/p_s⌉, ⌈T/p_t⌉, ⌈R/p_r⌉)``;
the record is zero-padded at the end of each axis (the last shot, the late times, the last
receivers) to a whole number of patches. :func:`patchify` lists the ``N = g_s·g_t·g_r`` patches
in row-major grid order (shot block slowest, receiver block fastest), each flattened in
``(shot, time, receiver)`` order to ``P = p_s·p_t·p_r`` values: ``[B, N, P]``. :func:`unpatchify`
is its inverse: it puts the patches back and crops the padding, so
``unpatchify(patchify(x)) == x`` exactly, and ``patchify ∘ unpatchify`` is the identity on patch
lists whose padding entries are zero (all of them when the patches tile the record exactly).

**Decoder** (:class:`PatchQueryDecoder`): a condition vector ``c [B, condition_dim]`` → a record
``[B, S, T, R]``. ``c`` is mapped by one Linear to ``condition_tokens`` tokens of width ``dim``;
``N`` learned query tokens (one per patch; they are also the position code) are appended; ``depth``
pre-norm transformer blocks (:class:`~fwilab.layers.vit.TransformerBlock`) attend over all
``condition_tokens + N`` tokens, so each query reads the condition and the other patches; the
queries are normalised and a Linear head *shared by all patches* maps each to its ``P`` samples;
:func:`unpatchify` reassembles and crops the record. No output activation.

Its cost grows with the number of patches, not with the record's size through a dense layer: the
head holds ``dim·P + P`` parameters however many patches there are.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from fwilab.layers.vit import TransformerBlock


def _triple(name: str, value: Sequence[int]) -> tuple[int, int, int]:
    triple = tuple(value)
    if len(triple) != 3 or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in triple):
        raise ValueError(f"{name} must be three positive integers (shot, time, receiver), got {value!r}")
    return triple   # type: ignore[return-value]


def patch_grid(shape: Sequence[int], patch: Sequence[int]) -> tuple[int, int, int]:
    """Patches per axis, ``(⌈S/p_s⌉, ⌈T/p_t⌉, ⌈R/p_r⌉)``, for a record ``shape = (S, T, R)``."""
    shape, patch = _triple("the record shape", shape), _triple("the patch size", patch)
    return tuple(math.ceil(n / p) for n, p in zip(shape, patch))   # type: ignore[return-value]


def patchify(x: torch.Tensor, patch: Sequence[int]) -> torch.Tensor:
    """``x [B, S, T, R]`` → patches ``[B, N, P]`` (module docstring; zero padding at the ends).

    ``N = g_s·g_t·g_r`` in row-major grid order, ``P = p_s·p_t·p_r`` in ``(shot, time, receiver)`` order.
    """
    if x.dim() != 4:
        raise ValueError(f"patchify expects a record [batch, shot, time, receiver], got shape {tuple(x.shape)}")
    ps, pt, pr = _triple("the patch size", patch)
    gs, gt, gr = patch_grid(x.shape[1:], patch)
    s, t, r = x.shape[1:]
    x = nn.functional.pad(x, (0, gr * pr - r, 0, gt * pt - t, 0, gs * ps - s))
    b = x.shape[0]
    x = x.reshape(b, gs, ps, gt, pt, gr, pr).permute(0, 1, 3, 5, 2, 4, 6)   # [B, gs, gt, gr, ps, pt, pr]
    return x.reshape(b, gs * gt * gr, ps * pt * pr)


def unpatchify(patches: torch.Tensor, patch: Sequence[int], shape: Sequence[int]) -> torch.Tensor:
    """Patches ``[B, N, P]`` → the record ``[B, S, T, R]`` of ``shape = (S, T, R)``, padding cropped."""
    ps, pt, pr = _triple("the patch size", patch)
    s, t, r = _triple("the record shape", shape)
    gs, gt, gr = patch_grid(shape, patch)
    if patches.dim() != 3 or patches.shape[1:] != (gs * gt * gr, ps * pt * pr):
        raise ValueError(f"a record {(s, t, r)} in patches {(ps, pt, pr)} needs patches [batch, {gs * gt * gr}, "
                         f"{ps * pt * pr}], got shape {tuple(patches.shape)}")
    b = patches.shape[0]
    x = patches.reshape(b, gs, gt, gr, ps, pt, pr).permute(0, 1, 4, 2, 5, 3, 6)   # [B, gs, ps, gt, pt, gr, pr]
    return x.reshape(b, gs * ps, gt * pt, gr * pr)[:, :s, :t, :r]


class PatchQueryDecoder(nn.Module):
    """Condition vector → record, one learned query token per patch (module docstring).

    Args:
        condition_dim: width of the condition ``c``.
        shape: the record ``(S, T, R)`` to write (shots, time samples, receivers).
        patch: patch size ``(p_s, p_t, p_r)``.
        dim: token width.
        depth: transformer blocks (≥ 1: the queries see the condition only through attention).
        heads: attention heads (must divide ``dim``).
        condition_tokens: tokens the condition is mapped to.
        mlp_ratio: width of the blocks' MLPs relative to ``dim``.

    Forward: ``c [B, condition_dim]`` → ``[B, S, T, R]``.
    """

    def __init__(self, condition_dim: int, shape: Sequence[int], patch: Sequence[int], dim: int = 64,
                 depth: int = 2, heads: int = 4, condition_tokens: int = 4, mlp_ratio: float = 4.0):
        super().__init__()
        for name, value in (("condition_dim", condition_dim), ("dim", dim), ("depth", depth), ("heads", heads),
                            ("condition_tokens", condition_tokens)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PatchQueryDecoder.{name} must be a positive integer, got {value!r}")
        if dim % heads:
            raise ValueError(f"PatchQueryDecoder: token width {dim} does not split into {heads} attention heads")
        self.shape = _triple("the record shape", shape)
        self.patch = _triple("the patch size", patch)
        self.grid = patch_grid(self.shape, self.patch)
        self.condition_dim, self.dim, self.condition_tokens = condition_dim, dim, condition_tokens
        n_patches, patch_numel = math.prod(self.grid), math.prod(self.patch)
        self.condition = nn.Linear(condition_dim, condition_tokens * dim)
        self.queries = nn.Parameter(torch.zeros(1, n_patches, dim))
        nn.init.trunc_normal_(self.queries, std=0.02)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, patch_numel)

    @property
    def n_patches(self) -> int:
        return self.queries.shape[1]

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        if c.dim() != 2 or c.shape[1] != self.condition_dim:
            raise ValueError(f"PatchQueryDecoder expects a condition [batch, {self.condition_dim}], "
                             f"got shape {tuple(c.shape)}")
        b = c.shape[0]
        condition = self.condition(c).reshape(b, self.condition_tokens, self.dim)       # [B, m, dim]
        tokens = torch.cat([condition, self.queries.expand(b, -1, -1)], dim=1)          # [B, m + N, dim]
        for block in self.blocks:
            tokens = block(tokens)
        patches = self.head(self.norm(tokens[:, self.condition_tokens:]))               # [B, N, P]
        return unpatchify(patches, self.patch, self.shape)                               # [B, S, T, R]


__all__ = ["PatchQueryDecoder", "patch_grid", "patchify", "unpatchify"]
