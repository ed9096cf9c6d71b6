"""Progress bars: tqdm, switched off for the book's pages.

tqdm reads ``TQDM_DISABLE`` only for arguments a call leaves out, and every bar here passes
``disable=`` (from a ``progress`` flag), so the environment would never win: :func:`bar` gives it the
last word, and ``fwilab.book`` sets it while the chapters execute.

Transient bars (``leave=False``: the solver's time steps, FWI, generating velocity maps) are for a
terminal, where they are erased when they finish. Written to a log or a pipe they cannot be erased
and, being short, mostly leave a stale "0%" line behind, so :func:`bar` shows them only on a terminal
(or a Jupyter output). Bars that stay (training, dataset generation) are shown everywhere.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm import tqdm


def disabled_by_environment() -> bool:
    """``TQDM_DISABLE`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes")


def interactive(stream: Any) -> bool:
    """``stream`` is a terminal, or a Jupyter kernel's output (which also redraws a bar in place)."""
    if type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):   # no isatty, or a closed file
        return False


def bar(iterable: Any = None, *, enabled: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, shown when ``enabled`` and not disabled by the environment;
    a transient bar (``leave=False``) only where it can be erased (:func:`interactive`)."""
    transient_in_log = kwargs.get("leave", True) is False and not interactive(kwargs.get("file") or sys.stderr)
    return tqdm(iterable, disable=not enabled or disabled_by_environment() or transient_in_log, **kwargs)
