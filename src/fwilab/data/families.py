"""Seeded generators of the ten OpenFWI velocity-map families.

OpenFWI (Deng et al., NeurIPS 2022) ships ten 2-D families of 70 x 70 velocity maps (dx = 10 m),
all within 1500-4500 m/s: FlatVel-A/B, CurveVel-A/B, FlatFault-A/B, CurveFault-A/B, Style-A/B.
Only FlatVel-A and CurveVel-A real maps are available to this project (6,000 of each); their
generators below are calibrated against them (numbers in the docstrings were measured on those
maps). Everything else follows the OpenFWI paper's verbal description, and where we had to guess,
the docstring of the generator says so.

Determinism: sample ``i`` of ``generate_velocity(family, n, seed)`` comes from its own random
stream ``np.random.default_rng([seed, family_index, i])``, so it does not depend on ``n``: the first
500 maps of a 1000-map dataset are the 500-map dataset.

Conventions: a map is ``v: [depth (nz), width (nx)]`` in m/s, row 0 at the surface; depths and
thicknesses below are in grid cells (OpenFWI: dx = 10 m).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.ndimage import gaussian_filter

from fwilab.progress import bar as progress_bar

# OpenFWI: velocity range 1500-4500 m/s for all ten families (FACTS.md section 1).
V_MIN = 1500.0
V_MAX = 4500.0
# OpenFWI: 70 x 70 maps; the calibration numbers below are for this grid and scale with it.
OPENFWI_NZ = 70
OPENFWI_NX = 70

FAMILIES: tuple[str, ...] = (
    "flatvel-a", "flatvel-b", "curvevel-a", "curvevel-b",
    "flatfault-a", "flatfault-b", "curvefault-a", "curvefault-b",
    "style-a", "style-b",
)

# Measured on 6,000 real FlatVel-A and 6,000 real CurveVel-A maps: a map has K "nominal" layer
# spacings with K uniform on 3..7 (h = nz / K for FlatVel-A), and K + 1 layer velocities that are
# sorted draws of uniform integers in [1500, 4500] (the per-layer means match the order statistics
# of K + 1 uniforms to within 1 %).
_K_CHOICES = np.arange(3, 8)
# FlatVel-A: the first interface lies at s in [0.6 h, 1.5 h) (first-layer thickness 5-15 cells for
# h = 10, 12-35 for h = 23); then 44 % of maps show K + 1 layers and 56 % K, as measured.
_FLAT_FIRST_LO, _FLAT_FIRST_HI = 0.6, 1.5
# CurveVel-A: one smooth lateral displacement c(x) shared by all interfaces (scaled per interface by
# alpha ~ N(1, 0.15), measured 5-95 %: 0.70-1.23); std of c(x): median 5.5 cells, 5-95 % 2.5-11.2,
# i.e. log-normal with sigma 0.43; its power sits at 1-4 cycles per map width.
_CURVE_STD_MEDIAN = 5.5
_CURVE_STD_LOG_SIGMA = 0.43
_CURVE_ALPHA_SIGMA = 0.15


def check_family(name: str) -> str:
    """Normalise a family name ("FlatVel-A", "flatvel_a", "FLATVEL-A") to "flatvel-a".

    Raises:
        ValueError: the name is not one of the ten OpenFWI families.
    """
    if not isinstance(name, str):
        raise ValueError(f"family must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in FAMILIES:
        raise ValueError(f"unknown velocity family {name!r}; known families: {', '.join(FAMILIES)}")
    return key


# --------------------------------------------------------------------------------------------
# building blocks


def _sorted_velocities(rng: np.random.Generator, n_layers: int) -> np.ndarray:
    """Layer velocities [n_layers] in m/s, integer, increasing with depth (the A families)."""
    return np.sort(rng.integers(int(V_MIN), int(V_MAX) + 1, n_layers)).astype(np.float64)


def _free_velocities(rng: np.random.Generator, n_layers: int, min_contrast: float = 300.0) -> np.ndarray:
    """Layer velocities [n_layers] in m/s, integer, in any order (the B families).

    Guess (OpenFWI only says the B families are harder, with velocity not necessarily increasing
    with depth): independent uniform integers in [1500, 4500], redrawn where two neighbouring
    layers differ by less than ``min_contrast`` m/s so that every interface stays visible.
    """
    v = rng.integers(int(V_MIN), int(V_MAX) + 1, n_layers).astype(np.float64)
    for j in range(1, n_layers):
        for _ in range(32):
            if abs(v[j] - v[j - 1]) >= min_contrast:
                break
            v[j] = rng.integers(int(V_MIN), int(V_MAX) + 1)
    return v


def _smooth_curve(rng: np.random.Generator, n_terms: int, max_cycles: float, std: float) -> Callable:
    """A random smooth lateral displacement c(x) = sum of sinusoids, scaled to a given std.

    Returns a function of x in cells (any real values, so a fault can sample it off the grid)
    giving c(x) in cells; ``max_cycles`` is the highest frequency in cycles per 70 cells.
    """
    freq = rng.uniform(0.5, max_cycles, n_terms) / OPENFWI_NX
    amp = rng.uniform(0.3, 1.0, n_terms)
    phase = rng.uniform(0.0, 2.0 * np.pi, n_terms)
    xs = np.arange(OPENFWI_NX, dtype=np.float64)
    ref = (amp[:, None] * np.sin(2 * np.pi * freq[:, None] * xs + phase[:, None])).sum(0)
    scale = std / max(ref.std(), 1e-6)

    def curve(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return scale * (amp * np.sin(2 * np.pi * freq * x[..., None] + phase)).sum(-1)

    return curve


class _Layered:
    """An unfaulted layered model that can be evaluated at any (z, x) in cells.

    interfaces: [L - 1] base depths (cells); velocity: [L] in m/s, layer 0 on top.
    A cell at depth z lies below interface j when z >= depth_j + alpha_j * c(x).
    """

    def __init__(self, base: np.ndarray, velocity: np.ndarray,
                 curve: Callable | None = None, alpha: np.ndarray | None = None,
                 gradient: np.ndarray | None = None):
        self.base = np.asarray(base, dtype=np.float64)
        self.velocity = np.asarray(velocity, dtype=np.float64)
        self.curve = curve
        self.alpha = np.ones_like(self.base) if alpha is None else np.asarray(alpha, dtype=np.float64)
        self.gradient = gradient  # optional within-layer gradient [L] in m/s per cell (B faults)

    def layer_index(self, z: np.ndarray, x: np.ndarray) -> np.ndarray:
        # z and x broadcast against each other (e.g. [nz, 1] and [1, nx]), so the lateral
        # displacement is evaluated once per distinct x, not once per cell
        depth = self.base + (0.0 if self.curve is None else self.alpha * self.curve(x)[..., None])
        return np.count_nonzero(z[..., None] >= depth, axis=-1)

    def __call__(self, z: np.ndarray, x: np.ndarray) -> np.ndarray:
        z, x = np.asarray(z, np.float64), np.asarray(x, np.float64)
        idx = self.layer_index(z, x)
        z = np.broadcast_to(z, idx.shape)
        v = self.velocity[idx]
        if self.gradient is not None:
            top = np.concatenate([[0.0], self.base])[idx]
            v = v + self.gradient[idx] * np.maximum(z - top, 0.0)
        return v


def _grid(nz: int, nx: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell coordinates in OpenFWI cells (70 x 70 scaled to nz x nx): z [nz, 1], x [1, nx]."""
    z = np.arange(nz, dtype=np.float64)[:, None] * (OPENFWI_NZ / nz)
    x = np.arange(nx, dtype=np.float64)[None, :] * (OPENFWI_NX / nx)
    return z, x


def _flat_interfaces(rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """FlatVel-A interface depths: K spacings of h = 70 / K, the first at s in [0.6 h, 1.5 h).

    Returns (K, depths [K]); each depth is floor(s + j h + u_j) with u_j ~ U(0, 1), which gives the
    measured one-cell jitter of layer thickness (e.g. 9-11 cells for h = 10).
    """
    k = int(rng.choice(_K_CHOICES))
    h = OPENFWI_NZ / k
    s = rng.uniform(_FLAT_FIRST_LO * h, _FLAT_FIRST_HI * h)
    depths = np.floor(s + h * np.arange(k) + rng.uniform(0.0, 1.0, k))
    return k, depths


def _curved_interfaces(rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """CurveVel-A base interface depths (before the lateral displacement).

    Measured: K + 1 distinct values in nearly every map (4-8, uniform), the deepest interface close
    to the bottom (mean last-layer thickness 2-4 cells), the first at 1.08 h on average (0.85-1.3 h).
    Model: deepest base depth z_K ~ U(63, 70), first = r h with r ~ U(0.85, 1.3), equal spacing.
    """
    k = int(rng.choice(_K_CHOICES))
    r = rng.uniform(0.85, 1.3)
    z_last = rng.uniform(63.0, 70.0)
    h = z_last / (r + k - 1)
    depths = r * h + h * np.arange(k) + rng.uniform(-0.5, 0.5, k)
    return k, depths


def _curve_std(rng: np.random.Generator, factor: float = 1.0) -> float:
    return factor * _CURVE_STD_MEDIAN * float(np.exp(_CURVE_STD_LOG_SIGMA * rng.standard_normal()))


def _fault(model: Callable, rng: np.random.Generator, z: np.ndarray, x: np.ndarray,
           throw_range: tuple[float, float] = (4.0, 20.0),
           ramp_range: tuple[float, float] = (1.5, 5.0)) -> np.ndarray:
    """Offset ``model`` (a function of (z, x) in cells) along one random dipping fault.

    The fault is the line through (z0, x0) at dip theta in [45, 80] degrees from horizontal; the
    hanging wall (one side) slides by a throw of 4-20 cells along the dip, up or down. The two
    walls are blended linearly across a ramp 1.5-5 cells wide around the fault, which gives the
    non-integer, interpolated velocities that real FlatFault-A maps carry only near their fault;
    the ramp range was chosen so that FlatFault-A maps have a few dozen to a few hundred distinct
    values, as the real ones do (39-462).

    Returns: v [nz, nx] in m/s.
    """
    z0 = rng.uniform(15.0, 55.0)
    x0 = rng.uniform(15.0, 55.0)
    dip = np.deg2rad(rng.uniform(45.0, 80.0))
    # unit vector along the fault, pointing down and to the left or right, and its normal
    tz, tx = np.sin(dip), np.cos(dip) * rng.choice([-1.0, 1.0])
    nz_, nx_ = -tx, tz
    dist = (z - z0) * nz_ + (x - x0) * nx_  # signed distance to the fault in cells
    throw = rng.uniform(*throw_range) * rng.choice([-1.0, 1.0])
    foot = model(z, x)
    hang = model(z - throw * tz, x - throw * tx)
    w = np.clip(dist / rng.uniform(*ramp_range) + 0.5, 0.0, 1.0)
    return (1.0 - w) * foot + w * hang


# --------------------------------------------------------------------------------------------
# the ten families: each takes (rng, nz, nx) and returns v [nz, nx] in m/s


def flatvel_a(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """FlatVel-A: flat layers, velocity increasing with depth, integer m/s.

    Calibrated on 6,000 real maps: K ~ U{3..7} spacings of 70/K cells with a random first-interface
    depth (see ``_flat_interfaces``); K + 1 sorted uniform integer velocities in [1500, 4500]; the
    layers visible in the map are K or K + 1 (real: 3: 10.5 %, 4-7: 20 % each, 8: 8.3 %).
    """
    k, depths = _flat_interfaces(rng)
    model = _Layered(depths, _sorted_velocities(rng, k + 1))
    z, x = _grid(nz, nx)
    return model(z, x)


def flatvel_b(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """FlatVel-B: flat layers whose velocity may decrease with depth.

    Guess from the OpenFWI paper's description (B = harder: velocity not monotonic with depth,
    larger contrasts): the FlatVel-A layer geometry with K ~ U{3..9} and independent, unsorted
    integer velocities with neighbouring contrast >= 300 m/s.
    """
    k = int(rng.integers(3, 10))
    h = OPENFWI_NZ / k
    s = rng.uniform(_FLAT_FIRST_LO * h, _FLAT_FIRST_HI * h)
    depths = np.floor(s + h * np.arange(k) + rng.uniform(0.0, 1.0, k))
    model = _Layered(depths, _free_velocities(rng, k + 1))
    z, x = _grid(nz, nx)
    return model(z, x)


def _curvevel_model(rng: np.random.Generator) -> _Layered:
    k, depths = _curved_interfaces(rng)
    curve = _smooth_curve(rng, n_terms=3, max_cycles=3.5, std=_curve_std(rng))
    alpha = np.clip(1.0 + _CURVE_ALPHA_SIGMA * rng.standard_normal(k), 0.5, 1.5)
    return _Layered(depths, _sorted_velocities(rng, k + 1), curve, alpha)


def curvevel_a(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """CurveVel-A: curved layers, velocity never decreasing with depth in any column, integer m/s.

    Calibrated on 6,000 real maps: K + 1 (4-8) sorted uniform integer velocities; interfaces share
    one smooth displacement c(x) (a sum of three sinusoids of 0.5-3.5 cycles per width, std
    log-normal around 5.5 cells), each interface scaled by alpha ~ N(1, 0.15).
    Velocity is assigned by counting interfaces above a cell, so crossing interfaces cannot make a
    column decrease.
    """
    model = _curvevel_model(rng)
    z, x = _grid(nz, nx)
    return model(z, x)


def curvevel_b(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """CurveVel-B: more strongly curved layers whose velocity may decrease with depth.

    Guess from the OpenFWI paper's description: CurveVel-A geometry with twice the displacement
    amplitude, frequencies up to 5 cycles per width, independent per-interface scaling
    (alpha ~ N(1, 0.3)), and unsorted velocities (neighbouring contrast >= 300 m/s).
    """
    k, depths = _curved_interfaces(rng)
    curve = _smooth_curve(rng, n_terms=4, max_cycles=5.0, std=_curve_std(rng, factor=2.0))
    alpha = np.clip(1.0 + 0.3 * rng.standard_normal(k), 0.3, 1.7)
    model = _Layered(depths, _free_velocities(rng, k + 1), curve, alpha)
    z, x = _grid(nz, nx)
    return model(z, x)


def flatfault_a(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """FlatFault-A: flat layers (velocity increasing with depth) offset by one dipping fault.

    The layering is FlatVel-A's; the fault (see ``_fault``) gives non-integer velocities only in a
    band about two cells wide along the fault, where the two walls are blended (real FlatFault-A:
    39-462 distinct values per map, range 1502-4500 m/s). Fault geometry is a guess: the real
    FlatFault maps are not available here.
    """
    _, depths = _flat_interfaces(rng)
    model = _Layered(depths, _sorted_velocities(rng, len(depths) + 1))
    z, x = _grid(nz, nx)
    return _fault(model, rng, z, x)


def flatfault_b(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """FlatFault-B: thinner flat layers with within-layer gradients, offset by one or two faults.

    Guess (OpenFWI only says the B variants are more complex): K ~ U{4..10} layers, unsorted
    velocities, a linear velocity gradient of up to +-20 m/s per cell inside each layer, and one or
    two faults applied in turn.
    """
    k = int(rng.integers(4, 11))
    h = OPENFWI_NZ / k
    s = rng.uniform(_FLAT_FIRST_LO * h, _FLAT_FIRST_HI * h)
    depths = np.floor(s + h * np.arange(k) + rng.uniform(0.0, 1.0, k))
    model = _Layered(depths, _free_velocities(rng, k + 1), gradient=rng.uniform(-20.0, 20.0, k + 1))
    z, x = _grid(nz, nx)
    v = _fault(model, rng, z, x)
    if rng.random() < 0.5:
        v = _fault(_grid_sampler(v, nz, nx), rng, z, x)
    return v


def curvefault_a(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """CurveFault-A: CurveVel-A layers offset by one dipping fault (same fault model as FlatFault-A).

    The hanging wall is sampled from the curved model at the displaced coordinates, so curved
    interfaces stay continuous inside each wall. Fault geometry is a guess (no real maps here).
    """
    model = _curvevel_model(rng)
    z, x = _grid(nz, nx)
    return _fault(model, rng, z, x)


def curvefault_b(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """CurveFault-B: CurveVel-B-like layers with within-layer gradients and one or two faults.

    Guess, like FlatFault-B: unsorted velocities, +-20 m/s per cell within-layer gradients,
    displacement amplitude 1.5x CurveVel-A's, one or two faults.
    """
    k, depths = _curved_interfaces(rng)
    curve = _smooth_curve(rng, n_terms=3, max_cycles=4.0, std=_curve_std(rng, factor=1.5))
    alpha = np.clip(1.0 + 0.2 * rng.standard_normal(k), 0.4, 1.6)
    model = _Layered(depths, _free_velocities(rng, k + 1), curve, alpha,
                     gradient=rng.uniform(-20.0, 20.0, k + 1))
    z, x = _grid(nz, nx)
    v = _fault(model, rng, z, x)
    if rng.random() < 0.5:
        v = _fault(_grid_sampler(v, nz, nx), rng, z, x)
    return v


def _grid_sampler(v: np.ndarray, nz: int, nx: int) -> Callable:
    """Nearest-cell lookup of a gridded map v [nz, nx] at (z, x) in OpenFWI cells, edges replicated
    (used to apply a second fault to an already faulted map)."""
    def sample(z: np.ndarray, x: np.ndarray) -> np.ndarray:
        iz = np.clip(np.rint(np.asarray(z) * nz / OPENFWI_NZ), 0, nz - 1).astype(np.intp)
        ix = np.clip(np.rint(np.asarray(x) * nx / OPENFWI_NX), 0, nx - 1).astype(np.intp)
        return v[iz, ix]
    return sample


def _style(rng: np.random.Generator, nz: int, nx: int, sigma: tuple[float, float],
           contrast: float, trend: tuple[float, float]) -> np.ndarray:
    """Smoothed random field over a linear depth trend, clipped to [1500, 4500] m/s.

    v(z, x) = v_top + (v_bottom - v_top) z / nz + contrast * (unit-std Gaussian-filtered noise).
    """
    sig = rng.uniform(*sigma) * nz / OPENFWI_NZ
    noise = gaussian_filter(rng.standard_normal((nz, nx)), sig, mode="reflect")
    noise /= max(noise.std(), 1e-9)
    top = rng.uniform(V_MIN, trend[0])
    bottom = rng.uniform(trend[1], V_MAX)
    depth = np.linspace(0.0, 1.0, nz)[:, None]
    return top + (bottom - top) * depth + contrast * noise


def style_a(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """Style-A: an APPROXIMATION. OpenFWI made Style-A by neural style transfer from natural images
    (COCO content, Marmousi style), then smoothing; we have no such images or network, so we draw a
    smooth Gaussian random field (filter sigma 4-8 cells, +-300 m/s) over a depth trend from
    1500-2500 m/s at the top to 3500-4500 m/s at the bottom. Statistics will differ from the real set.
    """
    return _style(rng, nz, nx, sigma=(4.0, 8.0), contrast=300.0, trend=(2500.0, 3500.0))


def style_b(rng: np.random.Generator, nz: int, nx: int) -> np.ndarray:
    """Style-B: an APPROXIMATION, like Style-A but rougher and with higher contrast (OpenFWI's
    Style-B is less smoothed): filter sigma 1.5-3 cells, +-500 m/s, weaker depth trend
    (top 1500-3000, bottom 3000-4500 m/s).
    """
    return _style(rng, nz, nx, sigma=(1.5, 3.0), contrast=500.0, trend=(3000.0, 3000.0))


_GENERATORS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "flatvel-a": flatvel_a, "flatvel-b": flatvel_b,
    "curvevel-a": curvevel_a, "curvevel-b": curvevel_b,
    "flatfault-a": flatfault_a, "flatfault-b": flatfault_b,
    "curvefault-a": curvefault_a, "curvefault-b": curvefault_b,
    "style-a": style_a, "style-b": style_b,
}


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def generate_velocity(family: str, n: int, seed: int = 0, nz: int = OPENFWI_NZ, nx: int = OPENFWI_NX,
                      progress: bool = False) -> np.ndarray:
    """Generate ``n`` velocity maps of an OpenFWI family.

    Args:
        family: one of ``FAMILIES`` (any case, "FlatVel-A" or "flatvel_a" accepted).
        n: number of maps (>= 0).
        seed: non-negative integer; sample i uses ``np.random.default_rng([seed, family_index, i])``,
            so it is the same whatever ``n`` is.
        nz, nx: grid size (>= 8); the geometry is defined on OpenFWI's 70 x 70 grid and rescaled.
        progress: show a tqdm progress bar.

    Returns:
        v: float32 [n, 1, nz, nx] in m/s, every value within [1500, 4500].
    """
    fam = check_family(family)
    n = _check_count("n", n, 0)
    seed = _check_count("seed", seed, 0)
    nz = _check_count("nz", nz, 8)
    nx = _check_count("nx", nx, 8)
    index = FAMILIES.index(fam)
    make = _GENERATORS[fam]
    out = np.empty((n, 1, nz, nx), dtype=np.float32)
    for i in progress_bar(range(n), desc=f"generating {fam}", enabled=progress, leave=False):
        rng = np.random.default_rng([seed, index, i])
        out[i, 0] = np.clip(make(rng, nz, nx), V_MIN, V_MAX)
    return out
