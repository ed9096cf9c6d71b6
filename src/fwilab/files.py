"""Files that are never half-written, and where cached data lives: the lowest layer, which everything may use.

* :func:`atomic_write` (and the text / NPZ / NPY forms): a temporary file in the same folder, fsynced and
  renamed over the target, so a kill at any moment leaves either the old file or the new one;
* :func:`folder_lock`: one writer at a time in a folder (POSIX advisory lock);
* :func:`default_cache_dir`: ``$FWILAB_CACHE`` or ``~/.cache/fwilab`` (the dataset store and the
  generated datasets live under it).

Nothing here imports the rest of fwilab.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

#: Environment variable naming the cache directory (default ``~/.cache/fwilab``).
CACHE_ENV: str = "FWILAB_CACHE"


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file atomically: ``write(fh)`` fills a temporary file in the same folder, which is
    fsynced and renamed over ``path``; on any error (or interrupt) the temporary file is removed
    and a previous ``path`` is left as it was. A hard kill leaves at most the temporary
    (``.<name>.<random>.tmp``), which readers ignore."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a result file is an ordinary file
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(path, buf.getvalue())


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.save(fh, np.ascontiguousarray(array), allow_pickle=False))


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in 4 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Serialise writers into the same folder (POSIX advisory lock; a no-op elsewhere).

    The empty ``.fwilab.lock`` stays in the folder on purpose: deleting it on release would let a
    waiting process lock the old, unlinked file while a newcomer creates and locks a new one, and
    both would write at once. Readers ignore it (it matches no data file pattern)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(Path(folder) / ".fwilab.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def default_cache_dir() -> Path:
    """``$FWILAB_CACHE`` or ``~/.cache/fwilab``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fwilab"
