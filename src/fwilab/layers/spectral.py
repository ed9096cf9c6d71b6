"""Radial frequency bands, the high-to-low energy ratio and SPAMoE's spectral lower bound.

Everything here works on the centred 2-D spectrum ``fftshift(fft2(u))`` of feature maps
``u: [batch, channel, height, width]`` (any real units; the ratio is dimensionless).

Normalised radius
-----------------
SPAMoE's released router (``neuralop/models/afreqmoe.py``, ``make_radius_grid``) builds the radius
on the *shifted* spectrum as::

    ky = linspace(-1, 1, H), kx = linspace(-1, 1, W), r = sqrt(kx² + ky²) / max(r)

so ``r = 1`` at the **corners** of the spectrum (the diagonal Nyquist frequency), and a pure
Nyquist frequency along one axis sits at ``r ≈ 1/√2 ≈ 0.707``. Because ``linspace(-1, 1, n)``
has no sample at 0 for even ``n``, the zero frequency (DC, index ``n // 2`` after the shift)
lands at ``r = √2/(n − 1) / √2 = 1/(n − 1)`` per even axis (0.0145 for 70 × 70, 0.067 for 16 × 16),
and the grid spacing is ``2/(n − 1)`` instead of the true ``2/n`` — this is convention
``"released"`` (the default).

Convention ``"centred"`` uses the true DFT frequencies ``fftshift(fftfreq(n))`` (DC exactly at
``r = 0``), normalised the same way (``r = 1`` at the corner). The two differ by at most one grid
step; they matter only on small grids, where the released DC offset can put the DC bin inside
the low band ``[0.05, 0.30)``.

The released HF diagnostic's bands are low ``r ∈ [0.05, 0.30)`` and high ``r ∈ [0.40, 0.85)``
(FACTS.md §2). With ``r = 1`` at the corner, the high band therefore leaves out the outermost
diagonal frequencies (``r ≥ 0.85``), e.g. the one-pixel checkerboard ``(−1)^(i+j)`` whose energy
sits exactly at ``r = 1`` has *no* high-band energy; stripes ``(−1)^j`` (``r ≈ 0.71``) do.

Energy ratio and bound
----------------------
``energy_ratio(u) = E_H / E_L`` with ``E = Σ_{r in band} P(k)``, where ``P`` is the power spectrum
``|fftshift(fft2 u)|²`` averaged over channels (so a sample's ratio weighs channels by their
energy). The paper (SPAMoE, "Spectral-Preserving DINO Encoder") says the encoder *enforces a lower
bound* on this ratio; the released code only logs it (FACTS.md §2). :func:`spectral_bound_penalty`
is the hinge ``mean_b relu(ρ_min − ρ_b)`` that actually enforces it when added to a loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: SPAMoE released HF diagnostic (FACTS.md §2): low band normalised radius r ∈ [0.05, 0.30).
LOW_BAND: tuple[float, float] = (0.05, 0.30)
#: SPAMoE released HF diagnostic (FACTS.md §2): high band normalised radius r ∈ [0.40, 0.85).
HIGH_BAND: tuple[float, float] = (0.40, 0.85)
#: SPAMoE released router (afreqmoe.py ``band_sharpness``): soft masks exp(−s (r − c)²), s = 20.
BAND_SHARPNESS: float = 20.0

RADIUS_CONVENTIONS: tuple[str, ...] = ("released", "centred")


def normalised_radius(height: int, width: int, convention: str = "released", *,
                      device: torch.device | str | None = None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised radius of every bin of the *fftshifted* spectrum, ``r: [height, width]`` in [0, 1].

    ``r = 1`` at the spectrum's corners (see the module docstring for the two conventions).
    """
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"spectrum shape must be positive, got {height}×{width}")
    if convention == "released":
        ky = torch.linspace(-1.0, 1.0, int(height), device=device, dtype=dtype)
        kx = torch.linspace(-1.0, 1.0, int(width), device=device, dtype=dtype)
    elif convention == "centred":
        ky = torch.fft.fftshift(torch.fft.fftfreq(int(height), device=device, dtype=dtype))
        kx = torch.fft.fftshift(torch.fft.fftfreq(int(width), device=device, dtype=dtype))
    else:
        raise ValueError(f"unknown radius convention {convention!r}: choose one of {RADIUS_CONVENTIONS}")
    yy, xx = torch.meshgrid(ky, kx, indexing="ij")
    r = torch.sqrt(yy ** 2 + xx ** 2)
    return r / r.max().clamp_min(torch.finfo(dtype).tiny)


def annulus_mask(r: torch.Tensor, band: tuple[float, float]) -> torch.Tensor:
    """Hard radial band ``1[lo ≤ r < hi]`` (same shape as ``r``, dtype of ``r``)."""
    lo, hi = float(band[0]), float(band[1])
    if not 0.0 <= lo < hi:
        raise ValueError(f"a band needs 0 ≤ lo < hi, got {band}")
    return ((r >= lo) & (r < hi)).to(r.dtype)


def band_centres(n_bands: int, *, device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Band centres ``c_b = linspace(0, 1, n_bands)`` in normalised radius (released router)."""
    if int(n_bands) < 1:
        raise ValueError(f"need at least one band, got {n_bands}")
    return torch.linspace(0.0, 1.0, int(n_bands), device=device, dtype=dtype)


def soft_band_masks(r: torch.Tensor, centres: torch.Tensor, sharpness: float = BAND_SHARPNESS) -> torch.Tensor:
    """Soft radial masks ``M_b(r) = exp(−s (r − c_b)²)``: ``[n_bands, H, W]`` (not normalised).

    As released they do not sum to one: for three centres (0, ½, 1) and s = 20 the sum
    ``S(r) = Σ_b M_b(r)`` runs from 0.57 (at r = ¼, ¾) to 1.013 (at r = ½). Summing the soft
    bands therefore gives the input filtered by ``S(r)``, not the input itself.
    """
    if not sharpness >= 0:
        raise ValueError(f"band sharpness must be ≥ 0, got {sharpness}")
    return torch.exp(-float(sharpness) * (r[None] - centres[:, None, None].to(r)) ** 2)


def hard_band_masks(r: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """One-hot masks assigning each bin to its nearest centre: ``[n_bands, H, W]`` (a partition)."""
    nearest = ((r[None] - centres[:, None, None].to(r)) ** 2).argmin(dim=0)
    return F.one_hot(nearest, num_classes=centres.numel()).permute(2, 0, 1).to(r.dtype)


def centred_spectrum(u: torch.Tensor) -> torch.Tensor:
    """``fftshift(fft2(u))`` over the last two axes (complex, same shape as ``u``)."""
    return torch.fft.fftshift(torch.fft.fft2(u, dim=(-2, -1)), dim=(-2, -1))


def band_decompose(u: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Split ``u: [batch, channel, H, W]`` into radial bands: ``[n_bands, batch, channel, H, W]``.

    ``band_b = Re(ifft2(ifftshift(M_b · fftshift(fft2 u))))`` (released router). The real part is
    taken because the released grid is not symmetric about DC for even sizes.

    Computed without shifting the data (:func:`filter_real`): the masks are shifted instead, and the
    real part comes from the masks' Hermitian-symmetric part on the half spectrum. Exact in
    arithmetic; the released formula is kept in the tests as the reference.
    """
    if u.dim() != 4:
        raise ValueError(f"expected feature maps [batch, channel, H, W], got shape {tuple(u.shape)}")
    if masks.dim() != 3 or masks.shape[-2:] != u.shape[-2:]:
        raise ValueError(f"masks {tuple(masks.shape)} do not match maps {tuple(u.shape)}")
    return filter_real(u, masks)


def hermitian_half(masks: torch.Tensor) -> torch.Tensor:
    """``[..., H, W]`` masks on the *fftshifted* grid → their Hermitian-symmetric part on the unshifted
    half spectrum ``[..., H, W//2 + 1]`` (the layout of ``rfft2``).

    For a real ``u`` with spectrum ``F`` (``F(−k) = conj F(k)``),
    ``Re(ifft2(M·F)) = ifft2(½(M(k) + M(−k))·F) = irfft2(½(M(k) + M(−k))·rfft2 u)``.
    """
    m = torch.fft.ifftshift(masks, dim=(-2, -1))                     # unshifted layout
    flipped = torch.roll(torch.flip(m, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))   # M(−k)
    return (0.5 * (m + flipped))[..., : m.shape[-1] // 2 + 1]


def filter_real(u: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``Re(ifft2(ifftshift(M · fftshift(fft2 u))))`` for each mask: ``u [B, C, H, W]``, ``masks [K, H, W]``
    on the shifted grid → ``[K, B, C, H, W]`` (real ``u``; through ``rfft2``, no shift of the data)."""
    h, w = u.shape[-2:]
    half = hermitian_half(masks.to(u.real.dtype if u.is_complex() else u.dtype))   # [K, H, W//2+1]
    spectrum = torch.fft.rfft2(u, dim=(-2, -1))                                    # [B, C, H, W//2+1]
    return torch.fft.irfft2(spectrum[None] * half[:, None, None], s=(h, w), dim=(-2, -1))


def channel_power(u: torch.Tensor) -> torch.Tensor:
    """Power spectrum ``|fftshift(fft2 u)|²`` averaged over channels: ``[batch, H, W]``.

    ``u: [batch, channel, H, W]`` or ``[batch, H, W]`` (one channel).
    """
    return centred_spectrum(_maps(u)).abs().pow(2).mean(dim=1)


def _maps(u: torch.Tensor) -> torch.Tensor:
    """``[batch, channel, H, W]`` (or ``[batch, H, W]``, one channel) as a floating ``[batch, channel, H, W]``."""
    if u.dim() == 3:
        u = u[:, None]
    if u.dim() != 4:
        raise ValueError(f"expected [batch, channel, H, W] or [batch, H, W], got shape {tuple(u.shape)}")
    return u if torch.is_floating_point(u) else u.float()


def band_energies(u: torch.Tensor, bands: tuple[tuple[float, float], ...] = (LOW_BAND, HIGH_BAND),
                  convention: str = "released") -> torch.Tensor:
    """Channel-averaged spectral energy of each sample in each band: ``[batch, n_bands]``.

    ``u: [batch, channel, H, W]`` or ``[batch, H, W]`` (one channel).
    """
    return _band_sums(channel_power(u), bands, convention)


def _band_sums(power: torch.Tensor, bands, convention: str, *, shifted: bool = True) -> torch.Tensor:
    r = normalised_radius(power.shape[-2], power.shape[-1], convention, device=power.device, dtype=power.dtype)
    masks = torch.stack([annulus_mask(r, band) for band in bands])  # [n_bands, H, W]
    if not shifted:   # the power is in fft2's own layout: shift the (small) masks, not the data
        masks = torch.fft.ifftshift(masks, dim=(-2, -1))
    return torch.einsum("bhw,khw->bk", power, masks)


def energy_ratio(u: torch.Tensor, low_band: tuple[float, float] = LOW_BAND,
                 high_band: tuple[float, float] = HIGH_BAND, convention: str = "released",
                 eps: float = 1e-12) -> torch.Tensor:
    """High-to-low spectral energy ratio ``ρ = E_H / E_L`` per sample: ``[batch]``.

    ``u: [batch, channel, H, W]`` (feature maps; the power spectrum is averaged over channels) or
    ``[batch, H, W]``; works on encoder outputs and on target velocity maps alike. Invariant to
    scaling ``u`` (``eps`` is relative to the sample's total spectral energy, so a map with no
    low-band energy gets a large finite ratio and an all-zero map gets 0). Differentiable.
    """
    # channel_power without the fftshift: band sums do not depend on the layout
    power = torch.fft.fft2(_maps(u), dim=(-2, -1)).abs().pow(2).mean(dim=1)   # [B, H, W]
    energies = _band_sums(power, (low_band, high_band), convention, shifted=False)
    total = power.sum(dim=(-2, -1))
    tiny = torch.finfo(energies.dtype).tiny
    return energies[:, 1] / (energies[:, 0] + eps * total + tiny)


def spectral_bound_penalty(rho: torch.Tensor, rho_min: float) -> torch.Tensor:
    """Hinge on the energy ratio, ``mean_b relu(ρ_min − ρ_b)`` (0-d tensor).

    Zero when every sample has ``ρ ≥ ρ_min``; otherwise its gradient pushes ``ρ`` up.
    """
    if not math.isfinite(float(rho_min)) or float(rho_min) < 0:
        raise ValueError(f"rho_min must be a finite number ≥ 0, got {rho_min}")
    return F.relu(float(rho_min) - rho).mean()


__all__ = [
    "BAND_SHARPNESS",
    "HIGH_BAND",
    "LOW_BAND",
    "RADIUS_CONVENTIONS",
    "annulus_mask",
    "band_centres",
    "band_decompose",
    "band_energies",
    "centred_spectrum",
    "channel_power",
    "energy_ratio",
    "filter_real",
    "hard_band_masks",
    "hermitian_half",
    "normalised_radius",
    "soft_band_masks",
    "spectral_bound_penalty",
]
