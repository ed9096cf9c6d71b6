"""The augmentation chapter's computation: the generators, their quality measures, the InversionNet rows, and
:func:`run`.

Pieces, per family (each saved when it finishes; every fit resumes from its checkpoints):

* ``generator-<generator>-<family>``: trains one generator of :data:`~.config.GENERATORS` (``2vq`` is the
  diffusion chapter's, loaded or run there) and keeps its weights in ``models/`` beside the pieces
  (committed, a few MB), so the rows and the measures sample from it without retraining it;
* ``measures-<family>``: ``fid_samples`` generated pairs of every generator against as many real test pairs:
  FID on Inception-v3 features of the rendered velocity maps and records (:mod:`fwilab.fid`; the generators of
  :data:`FID_GENERATORS`), the domain
  Fréchet distances of the diffusion chapter, the PDE deviation of the pairs, and a gallery;
* ``inversionnet-<row>-<family>-s<seed>``: InversionNet trained on the row's pairs (:data:`~.config.ROWS`: real
  subsets, generated sets, their unions) for the chapter's fixed number of optimiser steps, selected on real
  validation pairs and scored on the real test maps.

A generated training set (``gen_samples`` pairs of one generator) is drawn once per family from a seed fixed by
the family, and cached under ``checkpoints/`` (not committed; drawn again from the committed weights when
absent), so every row and seed that uses a generator trains on the same pairs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ...data.splits import check_openfwi_files, load_family_splits
from ...models.ubdiff import CoLatentAutoencoder, UBDiff
from ...results import Artifact, artifact_dir, recomputing, run_piece
from ...training.checkpoint import load_checkpoint, save_checkpoint
from ...training.fit import fit
from ...training.generative import CoLatentFit, EMAStep, LatentDDPMFit, own_loss, pack_pairs
from ...training.losses import l1
from ...training.runs import train_and_evaluate
from ..diffusion.compute import (Standardiser, batched, bootstrap_mean, decode_latents, deviation, fd_features,
                                 fd_with_interval, gallery, generate_pairs, reference_generator, train_autoencoder,
                                 train_denoiser)
from .claims import judge_claims
from .config import CHAPTER, GENERATORS, ROWS, AugmentationConfig

#: a sampler of one trained generator: ``(n, torch.Generator) → (seismic, velocity)`` (normalised pairs)
Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
#: the generators whose FID is measured (Inception-v3 costs ≈ 0.15 s an image on 2 cores): UB-Diff, its "w/o opt"
#: ablation and the diffusion baseline on the same pairs; the full-data 2VQ gets the domain distances only
FID_GENERATORS: tuple[str, ...] = ("2vq-sub", "ubdiff", "ubdiff-joint")
#: UB-Diff's DDPM samples with DDIM over this many of its T = 256 steps (η = 0), the 2VQ generators over
#: ``sample_steps``
UBDIFF_SAMPLE_STEPS: int = 64


def checkpoint_root(config: AugmentationConfig) -> Path:
    """Checkpoints and cached generated sets live beside the artifact but are not committed (.gitignore)."""
    return artifact_dir(config.results_dir, config.CHAPTER, config.profile) / "checkpoints" / config.piece_hash


def model_path(config: AugmentationConfig, name: str) -> Path:
    """Where a trained generator's weights are kept (beside the pieces, tied to their hash; committed)."""
    return artifact_dir(config.results_dir, config.CHAPTER, config.profile) / "models" / f"{name}-{config.piece_hash}.pt"


def family_seed(config: AugmentationConfig, family: str) -> int:
    """The seed of a family's generators and generated sets (the same for every row and InversionNet seed)."""
    return config.seed + 1000 * config.families.index(family)


# --------------------------------------------------------------------------------------------
# the generators
# --------------------------------------------------------------------------------------------

def subset(data: TensorDataset, n: int) -> TensorDataset:
    """The first ``n`` samples of an in-memory split (the same fixed subset for every row and generator)."""
    return TensorDataset(*(t[:n] for t in data.tensors))


def train_ubdiff(config: AugmentationConfig, maps: torch.Tensor, val_maps: torch.Tensor, pairs: TensorDataset,
                 val_pairs: TensorDataset, joint: bool, seed: int, root: Path) -> tuple[UBDiff, dict, dict]:
    """UB-Diff trained on unbalanced data (``joint=False``: step 1 on all ``maps``, step 2 on the ``pairs``; the
    DDPM on the co-latents of all maps) or as "w/o opt" (``joint=True``: everything on the pairs only, the DDPM
    on their maps' co-latents). Each stage through the one fit loop, best epoch by validation loss."""
    torch.manual_seed(seed)
    model = UBDiff(config.ubdiff_config())
    ae: CoLatentAutoencoder = model.autoencoder
    metrics: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    seismic, velocity = pairs.tensors
    val_s, val_v = val_pairs.tensors
    stages = (("joint", TensorDataset(velocity, pack_pairs(seismic, velocity)),
               TensorDataset(val_v, pack_pairs(val_s, val_v)), config.ub_pair_samples),) if joint else (
        ("step1", TensorDataset(maps, maps), TensorDataset(val_maps, val_maps), None),
        ("step2", TensorDataset(velocity, seismic), TensorDataset(val_v, val_s), config.ub_pair_samples))
    t0 = time.perf_counter()
    for step, train, val, per_epoch in stages:
        wrapper = CoLatentFit(ae, step)
        fc = config.generator_fit_config(config.ub_epochs, config.ub_batch_size, config.ub_lr, seed,
                                         str(root / step), per_epoch)
        result = fit(wrapper, train, val, loss=wrapper.loss, config=fc, resume=not recomputing())
        result.restore_best(wrapper)
        metrics[f"{step}_best_epoch"] = result.best_epoch
        arrays.update(result.arrays(f"{step}_curve_"))
    ae.set_training_step("step2")     # everything but the seismic decoder frozen: a no-op for the DDPM below
    ae.eval()
    latent_maps = velocity if joint else maps
    z = batched(model.encode, latent_maps)
    z_val = batched(model.encode, val_v if joint else val_maps)
    wrapper = LatentDDPMFit(model.diffusion)
    fc = config.generator_fit_config(config.ub_ddpm_epochs, min(64, len(z)), config.ub_lr, seed, str(root / "ddpm"),
                                     config.ub_pair_samples if joint else None)
    result = fit(wrapper, TensorDataset(z, z), TensorDataset(z_val, z_val), loss=own_loss, config=fc,
                 step=EMAStep(), resume=not recomputing())
    result.restore_best(wrapper)
    model.eval()
    metrics.update(ddpm_best_epoch=result.best_epoch, train_s=time.perf_counter() - t0,
                   parameters=sum(p.numel() for p in ae.parameters()),
                   ddpm_parameters=sum(p.numel() for p in model.diffusion.denoiser.parameters()))
    arrays.update(result.arrays("ddpm_curve_"))
    return model, metrics, arrays


def train_vq_subset(config: AugmentationConfig, pairs: TensorDataset, val_pairs: TensorDataset, seed: int,
                    root: Path):
    """WaveDiffusion's 2VQ (the diffusion chapter's model and recipe) trained on ``pairs`` only: the autoencoder
    for ``sub_ae_epochs`` and the latent diffusion for ``sub_ldm_epochs`` epochs of ``sub_samples_per_epoch``."""
    dc = config.diffusion_config()
    t0 = time.perf_counter()
    fc = config.generator_fit_config(config.sub_ae_epochs, min(dc.ae_batch_size, len(pairs)), dc.ae_lr, seed,
                                     str(root / "ae"), config.sub_samples_per_epoch)
    ae, m_ae, a_ae = train_autoencoder(dc, "2vq", pairs, val_pairs, seed, "ae", fit_config=fc)
    latents = batched(ae.encode, pairs.tensors[0])
    std = Standardiser(latents)
    z_val = std(batched(ae.encode, val_pairs.tensors[0]))
    fc = config.generator_fit_config(config.sub_ldm_epochs, min(dc.ldm_batch_size, len(latents)), dc.ldm_lr, seed,
                                     str(root / "ldm"), config.sub_samples_per_epoch)
    model, m_ldm, a_ldm = train_denoiser(dc, "2vq", std(latents), z_val, seed, "ldm", fit_config=fc)
    metrics = {**m_ae, **m_ldm, "train_s": time.perf_counter() - t0}
    return (ae, std, model), metrics, {**a_ae, **a_ldm}


def _save_weights(config: AugmentationConfig, name: str, kind: str, parts: Any) -> None:
    if kind == "ubdiff":
        state = {"ubdiff": {k: v.detach().cpu() for k, v in parts.state_dict().items()}}
    else:
        ae, std, model = parts
        state = {"autoencoder": {k: v.detach().cpu() for k, v in ae.state_dict().items()},
                 "diffusion": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                 "latent_mean": std.mean.cpu(), "latent_std": std.std.cpu()}
    save_checkpoint(model_path(config, name), state)


def _load_weights(config: AugmentationConfig, name: str, kind: str) -> Any:
    path = model_path(config, name)
    if not path.exists():
        raise FileNotFoundError(f"no trained generator {name} at {path}: its piece ran elsewhere and its weights "
                                "were not kept; rerun the chapter with recompute=True")
    state = load_checkpoint(path)
    if kind == "ubdiff":
        model = UBDiff(config.ubdiff_config())
        model.load_state_dict(state["ubdiff"])
        return model.eval()
    from ...models.diffusion import LatentDiffusion
    from ...models.vqae import VQAutoencoder

    dc = config.diffusion_config()
    ae = VQAutoencoder(dc.vqae_config("2vq"))
    ae.load_state_dict(state["autoencoder"])
    model = LatentDiffusion(dc.ldm_config("2vq"))
    model.load_state_dict(state["diffusion"])
    std = Standardiser.__new__(Standardiser)
    std.mean, std.std = state["latent_mean"], state["latent_std"]
    return ae.eval(), std, model.eval()


def _generator_piece(config: AugmentationConfig, gen: str, fam: str, splits) -> tuple[dict, dict]:
    seed = family_seed(config, fam)
    k = config.subset_size(config.subset_fraction)
    pairs, val = subset(splits.train, k), subset(splits.val, config.val_samples)
    root = checkpoint_root(config) / f"generator-{gen}-{fam}"
    if gen == "2vq-sub":
        parts, metrics, arrays = train_vq_subset(config, pairs, val, seed, root)
        kind = "vq"
    else:
        parts, metrics, arrays = train_ubdiff(config, splits.train.tensors[1], val.tensors[1], pairs, val,
                                              gen == "ubdiff-joint", seed, root)
        kind = "ubdiff"
    _save_weights(config, f"generator-{gen}-{fam}", kind, parts)
    test_s, test_v = (t[:config.fid_samples] for t in splits.test.tensors)
    recon = _reconstruct(kind, parts, test_s, test_v)
    metrics.update(generator=gen, family=fam, pairs=k, maps=len(splits.train) if gen == "ubdiff" else k,
                   seismic_recon_mae=float((recon[0] - test_s).abs().mean()),
                   velocity_recon_mae=float((recon[1] - test_v).abs().mean()))
    return metrics, arrays


@torch.no_grad()
def _reconstruct(kind: str, parts: Any, seismic: torch.Tensor, velocity: torch.Tensor):
    """Test pairs through a generator's autoencoder: UB-Diff encodes the map, the 2VQ the records."""
    if kind == "ubdiff":
        return batched(parts.autoencoder, velocity)
    ae = parts[0]
    return batched(lambda s: tuple(ae(s)[:2]), seismic)


def samplers(config: AugmentationConfig, fam: str) -> dict[str, Sampler]:
    """The trained generators of a family as samplers: the diffusion chapter's 2VQ (loaded, or run there first)
    and this chapter's (their pieces must have run: :func:`run` runs them first)."""
    ae, std, model = reference_generator("2vq", fam, profile=config.profile, results_dir=config.results_dir,
                                         device=config.device, progress=config.progress)
    out: dict[str, Sampler] = {"2vq": _vq_sampler((ae, std, model), config.sample_steps)}
    for gen in GENERATORS[1:]:
        kind = "vq" if gen == "2vq-sub" else "ubdiff"
        parts = _load_weights(config, f"generator-{gen}-{fam}", kind)
        out[gen] = _vq_sampler(parts, config.sample_steps) if kind == "vq" else _ub_sampler(parts)
    return out


def _vq_sampler(parts, steps: int) -> Sampler:
    ae, std, model = parts
    return lambda n, g: generate_pairs(ae, std, model, n, g, steps=steps)


def _ub_sampler(model: UBDiff) -> Sampler:
    def sample(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [model.generate(min(256, n - i), steps=min(UBDIFF_SAMPLE_STEPS, model.config.timesteps), generator=g)
                 for i in range(0, n, 256)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    return sample


def generated_set(config: AugmentationConfig, gen: str, fam: str, sampler: Sampler) -> TensorDataset:
    """``gen_samples`` pairs of one generator for training (cached under the checkpoints; drawn from the
    family's seed, so every row and InversionNet seed gets the same set)."""
    path = checkpoint_root(config) / f"samples-{gen}-{fam}.pt"
    if path.exists() and not recomputing():
        state = load_checkpoint(path)
        return TensorDataset(state["seismic"], state["velocity"])
    g = torch.Generator().manual_seed(family_seed(config, fam) + 1 + GENERATORS.index(gen))
    s, v = sampler(config.gen_samples, g)
    save_checkpoint(path, {"seismic": s.contiguous(), "velocity": v.contiguous()})
    return TensorDataset(s, v)


# --------------------------------------------------------------------------------------------
# the measures
# --------------------------------------------------------------------------------------------

def _measures_piece(config: AugmentationConfig, fam: str, splits, gens: dict[str, Sampler]) -> tuple[dict, dict]:
    from ... import fid

    rng = np.random.default_rng(config.seed)
    n, nd = config.fid_samples, config.deviation_samples
    real_s, real_v = (t[:n] for t in splits.test.tensors)
    extractor = fid.InceptionFeatures(device=config.torch_device)
    t0 = time.perf_counter()
    real_fs, real_fv = fid.pair_fid_features(real_s, real_v, extractor)
    real_ds, real_dv = fd_features(real_s, real_v)
    metrics: dict[str, Any] = {"family": fam, "n": n, "n_deviation": nd, "fid": {}, "fd": {}, "deviation": {}}
    arrays: dict[str, np.ndarray] = {}
    dev = deviation(config, fam, real_s[:nd], real_v[:nd])
    metrics["deviation"]["real"] = dict(zip(("mean", "low", "high"), bootstrap_mean(dev["mse"], config.n_bootstrap,
                                                                                    rng)))
    arrays["deviation_real_mse"] = dev["mse"]
    for gen, sample in gens.items():
        g = torch.Generator().manual_seed(family_seed(config, fam) + 100 + GENERATORS.index(gen))
        s, v = sample(n, g)
        if gen in FID_GENERATORS:
            fs, fv = fid.pair_fid_features(s, v, extractor)
            metrics["fid"][gen] = {"seismic": fid.fid_with_interval(real_fs, fs, rng),
                                   "velocity": fid.fid_with_interval(real_fv, fv, rng)}
        ds, dv = fd_features(s, v)
        metrics["fd"][gen] = {"seismic": fd_with_interval(real_ds, ds, rng), "velocity": fd_with_interval(real_dv, dv, rng)}
        dev = deviation(config, fam, s[:nd], v[:nd])
        metrics["deviation"][gen] = dict(zip(("mean", "low", "high"),
                                             bootstrap_mean(dev["mse"], config.n_bootstrap, rng)))
        arrays[f"deviation_{gen}_mse"] = dev["mse"]
        arrays.update({f"gallery_{gen}_{k}": x for k, x in gallery(config, fam, s, v).items()})
    metrics["measure_s"] = time.perf_counter() - t0
    arrays.update({f"gallery_real_{k}": x for k, x in gallery(config, fam, real_s, real_v).items()})
    return metrics, arrays


# --------------------------------------------------------------------------------------------
# the InversionNet rows
# --------------------------------------------------------------------------------------------

#: fields a generator or measures piece does not depend on (the InversionNet recipe)
ROW_FIELDS: frozenset[str] = frozenset({"width", "batch_size", "lr", "schedule", "warmup_epochs",
                                        "bn_recalibration_batches", "compile", "epochs", "samples_per_epoch",
                                        "val_samples", "gen_samples"})


def row_training_set(config: AugmentationConfig, row: str, fam: str, splits,
                     generated: Callable[[str], TensorDataset]) -> TensorDataset:
    """The pairs a row trains on: the first ``fraction · n_train`` real training pairs, a generator's set, or
    their union (:data:`~.config.ROWS`)."""
    gen, fraction = ROWS[row]
    parts = []
    if gen is not None:
        parts.append(generated(gen))
    if fraction is not None:
        parts.append(subset(splits.train, config.subset_size(fraction)))
    return TensorDataset(*(torch.cat([p.tensors[i] for p in parts]) for i in range(2)))


def _row_piece(config: AugmentationConfig, row: str, fam: str, seed: int, splits, train: TensorDataset
               ) -> tuple[dict, dict]:
    torch.manual_seed(seed)
    model = config.inversionnet()
    ckpt = checkpoint_root(config) / f"inversionnet-{row}-{fam}-s{seed}"
    metrics, arrays = train_and_evaluate(model, train, subset(splits.val, config.val_samples), splits.test, loss=l1,
                                         config=config.fit_config(seed, str(ckpt)))
    gen, fraction = ROWS[row]
    metrics.update(row=row, family=fam, seed=seed, generator=gen, real_fraction=fraction, train_pairs=len(train),
                   steps=config.steps)
    return metrics, arrays


def run(config: AugmentationConfig) -> Artifact:
    check_openfwi_files(config, config.families)
    metrics: dict[str, Any] = {"generators": {}, "measures": {}, "runs": [], "references": []}
    arrays: dict[str, np.ndarray] = {}
    for fam in config.families:
        splits = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        for gen in GENERATORS[1:]:
            name = f"generator-{gen}-{fam}"
            m, a = run_piece(config, name, lambda: _generator_piece(config, gen, fam, splits), unrelated=ROW_FIELDS)
            metrics["generators"][name] = m
            arrays.update({f"{name}/{k}": v for k, v in a.items()})
        gens = samplers(config, fam)
        m, a = run_piece(config, f"measures-{fam}", lambda: _measures_piece(config, fam, splits, gens),
                         unrelated=ROW_FIELDS)
        metrics["measures"][fam] = m
        arrays.update({f"measures-{fam}/{k}": v for k, v in a.items()})
        sets: dict[str, TensorDataset] = {}

        def generated(gen: str) -> TensorDataset:
            if gen not in sets:
                sets[gen] = generated_set(config, gen, fam, gens[gen])
            return sets[gen]

        for row in config.rows:
            for seed in config.seeds:
                name = f"inversionnet-{row}-{fam}-s{seed}"
                m, a = run_piece(config, name, lambda: _row_piece(
                    config, row, fam, seed, splits, row_training_set(config, row, fam, splits, generated)))
                metrics["runs"].append({"model": "inversionnet", **m, "row": row, "family": fam, "seed": seed})
                arrays.update({f"{name}/{k}": v for k, v in a.items() if seed == config.seed or k != "predictions"})
        if config.reference_baselines:
            from ..baselines import reference_runs

            metrics["references"] += reference_runs(config, fam, splits)
        arrays[f"truth/{fam}"] = splits.test.tensors[1][:4].numpy().astype(np.float32)
        del splits, sets, gens
    metrics["steps"] = config.steps
    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics, arrays)]
    return art


__all__ = ["FID_GENERATORS", "ROW_FIELDS", "checkpoint_root", "generated_set", "model_path", "row_training_set", "run", "samplers",
           "train_ubdiff", "train_vq_subset"]
