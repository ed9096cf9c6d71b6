"""InvLINT (Feng et al., ICML 2022): inversion via a linear relation between integral transforms.

Encoder (frozen, no trainable weights)
    ``seismic [batch, shot, time, receiver]`` → sine-kernel transform ``U [batch, shot·N]``
    (:class:`~fwilab.layers.integral.SeismicIntegralTransform`) → ridge map
    ``Ŷ = A U + b  [batch, M]``. ``A`` is solved in closed form (:func:`fit_linear_map`,
    ridge α = 1 as §4.1.2) against the Gaussian-kernel transform of the velocity maps
    (:class:`~fwilab.layers.integral.VelocityIntegralTransform`), then frozen (buffers).

Decoder (trained; §3.2)
    ``L1``: Linear ``M → h·w·k``, reshaped to a ``h × w`` grid of k-channel tokens with
    ``h = ceil(nz/32)``, ``w = ceil(nx/32)`` (the map "with 32 times downsampling"); one
    transformer block over the ``h·w`` tokens (patch 1×1×k); ``Lr``: one Linear shared by all
    tokens maps each token to a ``(32 + d)²`` block; blocks sit on a stride-32 lattice, are
    overlap-added, divided by the overlap count and centre-cropped to ``(nz, nx)``.
    Variants of Tables 4/5/9/10 are in :data:`DECODERS`.

Choices where the paper is silent or ambiguous (each documented where it is made):

- regression target ``y`` (:func:`velocity_target`): the normalised velocity ``c`` by default,
  ``c²`` on option (Eq. 10);
- the ridge map has an intercept and the features are not standardised (:func:`fit_linear_map`);
- decoder input: ``Ŷ`` minus the training mean of Y, divided by its RMS (a fixed affine map,
  equivalent to rescaling L1; it keeps the decoder's input O(1) for every kernel and target);
- output: no activation by default (§3.2: the transformer "is the only nonlinear part of our
  decoder"); ``output="tanh"`` clamps to (-1, 1) as InversionNet does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from fwilab.data.normalize import VELOCITY_MAX, VELOCITY_MIN
from fwilab.layers.conv import ConvBlock, DeconvBlock, center_crop
from fwilab.layers.integral import SeismicIntegralTransform, VelocityIntegralTransform
from fwilab.layers.vit import TransformerBlock
from fwilab.models.inversionnet import OFFICIAL_DIMS
from fwilab.models.ridge import (  # noqa: F401  (re-exported: the linear map is part of InvLINT's API)
    RIDGE_ALPHA, RidgeMap, RidgeNormalEquations, _as_2d_float64, _spd_solve, essential_dimensions,
    fit_linear_map, linearity_report, singular_values)
from fwilab.physics.acquisition import OPENFWI, Acquisition
from fwilab.progress import bar as progress_bar

# InvLINT §4.1.2 / Table 8 defaults.
N_SINE: int = 2048          # sine kernels per shot
N_GAUSS: int = 512          # Gaussian kernels on the velocity map
#: §3.2: tokens live on the velocity map "with 32 times downsampling".
PATCH: int = 32
#: §3.2: each token becomes a (32 + d)² block, "d is a small integer" (not given; ours).
OVERLAP: int = 4
#: Token width k (not given in the paper). 176 puts the default model at 1.42 M trainable
#: parameters on 70×70 maps, 5.8 % of InversionNet — the paper's Marmousi model is 1.45 M (5.9 %).
EMBED_DIM: int = 176
HEADS: int = 4

#: Decoder architectures (Tables 4/5/9/10). Name → the paper's label.
DECODERS: dict[str, str] = {
    "transformer": "Transformer×1 + Linear",     # the default
    "conv2": "Conv×2 + Linear",
    "deconv1": "Deconv×1 + Linear",
    "deconv-conv5": "(Deconv + Conv)×5",
    "up-conv5": "(Up + Conv)×5",
    "unshared-linear": "Multi-Linear (Transformer×1 + unshared Linear)",
    "transformer2": "Transformer×2 + Linear",
    "transformer3": "Transformer×3 + Linear",
}

TARGETS: tuple[str, ...] = ("c", "c2")
OUTPUTS: tuple[str, ...] = ("none", "tanh")


# --------------------------------------------------------------------------------------------
# Regression target


def velocity_target(velocity: torch.Tensor, target: str = "c", vmin: float = VELOCITY_MIN,
                    vmax: float = VELOCITY_MAX) -> torch.Tensor:
    """The field ``y`` whose integral transform is regressed on U.

    Args:
        velocity: ``[batch, 1, nz, nx]`` normalised to [-1, 1] (min-max over ``vmin..vmax`` m/s).
        target: ``'c'`` (default) — the normalised velocity itself; ``'c2'`` — the squared velocity
            ``c²`` in (km/s)², from the de-normalised map.

    Why ``'c'`` is the default: Eq. 10 derives ``y = c²`` (the wave equation multiplied by c²),
    but the paper trains on maps normalised to [-1, 1] and its Table 11 reports the regression
    targets' range and mean at the scale of a normalised map integrated by the Gaussian kernels
    (Marmousi: ``ymax − ymin = 107`` with a kernel integral of about 60 cells; Kimberlina-Leakage
    ``|ymean| = 491`` of about 690) — values ``c²`` in physical units would be orders of
    magnitude larger. ``'c2'`` is kept to test Eq. 10 as written: it squares the physical velocity
    in km/s (squaring the normalised [-1, 1] map would not even be monotone in velocity).
    """
    if target == "c":
        return velocity
    if target == "c2":
        c = (velocity + 1.0) * (0.5 * (vmax - vmin)) + vmin       # m/s
        return (c / 1000.0) ** 2                                    # (km/s)²
    raise ValueError(f"unknown regression target {target!r}: choose one of {', '.join(TARGETS)}")


# --------------------------------------------------------------------------------------------
# Decoder


def token_grid(shape: tuple[int, int], patch: int = PATCH) -> tuple[int, int]:
    """``(ceil(nz/patch), ceil(nx/patch))``: the token lattice that covers the map."""
    return tuple(max(1, math.ceil(s / patch)) for s in shape)


def overlap_add(blocks: torch.Tensor, grid: tuple[int, int], stride: int, block: int) -> torch.Tensor:
    """Stitch ``blocks [batch, h·w, block²]`` (row-major tokens) on a stride lattice.

    Block ``(i, j)`` covers rows ``[i·stride, i·stride + block)`` and the matching columns of a
    ``[batch, 1, (h−1)·stride + block, (w−1)·stride + block]`` canvas; overlapping pixels are
    averaged (sum divided by the number of blocks covering them).
    """
    h, w = grid
    size = ((h - 1) * stride + block, (w - 1) * stride + block)
    cols = blocks.transpose(1, 2)                                                  # [B, block², L]
    out = F.fold(cols, size, kernel_size=block, stride=stride)
    count = F.fold(torch.ones_like(cols[:1]), size, kernel_size=block, stride=stride)
    return out / count


class UnsharedLinear(nn.Module):
    """One Linear per token: ``[batch, L, in] → [batch, L, out]`` with L weight matrices."""

    def __init__(self, n_tokens: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)   # nn.Linear's default initialisation
        self.weight = nn.Parameter(torch.empty(n_tokens, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_tokens, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bli,lio->blo", x, self.weight) + self.bias


class InvLINTDecoder(nn.Module):
    """The trained half of InvLINT: ``Ŷ [batch, M]`` (standardised) → velocity ``[batch, 1, nz, nx]``.

    Args:
        in_features: M.
        out_shape: ``(nz, nx)``.
        variant: one of :data:`DECODERS`.
        embed_dim: token width k (token variants).
        heads: attention heads of each transformer block.
        patch: token stride on the map (paper 32); overlap: d, each block is ``patch + d`` wide.
        dims: channel widths of the ``(Deconv + Conv)×5`` / ``(Up + Conv)×5`` decoders
            (InversionNet's, default ``(32, 64, 128, 256, 512)``).
        output: ``'none'`` (default, the paper's linear output) or ``'tanh'``.

    Variants (Tables 4/5/9/10). Token variants share L1 (``M → h·w·k``) and end with Lr + overlap-add:

    - ``transformer`` / ``transformer2`` / ``transformer3``: 1 / 2 / 3 pre-norm transformer blocks;
    - ``unshared-linear``: one transformer block, then one Lr per token ("Multi-Linear");
    - ``conv2``: two 3×3 convolutions (GELU) on the token grid instead of the transformer;
    - ``deconv1``: one 2×2 stride-2 transposed convolution (GELU) doubling the token grid, then
      Lr to ``(patch/2 + d)²`` blocks.

    InversionNet-style variants (Table 4's "(Deconv + Conv)×5 ... the deconv decoder of
    InversionNet"): Linear ``M → dims[4]`` as a 1×1 map, a first stage to ``(ceil(nz/16),
    ceil(nx/16))`` (5×5 for 70×70, InversionNet's k5 transposed conv), four ×2 stages, centre crop,
    3×3 conv to one channel:

    - ``deconv-conv5``: each stage a transposed conv (BN, LeakyReLU) + a 3×3 ConvBlock;
    - ``up-conv5``: each stage nearest upsampling + a 3×3 ConvBlock.
    """

    def __init__(self, in_features: int, out_shape: tuple[int, int], variant: str = "transformer",
                 embed_dim: int = EMBED_DIM, heads: int = HEADS, patch: int = PATCH, overlap: int = OVERLAP,
                 dims: tuple[int, ...] = OFFICIAL_DIMS, output: str = "none"):
        super().__init__()
        if variant not in DECODERS:
            raise ValueError(f"unknown InvLINT decoder {variant!r}: choose one of {', '.join(DECODERS)}")
        if output not in OUTPUTS:
            raise ValueError(f"unknown output activation {output!r}: choose one of {', '.join(OUTPUTS)}")
        if patch < 2 or overlap < 0 or embed_dim < 1 or in_features < 1:
            raise ValueError(f"need patch >= 2, overlap >= 0, embed_dim >= 1, in_features >= 1; got "
                             f"{patch}, {overlap}, {embed_dim}, {in_features}")
        self.variant, self.output = variant, output
        self.out_shape = tuple(int(s) for s in out_shape)
        self.patch, self.overlap, self.embed_dim = int(patch), int(overlap), int(embed_dim)
        if variant in ("deconv-conv5", "up-conv5"):
            self._build_inversionnet_style(in_features, tuple(dims))
            return
        self.grid = token_grid(self.out_shape, self.patch)
        n_tokens = self.grid[0] * self.grid[1]
        self.embed = nn.Linear(in_features, n_tokens * self.embed_dim)            # L1
        depth = {"transformer2": 2, "transformer3": 3}.get(variant, 1)
        if variant in ("conv2", "deconv1"):
            self.blocks = nn.ModuleList()
        else:
            self.blocks = nn.ModuleList(TransformerBlock(self.embed_dim, heads) for _ in range(depth))
        k = self.embed_dim
        self.stride = self.patch
        if variant == "conv2":
            self.mixer = nn.Sequential(nn.Conv2d(k, k, 3, padding=1), nn.GELU(),
                                       nn.Conv2d(k, k, 3, padding=1), nn.GELU())
        elif variant == "deconv1":
            if self.patch % 2:
                raise ValueError(f"the deconv1 decoder halves the patch; patch {self.patch} is odd")
            self.mixer = nn.Sequential(nn.ConvTranspose2d(k, k, 2, stride=2), nn.GELU())
            self.stride = self.patch // 2
        else:
            self.mixer = None
        self.block_size = self.stride + self.overlap
        self.lattice = (self.grid[0] * self.patch // self.stride, self.grid[1] * self.patch // self.stride)
        n_blocks = self.lattice[0] * self.lattice[1]
        if variant == "unshared-linear":
            self.head = UnsharedLinear(n_blocks, k, self.block_size ** 2)          # unshared Lr
        else:
            self.head = nn.Linear(k, self.block_size ** 2)                         # Lr

    def _build_inversionnet_style(self, in_features: int, dims: tuple[int, ...]) -> None:
        if len(dims) != 5:
            raise ValueError(f"need five channel widths (dim1..dim5), got {dims}")
        d1, d2, d3, d4, d5 = (int(d) for d in dims)
        nz, nx = self.out_shape
        first = (math.ceil(nz / 16), math.ceil(nx / 16))        # 5×5 for 70×70 (InversionNet's k5)
        self.embed = nn.Linear(in_features, d5)
        stages = [(d5, d5), (d5, d4), (d4, d3), (d3, d2), (d2, d1)]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(stages):
            if self.variant == "deconv-conv5":
                up = DeconvBlock(cin, cout, kernel_size=first) if i == 0 else \
                    DeconvBlock(cin, cout, kernel_size=4, stride=2, padding=1)
                layers += [up, ConvBlock(cout, cout)]
            else:
                up = nn.Upsample(size=first, mode="nearest") if i == 0 else nn.Upsample(scale_factor=2, mode="nearest")
                layers += [up, ConvBlock(cin, cout)]
        self.stages = nn.Sequential(*layers)
        self.final = nn.Conv2d(d1, 1, 3, padding=1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        b = y.shape[0]
        if self.variant in ("deconv-conv5", "up-conv5"):
            x = self.stages(self.embed(y)[:, :, None, None])
            x = self.final(center_crop(x, *self.out_shape))
        else:
            h, w = self.grid
            tokens = self.embed(y).view(b, h * w, self.embed_dim)                   # [B, L, k]
            for block in self.blocks:
                tokens = block(tokens)
            if self.mixer is not None:
                grid = tokens.transpose(1, 2).reshape(b, self.embed_dim, h, w)
                tokens = self.mixer(grid).flatten(2).transpose(1, 2)                # [B, L', k]
            blocks = self.head(tokens)                                              # [B, L', (s+d)²]
            x = center_crop(overlap_add(blocks, self.lattice, self.stride, self.block_size), *self.out_shape)
        return torch.tanh(x) if self.output == "tanh" else x


# --------------------------------------------------------------------------------------------
# The model


def _batches(data, batch_size: int) -> Iterable:
    if isinstance(data, torch.utils.data.Dataset):
        return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    return data


class InvLINT(nn.Module):
    """InvLINT: frozen integral-transform + ridge encoder, trained shallow decoder.

    Args:
        acquisition: geometry giving shots, ``nt``, receiver positions and ``(nz, nx)``
            (default :data:`~fwilab.physics.acquisition.OPENFWI`).
        n_sine: sine (encoder) kernels per shot, N (paper 2048).
        n_gauss: velocity-side kernels, M (paper 512).
        encoder_kernel: one of :data:`~fwilab.layers.integral.ENCODER_KERNELS` (default ``'sin'``).
        decoder_kernel: one of :data:`~fwilab.layers.integral.DECODER_KERNELS` (default ``'gaussian'``).
        target: ``'c'`` or ``'c2'``, see :func:`velocity_target`.
        decoder: one of :data:`DECODERS` (default ``'transformer'``).
        embed_dim, heads, patch, overlap, dims, output: see :class:`InvLINTDecoder`.
        alpha: ridge penalty used by :meth:`fit_encoder` (paper 1).
        velocity_range: ``(vmin, vmax)`` [m/s] of the normalisation, for ``target='c2'``.

    Forward: ``seismic [batch, shot, time, receiver]`` (normalised to [-1, 1]) →
    ``velocity [batch, 1, nz, nx]`` normalised (≈[-1, 1]). The encoder must be fitted first
    (:meth:`fit_encoder` or :meth:`fit_encoder_from`); it holds only buffers, so
    ``model.parameters()`` are the decoder's.
    """

    def __init__(self, acquisition: Acquisition | None = None, *, n_sine: int = N_SINE, n_gauss: int = N_GAUSS,
                 encoder_kernel: str = "sin", decoder_kernel: str = "gaussian", target: str = "c",
                 decoder: str = "transformer", embed_dim: int = EMBED_DIM, heads: int = HEADS,
                 patch: int = PATCH, overlap: int = OVERLAP, dims: tuple[int, ...] = OFFICIAL_DIMS,
                 output: str = "none", alpha: float = RIDGE_ALPHA,
                 velocity_range: tuple[float, float] = (VELOCITY_MIN, VELOCITY_MAX)):
        super().__init__()
        acq = acquisition if acquisition is not None else OPENFWI
        if target not in TARGETS:
            raise ValueError(f"unknown regression target {target!r}: choose one of {', '.join(TARGETS)}")
        if not (alpha >= 0 and math.isfinite(alpha)):
            raise ValueError(f"ridge alpha must be a finite number >= 0, got {alpha}")
        self.acquisition, self.target, self.alpha = acq, target, float(alpha)
        self.velocity_range = (float(velocity_range[0]), float(velocity_range[1]))
        self.seismic_transform = SeismicIntegralTransform.from_acquisition(acq, n_sine, encoder_kernel)
        self.velocity_transform = VelocityIntegralTransform.from_acquisition(acq, n_gauss, decoder_kernel)
        d, m = self.seismic_transform.out_features(), n_gauss
        self.n_features, self.n_targets = d, m
        # The frozen linear layer A (and its intercept), plus the fixed standardisation of Ŷ.
        self.register_buffer("ridge_weight", torch.zeros(m, d))                  # A [M, shot·N]
        self.register_buffer("ridge_bias", torch.zeros(m))                       # b [M]
        self.register_buffer("y_mean", torch.zeros(m))
        self.register_buffer("y_scale", torch.ones(()))
        self.register_buffer("encoder_fitted", torch.zeros((), dtype=torch.bool))
        self._fitted = False
        self.register_load_state_dict_post_hook(lambda module, keys: module._sync_fitted())
        self.decoder = InvLINTDecoder(m, (acq.nz, acq.nx), decoder, embed_dim, heads, patch, overlap, dims, output)

    def _sync_fitted(self) -> None:
        self._fitted = bool(self.encoder_fitted)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one input sample: (shot, time, receiver)."""
        return self.acquisition.seismic_shape

    # --- integral transforms -------------------------------------------------------------
    def transform_seismic(self, seismic: torch.Tensor) -> torch.Tensor:
        """``seismic [batch, shot, time, receiver]`` → ``U [batch, shot·N]``."""
        return self.seismic_transform(seismic)

    def transform_velocity(self, velocity: torch.Tensor) -> torch.Tensor:
        """Normalised ``velocity [batch, 1, nz, nx]`` → ``Y [batch, M]`` of the regression target."""
        if velocity.dim() == 4 and not torch.isfinite(velocity).all():
            raise ValueError("velocity holds NaN or infinite values")
        vmin, vmax = self.velocity_range
        return self.velocity_transform(velocity_target(velocity, self.target, vmin, vmax))

    @torch.no_grad()
    def integrals(self, data, batch_size: int = 64, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(U [n, shot·N], Y [n, M])`` on the CPU for a data set of ``(seismic, velocity)`` pairs.

        ``data``: a ``Dataset`` (batched here) or an iterable of ``(seismic, velocity)`` batches.
        """
        dev = self.ridge_weight.device
        Us, Ys = [], []
        for seismic, velocity in progress_bar(_batches(data, batch_size), desc="integral transforms", enabled=progress):
            Us.append(self.transform_seismic(seismic.to(dev)).cpu())
            Ys.append(self.transform_velocity(velocity.to(dev)).cpu())
        if not Us:
            raise ValueError("the data set is empty")
        return torch.cat(Us), torch.cat(Ys)

    # --- the frozen linear layer -----------------------------------------------------------
    def _set_ridge(self, ridge: RidgeMap, y_mean: torch.Tensor, y_scale: float) -> RidgeMap:
        if ridge.weight.shape != self.ridge_weight.shape:
            raise ValueError(f"ridge map is {tuple(ridge.weight.shape)}, the model needs "
                             f"{tuple(self.ridge_weight.shape)} (M × shot·N)")
        with torch.no_grad():
            self.ridge_weight.copy_(ridge.weight)
            self.ridge_bias.copy_(ridge.bias)
            self.y_mean.copy_(y_mean)
            self.y_scale.fill_(max(float(y_scale), 1e-12))
            self.encoder_fitted.fill_(True)
        self._fitted = True
        return ridge

    def fit_encoder(self, U: torch.Tensor, Y: torch.Tensor, alpha: float | None = None,
                    method: str = "auto") -> RidgeMap:
        """Solve ``Y ≈ A U + b`` by ridge regression (:func:`fit_linear_map`) and freeze it.

        ``U [n, shot·N]`` and ``Y [n, M]`` from :meth:`transform_seismic` / :meth:`transform_velocity`
        of the training set. Also records Y's mean and RMS, which standardise the decoder's input.
        Returns the float64 :class:`RidgeMap`.
        """
        ridge = fit_linear_map(U, Y, self.alpha if alpha is None else alpha, method)
        Y = torch.as_tensor(Y, dtype=torch.float64)
        y_mean = Y.mean(0)
        return self._set_ridge(ridge, y_mean, float((Y - y_mean).pow(2).mean().sqrt()))

    @torch.no_grad()
    def fit_encoder_from(self, data, batch_size: int = 64, alpha: float | None = None,
                         progress: bool = True) -> RidgeMap:
        """:meth:`fit_encoder` streamed over a data set of ``(seismic, velocity)`` pairs.

        Accumulates the normal equations batch by batch (:class:`RidgeNormalEquations`) on the
        model's device, so U is never held whole.
        """
        dev = self.ridge_weight.device
        acc = RidgeNormalEquations(self.n_features, self.n_targets, dev)
        syy = torch.zeros((), dtype=torch.float64, device=dev)
        for seismic, velocity in progress_bar(_batches(data, batch_size), desc="ridge fit", enabled=progress):
            Y = self.transform_velocity(velocity.to(dev))
            acc.update(self.transform_seismic(seismic.to(dev)), Y)
            syy += Y.to(torch.float64).pow(2).sum()
        ridge = acc.solve(self.alpha if alpha is None else alpha)
        y_mean = acc.sy / acc.n
        var = syy / (acc.n * self.n_targets) - y_mean.pow(2).mean()
        return self._set_ridge(ridge, y_mean, float(var.clamp_min(0).sqrt()))

    @property
    def ridge_map(self) -> RidgeMap:
        """The frozen linear layer as a float64 :class:`RidgeMap` (for diagnostics)."""
        return RidgeMap(self.ridge_weight.detach().double().cpu(), self.ridge_bias.detach().double().cpu(),
                        self.alpha, "frozen")

    # --- forward ---------------------------------------------------------------------------
    def encode(self, seismic: torch.Tensor) -> torch.Tensor:
        """``seismic [batch, shot, time, receiver]`` → ``Ŷ = A U + b  [batch, M]``."""
        if not self._fitted:
            raise RuntimeError("InvLINT's linear layer A is not fitted: call fit_encoder(U, Y) or "
                               "fit_encoder_from(dataset) before the forward pass")
        # Always float32, also under bf16/fp16 autocast (the fit loop's default on CUDA): U sums
        # ~1000 samples and A's rows cancel large terms, so an 8-bit mantissa would wreck Ŷ.
        with torch.autocast(device_type=seismic.device.type, enabled=False):
            U = self.transform_seismic(seismic.float())
            return U @ self.ridge_weight.T + self.ridge_bias

    def decode(self, Y: torch.Tensor) -> torch.Tensor:
        """``Y [batch, M]`` (kernel integrals, true or predicted) → ``velocity [batch, 1, nz, nx]``."""
        if Y.dim() != 2 or Y.shape[1] != self.n_targets:
            raise ValueError(f"decoder expects Y [batch, {self.n_targets}], got {tuple(Y.shape)}")
        return self.decoder((Y - self.y_mean) / self.y_scale)

    def forward(self, seismic: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(seismic))


__all__ = [
    "DECODERS",
    "EMBED_DIM",
    "InvLINT",
    "InvLINTDecoder",
    "RidgeMap",
    "RidgeNormalEquations",
    "TARGETS",
    "UnsharedLinear",
    "essential_dimensions",
    "fit_linear_map",
    "linearity_report",
    "overlap_add",
    "singular_values",
    "token_grid",
    "velocity_target",
]
