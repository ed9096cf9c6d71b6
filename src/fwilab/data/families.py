"""Seeded generators of the ten OpenFWI velocity-map families.

OpenFWI (Deng et al., NeurIPS 2022) ships ten 2-D families of 70 x 70 velocity maps (dx = 10 m),
all within 1500-4500 m/s: FlatVel-A/B, CurveVel-A/B, FlatFault-A/B, CurveFault-A/B, Style-A/B.
FlatVel-A and CurveVel-A (6,000 real maps of each) and FlatFault-A (500 real maps) are the real maps
available to this project; their generators below are calibrated against them (numbers in the
docstrings were measured on those maps). Everything else follows the OpenFWI paper's verbal
description, and where we had to guess, the docstring of the generator says so.

Determinism: sample ``i`` of ``generate_velocity(family, n, seed)`` comes from its own random
stream ``np.random.default_rng([seed, family_index, i])``, so it does not depend on ``n``: the first
500 maps of a 1000-map dataset are the 500-map dataset.

Conventions: a map is ``v: [depth (nz), width (nx)]`` in m/s, row 0 at the surface; depths and
thicknesses below are in grid cells (OpenFWI: dx = 10 m).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

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

# FlatFault-A, measured on the 500 shipped real maps (OpenFWI test file vmodel11); see flatfault_a.
# Four layers, each 15 + e_j cells thick with e_0 + ... + e_3 = 10 split by uniform stick-breaking.
_FFA_MIN_THICKNESS = 15
_FFA_EXCESS = 10
# the top two layer velocities are sorted integers in [1500, 3000), the bottom two in [3000, 4500]
_FFA_V_SPLIT = 3000
# throw: +-U(5, 10) cells rounded down to half cells (5.0 ... 9.5 down, 5.5 ... 10.0 up)
_FFA_THROW = (5.0, 10.0)
# the fault joins (z = 0, x_top) to (z = 69, x_bottom), in the frame where the moved block is on +x
_FFA_X_TOP = (15.0, 100.0)
_FFA_X_TOP_TAIL = (0.05, 100.0, 220.0)  # probability and range of near-horizontal faults
_FFA_X_BOTTOM = (-10.0, 60.0)
# vertical resampling of a sharp interface: two successive linear interpolations at rows
# c1 * i + e1, then c2 * i + e2, as (c1, e1, c2, e2); fitted to the real interface profiles
# (rms error 2e-4 of the contrast)
_FFA_KERNEL_WEDGE = (1.0, 0.0567, 1.0, -0.0567)            # the untouched wedge at one edge
_FFA_KERNEL_WHOLE = (1.00502, 0.0618, 1.00048, -0.0594)      # interior, interface at a whole cell
_FFA_KERNEL_HALF = (1.00485, 0.49298, 1.00065, 0.00798)      # interior, interface at a half cell
# edge wedge: the boundary's centre is at x = 1.5 + 0.094 z, blended over +-1.75 cells
_FFA_SEAM = (1.5, 0.094, 1.75)
_FFA_FAULT_HALF_WIDTH = 1.5  # blend between the two walls, cells (perpendicular to the fault)
# artefacts along the two boundaries (a calibrated guess, see flatfault_a): per 2 x 2 block, a pull of
# Exp(mean) towards the wall velocity up to ``reach`` rows away, and sparse small residues
_FFA_RING_FAULT = (0.05, 8)   # mean pull, extra reach beyond |throw|
_FFA_RING_SEAM = (0.002, 10)  # mean pull, reach
_FFA_RESIDUE = (0.135, 5.0, 0.3)  # probability per cell, zone half width (cells), std (m/s)


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


def _ffa_thicknesses(rng: np.random.Generator) -> np.ndarray:
    """FlatFault-A layer thicknesses [4] in cells: 15 + e_j, the excess of 10 cells split by uniform
    stick-breaking (e_0 ~ U{0..10}, e_1 ~ U{0..10 - e_0}, ...), in random order."""
    rest, excess = _FFA_EXCESS, []
    for _ in range(3):
        e = int(rng.integers(0, rest + 1))
        excess.append(e)
        rest -= e
    excess.append(rest)
    excess = np.array(excess)
    rng.shuffle(excess)
    return _FFA_MIN_THICKNESS + excess


def _ffa_fractions(depths: np.ndarray, kernel: tuple[float, float, float, float]) -> np.ndarray:
    """[len(depths), 70]: fraction of the lower layer in each row for interfaces at ``depths``.

    A sharp interface (rows >= ceil(depth) below it) is resampled twice by linear interpolation, at
    rows c1 * i + e1 and then c2 * i + e2, (c1, e1, c2, e2) = ``kernel``.
    """
    c1, e1, c2, e2 = kernel
    top = np.ceil(np.asarray(depths, dtype=np.float64) - 1e-9)[:, None] - 1.0
    s = c2 * np.arange(OPENFWI_NZ, dtype=np.float64) + e2
    j = np.floor(s)
    t = s - j
    first = lambda row: np.clip(c1 * row + e1 - top, 0.0, 1.0)  # noqa: E731
    return (1.0 - t) * first(j) + t * first(j + 1.0)


def _ffa_column(depths: np.ndarray, velocity: np.ndarray, interior: bool) -> np.ndarray:
    """One wall's velocity column [70] in m/s: layers ``velocity`` [4] with interfaces at ``depths``
    [3], resampled with the interior kernels (whole- or half-cell depths) or the edge wedge's."""
    depths = np.asarray(depths, dtype=np.float64)
    if interior:
        half = np.abs(depths - np.round(depths)) > 1e-6
        frac = np.where(half[:, None], _ffa_fractions(depths, _FFA_KERNEL_HALF),
                        _ffa_fractions(depths, _FFA_KERNEL_WHOLE))
    else:
        frac = _ffa_fractions(depths, _FFA_KERNEL_WEDGE)
    return velocity[0] + (np.diff(velocity)[:, None] * frac).sum(0)


def _ffa_ring(rng: np.random.Generator, v: np.ndarray, band: np.ndarray, mean_pull: float, reach: int,
              source: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    """In place: every 2 x 2 block of cells in ``band`` is pulled by a fraction ~ Exp(mean_pull)
    towards ``source(rows, cols)``, the wall velocity at a random row offset within +-reach."""
    nzb, nxb = (v.shape[0] + 1) // 2, (v.shape[1] + 1) // 2
    pull = rng.exponential(mean_pull, (nzb, nxb))
    offset = rng.integers(-reach, reach + 1, (nzb, nxb))
    zz, xx = np.nonzero(band)
    rows = np.clip(zz + offset[zz // 2, xx // 2], 0, v.shape[0] - 1)
    src = source(rows, xx)
    v[zz, xx] += pull[zz // 2, xx // 2] * (src - v[zz, xx])


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
    """FlatFault-A: four flat layers offset by one straight fault, with OpenFWI's resampling artefacts.

    Measured on the 500 shipped real maps (OpenFWI test file ``vmodel11``):

    * Layers: always 4. 465 maps show exactly 4 plateau velocities, 34 an extra plateau that is the
      exact mean of two neighbouring layers (a 50/50 blend zone, not modelled), 1 only 3. Every thickness
      is an integer 15-25 cells, summing to 70; marginal P(15) = 0.35, P(16) = 0.17, P(17) = 0.11,
      then 0.08 ... 0.03 up to 25, order exchangeable. Uniform stick-breaking of the 10 excess
      cells (``_ffa_thicknesses``) reproduces the marginals and the most common sorted patterns
      (25/15/15/15: real 11.8 %, model 10 %; 24/16/15/15: 11.6 % vs 11.2 %).
    * Velocities: the top two are sorted integers in [1500, 3000) (means 1980, 2482), the bottom two
      sorted integers in [3000, 4500] (means 3494, 3987); min 1502, max 4496 over all maps.
    * Throw: the moved block's interfaces are offset by whole or half cells, |T| in 5.0-10.0,
      uniform over the half-cell steps and both signs (positive 5.0-9.5, negative 5.5-10.0).
    * Fault: one straight line; in the frame where the moved block lies on +x, it runs from
      x_top at z = 0 to x_bottom at z = 69 with x_top and x_bottom independent (correlation -0.08),
      x_bottom ~ U(-10, 60), x_top ~ U(15, 100) (its tail: 4 % above 120, near-horizontal
      faults). 87 % of faults descend towards the side away from the moved block at 20-90 deg, 13 %
      lean the other way (then steeper than 60 deg).
    * Resampling: interfaces are never sharp. In the interior every interface has two intermediate
      rows that fit two successive linear interpolations with a 0.55 % vertical stretch
      (``_FFA_KERNEL_WHOLE`` / ``_FFA_KERNEL_HALF``, rms error 2e-4 of the contrast), so interior
      interfaces sit at 0.99455 x their depth. A wedge at the edge opposite the moved block is left
      untouched (exact integer depths, symmetric 0.0535 / 0.9465 interface rows); its boundary runs
      from x ~ 1 at the top to x ~ 8 at the bottom (slope 0.094 cells per row) in 93 % of maps
      (7 % show such an untouched strip at both edges, which this model does not make).
    * Monotonicity: 42.8 % of real columns never decrease with depth (first 250 maps: 43.4 %, last
      250: 42.2 %; SE of a 500-map mean 0.010). Decreases sit on the two boundaries: 95-99 % of the
      columns crossed by the wedge boundary and 84 % of those crossed by the fault are non-monotone,
      mostly by tiny amounts (median decrease 0.09 m/s on the wedge boundary, 3.5 m/s on the fault
      where the throw itself cannot decrease the column), and 18 % of the other columns.
      Values along the fault carry bumps of a few % of a contrast from layers up to ~10 rows away.

    Still a guess (the real pipeline is unknown; these reproduce the measured rates, not their
    cause): the linear blends across the fault (+-1.5 cells) and the wedge boundary (+-1.75 cells),
    the bumps (pull ~ Exp(5 %) towards a wall velocity within |T| + 8 rows along the fault,
    Exp(0.2 %) within 10 rows on the wedge boundary, per 2 x 2 block) and the sparse residues
    (13.5 % of cells within 5 cells of the fault, +-0.3 m/s), whose rate was calibrated on the first
    250 real maps (43.4 % monotone columns) to give 43.4 % (mean of seeds 0-19, 500 maps each; sd
    0.008 between 500-map sets). Not modelled: the 7 % of maps with an untouched strip at both edges
    (grabens and roof-shaped blocks bounded by steep side lines) and the 50/50 blend zones.
    Maps are built on the 70 x 70 grid and linearly resampled to other sizes.
    """
    thickness = _ffa_thicknesses(rng)
    depths = np.cumsum(thickness)[:3].astype(np.float64)
    velocity = np.concatenate([np.sort(rng.integers(int(V_MIN), _FFA_V_SPLIT, 2)),
                               np.sort(rng.integers(_FFA_V_SPLIT, int(V_MAX) + 1, 2))]).astype(np.float64)
    throw = np.floor(2.0 * rng.choice([-1.0, 1.0]) * rng.uniform(*_FFA_THROW)) / 2.0
    p_tail, tail_lo, tail_hi = _FFA_X_TOP_TAIL
    x_top = rng.uniform(tail_lo, tail_hi) if rng.random() < p_tail else rng.uniform(*_FFA_X_TOP)
    x_bottom = rng.uniform(*_FFA_X_BOTTOM)

    z = np.arange(OPENFWI_NZ, dtype=np.float64)[:, None]
    x = np.arange(OPENFWI_NX, dtype=np.float64)[None, :]
    wedge = _ffa_column(depths, velocity, interior=False)
    still = _ffa_column(depths, velocity, interior=True)
    moved = _ffa_column(depths + throw, velocity, interior=True)
    # signed distance to the fault, > 0 on the moved block's side (+x)
    dz, dx = OPENFWI_NZ - 1.0, x_bottom - x_top
    dist = ((x - x_top) * dz - z * dx) / np.hypot(dz, dx)
    w_moved = np.clip(dist / (2.0 * _FFA_FAULT_HALF_WIDTH) + 0.5, 0.0, 1.0)
    centre, slope, half = _FFA_SEAM
    w_wedge = np.clip((centre + slope * z - x) / (2.0 * half) + 0.5, 0.0, 1.0)
    w_wedge[:, 0] = 1.0
    v = w_wedge * wedge[:, None] + (1.0 - w_wedge) * ((1.0 - w_moved) * still[:, None] + w_moved * moved[:, None])

    pull, extra = _FFA_RING_FAULT
    on_fault = (w_moved > 0) & (w_moved < 1) & (w_wedge < 1)
    _ffa_ring(rng, v, on_fault, pull, int(abs(throw)) + extra,
              lambda rows, cols: np.where(rng.random(len(rows)) < w_moved[rows, cols], moved[rows], still[rows]))
    pull, reach = _FFA_RING_SEAM
    on_seam = (w_wedge > 0) & (w_wedge < 1)
    _ffa_ring(rng, v, on_seam, pull, reach,
              lambda rows, cols: np.where(rng.random(len(rows)) < 0.5, wedge[rows], still[rows]))
    p_res, zone, std = _FFA_RESIDUE
    hit = (np.abs(dist) < zone) & (w_wedge < 1) & (rng.random(v.shape) < p_res)
    v[hit] += std * rng.standard_normal(int(hit.sum()))
    if rng.random() < 0.5:  # the moved block on the left, the untouched wedge at the right edge
        v = v[:, ::-1]
    v = np.clip(v, V_MIN, V_MAX)
    if (nz, nx) != (OPENFWI_NZ, OPENFWI_NX):
        zg, xg = _grid(nz, nx)
        zg, xg = np.broadcast_arrays(zg, xg)
        v = map_coordinates(v, [zg, xg], order=1, mode="nearest")
    return v


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
