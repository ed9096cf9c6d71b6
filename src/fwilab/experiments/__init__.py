"""One package per chapter (config.py: a frozen config with presets per profile; compute.py: the pieces and
``run(config) -> Artifact``; claims.py: the papers' numbers and ``judge_claims``).

The CLI (``python -m fwilab run <chapter>``) and the chapter's notebook call the same
:func:`run_chapter`, so both produce the same artifact.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

#: chapter name -> module under fwilab.experiments (imported lazily: each pulls in heavy deps)
EXPERIMENTS: dict[str, str] = {
    "data": "fwilab.experiments.data",
    "baselines": "fwilab.experiments.baselines",
    "linearity": "fwilab.experiments.linearity",
    "spectral": "fwilab.experiments.spectral",
    "routing": "fwilab.experiments.routing",
    "diffusion": "fwilab.experiments.diffusion",
    "augmentation": "fwilab.experiments.augmentation",
}


def experiment(chapter: str) -> ModuleType:
    if chapter not in EXPERIMENTS:
        raise ValueError(f"unknown chapter {chapter!r}: choose one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[chapter])


def make_config(chapter: str, profile: str, **params: Any):
    """Build and validate a chapter's frozen config from papermill/CLI parameters."""
    return experiment(chapter).CONFIG.preset(profile, **params)


def run_chapter(config, log=print):
    """Load the chapter's artifact when its config hash matches, else run it and save it (the claims of a
    run that overrides its preset are listed unjudged)."""
    from ..claims import unjudged_for_overrides
    from ..results import run_or_load

    return run_or_load(config, experiment(config.CHAPTER).run, log=log, overridden_claims=unjudged_for_overrides)


def preset_overrides_of(art) -> dict[str, tuple[Any, Any]]:
    """The preset overrides recorded in an artifact's config (an artifact saved before overridden runs were
    left unjudged keeps its verdicts otherwise); none when its config cannot be rebuilt."""
    config = getattr(art, "config", None)
    if not config or "profile" not in config:
        return {}
    try:
        return experiment(art.chapter).CONFIG(**config).preset_overrides()
    except (ValueError, TypeError):   # another chapter, or a config from another version
        return {}


def ledger(artifacts, largest_profile_only: bool = True) -> list[dict[str, Any]]:
    """The claims ledger of ``artifacts`` (:func:`fwilab.claims.ledger_rows`), overridden runs unjudged."""
    from ..claims import ledger_rows

    return ledger_rows(artifacts, largest_profile_only=largest_profile_only, overrides_of=preset_overrides_of)
