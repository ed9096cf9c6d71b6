"""The fit loop's data path: the sample order of an epoch, its batches on each rank, and their
delivery to the device.

The order of epoch ``e`` is a permutation drawn from ``(seed, e)`` only (:func:`epoch_order`);
:func:`rank_batches` shards it over DDP ranks so that their union is the one-process batch.
:class:`BatchStream` gathers in-memory tensor pairs directly (a background thread ahead on the way to a
GPU, :func:`_prefetch`) and sends other datasets through a persistent ``DataLoader``.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Iterator, Sequence

import numpy as np
import torch


# --------------------------------------------------------------------------------------------
# data: epoch order from (seed, epoch), sharded over ranks
# --------------------------------------------------------------------------------------------

def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True, samples_per_epoch: int | None = None
                ) -> np.ndarray:
    """Sample order of ``epoch``: a permutation of ``range(n)`` drawn from ``(seed, epoch)`` only.

    With ``samples_per_epoch`` an epoch is that many samples, whatever ``n``: the data are a stream of
    passes, pass ``k`` a permutation drawn from ``(seed, k)`` only, and epoch ``e`` is the stream's samples
    ``e·L … (e + 1)·L − 1`` (``L = samples_per_epoch``). Training sets of any size then take the same number of
    optimiser steps per epoch (a small set is cycled, a large one is seen across epochs), and the order of
    an epoch still depends on ``(seed, epoch)`` alone, so a resumed run sees the same batches.
    """
    if samples_per_epoch is None:
        if not shuffle:
            return np.arange(n)
        return np.random.default_rng([seed, epoch]).permutation(n)
    if not isinstance(samples_per_epoch, (int, np.integer)) or samples_per_epoch < 1:
        raise ValueError(f"samples_per_epoch must be a positive integer, got {samples_per_epoch!r}")
    start, stop = epoch * samples_per_epoch, (epoch + 1) * samples_per_epoch
    passes = range(start // n, (stop - 1) // n + 1)
    stream = np.concatenate([np.random.default_rng([seed, k]).permutation(n) if shuffle else np.arange(n)
                             for k in passes])
    offset = passes[0] * n
    return stream[start - offset: stop - offset]


def rank_batches(n: int, global_batch: int, rank: int = 0, world_size: int = 1, *, seed: int = 0,
                 epoch: int = 0, shuffle: bool = True, drop_last: bool = True,
                 pad: bool = True, samples_per_epoch: int | None = None) -> list[np.ndarray]:
    """This rank's batches of sample indices for one epoch.

    Global batch ``k`` is ``order[k·B:(k+1)·B]`` (``B = global_batch``); rank ``r`` takes every
    ``world_size``-th entry of the order, so the union over ranks of their ``k``-th batches is
    exactly global batch ``k`` — a DDP run sees the same batches as one process with batch ``B``.
    ``pad``: repeat the first samples so every rank gets as many (training; DDP needs equal
    step counts). Validation uses ``shuffle=False, drop_last=False, pad=False``.
    ``samples_per_epoch``: epochs of that many samples whatever ``n`` (:func:`epoch_order`).
    """
    if global_batch % world_size:
        raise ValueError(f"batch_size {global_batch} is not divisible by the world size {world_size}")
    order = epoch_order(n, seed, epoch, shuffle, samples_per_epoch)
    if drop_last:
        n = len(order)
        order = order[: (n // global_batch) * global_batch]
    elif pad and len(order) % world_size:
        order = np.concatenate([order, order[: world_size - len(order) % world_size]])
    mine = order[rank::world_size]
    per_rank = global_batch // world_size
    return [mine[i:i + per_rank] for i in range(0, len(mine), per_rank)]


class _BatchSampler:
    """A batch sampler whose batches are set per epoch (so a persistent DataLoader can use it)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _tensor_pair(dataset: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    tensors = getattr(dataset, "tensors", None)
    if (isinstance(tensors, (tuple, list)) and len(tensors) == 2
            and all(isinstance(t, torch.Tensor) for t in tensors) and len(tensors[0]) == len(tensors[1])):
        return tensors[0], tensors[1]
    return None


def _prefetch(produce: Iterator, depth: int = 2) -> Iterator:
    """Run ``produce`` in a background thread, ``depth`` items ahead (gathers release the GIL)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def worker() -> None:
        try:
            for item in produce:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class BatchStream:
    """Delivers ``(x, y)`` batches on the device for a list of index batches.

    In-memory tensor pairs are gathered directly (into pinned memory, a background thread ahead,
    when copying to a GPU; on the GPU itself with ``data_on_device``); other datasets go through a
    persistent ``DataLoader``.
    """

    def __init__(self, dataset: Any, device: torch.device, *, channels_last: bool = False,
                 num_workers: int = 0, seed: int = 0, data_on_device: bool = False):
        self.device = device
        self.channels_last = channels_last
        pair = _tensor_pair(dataset)
        self.tensors = None
        self.loader = None
        if pair is not None:
            if data_on_device:
                pair = (pair[0].to(device), pair[1].to(device))
            self.tensors = pair
        else:
            self.sampler = _BatchSampler()
            g = torch.Generator().manual_seed(seed)
            self.loader = torch.utils.data.DataLoader(
                dataset, batch_sampler=self.sampler, num_workers=num_workers,
                pin_memory=device.type == "cuda", persistent_workers=num_workers > 0, generator=g)

    def _gather(self, batches: Sequence[np.ndarray]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, Y = self.tensors
        pin = self.device.type == "cuda" and X.device.type == "cpu"
        for b in batches:
            idx = torch.from_numpy(np.ascontiguousarray(b, dtype=np.int64)).to(X.device)
            if pin:
                x = torch.empty((len(b),) + tuple(X.shape[1:]), dtype=X.dtype, pin_memory=True)
                y = torch.empty((len(b),) + tuple(Y.shape[1:]), dtype=Y.dtype, pin_memory=True)
                torch.index_select(X, 0, idx, out=x)
                torch.index_select(Y, 0, idx, out=y)
            else:
                x, y = X.index_select(0, idx), Y.index_select(0, idx)
            yield x, y

    def _to_device(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def __call__(self, batches: Sequence[np.ndarray]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.tensors is not None:
            source: Iterator = self._gather(batches)
            if self.device.type == "cuda" and self.tensors[0].device.type == "cpu":
                source = _prefetch(source)
        else:
            self.sampler.batches = [b.tolist() for b in batches]
            source = iter(self.loader)
        for batch in source:
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise ValueError("datasets given to fit must yield (x, y) pairs")
            yield self._to_device(*batch)
