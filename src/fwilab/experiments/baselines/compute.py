"""The baselines chapter's computation: the InversionNet, VelocityGAN and classic-FWI pieces, and ``run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ...config import ExperimentConfig
from ...data.families import check_family
from ...data.splits import check_openfwi_files, load_family_splits, map_source
from ...metrics import count_flops, count_parameters, cpu_latency
from ...models.velocitygan import (ADVERSARIAL_WEIGHT, GP_WEIGHT, L1_WEIGHT, L2_WEIGHT, N_CRITIC,
                                   Discriminator, critic_loss, generator_adversarial_loss)
from ...physics import fwi, smooth_initial_model
from ...physics.acquisition import Acquisition
from ...results import Artifact, artifact_dir, run_piece
from ...training.fit import AdversarialStep
from ...training.losses import WeightedSum, l1, l2
from ...training.runs import train_and_evaluate
from .claims import judge_claims, regime
from .config import CHAPTER, FWI_FIELDS, TRAINING_FIELDS, BaselinesConfig

def checkpoint_root(config: ExperimentConfig, unrelated: frozenset[str] = FWI_FIELDS) -> Path:
    """Checkpoints live beside the artifact but are not committed (see .gitignore)."""
    return (artifact_dir(config.results_dir, config.CHAPTER, config.profile) / "checkpoints"
            / config.piece_hash_without(unrelated))


def _inversionnet(config: BaselinesConfig, splits, seed: int) -> tuple[dict, dict]:
    name = f"inversionnet-{splits.family}-s{seed}"
    return baseline_inversionnet(config, splits, seed, checkpoint_root(config, FWI_FIELDS | {"gan_epochs"}) / name)


def _velocitygan(config: BaselinesConfig, splits, seed: int) -> tuple[dict, dict]:
    torch.manual_seed(seed)
    acq = config.acquisition
    generator = config.inversionnet()
    critic = Discriminator(acquisition=acq, width=config.width)
    # OpenFWI gan_train.py: AdamW, betas (0, 0.9), weight decay 1e-4 for both players
    critic_opt = torch.optim.AdamW(critic.parameters(), lr=config.lr, betas=(0.0, 0.9), weight_decay=1e-4)
    step = AdversarialStep(critic, critic_opt, lambda c, r, f: critic_loss(c, r, f, gp_weight=GP_WEIGHT),
                           generator_adversarial_loss, n_critic=N_CRITIC, adversarial_weight=ADVERSARIAL_WEIGHT)
    pixel = WeightedSum({"l1": (L1_WEIGHT, l1), "l2": (L2_WEIGHT, l2)})
    ckpt = checkpoint_root(config, FWI_FIELDS | {"epochs", "compile"}) / f"velocitygan-{splits.family}-s{seed}"
    fit_cfg = config.fit_config(seed, ckpt, config.gan_epochs).replace(betas=(0.0, 0.9))
    return train_and_evaluate(generator, splits.train, splits.val, splits.test, loss=pixel, config=fit_cfg, step=step)


def classic_fwi(splits, acquisition: Acquisition, *, samples: int, iterations: int,
                frequencies: tuple[float, ...], smooth_cells: float, progress: bool = True,
                device: str | torch.device = "cpu") -> tuple[dict, dict]:
    """Multiscale classic FWI on the first ``samples`` test samples of ``splits``.

    The start is the true model smoothed over ``smooth_cells`` cells (Gaussian σ); each sample gets
    ``iterations`` Adam steps per low-pass band in ``frequencies`` [Hz] (low first). Returns
    ``(metrics, arrays)``: mean MAE [m/s] of the result and of the start, seconds per sample; the
    per-sample MAE and the true / start / inverted maps [samples, nz, nx] in m/s. Shared by the
    baselines and InvLINT chapters.

    On the CPU the samples are inverted as one batch (the adjoint path keeps one wavefield per thread,
    ~2 GB for an OpenFWI sample; Adam is elementwise and the misfit a sum over models, so each model's
    steps are exactly those of its own inversion) and the time per sample is the wall time over
    ``samples``. Elsewhere (autograd through the reference loop, ~4 GB a sample) one at a time.
    """
    acq = acquisition
    k = samples
    v_true = torch.as_tensor(splits.test_velocity_ms[:k], dtype=torch.float32, device=device)
    # FWI inverts the full-rate records (the networks may read decimated ones)
    observed = torch.as_tensor(splits.observed(k, acq), dtype=torch.float32, device=device)
    v0 = smooth_initial_model(v_true, smooth_cells)
    step = k if v_true.device.type == "cpu" else 1
    inverted, elapsed = [], 0.0
    for i in range(0, k, step):
        res = fwi(observed[i:i + step], v0[i:i + step], acq, iterations=iterations,
                  frequencies=list(frequencies), progress=progress)
        inverted.append(res.v[:, 0].detach())
        elapsed += float(res.time_s)
    v_inv = torch.cat(inverted)[:, None]
    maes = (v_inv - v_true).abs().flatten(1).mean(dim=1).cpu().numpy().astype(np.float64)
    start_maes = (v0 - v_true).abs().flatten(1).mean(dim=1).cpu().numpy().astype(np.float64)
    metrics = {"mae_ms": float(np.mean(maes)), "start_mae_ms": float(np.mean(start_maes)),
               "s_per_sample": elapsed / k, "n": k, "batched": step > 1}
    arrays = {"mae_ms_per_sample": maes,
              "inverted": v_inv[:, 0].cpu().numpy().astype(np.float32),
              "start": v0[:, 0].cpu().numpy().astype(np.float32), "true": v_true[:, 0].cpu().numpy().astype(np.float32)}
    return metrics, arrays


def _classic_fwi(config: BaselinesConfig, splits) -> tuple[dict, dict]:
    return classic_fwi(splits, config.acquisition, samples=config.fwi_samples, iterations=config.fwi_iterations,
                       frequencies=config.fwi_frequencies, smooth_cells=config.fwi_smooth_cells,
                       progress=config.progress, device=config.torch_device)


def _model_costs(config: BaselinesConfig) -> dict[str, Any]:
    """Parameters, GFLOPs and median CPU latency at batch 1 (this process's threads) of the networks."""
    acq = config.acquisition
    out = {}
    for name, width in (("InversionNet (official width)", 1.0), (f"InversionNet (width {config.width})", config.width)):
        m = config.inversionnet(width)
        shape = (acq.n_shots, config.data_nt, acq.n_receivers)  # one sample, no batch axis
        out[name] = {"parameters": count_parameters(m), "gflops": count_flops(m, shape) / 1e9,
                     "cpu_latency_s": cpu_latency(m, shape, repeats=3, warmup=1)}
    d = Discriminator(acquisition=acq, width=config.width)
    out[f"VelocityGAN critic (width {config.width})"] = {"parameters": count_parameters(d)}
    return out


def run(config: BaselinesConfig) -> Artifact:
    metrics: dict[str, Any] = {"runs": [], "fwi": {}}
    arrays: dict[str, np.ndarray] = {}
    check_openfwi_files(config, config.families + config.gan_families)   # before the first family trains
    families = tuple(dict.fromkeys(config.families + config.gan_families))
    splits = {}
    # in order of what the book needs most: the reference InversionNet of every family (the trained-regime
    # gate of every chapter), then VelocityGAN, then classic FWI, so a run stopped early has the gate
    for model, fams in (("inversionnet", config.families),
                        ("velocitygan", config.gan_families if config.gan_epochs > 0 else ())):
        for fam in fams:
            if fam not in splits:
                splits[fam] = load_family_splits(fam, config.n_train, config.n_val, config.n_test,
                                                 **config.split_options())
            for seed in config.seeds if model == "inversionnet" else config.gan_seed_list:
                name = f"{model}-{fam}-s{seed}"
                fn = _inversionnet if model == "inversionnet" else _velocitygan
                # an InversionNet piece does not depend on VelocityGAN's length, nor a VelocityGAN piece on
                # InversionNet's: other chapters reuse the reference InversionNet pieces as they are
                other = {"gan_epochs"} if model == "inversionnet" else {"epochs", "compile"}
                m, a = run_piece(config, name, lambda: fn(config, splits[fam], seed), unrelated=FWI_FIELDS | other)
                metrics["runs"].append({"model": model, "family": fam, "seed": seed, **m})
                arrays.update({f"{name}/{k}": v for k, v in a.items()})
    for fam in config.fwi_families if config.fwi_iterations > 0 else ():
        m, a = run_piece(config, f"fwi-{fam}", lambda: _classic_fwi(config, splits[fam]), unrelated=TRAINING_FIELDS)
        metrics["fwi"][fam] = m
        arrays.update({f"fwi-{fam}/{k}": v for k, v in a.items()})
    for fam in families:
        arrays[f"truth/{fam}"] = np.asarray(splits[fam].test.tensors[1][:4].numpy(), dtype=np.float32)
    # a piece, so re-assembling the artifact does not re-time the models on whatever load the machine has
    costs = run_piece(config, "costs", lambda: (_model_costs(config), {}),
                      unrelated=FWI_FIELDS | (TRAINING_FIELDS - {"width", "decimate"}) | {"openfwi_dir", "maps"})[0]
    metrics["costs"] = {k: v for k, v in costs.items() if isinstance(v, dict)}   # the piece's own provenance aside
    metrics["regime"] = {fam: c.to_dict() for fam, c in regime(config, metrics).items()}
    metrics["data"] = {fam: map_source(fam, config.maps) if config.openfwi_dir is None else "openfwi-files"
                       for fam in dict.fromkeys(config.families + config.gan_families)}
    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics, arrays)]
    return art


def reference_inversionnet(family: str, seed: int, *, profile: str = "cpu", results_dir: str = "results",
                           device: str = "auto", progress: bool = True, splits=None) -> tuple[dict, dict]:
    """The reference InversionNet of ``family`` and ``seed`` at ``profile``'s baselines recipe: the baselines
    chapter's piece, loaded where it exists (under ``results_dir/baselines/<profile>/pieces``), else trained
    and saved there, so every chapter compares against the same networks and none retrains them.

    Returns the piece's ``(metrics, arrays)``: test MAE / RMSE / SSIM, per-sample MAE, curves, the first test
    predictions (see :func:`fwilab.training.runs.train_and_evaluate`). ``splits`` may pass the family's
    splits at this recipe's sizes when the caller holds them already.
    """
    config = BaselinesConfig.preset(profile, results_dir=str(results_dir), device=device, progress=progress)
    fam = check_family(family)
    if splits is None:
        splits = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
    return run_piece(config, f"inversionnet-{fam}-s{seed}", lambda: _inversionnet(config, splits, seed),
                     unrelated=FWI_FIELDS | {"gan_epochs"})


def reference_runs(config: Any, family: str, splits=None, seeds=None, arrays: dict | None = None) -> list[dict]:
    """The run records of :func:`reference_inversionnet` for ``family`` at ``config``'s profile, results folder,
    device and progress, one per seed (``seeds``; default: the baselines chapter's at that profile), as
    other chapters keep them beside their own runs (``model`` "inversionnet", ``reference`` "baselines", the
    piece's metrics). ``arrays``, where given, receives each piece's arrays under
    ``inversionnet-<family>-s<seed>/`` (the test predictions of ``config.seed`` only)."""
    if seeds is None:
        seeds = BaselinesConfig.preset(config.profile).seeds
    runs = []
    for seed in seeds:
        m, a = reference_inversionnet(family, seed, profile=config.profile, results_dir=config.results_dir,
                                      device=config.device, progress=config.progress, splits=splits)
        runs.append({"model": "inversionnet", "variant": "default", "family": family, "seed": seed,
                     "reference": "baselines", "train_total_s": m.get("train_s"), **m})
        if arrays is not None:
            arrays.update({f"inversionnet-{family}-s{seed}/{k}": v for k, v in a.items()
                           if seed == config.seed or k != "predictions"})
    return runs


def reference_velocitygan(family: str, seed: int, *, profile: str = "cpu", results_dir: str = "results",
                          device: str = "auto", progress: bool = True, splits=None) -> tuple[dict, dict]:
    """The baselines chapter's VelocityGAN of ``family`` and ``seed`` at ``profile`` (loaded where it exists,
    else trained and saved there): with :func:`reference_inversionnet`, "the best official baseline" other
    chapters compare with. Returns the piece's ``(metrics, arrays)``."""
    config = BaselinesConfig.preset(profile, results_dir=str(results_dir), device=device, progress=progress)
    fam = check_family(family)
    if splits is None:
        splits = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
    return run_piece(config, f"velocitygan-{fam}-s{seed}", lambda: _velocitygan(config, splits, seed),
                     unrelated=FWI_FIELDS | {"epochs", "compile"})


def baseline_inversionnet(config: BaselinesConfig, splits, seed: int, checkpoint_dir: Path,
                          extra: Callable[[torch.nn.Module], dict[str, np.ndarray]] | None = None
                          ) -> tuple[dict, dict]:
    """An InversionNet trained with ``config``'s recipe (L1, its epochs, schedule, compile) into
    ``checkpoint_dir`` (resuming there): the reference pieces, and, from other chapters, the capacity
    controls (an InversionNet of another width, trained the way the reference one is). ``extra(model)``,
    called on the trained model, adds arrays to the piece."""
    torch.manual_seed(seed)
    model = config.inversionnet()
    metrics, arrays = train_and_evaluate(model, splits.train, splits.val, splits.test, loss=l1,
                                         config=config.fit_config(seed, checkpoint_dir, config.epochs,
                                                                  compile=config.compile))
    if extra is not None:
        arrays.update(extra(model))
    return metrics, arrays


def reference_fwi(family: str, *, profile: str = "cpu", results_dir: str = "results", device: str = "auto",
                  progress: bool = True, splits=None) -> tuple[dict, dict]:
    """The baselines chapter's classic-FWI piece of ``family`` at ``profile`` (loaded where it exists, else
    run and saved there), so a chapter compares its networks with the same inversions on the same test maps.

    Returns the piece's ``(metrics, arrays)`` (see :func:`classic_fwi`).
    """
    config = BaselinesConfig.preset(profile, results_dir=str(results_dir), device=device, progress=progress)
    fam = check_family(family)
    if splits is None:
        splits = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
    return run_piece(config, f"fwi-{fam}", lambda: _classic_fwi(config, splits), unrelated=TRAINING_FIELDS)
