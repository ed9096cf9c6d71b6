"""Progress bars: tqdm, switched off for the book's pages.

tqdm reads ``TQDM_DISABLE`` only for arguments a call leaves out, and every bar here passes
``disable=`` (from a ``progress`` flag), so the environment would never win: :func:`bar` gives it the
last word, and ``fwilab.book`` sets it while the chapters execute.
"""

from __future__ import annotations

import os
from typing import Any

from tqdm import tqdm


def disabled_by_environment() -> bool:
    """``TQDM_DISABLE`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes")


def bar(iterable: Any = None, *, enabled: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, shown when ``enabled`` and not disabled by the environment."""
    return tqdm(iterable, disable=not enabled or disabled_by_environment(), **kwargs)
