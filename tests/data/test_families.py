"""Tests of the seeded OpenFWI velocity-family generators (fwilab.data.families)."""
import numpy as np
import pytest

from fwilab.data.families import FAMILIES, V_MAX, V_MIN, _Layered, check_family, generate_velocity

N = 24  # maps per family in the structural tests


@pytest.fixture(scope="module")
def maps():
    return {f: generate_velocity(f, N, seed=3) for f in FAMILIES}


def test_ten_families():
    assert len(FAMILIES) == 10 and len(set(FAMILIES)) == 10


@pytest.mark.parametrize("family", FAMILIES)
def test_shape_dtype_range(family, maps):
    v = maps[family]
    assert v.shape == (N, 1, 70, 70) and v.dtype == np.float32
    assert np.all(np.isfinite(v)) and v.min() >= V_MIN and v.max() <= V_MAX
    # not degenerate: maps differ from each other and use a good part of the range
    assert len({m.tobytes() for m in v}) == N
    assert v.max() - v.min() > 1000.0


@pytest.mark.parametrize("family", FAMILIES)
def test_other_grid_size(family):
    v = generate_velocity(family, 3, seed=0, nz=40, nx=90)
    assert v.shape == (3, 1, 40, 90) and v.dtype == np.float32
    assert v.min() >= V_MIN and v.max() <= V_MAX


@pytest.mark.parametrize("family", FAMILIES)
def test_deterministic_and_prefix(family):
    a = generate_velocity(family, 6, seed=11)
    b = generate_velocity(family, 6, seed=11)
    longer = generate_velocity(family, 9, seed=11)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(longer[:6], a)  # sample i does not depend on n
    other = generate_velocity(family, 6, seed=12)
    assert not any(np.array_equal(x, y) for x, y in zip(a, other))


def test_families_use_separate_streams():
    # same seed, different families: the per-family stream index makes the flat layer
    # geometries of FlatVel-A and FlatFault-A differ
    a = generate_velocity("flatvel-a", 4, seed=0)
    b = generate_velocity("flatfault-a", 4, seed=0)
    assert not np.array_equal(np.round(a), np.round(b))


@pytest.mark.parametrize("name,expected", [("FlatVel-A", "flatvel-a"), ("CURVEFAULT_B", "curvefault-b"),
                                           (" style-a ", "style-a")])
def test_check_family_normalises(name, expected):
    assert check_family(name) == expected


@pytest.mark.parametrize("bad", ["flatvel-c", "", "marmousi"])
def test_unknown_family_raises(bad):
    with pytest.raises(ValueError, match="known families"):
        generate_velocity(bad, 2)


@pytest.mark.parametrize("kw", [dict(n=-1), dict(n=2.5), dict(n=2, seed=-1), dict(n=2, nz=3)])
def test_bad_arguments_raise(kw):
    with pytest.raises(ValueError):
        generate_velocity("flatvel-a", **kw)


def _distinct(m):
    return len(np.unique(m))


def test_flatvel_a_structure(maps):
    v = maps["flatvel-a"][:, 0]
    assert np.all(v == v[:, :, :1])  # every row constant
    assert np.all(np.diff(v, axis=1) >= 0)  # never decreases with depth
    assert np.all(v == np.round(v))  # integer m/s
    counts = [_distinct(m) for m in v]
    assert min(counts) >= 2 and max(counts) <= 8
    for m in v:  # layer thickness 1-57 cells, as in the real maps
        col = m[:, 0]
        edges = np.r_[0, np.flatnonzero(np.diff(col)) + 1, 70]
        assert np.diff(edges).min() >= 1 and np.diff(edges).max() <= 57


def test_flatvel_a_layer_count_distribution():
    # real: 3: 10.5 %, 4-7: ~20 % each, 8: 8.3 % (6,000 maps); 2,000 draws: +-3 % is > 3 sigma
    v = generate_velocity("flatvel-a", 2000, seed=0)[:, 0, :, 0]
    counts = np.array([_distinct(c) for c in v])
    frac = np.array([(counts == k).mean() for k in range(3, 9)])
    np.testing.assert_allclose(frac, [0.105, 0.202, 0.203, 0.202, 0.205, 0.083], atol=0.03)


def test_curvevel_a_structure(maps):
    v = maps["curvevel-a"][:, 0]
    assert np.all(np.diff(v, axis=1) >= 0)  # no column decreases with depth
    assert np.all(v == np.round(v))
    counts = [_distinct(m) for m in v]
    assert min(counts) >= 3 and max(counts) <= 8
    # layers are curved: in most maps the rows are not constant
    curved = [np.any(m != m[:, :1]) for m in v]
    assert np.mean(curved) > 0.9


# FlatFault-A is no longer checked here: its non-integer cells are not confined to the fault (in every
# real map each interface row is interpolated across the whole width; rms distance of the non-integer
# cells from one line: 10-17 cells); see test_flatfault_a_structure.
@pytest.mark.parametrize("family", ["curvefault-a"])
def test_fault_a_structure(family, maps):
    v = maps[family][:, 0]
    for m in v:
        frac = m != np.round(m)
        assert frac.any()  # interpolated, non-integer values exist ...
        assert 10 <= _distinct(m) <= 600
        # ... only near one fault: the non-integer cells lie close to one straight line
        zz, xx = np.nonzero(frac)
        pts = np.c_[zz, xx].astype(float)
        pts -= pts.mean(0)
        _, s, _ = np.linalg.svd(pts, full_matrices=False)
        thickness = s[1] / np.sqrt(len(pts))  # rms distance from the best-fit line, cells
        assert thickness < 3.0
        assert frac.mean() < 0.25


def _plateaus(m):
    """Layer velocities of a FlatFault-A map: integer values covering >= 30 cells."""
    vals, counts = np.unique(m, return_counts=True)
    return vals[(counts >= 30) & (vals == np.round(vals))]


def _effective_depths(col, layers):
    """Interface depths of one column, in cells: per interface, the number of cells (fractionally)
    slower than the layer below it; exact for the resampled, smeared interfaces."""
    return np.array([np.clip((b - col) / (b - a), 0, 1).sum() for a, b in zip(layers[:-1], layers[1:])])


def test_flatfault_a_structure(maps):
    """What the real FlatFault-A maps show (of the 500 shipped: 465 have exactly these 4 plateaus, the
    rest an extra 50/50 blend plateau; 444 of those 465 an untouched edge column, 442 of them monotone)."""
    for m in maps["flatfault-a"][:, 0].astype(np.float64):
        layers = _plateaus(m)
        assert len(layers) == 4  # four layers ...
        assert layers[1] < 3000 <= layers[2]  # ... two in 1500-3000 m/s, two in 3000-4500 m/s
        assert 30 <= _distinct(m) <= 600  # real: 39-462 distinct values
        assert 0.05 < np.mean(m != np.round(m)) < 0.3  # real: 0.16-0.24 of the cells interpolated
        # one edge column is the untouched wedge: whole-cell depths, each layer 15-25 cells
        wedge = [x for x in (0, 69) if np.allclose(d := _effective_depths(m[:, x], layers), np.round(d), atol=1e-3)]
        assert len(wedge) >= 1
        thick = np.diff(np.r_[0.0, np.round(_effective_depths(m[:, wedge[0]], layers)), 70.0])
        assert thick.min() >= 15 and thick.max() <= 25
        # some columns decrease with depth (real: 57 % of the columns), never the wedge's edge column
        dz = np.diff(m, axis=0)
        assert np.any(dz < 0) and np.all(dz[:, wedge[0]] >= 0)


def test_flatfault_a_layer_thicknesses():
    # real marginal of the 4 x 492 thicknesses (15, 16, ..., 25 cells); 4 x 2000 draws: +-0.03 is > 3 sigma
    from fwilab.data.families import _ffa_thicknesses
    rng = np.random.default_rng(0)
    t = np.array([_ffa_thicknesses(rng) for _ in range(2000)])
    assert np.all(t.sum(1) == 70) and t.min() >= 15 and t.max() <= 25
    frac = np.array([(t == k).mean() for k in range(15, 26)])
    np.testing.assert_allclose(frac, [0.353, 0.170, 0.112, 0.082, 0.057, 0.048, 0.039, 0.041, 0.040, 0.029, 0.029],
                               atol=0.03)


@pytest.mark.parametrize("family", ["flatvel-b", "curvevel-b"])
def test_b_families_break_monotonicity(family):
    v = generate_velocity(family, 200, seed=0)[:, 0]
    decreasing = np.any(np.diff(v, axis=1) < 0, axis=(1, 2))
    assert decreasing.mean() > 0.5  # A families: never
    assert np.all(v == np.round(v))


def test_curvevel_b_more_curved_than_a():
    def curvature(v):  # mean |lateral change| per cell
        return np.abs(np.diff(v[:, 0], axis=2)).mean()
    a = generate_velocity("curvevel-a", 200, seed=0)
    b = generate_velocity("curvevel-b", 200, seed=0)
    assert curvature(b) > 1.5 * curvature(a)


def test_style_b_rougher_than_style_a():
    a = generate_velocity("style-a", 100, seed=0)[:, 0]
    b = generate_velocity("style-b", 100, seed=0)[:, 0]
    rough = lambda v: np.abs(np.diff(v, axis=2)).mean()  # noqa: E731
    assert rough(b) > 2 * rough(a)
    # smooth fields, not layers: almost every value is distinct
    assert np.mean([_distinct(m) for m in a]) > 1000


def test_speed():
    import time
    t = time.perf_counter()
    generate_velocity("curvefault-b", 300, seed=0)
    assert time.perf_counter() - t < 3.0  # 1,000 maps take about 1 s on 2 cores


def test_a_cell_on_an_interface_belongs_to_the_layer_below():
    """Interface depths are the top of the layer below (``z >= depth``), flat and displaced alike."""
    flat = _Layered(np.array([3.0]), np.array([1500.0, 2000.0]))
    z = np.arange(6.0)[:, None]
    np.testing.assert_array_equal(flat(z, np.zeros((1, 1)))[:, 0], [1500.0] * 3 + [2000.0] * 3)
    shifted = _Layered(np.array([3.0]), np.array([1500.0, 2000.0]), curve=lambda x: np.ones_like(x))
    np.testing.assert_array_equal(shifted(z, np.zeros((1, 1)))[:, 0], [1500.0] * 4 + [2000.0] * 2)
