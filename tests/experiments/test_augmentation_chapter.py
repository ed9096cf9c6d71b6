"""The augmentation chapter: its config, the rows' training sets, the comparison rule, the gates and the claims
(judged on synthetic numbers whose verdicts are known). The chapter runs end to end at smoke in the book build."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from fwilab.claims import DOES_NOT_HOLD, HOLDS, NOT_JUDGED
from fwilab.experiments import make_config
from fwilab.experiments.augmentation import ROWS, SPREAD_FACTOR, better, gates, judge_claims, row_training_set
from fwilab.experiments.augmentation.compute import family_seed


@pytest.mark.parametrize("profile", ["smoke", "cpu", "full"])
def test_presets_build_and_every_row_takes_the_same_steps(profile):
    c = make_config("augmentation", profile)
    assert c.steps == c.epochs * (c.samples_per_epoch // c.batch_size)
    assert c.fit_config(0).samples_per_epoch == c.samples_per_epoch     # the same steps whatever the set's size
    assert set(c.rows) <= set(ROWS) and c.subset_fraction in c.fractions


@pytest.mark.parametrize("overrides,match", [
    (dict(rows=("real-100", "nonsense")), "rows must be"),
    (dict(n_train=400), "diffusion chapter's"),
    (dict(fid_samples=2000), "fid_samples"),
    (dict(subset_fraction=1.5), "subset_fraction"),
    (dict(samples_per_epoch=8), "less than one batch"),
    (dict(width=0.5), "width"),
])
def test_bad_configs_are_refused_with_the_field_named(overrides, match):
    with pytest.raises(ValueError, match=match):
        make_config("augmentation", "cpu", **overrides)


def test_subsets_are_the_first_pairs_and_never_empty():
    c = make_config("augmentation", "cpu")
    assert c.subset_size(0.1) == 450 and c.subset_size(0.01) == 45
    assert make_config("augmentation", "smoke").subset_size(0.01) == 1


def _splits(n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    s, v = torch.randn(n, 5, 10, 7, generator=g), torch.rand(n, 1, 7, 7, generator=g)
    return SimpleNamespace(train=TensorDataset(s, v))


def test_a_rows_training_set_is_its_generated_set_and_its_real_subset():
    c = make_config("augmentation", "smoke", n_train=8)
    splits = _splits(8)
    gen = TensorDataset(torch.zeros(6, 5, 10, 7), -torch.ones(6, 1, 7, 7))
    mixed = row_training_set(c, "gen+real-10", "flatvel-a", splits, lambda name: gen)
    k = c.subset_size(0.1)
    assert len(mixed) == 6 + k
    assert torch.equal(mixed.tensors[0][6:], splits.train.tensors[0][:k])
    assert torch.equal(mixed.tensors[1][:6], gen.tensors[1])
    real = row_training_set(c, "real-100", "flatvel-a", splits, lambda name: pytest.fail("no generator needed"))
    assert torch.equal(real.tensors[0], splits.train.tensors[0])
    only = row_training_set(c, "ubdiff", "flatvel-a", splits, lambda name: gen if name == "ubdiff" else None)
    assert len(only) == 6


def test_generators_share_one_seed_per_family():
    c = make_config("augmentation", "cpu")
    assert family_seed(c, "flatvel-a") != family_seed(c, "curvevel-a")
    assert family_seed(c, "flatvel-a") == family_seed(make_config("augmentation", "cpu"), "flatvel-a")


def test_better_needs_a_difference_beyond_the_seeds_spread():
    ok, diff, se = better([0.10, 0.11, 0.12], [0.20, 0.21, 0.22])
    assert ok and diff == pytest.approx(-0.10) and se == pytest.approx(np.sqrt(2 * 0.01 ** 2 / 3))
    assert not better([0.10, 0.20, 0.30], [0.15, 0.25, 0.35])[0]            # within the spread
    assert not better([0.20, 0.21, 0.22], [0.10, 0.11, 0.12])[0]            # worse
    diff = 0.5 * SPREAD_FACTOR * np.sqrt(2 * 0.01 ** 2 / 3)                  # half the margin: not enough
    assert not better([0.10 - diff, 0.11 - diff, 0.12 - diff], [0.10, 0.11, 0.12])[0]


# ----- the claims on synthetic numbers -------------------------------------------------------------------------

def _metrics(c, mae: dict[str, float], flat=True, reference=0.02):
    """Runs of every row on every family with three seeds around ``mae[row]``, flat or falling curves, and
    measures where UB-Diff beats the baseline clearly."""
    runs, arrays = [], {}
    curve = [0.3, 0.2, 0.1, 0.099] if flat else [0.4, 0.3, 0.2, 0.1]
    for fam in c.families:
        for row in c.rows:
            for k, seed in enumerate(c.seeds):
                runs.append({"model": "inversionnet", "row": row, "family": fam, "seed": seed,
                             "mae": mae[row] + 0.001 * (k - 1)})
                arrays[f"inversionnet-{row}-{fam}-s{seed}/curve_val_loss"] = np.array(curve)
    fid = lambda x: {"fid": x, "low": 0.9 * x, "high": 1.1 * x}   # noqa: E731
    dev = lambda x: {"mean": x, "low": 0.9 * x, "high": 1.1 * x}  # noqa: E731
    measures = {fam: {"fid": {"2vq": {"velocity": fid(40), "seismic": fid(40)},
                              "2vq-sub": {"velocity": fid(60), "seismic": fid(60)},
                              "ubdiff": {"velocity": fid(30), "seismic": fid(30)},
                              "ubdiff-joint": {"velocity": fid(50), "seismic": fid(50)}},
                      "deviation": {"real": dev(0.0), "2vq": dev(0.01), "2vq-sub": dev(0.02), "ubdiff": dev(0.005),
                                    "ubdiff-joint": dev(0.01)}} for fam in c.families}
    refs = [{"model": "inversionnet", "family": fam, "mae": reference} for fam in c.families]
    return {"runs": runs, "measures": measures, "references": refs, "steps": c.steps}, arrays


MAES = {"real-100": 0.03, "real-10": 0.06, "real-1": 0.12, "gen": 0.08, "gen+real-10": 0.04, "gen+real-1": 0.07,
        "gen-sub+real-10": 0.05, "gen-sub": 0.09, "ubdiff": 0.085}


def _verdicts(c, metrics, arrays):
    return {cl.id: cl.verdict for cl in judge_claims(c, metrics, arrays)}


def test_the_claims_follow_the_numbers():
    c = make_config("augmentation", "cpu")
    v = _verdicts(c, *_metrics(c, MAES))
    assert v["wavediffusion.generated-only-worse"] == HOLDS
    assert v["wavediffusion.gen-plus-10-beats-10"] == HOLDS
    assert v["wavediffusion.gen-plus-1-beats-10"] == DOES_NOT_HOLD     # 0.07 vs 0.06
    assert v["augmentation.gain-without-leak"] == HOLDS
    assert v["ubdiff.fid-velocity"] == HOLDS and v["ubdiff.fid-seismic"] == HOLDS
    assert v["ubdiff.without-two-step-worse"] == HOLDS
    assert v["ubdiff.closer-to-pde"] == HOLDS
    assert v["ubdiff.downstream-inversionnet"] == HOLDS


def test_no_headroom_or_an_untrained_reference_leaves_the_claims_unjudged():
    c = make_config("augmentation", "cpu")
    same = dict(MAES, **{"real-10": 0.03})          # 10 % as good as 100 %: the budget, not the data, limits
    v = _verdicts(c, *_metrics(c, same))
    assert v["wavediffusion.gen-plus-10-beats-10"] == NOT_JUDGED
    assert v["wavediffusion.generated-only-worse"] == HOLDS         # needs no headroom
    g = gates(c, *_metrics(c, same))
    assert not g["flatvel-a"]["headroom"] and "do not matter" in g["flatvel-a"]["why"]
    v = _verdicts(c, *_metrics(c, MAES, reference=0.5))
    assert v["wavediffusion.generated-only-worse"] == NOT_JUDGED
    v = _verdicts(c, *_metrics(c, MAES, flat=False))
    assert v["wavediffusion.gen-plus-10-beats-10"] == NOT_JUDGED


def test_smoke_verdicts_are_never_judged():
    c = make_config("augmentation", "smoke")
    metrics, arrays = _metrics(c, MAES)
    assert set(_verdicts(c, metrics, arrays).values()) == {NOT_JUDGED}
