"""One fit loop for every model in the book: pluggable losses and per-batch updates,
schedules, atomic checkpoints, exact resume, best-validation selection and DDP.

Typical use::

    from fwilab.training import FitConfig, fit, l1_plus_l2
    result = fit(model, train_set, val_set, l1_plus_l2, FitConfig(epochs=120, batch_size=256))
    result.restore_best(model)
"""

from fwilab.training.batches import BatchStream, epoch_order, rank_batches
from fwilab.training.checkpoint import (BEST, LAST, latest_checkpoint, load_checkpoint, rng_state,
                                        save_checkpoint, seed_everything, set_rng_state)
from fwilab.training.distributed import DistributedContext, cleanup, init_from_env
from fwilab.training.fit import FitConfig, FitResult, fit
from fwilab.training.hooks import EpochHook
from fwilab.training.losses import WeightedSum, l1, l1_plus_l2, l2, loss_with_parts, mse
from fwilab.training.schedules import SCHEDULES, LRSchedule
from fwilab.training.steps import AdversarialStep, StepContext, SupervisedStep, TrainStep, resolve_amp
from fwilab.training.throughput import input_pipeline_benchmark, throughput_benchmark

__all__ = [
    "AdversarialStep", "BatchStream", "BEST", "DistributedContext", "EpochHook", "FitConfig", "FitResult",
    "LAST", "LRSchedule", "SCHEDULES", "StepContext", "SupervisedStep", "TrainStep", "WeightedSum", "cleanup",
    "epoch_order", "fit", "init_from_env", "input_pipeline_benchmark", "l1", "l1_plus_l2", "l2",
    "latest_checkpoint", "load_checkpoint", "loss_with_parts", "mse", "rank_batches", "resolve_amp",
    "rng_state", "save_checkpoint", "seed_everything", "set_rng_state", "throughput_benchmark",
]
