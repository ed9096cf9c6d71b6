"""One module per chapter: a frozen config with presets per profile and ``run(config) -> Artifact``.

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
}


def experiment(chapter: str) -> ModuleType:
    if chapter not in EXPERIMENTS:
        raise ValueError(f"unknown chapter {chapter!r}: choose one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[chapter])


def make_config(chapter: str, profile: str, **params: Any):
    """Build and validate a chapter's frozen config from papermill/CLI parameters."""
    return experiment(chapter).CONFIG.preset(profile, **params)


def run_chapter(config, log=print):
    """Load the chapter's artifact when its config hash matches, else run it and save it."""
    from ..results import run_or_load

    return run_or_load(config, experiment(config.CHAPTER).run, log=log)
