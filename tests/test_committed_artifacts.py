"""Every committed artifact re-judges to its stored claims with today's code, under today's config hash.

A refactor that changes a preset's hash, a claim's rule text or a verdict fails here; a run that
legitimately changes a chapter re-commits its artifact with the code that made it.
"""

import inspect
from pathlib import Path

import pytest

from fwilab.experiments import EXPERIMENTS, experiment, make_config
from fwilab.results import iter_artifacts

RESULTS = Path(__file__).resolve().parents[1] / "results"
COMMITTED = sorted((a.chapter, a.config["profile"]) for a in iter_artifacts(RESULTS)) if RESULTS.exists() else []


@pytest.mark.parametrize("chapter, profile", COMMITTED)
def test_committed_artifact_keeps_its_hash_and_claims(chapter, profile):
    from fwilab.results import load_artifact

    assert chapter in EXPERIMENTS
    art = load_artifact(RESULTS, chapter, profile)
    config = make_config(chapter, profile, **{k: v for k, v in art.config.items()
                                              if k in ("seed", "openfwi_dir")})
    assert config.config_hash == art.config_hash, f"{chapter}/{profile}: the preset's hash moved"
    judge = experiment(chapter).judge_claims
    args = (config, art.metrics, art.arrays)[:len(inspect.signature(judge).parameters)]
    claims = [c.to_dict() for c in judge(*args)]
    assert claims == art.claims, f"{chapter}/{profile}: re-judged claims differ from the stored ones"


def test_the_published_chapters_are_on_record():
    assert {"data", "linearity", "spectral", "routing"} <= {c for c, _ in COMMITTED}
