"""SPAMoE (spectrum-aware mixture of neural-operator experts) as the released code defines it.

Pipeline (``zhenyuwang12366/SPAMoE``; FACTS.md §2), shapes from the acquisition:

1. the shots side by side: ``[B, n_shots, nt, n_receivers]`` → ``[B, 1, nt, n_shots·n_receivers]``
   (OpenFWI 1 × 1000 × 350; normalisation happens in the data pipeline);
2. :class:`~fwilab.layers.vit.SeismicViTEncoder` (ViT-S/16-style, from scratch) →
   latent maps ``u: [B, C, nz, nx]`` (released C = 128);
3. :class:`~fwilab.layers.router.SpectralAttentionRouter` → gates, top-k combine weights and each
   expert's band-mixed input;
4. experts (:mod:`fwilab.layers.operators`: FNO, multiscale FNO "MNO", LocalNO "LNO") map their
   inputs to one channel; the output is ``Σ_e combine_weight[b, e] · expert_e(input_e)[b]``, an
   expert running only on the samples that selected it → velocity ``[B, 1, nz, nx]``
   (normalised units; the targets lie in [-1, 1]; no output activation as released unless
   ``output_activation="tanh"``).

Auxiliary terms and statistics: ``model(x)`` returns the velocity and stores a dict in
``model.aux`` (overwritten by every forward). A loss callable — :class:`SPAMoELoss` — reads it,
so the project's one fit loop (``loss(pred, target)``) trains SPAMoE unchanged. Keys:

==========================  =============================================================
``aux_loss``                0-d; what the configuration adds to the loss:
                            ``bound_weight·bound_penalty`` (``bound="hinge"``) +
                            ``load_balance`` (detached for ``load_balance="released"``) or
                            ``load_balance_uniform`` (``load_balance="uniform"``)
``bound_penalty``           0-d; ``mean_b relu(ρ_min − ρ_b)`` on the latent maps (with its
                            gradient when ``bound="hinge"``, detached when ``"off"``)
``load_balance``            0-d; ``α·MSE(mean gate, selection frequency)`` (always with its
                            gradient here; the configuration decides what enters ``aux_loss``)
``load_balance_uniform``    0-d; ``α·MSE(mean gate, 1/E)`` (the released code's commented-out
                            target: the one that balances; see :mod:`fwilab.layers.router`)
``rho``                     ``[B]`` energy ratio ``E_H/E_L`` of each sample's latent maps
``bound_active``            float; fraction of the batch with ``ρ < ρ_min``
``gates``                   ``[B, E]`` softmax gates
``combine_weights``         ``[B, E]`` renormalised top-k weights (0 off the top k)
``top_indices``             ``[B, k]``
``mean_gate``               ``[E]``
``selection_frequency``     ``[E]``
``band_mixing``             ``[E, E]`` the band-to-expert matrix ``w_eb``
``preference``              ``[E]`` the experts' frequency preferences ``f_e``
==========================  =============================================================

All but ``aux_loss`` / ``bound_penalty`` / ``load_balance`` / ``load_balance_uniform`` are detached.

The paper says the encoder *enforces* a lower bound on ρ; the released code only logs ρ
(``bound="off"``, the default). ``bound="hinge"`` enforces it. The paper's "MNO" (multiwavelet)
and "LNO" (local neural operator) are, in the released code, a multiscale FNO and neuralop's
LocalNO — see :mod:`fwilab.layers.operators`.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fwilab.layers.operators import EXPERT_KINDS, MNO_SCALES, build_expert
from fwilab.layers.router import BAND_MODES, GATE_MODES, ROUTING_MODES, SpectralAttentionRouter
from fwilab.layers.sobel import sobel_gradient_magnitude
from fwilab.layers.spectral import (
    HIGH_BAND,
    LOW_BAND,
    RADIUS_CONVENTIONS,
    energy_ratio,
    spectral_bound_penalty,
)
from fwilab.layers.vit import SeismicViTEncoder
from fwilab.physics.acquisition import OPENFWI, Acquisition

BOUND_MODES: tuple[str, ...] = ("off", "hinge")
LOAD_BALANCE_MODES: tuple[str, ...] = ("released", "gradient", "uniform", "off")
OUTPUT_ACTIVATIONS: tuple[str, ...] = ("none", "tanh")

#: SPAMoE config/seismic_moe_config.py: lambda_g1v, lambda_g2v, lambda_grad_l1, lambda_fourier_mag_l1.
RELEASED_LOSS_WEIGHTS: dict[str, float] = {"l1": 0.6, "mse": 0.4, "sobel": 0.15, "fourier": 0.10}


@dataclass(frozen=True)
class SPAMoEConfig:
    """Sizes and switches of a SPAMoE model. Build with :meth:`preset` (``smoke | cpu | full``).

    Geometry (from an :class:`~fwilab.physics.acquisition.Acquisition`): ``n_shots``, ``nt``,
    ``n_receivers``, ``nz``, ``nx``.

    Encoder: ``patch_size``, ``vit_dim``, ``vit_depth``, ``vit_heads``, ``vit_registers``;
    ``latent_channels`` C of the maps the router sees.

    Experts: ``experts`` (a subset/ordering of ``("fno", "mno", "lno")``), ``expert_width``
    (hidden channels), ``n_modes``, ``fno_layers`` (4), ``mno_layers`` (1 run, see operators),
    ``lno_layers`` (3), ``mno_scales``, ``mno_channel_ratio`` (hidden width of the MNO's lifting and
    projection MLPs as a multiple of ``expert_width``; released 4).

    Router: ``top_k``, ``routing`` (learned | uniform | random), ``bands`` (soft | hard | none),
    ``band_mixing``, ``freq_attention``, ``band_sharpness`` (20), ``affinity_sharpness`` (10),
    ``radius_convention``, ``gate_mode`` (released | repaired: log-magnitude gates pooled by the attention).

    Auxiliary terms: ``load_balance`` (released: the selection-target term added detached |
    gradient: the same with its gradient | uniform: target 1/E with its gradient | off),
    ``load_balance_weight`` α (0.1); ``bound`` (off as released | hinge), ``rho_min`` and
    ``bound_weight`` of the hinge; ``low_band``/``high_band`` of the ratio.
    """

    n_shots: int = 5
    nt: int = 1000
    n_receivers: int = 70
    nz: int = 70
    nx: int = 70
    patch_size: int = 16
    vit_dim: int = 384
    vit_depth: int = 12
    vit_heads: int = 6
    vit_registers: int = 4
    latent_channels: int = 128
    experts: tuple[str, ...] = EXPERT_KINDS
    expert_width: int = 96
    n_modes: int = 16
    fno_layers: int = 4
    mno_layers: int = 1
    lno_layers: int = 3
    mno_scales: tuple[float, ...] = MNO_SCALES
    mno_channel_ratio: int = 4
    top_k: int = 2
    routing: str = "learned"
    bands: str = "soft"
    band_mixing: bool = True
    freq_attention: bool = True
    band_sharpness: float = 20.0
    affinity_sharpness: float = 10.0
    radius_convention: str = "released"
    gate_mode: str = "released"
    load_balance: str = "released"
    load_balance_weight: float = 0.1
    bound: str = "off"
    rho_min: float = 0.0
    bound_weight: float = 1.0
    low_band: tuple[float, float] = LOW_BAND
    high_band: tuple[float, float] = HIGH_BAND
    output_activation: str = "none"

    def __post_init__(self) -> None:
        for name in ("experts", "mno_scales", "low_band", "high_band"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("n_shots", "nt", "n_receivers", "nz", "nx", "patch_size", "vit_dim", "vit_heads",
                     "latent_channels", "expert_width", "n_modes", "fno_layers", "mno_layers", "lno_layers",
                     "mno_channel_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SPAMoEConfig.{name} must be a positive integer, got {value!r}")
        for name in ("vit_depth", "vit_registers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"SPAMoEConfig.{name} must be an integer ≥ 0, got {getattr(self, name)!r}")
        if self.vit_dim % self.vit_heads:
            raise ValueError(f"vit_dim {self.vit_dim} is not divisible by vit_heads {self.vit_heads}")
        if not self.experts or any(e not in EXPERT_KINDS for e in self.experts):
            raise ValueError(f"experts must be a non-empty subset of {EXPERT_KINDS}, got {self.experts}")
        if not 1 <= self.top_k <= len(self.experts):
            raise ValueError(f"top_k ({self.top_k}) must be between 1 and the number of experts ({len(self.experts)})")
        choices = (("routing", ROUTING_MODES), ("bands", BAND_MODES), ("load_balance", LOAD_BALANCE_MODES),
                   ("gate_mode", GATE_MODES),
                   ("bound", BOUND_MODES), ("radius_convention", RADIUS_CONVENTIONS),
                   ("output_activation", OUTPUT_ACTIVATIONS))
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise ValueError(f"SPAMoEConfig.{name}={getattr(self, name)!r}: choose one of {allowed}")
        for name in ("band_sharpness", "affinity_sharpness", "load_balance_weight", "rho_min", "bound_weight"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"SPAMoEConfig.{name} must be a finite number ≥ 0, got {getattr(self, name)!r}")
        for name in ("low_band", "high_band"):
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi:
                raise ValueError(f"SPAMoEConfig.{name} needs 0 ≤ lo < hi, got {getattr(self, name)}")
        if any(not 0 < s <= 1 for s in self.mno_scales) or not self.mno_scales:
            raise ValueError(f"mno_scales must lie in (0, 1], got {self.mno_scales}")

    @property
    def input_shape(self) -> tuple[int, int]:
        """``(nt, n_shots·n_receivers)``: the side-by-side gathers the encoder reads."""
        return self.nt, self.n_shots * self.n_receivers

    @property
    def n_experts(self) -> int:
        return len(self.experts)

    def replace(self, **changes: Any) -> "SPAMoEConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def preset(cls, profile: str, acquisition: Acquisition = OPENFWI, **overrides: Any) -> "SPAMoEConfig":
        """Sizes per profile, geometry from ``acquisition``; ``overrides`` set any field.

        - ``smoke``: a ViT of width 32 and depth 1, 8 latent channels, width-8 experts with
          4 modes — seconds on a CPU.
        - ``cpu``: ViT width 96, depth 2, 3 heads; 12 latent channels; width-12 experts with
          8 modes, FNO 2 layers, LNO 2 layers, MNO MLPs 2× wide — ≈ 43 training samples/s on 2 quiet
          cores at nt 250, batch 32 (16 channels, width 16 and 4× MNO MLPs: ≈ 24/s; the experts and the
          ViT's token maps are memory-bound at 70 × 70, so width costs more than the FLOPs suggest).
        - ``full``: as released (ViT-S/16 shape: 384 wide, 12 deep, 6 heads, 4 registers;
          128 latent channels; width-96 experts, 16 modes, FNO 4 / MNO 1 run / LNO 3 layers).
        """
        sizes: dict[str, dict[str, Any]] = {
            "smoke": dict(vit_dim=32, vit_depth=1, vit_heads=2, vit_registers=0, latent_channels=8,
                          expert_width=8, n_modes=4, fno_layers=2, mno_layers=1, lno_layers=1),
            "cpu": dict(vit_dim=96, vit_depth=2, vit_heads=3, vit_registers=0, latent_channels=12,
                        expert_width=12, n_modes=8, fno_layers=2, mno_layers=1, lno_layers=2, mno_channel_ratio=2),
            "full": dict(),
        }
        if profile not in sizes:
            raise ValueError(f"unknown profile {profile!r}: choose one of {tuple(sizes)}")
        geometry = dict(n_shots=acquisition.n_shots, nt=acquisition.nt, n_receivers=acquisition.n_receivers,
                        nz=acquisition.nz, nx=acquisition.nx)
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown SPAMoEConfig field(s): {sorted(unknown)}")
        return cls(**{**geometry, **sizes[profile], **overrides})


def shots_side_by_side(seismic: torch.Tensor) -> torch.Tensor:
    """``[B, n_shots, nt, n_receivers]`` → ``[B, 1, nt, n_shots·n_receivers]`` (shot 0 leftmost)."""
    if seismic.dim() != 4:
        raise ValueError(f"expected seismic [batch, shot, time, receiver], got shape {tuple(seismic.shape)}")
    b, s, t, r = seismic.shape
    return seismic.permute(0, 2, 1, 3).reshape(b, 1, t, s * r)


class SPAMoE(nn.Module):
    """SPAMoE: ViT encoder → spectral router → mixture of FNO / MNO / LNO experts.

    Forward: ``seismic [B, n_shots, nt, n_receivers]`` (or already side by side,
    ``[B, 1, nt, n_shots·n_receivers]``), normalised → ``velocity [B, 1, nz, nx]`` (normalised).
    Sets :attr:`aux` (see the module docstring).
    """

    #: a step leaves some parameters without a gradient (the experts no sample was routed to; the router
    #: under fixed routing): data-parallel training must not wait for them (see fwilab.training.fit)
    has_unused_parameters: bool = True

    def __init__(self, config: SPAMoEConfig | None = None):
        super().__init__()
        self.config = config = config or SPAMoEConfig()
        grid = (config.nz, config.nx)
        self.encoder = SeismicViTEncoder(config.input_shape, config.latent_channels, grid, config.patch_size,
                                         config.vit_dim, config.vit_depth, config.vit_heads,
                                         n_registers=config.vit_registers)
        self.router = SpectralAttentionRouter(
            config.latent_channels, config.n_experts, config.top_k, routing=config.routing, bands=config.bands,
            band_mixing=config.band_mixing, freq_attention=config.freq_attention,
            band_sharpness=config.band_sharpness, affinity_sharpness=config.affinity_sharpness,
            load_balance_weight=config.load_balance_weight, radius_convention=config.radius_convention,
            gate_mode=config.gate_mode)
        depth = {"fno": config.fno_layers, "mno": config.mno_layers, "lno": config.lno_layers}
        self.experts = nn.ModuleList(
            build_expert(kind, config.latent_channels, 1, config.expert_width, config.n_modes, grid,
                         depth[kind], config.mno_scales, mno_channel_ratio=config.mno_channel_ratio)
            for kind in config.experts)
        self.aux: dict[str, Any] = {}

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Tensors only. neuralop's experts (``BaseModel``) add a ``_metadata`` dict *at the top level* of
        a parent's state dict (and warn when a second expert does it again); it is dropped here so
        the state dict holds tensors only, as checkpoints and best-state copies expect."""
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Attempting to update metadata")
            state = super().state_dict(*args, **kwargs)
        state.pop("_metadata", None)
        return state

    def side_by_side(self, seismic: torch.Tensor) -> torch.Tensor:
        c = self.config
        if seismic.dim() == 4 and tuple(seismic.shape[1:]) == (c.n_shots, c.nt, c.n_receivers):
            return shots_side_by_side(seismic)
        if seismic.dim() == 4 and tuple(seismic.shape[1:]) == (1, *c.input_shape):
            return seismic
        raise ValueError(f"SPAMoE expects seismic [batch, {c.n_shots}, {c.nt}, {c.n_receivers}] or "
                         f"[batch, 1, {c.nt}, {c.n_shots * c.n_receivers}], got shape {tuple(seismic.shape)}")

    def encode(self, seismic: torch.Tensor) -> torch.Tensor:
        """Latent maps ``[B, latent_channels, nz, nx]`` (the maps the spectral bound acts on)."""
        return self.encoder(self.side_by_side(seismic))

    def mix_experts(self, latent: torch.Tensor) -> torch.Tensor:
        """Route ``latent`` through the experts (updates :attr:`aux`); returns ``[B, 1, nz, nx]``.

        Runs in float32 with autocast off, whatever the caller's autocast: the router and the operator
        experts are FFTs, which CUDA has no bfloat16 kernels for (and float16 ones only at power-of-two
        sizes; the map is 70 × 70)."""
        with _float32(latent) as latent:
            return self._mix_experts(latent)

    def _mix_experts(self, latent: torch.Tensor) -> torch.Tensor:
        routing = self.router(latent)
        out = latent.new_zeros(latent.shape[0], 1, *latent.shape[-2:])
        for e, expert in enumerate(self.experts):
            chosen = (routing.combine_weights[:, e] > 0).nonzero(as_tuple=True)[0]
            if chosen.numel() == 0:
                continue   # an unrouted expert runs on nothing and receives no gradient
            y = expert(routing.expert_inputs[e, chosen])
            out = out.index_add(0, chosen, routing.combine_weights[chosen, e].view(-1, 1, 1, 1) * y)
        self.aux.update(
            load_balance=routing.load_balance,
            load_balance_uniform=routing.load_balance_uniform,
            gates=routing.gates.detach(),
            combine_weights=routing.combine_weights.detach(),
            top_indices=routing.top_indices,
            mean_gate=routing.mean_gate,
            selection_frequency=routing.selection_frequency,
            band_mixing=routing.band_mixing,
            preference=routing.preference,
        )
        return out

    def forward(self, seismic: torch.Tensor) -> torch.Tensor:
        c = self.config
        latent = self.encode(seismic)   # under the caller's autocast (bf16 on CUDA in the fit loop)
        with _float32(latent) as latent:   # the ratio and the experts are FFTs: float32 (see mix_experts)
            rho = energy_ratio(latent, c.low_band, c.high_band, c.radius_convention)
            penalty = spectral_bound_penalty(rho, c.rho_min)
            self.aux = {"rho": rho.detach(), "bound_active": float((rho.detach() < c.rho_min).float().mean()),
                        "bound_penalty": penalty if c.bound == "hinge" else penalty.detach()}
            velocity = self._mix_experts(latent)
        aux_loss = latent.new_zeros(())
        if c.bound == "hinge":
            aux_loss = aux_loss + c.bound_weight * penalty
        if c.load_balance == "released":   # as released: in the loss value, no gradient
            aux_loss = aux_loss + self.aux["load_balance"].detach()
        elif c.load_balance == "gradient":
            aux_loss = aux_loss + self.aux["load_balance"]
        elif c.load_balance == "uniform":   # the released code's commented-out target 1/E, with gradient
            aux_loss = aux_loss + self.aux["load_balance_uniform"]
        self.aux["aux_loss"] = aux_loss
        return torch.tanh(velocity) if c.output_activation == "tanh" else velocity


@contextlib.contextmanager
def _float32(x: torch.Tensor):
    """Autocast off, and ``x`` as float32, for the block."""
    with torch.autocast(x.device.type, enabled=False):
        yield x.float()


# ----------------------------------------------------------------------------- released loss


def windowed_fourier_magnitude(v: torch.Tensor) -> torch.Tensor:
    """``|rfft2(w·v − mean(w·v))|`` with a 2-D Hann window, orthonormal FFT (released ``FourierMagL1``).

    ``w[i, j] = hann(H)[i]·hann(W)[j]`` (periodic Hann, ``torch.hann_window``): ``[B, C, H, W]`` →
    ``[B, C, H, W//2 + 1]``. A constant ``c`` gives ``|c|·√(HW)/2`` summed over all bins.
    """
    if v.dim() != 4:
        raise ValueError(f"expected [batch, channel, H, W], got shape {tuple(v.shape)}")
    h, w = v.shape[-2:]
    window = torch.hann_window(h, device=v.device, dtype=v.dtype)[:, None] * \
        torch.hann_window(w, device=v.device, dtype=v.dtype)[None, :]
    windowed = v * window
    windowed = windowed - windowed.mean(dim=(-2, -1), keepdim=True)
    return torch.fft.rfftn(windowed, dim=(-2, -1), norm="ortho").abs()


class SPAMoELoss:
    """Released SPAMoE loss plus the model's auxiliary terms.

    ``loss = 0.6·L1 + 0.4·MSE + 0.15·L1(|∇pred|, |∇target|) + 0.10·L1(|F pred|, |F target|)
    + model.aux["aux_loss"]`` (the Sobel and Hann-windowed FFT-magnitude terms of
    :func:`sobel_gradient_magnitude` and :func:`windowed_fourier_magnitude`).

    ``model.aux["aux_loss"]`` holds what the model's configuration adds: the spectral hinge
    (``bound="hinge"``, times ``bound_weight``) and the load-balancing term (detached when
    ``load_balance="released"``, as released; with gradient for ``"gradient"``; the uniform-target
    term with gradient for ``"uniform"``; absent for ``"off"``). Give ``model=None`` for the
    reconstruction terms alone. Call it right after the model's forward on the same batch (the fit
    loop does).

    ``with_parts(pred, target)`` returns ``(total, parts)`` with every term detached for logging:
    ``l1, mse, sobel, fourier, bound_penalty, load_balance, rho_mean, bound_active``.
    """

    def __init__(self, model: SPAMoE | None = None, weights: dict[str, float] | None = None):
        self.model = model
        self.weights = dict(RELEASED_LOSS_WEIGHTS)
        for name, value in (weights or {}).items():
            if name not in self.weights:
                raise ValueError(f"unknown SPAMoELoss term {name!r}: choose from {tuple(self.weights)}")
            if not math.isfinite(float(value)):
                raise ValueError(f"SPAMoELoss weight {name!r} must be finite, got {value!r}")
            self.weights[name] = float(value)

    def terms(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        if pred.shape != target.shape:
            raise ValueError(f"prediction and target differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
        return {
            "l1": F.l1_loss(pred, target),
            "mse": F.mse_loss(pred, target),
            "sobel": F.l1_loss(sobel_gradient_magnitude(pred), sobel_gradient_magnitude(target)),
            "fourier": F.l1_loss(windowed_fourier_magnitude(pred), windowed_fourier_magnitude(target)),
        }

    def with_parts(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        terms = self.terms(pred, target)
        total = sum(self.weights[name] * value for name, value in terms.items())
        parts = {name: value.detach() for name, value in terms.items()}
        if self.model is not None:
            aux = self.model.aux
            if "aux_loss" not in aux:
                raise ValueError("SPAMoELoss: the model has not run a forward pass yet (model.aux is empty)")
            total = total + aux["aux_loss"]
            parts.update(bound_penalty=aux["bound_penalty"].detach(), load_balance=aux["load_balance"].detach(),
                         rho_mean=aux["rho"].mean(),
                         bound_active=torch.tensor(aux["bound_active"], device=total.device))
        return total, parts

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.with_parts(pred, target)[0]

    def __repr__(self) -> str:
        body = " + ".join(f"{w:g}·{name}" for name, w in self.weights.items())
        return f"SPAMoELoss({body}{' + aux' if self.model is not None else ''})"


__all__ = ["BOUND_MODES", "LOAD_BALANCE_MODES", "OUTPUT_ACTIVATIONS", "RELEASED_LOSS_WEIGHTS", "SPAMoE",
           "SPAMoEConfig", "SPAMoELoss", "shots_side_by_side", "sobel_gradient_magnitude",
           "windowed_fourier_magnitude"]
