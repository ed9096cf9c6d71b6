"""SPAMoE's frequency router: spectral attention gates, top-k selection and radial band routing.

As released (``zhenyuwang12366/SPAMoE``, ``neuralop/models/afreqmoe.py``; FACTS.md §2), for
feature maps ``x: [batch, C, H, W]`` and ``E`` experts:

1. **Gates.** ``A = |fftshift(fft2 x)|``; ``q, k, v = 1×1-conv(A)``; attention over positions
   ``a = softmax_{hw}(Σ_c q·k / √C)``; ``F = 1×1-conv(a · v)``;
   ``gates = softmax(Linear(global-average-pool(F)))`` over the E experts.
2. **Top-k.** The k largest gates per sample, renormalised to sum to one; the other experts get
   weight exactly 0 (:func:`top_k_gates`).
3. **Bands.** Radial masks on the shifted spectrum with centres ``c_b = linspace(0, 1, E)``
   (one band per expert): soft ``exp(−s (r − c_b)²)``, s = 20, or hard (nearest centre).
4. **Band mixing.** Each expert has a learnable preference ``f_e`` (init ``linspace(0, 1, E)``);
   ``w_eb = softmax_b(−λ (f_e − c_b)²)``, λ = 10; expert e's input is ``Σ_b w_eb · band_b``.
5. **Load balance.** ``α · MSE(mean_batch gates, top-k selection frequency)``, α = 0.1. Despite its
   name this term does not balance: its target is the router's own hard selection, so with its gradient
   it pulls each expert's mean gate toward its selection share, and an expert selected more often than
   its mean gate (the usual case: top-k sharpens) gains gate mass. It is minimised by *any* routing whose
   soft gates agree with its hard choices, collapsed ones included (all samples on (0.5, 0.5, 0) costs
   exactly 0), and optimising it alone concentrates the selections (``tests/layers/test_router.py``).
   The released code names the alternative in a comment, a uniform target ``1/E``:
   ``α · MSE(mean_batch gates, 1/E)`` (``load_balance_uniform``), which does push toward balance.

Why the released router collapses (measured at initialisation on OpenFWI-scale latent maps; the routing
chapter records it over training): the attention reads the *unnormalised* magnitude spectrum, whose DC
bin is ~180× the median bin, so the scores ``q·k/√C`` reach ~1e6 and the softmax over positions is one-hot
(almost no gradient passes it); the gate logits then vary across samples far less than their biases
differ between experts, so every sample picks the same experts; and after top-k renormalisation the task
loss sees only the difference of the selected logits, so an unselected expert gets no task gradient and is
never promoted. Behind the second: the attention-weighted map is averaged over the H·W positions, so the
pooled feature is ~1/(H·W) of ``v`` (the attention sums to one) and the gate's bias outweighs it.
``gate_mode="repaired"`` is the minimal repair offered as a labelled variant: the gates read
``log1p(|F|)``, which keeps the spectrum's shape and brings the scores to order one, and pool by the
attention (the sum over positions of the attention-weighted map: an attention-weighted mean of ``v``).

Options for the ablations (``routing``, ``bands``, ``band_mixing``, ``freq_attention``) follow the
released runner (``exp/run_afreqmoe_pipeline.py``), with one deliberate difference: the released
"full band" ablation only *approximates* "no decomposition" (band mixing off and s = 0.1, so each
expert sees its input multiplied by ``exp(−0.1 (r − c_e)²) ∈ [0.90, 1]``); here ``bands="none"``
gives every expert the unmodified input.

Routing modes: ``"learned"`` (above); ``"uniform"`` — as released, gates are uniform 1/E and the
*first k experts* are always selected with weight 1/k (so with k = 1 it forces expert 0);
``"random"`` — k experts drawn uniformly at random per sample, weight 1/k.

What the decomposition preserves: hard bands partition the spectrum, so without band mixing the
experts' inputs sum back to the input exactly. With mixing, ``Σ_e input_e = Σ_b (Σ_e w_eb) band_b``:
``w`` has unit rows but not unit columns (0.995, 1.011, 0.995 at initialisation for E = 3), and
once the preferences move the sum drifts further. Soft bands are not normalised
(:func:`~fwilab.layers.spectral.soft_band_masks`): their sum is the input filtered by
``S(r) ∈ [0.57, 1.013]``.

Everything the routing chapter measures comes back in :class:`Routing`: the full gates, the
combine weights, the top-k indices, the batch mean gate, the selection frequency and the
band-to-expert mixing matrix ``w_eb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fwilab.layers.spectral import (
    BAND_SHARPNESS,
    RADIUS_CONVENTIONS,
    band_centres,
    filter_real,
    hard_band_masks,
    normalised_radius,
    soft_band_masks,
)

#: SPAMoE released router (afreqmoe.py ``freq_affinity_sharpness``): λ = 10.
AFFINITY_SHARPNESS: float = 10.0
#: SPAMoE released MoE (moe.py / run_afreqmoe_pipeline.py ``aux_loss_weight``): α = 0.1.
LOAD_BALANCE_WEIGHT: float = 0.1

ROUTING_MODES: tuple[str, ...] = ("learned", "uniform", "random")
BAND_MODES: tuple[str, ...] = ("soft", "hard", "none")
#: how the gates read the spectrum: as released, or repaired (see the module docstring)
GATE_MODES: tuple[str, ...] = ("released", "repaired")


@dataclass
class Routing:
    """One router pass over a batch of ``B`` samples and ``E`` experts.

    Attributes:
        expert_inputs: ``[E, B, C, H, W]`` — what each expert would receive.
        combine_weights: ``[B, E]`` — renormalised top-k weights, exactly 0 for unselected experts
            (differentiable for learned routing).
        gates: ``[B, E]`` — softmax gates before top-k (differentiable).
        top_indices: ``[B, k]`` — selected experts, largest gate first.
        load_balance: 0-d — ``α · MSE(mean gate, selection frequency)`` with its gradient (released).
        load_balance_uniform: 0-d — ``α · MSE(mean gate, 1/E)`` with its gradient (the released
            code's commented-out alternative target).
        mean_gate: ``[E]`` — batch mean of ``gates`` (detached).
        selection_frequency: ``[E]`` — share of the ``B·k`` selections that went to each expert
            (sums to 1; detached).
        band_mixing: ``[E, n_bands]`` — ``w_eb`` (detached), rows sum to 1.
        preference: ``[E]`` — the experts' frequency preferences ``f_e`` (detached).
    """

    expert_inputs: torch.Tensor
    combine_weights: torch.Tensor
    gates: torch.Tensor
    top_indices: torch.Tensor
    load_balance: torch.Tensor
    load_balance_uniform: torch.Tensor
    mean_gate: torch.Tensor
    selection_frequency: torch.Tensor
    band_mixing: torch.Tensor
    preference: torch.Tensor


def top_k_gates(gates: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the k largest gates per row and renormalise them to sum to one.

    ``gates: [B, E]`` → ``(combine_weights [B, E], indices [B, k])``; the combine weights are
    exactly 0 outside the k selected experts and differentiable w.r.t. the selected gates.
    """
    if gates.dim() != 2:
        raise ValueError(f"gates must be [batch, experts], got shape {tuple(gates.shape)}")
    if not 1 <= int(k) <= gates.shape[1]:
        raise ValueError(f"top_k must be in [1, {gates.shape[1]}], got {k}")
    values, indices = torch.topk(gates, int(k), dim=-1)
    values = values / values.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    return torch.zeros_like(gates).scatter(1, indices, values), indices


def band_mixing_weights(preference: torch.Tensor, centres: torch.Tensor,
                        sharpness: float = AFFINITY_SHARPNESS) -> torch.Tensor:
    """``w_eb = softmax_b(−λ (f_e − c_b)²)``: ``[E, n_bands]``, rows sum to one."""
    return torch.softmax(-float(sharpness) * (preference[:, None] - centres[None, :]) ** 2, dim=-1)


def selection_frequency(indices: torch.Tensor, n_experts: int) -> torch.Tensor:
    """Share of all top-k selections ``indices: [B, k]`` that went to each expert: ``[E]``."""
    return F.one_hot(indices.reshape(-1), num_classes=n_experts).to(torch.float32).mean(dim=0)


def load_balance_loss(gates: torch.Tensor, indices: torch.Tensor,
                      weight: float = LOAD_BALANCE_WEIGHT, target: str = "selection") -> torch.Tensor:
    """Load-balancing term ``α · MSE(mean_b gates, t)`` (0-d): ``target="selection"`` takes ``t`` = the
    top-k selection frequency (released; a count, no gradient), ``"uniform"`` takes ``t = 1/E`` (the
    released code's commented-out alternative). The gradient flows through the gates. Only the
    uniform target balances (see the module docstring).
    """
    if target == "selection":
        t = selection_frequency(indices, gates.shape[1]).to(gates.dtype)
    elif target == "uniform":
        t = torch.full((gates.shape[1],), 1.0 / gates.shape[1], device=gates.device, dtype=gates.dtype)
    else:
        raise ValueError(f"target must be 'selection' or 'uniform', got {target!r}")
    return float(weight) * F.mse_loss(gates.mean(dim=0), t)


class SpectralAttentionRouter(nn.Module):
    """Frequency router of SPAMoE (see the module docstring for the equations).

    Args:
        channels: ``C`` of the feature maps routed.
        n_experts: ``E`` (also the number of radial bands, as released).
        top_k: experts per sample (1 ≤ k ≤ E; released default 2).
        routing: ``"learned" | "uniform" | "random"``.
        bands: ``"soft" | "hard" | "none"`` (``"none"``: every expert sees the whole input).
        band_mixing: mix bands by preference (released) or give expert e band e directly.
        freq_attention: refine the magnitude spectrum with attention before the gate (released).
        gate_mode: ``"released"`` or ``"repaired"`` (the gates read ``log1p|F|`` and pool by the attention).
        band_sharpness: ``s`` of the soft masks (20).
        affinity_sharpness: ``λ`` of the band mixing (10).
        load_balance_weight: ``α`` (0.1).
        radius_convention: see :func:`fwilab.layers.spectral.normalised_radius`.

    Forward: ``x: [B, C, H, W]`` → :class:`Routing`.
    """

    def __init__(self, channels: int, n_experts: int, top_k: int = 2, *, routing: str = "learned",
                 bands: str = "soft", band_mixing: bool = True, freq_attention: bool = True,
                 band_sharpness: float = BAND_SHARPNESS, affinity_sharpness: float = AFFINITY_SHARPNESS,
                 load_balance_weight: float = LOAD_BALANCE_WEIGHT, radius_convention: str = "released",
                 gate_mode: str = "released"):
        super().__init__()
        if int(channels) < 1 or int(n_experts) < 1:
            raise ValueError(f"channels and n_experts must be ≥ 1, got {channels}, {n_experts}")
        if not 1 <= int(top_k) <= int(n_experts):
            raise ValueError(f"top_k must be in [1, n_experts={n_experts}], got {top_k}")
        if routing not in ROUTING_MODES:
            raise ValueError(f"unknown routing {routing!r}: choose one of {ROUTING_MODES}")
        if bands not in BAND_MODES:
            raise ValueError(f"unknown bands {bands!r}: choose one of {BAND_MODES}")
        if gate_mode not in GATE_MODES:
            raise ValueError(f"unknown gate mode {gate_mode!r}: choose one of {GATE_MODES}")
        if radius_convention not in RADIUS_CONVENTIONS:
            raise ValueError(f"unknown radius convention {radius_convention!r}: choose one of {RADIUS_CONVENTIONS}")
        for name, value in (("band_sharpness", band_sharpness), ("affinity_sharpness", affinity_sharpness),
                            ("load_balance_weight", load_balance_weight)):
            if not (math.isfinite(float(value)) and float(value) >= 0):
                raise ValueError(f"{name} must be a finite number ≥ 0, got {value}")
        self.channels, self.n_experts, self.top_k = int(channels), int(n_experts), int(top_k)
        self.routing, self.bands, self.band_mixing = routing, bands, bool(band_mixing)
        self.freq_attention = bool(freq_attention)
        self.gate_mode = gate_mode
        self.band_sharpness, self.affinity_sharpness = float(band_sharpness), float(affinity_sharpness)
        self.load_balance_weight = float(load_balance_weight)
        self.radius_convention = radius_convention

        self.qkv = nn.Conv2d(self.channels, 3 * self.channels, kernel_size=1)
        self.attention_out = nn.Conv2d(self.channels, self.channels, kernel_size=1)
        self.gate = nn.Linear(self.channels, self.n_experts)
        self.register_buffer("band_centres", band_centres(self.n_experts), persistent=False)
        self.preference = nn.Parameter(band_centres(self.n_experts).clone())

    # -- pieces ---------------------------------------------------------------------------------
    def gate_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(logits [B, E], attention [B, H·W] or None)``: the gate logits before the softmax and the
        attention over positions (None without ``freq_attention``)."""
        # fft2's own layout, not the centred one: the attention and its pooling treat positions alike
        # (1×1 convolutions, a softmax over positions, a sum), so the logits and the attention's
        # entropy and peak do not depend on the layout, and the shift (two rolls) is skipped
        amplitude = torch.fft.fft2(x, dim=(-2, -1)).abs()                  # [B, C, H, W]
        repaired = self.gate_mode == "repaired"
        if repaired:
            amplitude = torch.log1p(amplitude)
        attention = None
        if self.freq_attention:
            b, c, h, w = amplitude.shape
            q, k, v = self.qkv(amplitude).chunk(3, dim=1)
            scores = (q * k).sum(dim=1).reshape(b, h * w) / math.sqrt(c)
            attention = torch.softmax(scores, dim=-1)                       # over positions
            refined = self.attention_out(attention.reshape(b, 1, h, w) * v)
            pooled = refined.sum(dim=(-2, -1)) if repaired else refined.mean(dim=(-2, -1))
        else:
            pooled = amplitude.mean(dim=(-2, -1))
        return self.gate(pooled), attention

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """Learned softmax gates ``[B, E]`` from the attention-refined magnitude spectrum."""
        return torch.softmax(self.gate_parts(x)[0], dim=-1)

    def band_masks(self, height: int, width: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
        """Radial band masks ``[E, H, W]`` (soft or hard; ``bands="none"`` has none)."""
        if self.bands == "none":
            raise ValueError("bands='none' uses no band masks")
        r = normalised_radius(height, width, self.radius_convention, device=device, dtype=dtype)
        centres = self.band_centres.to(device=device, dtype=dtype)
        if self.bands == "soft":
            return soft_band_masks(r, centres, self.band_sharpness)
        return hard_band_masks(r, centres)

    def mixing_matrix(self) -> torch.Tensor:
        """Band-to-expert mixing ``w_eb``: ``[E, n_bands]`` (identity when band mixing is off)."""
        if not self.band_mixing:
            return torch.eye(self.n_experts, device=self.preference.device, dtype=self.preference.dtype)
        return band_mixing_weights(self.preference, self.band_centres.to(self.preference), self.affinity_sharpness)

    def expert_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Each expert's input ``[E, B, C, H, W]``: ``Σ_b w_eb band_b`` (or ``x`` itself).

        The bands are linear in the masks, so the mixing is applied to the masks first
        (``Σ_b w_eb M_b``), and one filter per expert runs (:func:`~fwilab.layers.spectral.filter_real`)."""
        if self.bands == "none":
            return x.unsqueeze(0).expand(self.n_experts, *x.shape)
        dtype = x.dtype if torch.is_floating_point(x) else torch.float32
        masks = self.band_masks(x.shape[-2], x.shape[-1], device=x.device, dtype=dtype)    # [n_bands, H, W]
        mixed = torch.einsum("eb,bhw->ehw", self.mixing_matrix().to(masks.dtype), masks)   # [E, H, W]
        return filter_real(x, mixed)

    # -- forward --------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> Routing:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"router expects [batch, {self.channels}, H, W], got shape {tuple(x.shape)}")
        batch, n = x.shape[0], self.n_experts
        if self.routing == "learned":
            gates = self.gates(x)
            combine, indices = top_k_gates(gates, self.top_k)
        else:
            gates = torch.full((batch, n), 1.0 / n, device=x.device, dtype=x.dtype)
            if self.routing == "uniform":   # released: always the first k experts
                indices = torch.arange(self.top_k, device=x.device).expand(batch, self.top_k)
            else:
                indices = torch.rand(batch, n, device=x.device).argsort(dim=-1)[:, : self.top_k]
            combine = torch.zeros_like(gates).scatter(1, indices, 1.0 / self.top_k)
        return Routing(
            expert_inputs=self.expert_inputs(x),
            combine_weights=combine,
            gates=gates,
            top_indices=indices,
            load_balance=load_balance_loss(gates, indices, self.load_balance_weight),
            load_balance_uniform=load_balance_loss(gates, indices, self.load_balance_weight, target="uniform"),
            mean_gate=gates.detach().mean(dim=0),
            selection_frequency=selection_frequency(indices, n).to(x.device),
            band_mixing=self.mixing_matrix().detach(),
            preference=self.preference.detach().clone(),
        )


__all__ = [
    "AFFINITY_SHARPNESS",
    "BAND_MODES",
    "GATE_MODES",
    "LOAD_BALANCE_WEIGHT",
    "ROUTING_MODES",
    "Routing",
    "SpectralAttentionRouter",
    "band_mixing_weights",
    "load_balance_loss",
    "selection_frequency",
    "top_k_gates",
]
