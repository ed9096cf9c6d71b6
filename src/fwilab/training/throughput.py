"""Speed of the fit loop's parts: training samples/s of its step code on synthetic batches
(:func:`throughput_benchmark`) and of its input path alone (:func:`input_pipeline_benchmark`)."""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import torch
from torch import nn

from fwilab.devices import resolve_device
from fwilab.training.batches import BatchStream, rank_batches
from fwilab.training.distributed import DistributedContext
from fwilab.training.losses import l1_plus_l2
from fwilab.training.steps import (SupervisedStep, TrainStep, _build_context, _configure_backends,
                                   _resolve_channels_last, _wrap)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput_benchmark(model: nn.Module, input_shape: Sequence[int], batch_size: int, steps: int = 50,
                         device: str | torch.device = "auto", *, loss: Callable = l1_plus_l2,
                         amp: str = "auto", channels_last: bool | str = "auto", compile: bool | None = None,
                         warmup_steps: int = 10, step: TrainStep | None = None,
                         grad_clip: float | None = None) -> dict[str, Any]:
    """Training samples/s of ``model`` with the fit loop's own step code on synthetic batches.

    ``input_shape``: one sample, e.g. ``(5, 1000, 70)`` for InversionNet on OpenFWI data. Targets
    are random tensors of the model's output shape. ``compile`` defaults to True on CUDA (the
    configuration the speed claim is measured in) and False on CPU. The model is trained in place
    (use a fresh one). Times ``steps`` steps after ``warmup_steps`` (compilation, cuDNN autotune).
    """
    if batch_size < 1 or steps < 1 or warmup_steps < 0:
        raise ValueError(f"need batch_size >= 1, steps >= 1, warmup_steps >= 0; got {batch_size}, {steps}, "
                         f"{warmup_steps}")
    dev = resolve_device(device)
    compile_model = (dev.type == "cuda") if compile is None else bool(compile)
    _configure_backends(dev, deterministic=False)
    ctx = _build_context(model, loss, device=dev, lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4, amp=amp,
                         channels_last=channels_last, grad_clip=grad_clip, dist=DistributedContext(device=dev))
    step = step if step is not None else SupervisedStep()
    step.setup(ctx)
    _wrap(ctx, compile_model)
    x = torch.randn((batch_size, *input_shape), device=dev)
    if ctx.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), ctx.autocast():
        ctx.module.eval()
        y_shape = ctx.module(x[:1]).shape[1:]
        ctx.module.train()
    y = torch.rand((batch_size, *y_shape), device=dev) * 2 - 1
    ctx.batches_per_epoch = warmup_steps + steps
    for i in range(warmup_steps):
        ctx.batch_index = i
        step(x, y, ctx)
    _sync(dev)
    t0 = time.perf_counter()
    for i in range(steps):
        ctx.batch_index = warmup_steps + i
        out = step(x, y, ctx)
    _sync(dev)
    elapsed = time.perf_counter() - t0
    return {"samples_per_s": batch_size * steps / elapsed, "step_ms": 1e3 * elapsed / steps,
            "batch_size": batch_size, "steps": steps, "device": str(dev), "amp": str(ctx.amp_dtype),
            "channels_last": ctx.channels_last, "compile": compile_model,
            "final_loss": float(out["loss"]) if "loss" in out else math.nan}


def input_pipeline_benchmark(dataset: torch.utils.data.Dataset, batch_size: int, batches: int = 20,
                             device: str | torch.device = "auto", *, num_workers: int = 0,
                             channels_last: bool | str = "auto", data_on_device: bool = False,
                             seed: int = 0) -> dict[str, Any]:
    """Samples/s the fit loop's input path delivers to the device, with no model: compare with
    :func:`throughput_benchmark` to see whether data loading could be the bottleneck."""
    dev = resolve_device(device)
    stream = BatchStream(dataset, dev, channels_last=_resolve_channels_last(channels_last, dev),
                         num_workers=num_workers, seed=seed, data_on_device=data_on_device)
    all_batches = rank_batches(len(dataset), batch_size, seed=seed, epoch=0, drop_last=True)[:batches]
    if not all_batches:
        raise ValueError(f"dataset has {len(dataset)} samples, fewer than one batch of {batch_size}")
    n = 0
    t0 = time.perf_counter()
    for x, _ in stream(all_batches):
        n += len(x)
    _sync(dev)
    elapsed = time.perf_counter() - t0
    return {"samples_per_s": n / elapsed, "batches": len(all_batches), "batch_size": batch_size,
            "device": str(dev), "path": "tensor gather" if stream.tensors is not None else "DataLoader"}
