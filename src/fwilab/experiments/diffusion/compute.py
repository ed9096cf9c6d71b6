"""The diffusion chapter's computation: one piece per (autoencoder variant, family), and :func:`run`.

A piece trains stage 1 (the VQ autoencoder, :class:`~fwilab.models.vqae.VQAutoencoder`) and stage 2 (the
joint latent diffusion, :class:`~fwilab.models.diffusion.LatentDiffusion`) through the one fit loop
(:mod:`fwilab.training.generative`), then measures everything the claims need while the weights are in
memory: reconstruction and inversion errors, codebook usage, the PDE deviation of reconstructed, random,
mismatched, generated and real pairs, the deviation along the forward and the backward process, the
domain Fréchet distances and (2VQ) the refinement. Both fits resume from their checkpoints, so a piece
stopped anywhere restarts where its training stopped.

The trained generator of a piece (autoencoder, latent standardisation, diffusion model) is kept beside the
piece in ``models/<piece>-<piece hash>.pt`` (:func:`save_generator`, committed with the pieces, a few MB):
the augmentation chapter samples training pairs from it (:func:`load_generator`) without retraining it.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from ...data.families import check_family
from ...data.splits import check_openfwi_files, load_family_splits
from ...metrics import frechet_with_interval
from ...models.diffusion import LatentDiffusion
from ...models.vqae import VQAutoencoder, resize
from ...physics.deviation import null_pde_deviation, pde_deviation
from ...results import Artifact, artifact_dir, run_piece
from ...training.checkpoint import load_checkpoint, save_checkpoint
from ...training.fit import FitConfig, fit
from ...training.generative import DenoiserFit, PairAutoencoderFit, denoising_l1, pack_pairs
from .claims import judge_claims
from .config import CHAPTER, DiffusionConfig

#: generated sets for the Fréchet distances are drawn with DDIM over this many steps (η = 0); the
#: deviation curves and the deviation of generated pairs use ancestral sampling over all T steps
FD_DDIM_STEPS: int = 100
#: resamples of a Fréchet distance's bootstrap (each one a matrix square root)
FD_BOOTSTRAP: int = 100
#: feature grids of the domain Fréchet distances: velocity maps pooled to 10 × 10, each shot's record to 10 × 4
FD_VELOCITY_GRID: tuple[int, int] = (10, 10)
FD_SEISMIC_GRID: tuple[int, int] = (10, 4)
#: models per solver call of the deviation (the store's batch)
SOLVER_CHUNK: int = 16


def checkpoint_root(config: DiffusionConfig):
    return artifact_dir(config.results_dir, config.CHAPTER, config.profile) / "checkpoints" / config.config_hash


def generator_path(config: DiffusionConfig, name: str):
    """Where piece ``name``'s trained generator is kept (beside the pieces, tied to their hash)."""
    return (artifact_dir(config.results_dir, config.CHAPTER, config.profile) / "models"
            / f"{name}-{config.piece_hash}.pt")


def save_generator(config: DiffusionConfig, name: str, ae: VQAutoencoder, std: "Standardiser",
                   model: LatentDiffusion) -> None:
    """Write a piece's generator atomically (:func:`generator_path`): both networks' weights and the latent
    standardisation; their configs follow from ``config`` and the piece's variant."""
    save_checkpoint(generator_path(config, name), {
        "autoencoder": {k: v.detach().cpu() for k, v in ae.state_dict().items()},
        "diffusion": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "latent_mean": std.mean.cpu(), "latent_std": std.std.cpu()})


def load_generator(config: DiffusionConfig, variant: str, family: str
                   ) -> tuple[VQAutoencoder, "Standardiser", LatentDiffusion]:
    """The trained generator of the piece ``<variant>-<family>`` at ``config`` (eval mode): its autoencoder, the
    standardisation of its latents and its diffusion model. Raises ``FileNotFoundError`` naming the file and
    the command that makes it when the diffusion chapter has not run that piece here."""
    name = f"{variant}-{check_family(family)}"
    path = generator_path(config, name)
    if not path.exists():
        raise FileNotFoundError(f"no trained generator {name} at {path}: run the diffusion chapter first "
                                f"(python -m fwilab run diffusion --profile {config.profile})")
    state = load_checkpoint(path)
    ae = VQAutoencoder(config.vqae_config(variant))
    ae.load_state_dict(state["autoencoder"])
    model = LatentDiffusion(config.ldm_config(variant))
    model.load_state_dict(state["diffusion"])
    std = Standardiser.__new__(Standardiser)
    std.mean, std.std = state["latent_mean"], state["latent_std"]
    return ae.eval(), std, model.eval()


def reference_generator(variant: str, family: str, *, profile: str = "cpu", results_dir: str = "results",
                        device: str = "auto", progress: bool = True
                        ) -> tuple[VQAutoencoder, "Standardiser", LatentDiffusion]:
    """The diffusion chapter's trained generator ``<variant>-<family>`` at ``profile`` (eval mode; see
    :func:`load_generator`): loaded where that chapter saved it, else its piece is run (and saved) first, so
    the augmentation chapter samples from the same generators the diffusion chapter measures."""
    config = DiffusionConfig.preset(profile, results_dir=str(results_dir), device=device, progress=progress)
    fam = check_family(family)
    name = f"{variant}-{fam}"
    if not generator_path(config, name).exists():
        # a piece saved before its generator was kept is recomputed (its measures with the weights they describe)
        config = DiffusionConfig.preset(profile, results_dir=str(results_dir), device=device, progress=progress,
                                        recompute=True)
        check_openfwi_files(config, (fam,))
        splits = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        run_piece(config, name, lambda: _piece(config, variant, fam, splits, name))
    return load_generator(config, variant, fam)


@torch.no_grad()
def generate_pairs(ae: VQAutoencoder, std: "Standardiser", model: LatentDiffusion, n: int,
                   generator: torch.Generator, steps: int | None = FD_DDIM_STEPS, batch: int = 256
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` generated pairs ``(seismic [n, n_shots, nt, n_receivers], velocity [n, 1, nz, nx])`` (normalised)
    of a trained generator: latents by DDIM over ``steps`` (None: ancestral over all T), destandardised and
    decoded, in batches of ``batch``."""
    parts = []
    for i in range(0, n, batch):
        z, _ = sample_latents(model, min(batch, n - i), generator,
                              steps=None if steps is None else min(steps, model.config.timesteps))
        parts.append(decode_latents(ae, std.inverse(z)))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

class Standardiser:
    """Per-channel standardisation of latents ``[n, C, h, w]`` (LDM scales its latents to unit variance;
    a per-channel mean and scale also centres them): the diffusion runs on ``(z − μ_c) / σ_c``."""

    def __init__(self, latents: torch.Tensor):
        self.mean = latents.mean(dim=(0, 2, 3), keepdim=True)
        self.std = latents.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) / self.std

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean


@torch.no_grad()
def batched(fn: Callable[[torch.Tensor], Any], x: torch.Tensor, size: int = 64) -> Any:
    """``fn`` over ``x`` in batches, outputs concatenated (tensors, or tuples of tensors)."""
    outs = [fn(x[i:i + size]) for i in range(0, len(x), size)]
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outs))
    return torch.cat(outs)


@torch.no_grad()
def decode_latents(ae: VQAutoencoder, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre-quantisation latents → quantised (codebooks untouched) → ``(seismic, velocity)``."""
    return batched(lambda part: ae.decode(ae.quantize(part, update=False)[0]), z)


def deviation(config: DiffusionConfig, family: str, seismic: torch.Tensor, velocity: torch.Tensor,
              null: bool = False) -> dict[str, np.ndarray]:
    """Per-pair PDE deviation (``mse``, ``relative_l2``) of normalised pairs; ``null``: mismatched pairs."""
    fn = null_pde_deviation if null else pde_deviation
    d = fn(seismic, velocity, family=family, acquisition=config.acquisition, decimate=config.decimate,
           chunk=SOLVER_CHUNK)
    return {"mse": d.mse.numpy().astype(np.float64), "relative_l2": d.relative_l2.numpy().astype(np.float64)}


def bootstrap_mean(values: np.ndarray, n: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """``(mean, 2.5 %, 97.5 %)`` of the mean of ``values`` over resamples of its entries."""
    values = np.asarray(values, dtype=np.float64)
    means = values[rng.integers(0, len(values), size=(n, len(values)))].mean(axis=1)
    return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of two 1-d series (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def curve_trend(steps: np.ndarray, per_pair: np.ndarray, n: int, rng: np.random.Generator) -> dict[str, Any]:
    """The deviation curve ``per_pair [n_steps, n_pairs]`` against ``steps``: its mean per step with bootstrap
    intervals over the pairs, and Spearman's ρ between the step and the mean deviation with its interval."""
    idx = rng.integers(0, per_pair.shape[1], size=(n, per_pair.shape[1]))
    boot = per_pair[:, idx].mean(axis=2)                  # [steps, n]
    rho = np.array([spearman(steps, boot[:, k]) for k in range(n)])
    mean = per_pair.mean(axis=1)
    return {"mean": mean.tolist(), "low": np.percentile(boot, 2.5, axis=1).tolist(),
            "high": np.percentile(boot, 97.5, axis=1).tolist(), "spearman": spearman(steps, mean),
            "spearman_low": float(np.percentile(rho, 2.5)), "spearman_high": float(np.percentile(rho, 97.5))}


def fd_features(seismic: torch.Tensor, velocity: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Domain features: the velocity map pooled to :data:`FD_VELOCITY_GRID` and each shot's record to
    :data:`FD_SEISMIC_GRID` (area averages, flattened): ``(seismic [n, d_s], velocity [n, d_v])``."""
    v = F.adaptive_avg_pool2d(velocity.float(), FD_VELOCITY_GRID).flatten(1)
    s = F.adaptive_avg_pool2d(seismic.float(), FD_SEISMIC_GRID).flatten(1)
    return s.numpy().astype(np.float64), v.numpy().astype(np.float64)


def fd_with_interval(real: np.ndarray, generated: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """Fréchet distance of two feature sets with a bootstrap interval (both sets resampled, :data:`FD_BOOTSTRAP`
    times): :func:`fwilab.metrics.frechet_with_interval`."""
    return frechet_with_interval(real, generated, rng, FD_BOOTSTRAP)


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------

def train_autoencoder(config: DiffusionConfig, variant: str, train: TensorDataset, val: TensorDataset,
                      seed: int, name: str, fit_config: FitConfig | None = None
                      ) -> tuple[VQAutoencoder, dict[str, Any], dict[str, np.ndarray]]:
    """Stage 1 through the fit loop (best epoch by validation loss); returns the model at its best weights.
    ``fit_config`` replaces the chapter's stage-1 recipe (checkpoints in ``checkpoint_root / name``)."""
    torch.manual_seed(seed)
    ae = VQAutoencoder(config.vqae_config(variant))
    wrapper = PairAutoencoderFit(ae)
    packed = lambda d: pack_pairs(*d.tensors)   # noqa: E731
    tr, va = packed(train), packed(val)
    t0 = time.perf_counter()
    result = fit(wrapper, TensorDataset(tr, tr), TensorDataset(va, va), loss=wrapper.loss,
                 config=fit_config or config.fit_config("ae", seed, str(checkpoint_root(config) / name)), resume=True)
    result.restore_best(wrapper)
    ae.eval()
    metrics = {"ae_train_s": time.perf_counter() - t0, "ae_best_epoch": result.best_epoch,
               "ae_parameters": sum(p.numel() for p in ae.parameters())}
    return ae, metrics, result.arrays("ae_curve_")


def train_denoiser(config: DiffusionConfig, variant: str, latents: torch.Tensor, val_latents: torch.Tensor,
                   seed: int, name: str, channels: int | None = None, fit_config: FitConfig | None = None
                   ) -> tuple[LatentDiffusion, dict, dict]:
    """Stage 2 on standardised latents through the fit loop; returns the model at its best weights.
    ``fit_config`` replaces the chapter's stage-2 recipe."""
    torch.manual_seed(seed)
    model = LatentDiffusion(config.ldm_config(variant, channels))
    wrapper = DenoiserFit(model)
    t0 = time.perf_counter()
    result = fit(wrapper, TensorDataset(latents, latents), TensorDataset(val_latents, val_latents), loss=denoising_l1,
                 config=fit_config or config.fit_config("ldm", seed, str(checkpoint_root(config) / name)),
                 resume=True)
    result.restore_best(wrapper)
    model.eval()
    return model, {"ldm_train_s": time.perf_counter() - t0, "ldm_best_epoch": result.best_epoch,
                   "ldm_parameters": sum(p.numel() for p in model.parameters())}, result.arrays("ldm_curve_")


# --------------------------------------------------------------------------------------------
# the measurements
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def sample_latents(model: LatentDiffusion, n: int, generator: torch.Generator, steps: int | None = None,
                   record: tuple[int, ...] = ()) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """``n`` standardised latents (ancestral over all T steps, or DDIM over ``steps``), and the states at the
    ``record`` steps of an ancestral run (``T``: the starting noise)."""
    shape = (n, *model.config.latent_shape)
    noise = torch.randn(shape, generator=generator)
    seen: dict[int, torch.Tensor] = {}
    if model.config.timesteps in record:
        seen[model.config.timesteps] = noise.clone()

    def keep(t: int, x: torch.Tensor) -> None:
        if t in record:
            seen[t] = x.clone()

    z = model.sample(n, steps=steps, noise=noise, generator=generator, callback=keep if record else None)
    return z, seen


@torch.no_grad()
def refine(config: DiffusionConfig, ae: VQAutoencoder, model: LatentDiffusion, std: Standardiser,
           seismic: torch.Tensor, velocity: torch.Tensor, generator: torch.Generator) -> np.ndarray:
    """WaveDiffusion's refinement (§3.3) of stage 1's inversion: the records' latent, noised to step
    ``refine_steps``, goes down the last backward steps; at each one ``refine_candidates`` draws of the
    step are decoded and the one whose records are closest (L2) to the observed ones is kept.

    Returns the velocity MAE of each pair ``[refine_steps + 2, n]``: stage 1 alone (row 0), the noised start
    (row 1), then after each backward step (the last row is the refined inversion)."""
    k, steps = config.refine_candidates, config.refine_steps
    z0 = std(batched(ae.encode, seismic))
    rows = [(decode_latents(ae, std.inverse(z0))[1] - velocity).abs().flatten(1).mean(1)]
    noise = torch.randn(z0.shape, generator=generator)
    z = model.schedule.q_sample(z0, torch.full((len(z0),), steps, dtype=torch.long), noise)
    rows.append((decode_latents(ae, std.inverse(z))[1] - velocity).abs().flatten(1).mean(1))
    for t in range(steps, 0, -1):
        cand = model.schedule.p_sample(model, z.repeat_interleave(k, dim=0), t, generator)   # [n·k, ...]
        s_hat, v_hat = decode_latents(ae, std.inverse(cand))
        err = (s_hat - seismic.repeat_interleave(k, dim=0)).flatten(1).norm(dim=1).reshape(len(z), k)
        best = err.argmin(dim=1) + torch.arange(len(z)) * k
        z = cand[best]
        rows.append((v_hat[best] - velocity).abs().flatten(1).mean(1))
    return torch.stack(rows).numpy().astype(np.float64)


def gallery(config: DiffusionConfig, family: str, seismic: torch.Tensor, velocity: torch.Tensor,
            n: int = 1) -> dict[str, np.ndarray]:
    """The first ``n`` pairs for a figure: the velocity ``[n, 1, nz, nx]``, and the middle shot of the decoded
    records and of the solver's records for that velocity ``[n, 1, nt, n_receivers]``."""
    from ...physics.deviation import simulated_records

    sim = simulated_records(velocity[:n], family=family, acquisition=config.acquisition, decimate=config.decimate)
    mid = slice(seismic.shape[1] // 2, seismic.shape[1] // 2 + 1)
    return {"velocity": velocity[:n].numpy().astype(np.float32),
            "seismic": seismic[:n, mid].numpy().astype(np.float32), "simulated": sim[:, mid].numpy().astype(np.float32)}


def _piece(config: DiffusionConfig, variant: str, fam: str, splits, name: str) -> tuple[dict, dict]:
    seed = config.seed
    train = TensorDataset(*(t[:config.train_samples] for t in splits.train.tensors))
    val = TensorDataset(*(t[:config.val_samples] for t in splits.val.tensors))
    test_s, test_v = splits.test.tensors
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    metrics: dict[str, Any] = {"variant": variant, "family": fam}
    arrays: dict[str, np.ndarray] = {}

    # stage 1
    ae, m, a = train_autoencoder(config, variant, train, val, seed, f"{name}-ae")
    metrics.update(m)
    arrays.update(a)
    recon_s, recon_v = batched(lambda s: tuple(ae(s)[:2]), test_s)
    inverted = batched(ae.invert, test_s)
    floor = resize(resize(test_v, ae.config.velocity_size), (ae.config.nz, ae.config.nx))
    metrics.update(
        seismic_recon_mae=float((recon_s - test_s).abs().mean()), velocity_recon_mae=float((recon_v - test_v).abs().mean()),
        inversion_mae=float((inverted - test_v).abs().mean()), resize_floor_mae=float((floor - test_v).abs().mean()),
        n_test=len(test_s))
    arrays["inversion_mae_per_sample"] = (inverted - test_v).abs().flatten(1).mean(1).numpy().astype(np.float64)
    arrays["inverted"] = inverted[:4].numpy().astype(np.float32)
    latents = batched(ae.encode, train.tensors[0])
    _, idx, _ = ae.quantize(latents[: min(len(latents), 1000)], update=False)
    counts = np.stack([np.bincount(idx[:, k].reshape(-1).numpy(), minlength=ae.config.codebook_size)
                       for k in range(idx.shape[1])])
    p = counts / counts.sum(axis=1, keepdims=True)
    metrics["codebook_used"] = [float((row > 0).mean()) for row in counts]
    metrics["codebook_perplexity"] = [float(np.exp(-(q[q > 0] * np.log(q[q > 0])).sum())) for q in p]
    arrays["code_counts"] = counts.astype(np.int64)

    # stage 2
    std = Standardiser(latents)
    z_train = std(latents)
    z_val = std(batched(ae.encode, val.tensors[0]))
    model, m, a = train_denoiser(config, variant, z_train, z_val, seed, f"{name}-ldm")
    metrics.update(m)
    arrays.update(a)
    save_generator(config, name, ae, std, model)

    n = config.deviation_samples
    dev: dict[str, dict[str, np.ndarray]] = {}
    dev["real"] = deviation(config, fam, test_s[:n], test_v[:n])
    rs, rv = decode_latents(ae, latents[:n])               # reconstructions of training pairs
    dev["reconstruction"] = deviation(config, fam, rs, rv)
    dev["mismatched"] = deviation(config, fam, rs, rv, null=True)
    random_s, random_v = decode_latents(ae, std.inverse(torch.randn((n, *z_train.shape[1:]), generator=gen)))
    dev["random"] = deviation(config, fam, random_s, random_v)
    steps_t = config.curve_steps
    z_gen, states = sample_latents(model, n, gen, record=steps_t)
    gen_s, gen_v = decode_latents(ae, std.inverse(z_gen))
    dev["generated"] = deviation(config, fam, gen_s, gen_v)
    for kind, (gs, gv) in (("generated", (gen_s, gen_v)), ("reconstruction", (rs, rv))):
        arrays.update({f"gallery_{kind}_{k}": v for k, v in gallery(config, fam, gs, gv).items()})
    for k, d in dev.items():
        for key, v in d.items():
            arrays[f"deviation_{k}_{key}"] = v
        metrics[f"deviation_{k}"] = dict(zip(("mean", "low", "high"), bootstrap_mean(d["mse"], config.n_bootstrap, rng)))

    # the deviation along the forward process (training latents noised to t) and the backward one
    forward, backward = [], []
    noise = torch.randn(z_train[:n].shape, generator=gen)
    for t in steps_t:
        z_t = model.schedule.q_sample(z_train[:n], torch.full((n,), t, dtype=torch.long), noise)
        forward.append(deviation(config, fam, *decode_latents(ae, std.inverse(z_t)))["mse"])
        z_b = z_gen if t == 0 else states[t]
        backward.append(dev["generated"]["mse"] if t == 0 else
                        deviation(config, fam, *decode_latents(ae, std.inverse(z_b)))["mse"])
    steps_arr = np.asarray(steps_t, dtype=np.float64)
    arrays["curve_steps"] = steps_arr
    arrays["forward_mse"], arrays["backward_mse"] = np.stack(forward), np.stack(backward)
    metrics["forward"] = curve_trend(steps_arr, arrays["forward_mse"], config.n_bootstrap, rng)
    metrics["backward"] = curve_trend(steps_arr, arrays["backward_mse"], config.n_bootstrap, rng)

    # domain Fréchet distances of generated sets (DDIM) against the real test pairs
    nf = config.fd_samples
    real_s, real_v = fd_features(test_s[:nf], test_v[:nf])
    z_fd, _ = sample_latents(model, nf, gen, steps=min(FD_DDIM_STEPS, model.config.timesteps))
    fs, fv = fd_features(*decode_latents(ae, std.inverse(z_fd)))
    metrics["fd"] = {"seismic": fd_with_interval(real_s, fs, rng), "velocity": fd_with_interval(real_v, fv, rng)}

    if variant == "2vq":
        rows = refine(config, ae, model, std, test_s[:config.refine_samples], test_v[:config.refine_samples], gen)
        arrays["refine_mae"] = rows
        diff = rows[-1] - rows[0]
        metrics["refine"] = {"stage1_mae": float(rows[0].mean()), "refined_mae": float(rows[-1].mean()),
                             "difference": dict(zip(("mean", "low", "high"),
                                                    bootstrap_mean(diff, config.n_bootstrap, rng))),
                             "improved": int((diff < 0).sum()), "n": int(len(diff))}
        if config.separate and fam == config.comparison_family:
            metrics["separate"], extra = _separate(config, ae, std, z_train, z_val, fam, name, gen, rng,
                                                  (real_s, real_v))
            arrays.update(extra)
    return metrics, arrays


def _separate(config, ae, std, z_train, z_val, fam, name, gen, rng, real) -> tuple[dict, dict]:
    """One diffusion model per modality on the 2VQ latent's halves, sampled independently (W4, Table 4)."""
    d = ae.config.embed_dim
    halves = {}
    for k, part in enumerate(("seismic", "velocity")):
        sl = slice(k * d, (k + 1) * d)
        halves[part], _, _ = train_denoiser(config, "2vq", z_train[:, sl].contiguous(), z_val[:, sl].contiguous(),
                                            config.seed + 1 + k, f"{name}-ldm-{part}", channels=d)
    n, nf = config.deviation_samples, config.fd_samples
    z = torch.cat([sample_latents(halves[p], n, gen)[0] for p in ("seismic", "velocity")], dim=1)
    s, v = decode_latents(ae, std.inverse(z))
    dev = deviation(config, fam, s, v)
    z_fd = torch.cat([sample_latents(halves[p], nf, gen, steps=min(FD_DDIM_STEPS, halves[p].config.timesteps))[0]
                      for p in ("seismic", "velocity")], dim=1)
    fs, fv = fd_features(*decode_latents(ae, std.inverse(z_fd)))
    metrics = {"deviation": dict(zip(("mean", "low", "high"), bootstrap_mean(dev["mse"], config.n_bootstrap, rng))),
               "fd": {"seismic": fd_with_interval(real[0], fs, rng), "velocity": fd_with_interval(real[1], fv, rng)}}
    arrays = {"deviation_separate_mse": dev["mse"], "deviation_separate_relative_l2": dev["relative_l2"],
              **{f"gallery_separate_{k}": x for k, x in gallery(config, fam, s, v).items()}}
    return metrics, arrays


def run(config: DiffusionConfig) -> Artifact:
    check_openfwi_files(config, config.families)
    metrics: dict[str, Any] = {"pieces": {}, "runs": []}
    arrays: dict[str, np.ndarray] = {}
    for fam in config.families:
        splits = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        variants = ("2vq", "1vq") if fam == config.comparison_family else ("2vq",)
        for variant in variants:
            name = f"{variant}-{fam}"
            m, a = run_piece(config, name, lambda: _piece(config, variant, fam, splits, name))
            metrics["pieces"][name] = m
            arrays.update({f"{name}/{k}": v for k, v in a.items()})
        if config.reference_baselines:
            from ..baselines import reference_runs

            metrics["runs"] += reference_runs(config, fam, splits)
        del splits
    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics, arrays)]
    return art


__all__ = ["Standardiser", "bootstrap_mean", "curve_trend", "deviation", "fd_features", "generate_pairs",
           "generator_path", "load_generator", "reference_generator", "refine", "run", "save_generator", "spearman",
           "train_autoencoder", "train_denoiser"]
