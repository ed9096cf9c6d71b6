"""Chapter "Spectral ablations": SPAMoE against InversionNet and single experts, and what its parts do.

Pieces (each saved when it finishes; a training run also resumes from its last epoch):

* ``spamoe-<family>-s<k>``: the reference SPAMoE — the paper's design as we read it: spectral bound
  enforced (hinge at ``ρ_min`` = the median ρ of the family's training targets, weight
  ``bound_weight``), the released load-balancing term with its gradient (which sharpens rather than
  balances: the ``lb-uniform`` ablation has the balancing target), learned top-2 routing over soft bands;
* ``inversionnet-<family>-s<k>``: InversionNet (L1), same samples, epochs, batch, learning rate, seed;
* ``<single>-<family>-s<k>``: the best single expert (FNO-, MNO- or LNO-only, chosen by validation
  L1 on the ablation family, seed ``seed``) on every family and seed;
* ``<ablation>-<ablation_family>-s<seed>``: each ablation of :data:`ABLATIONS`, one seed.

Every SPAMoE run records the bound's and the router's statistics through training
(:class:`~fwilab.experiments.spamoe.SPAMoEMonitor`).

Cost (SPAMoE's ``cpu`` model ≈ 0.11 s per training sample on 2 quiet cores, single experts and top-1
≈ 0.05–0.08 s, InversionNet width 0.25 ≈ 0.03 s; validation/test forward ≈ 0.04 s per sample):

* ``smoke``: one family, one seed, 4 samples, 2 epochs, tiny model and short records, four ablations: ~15 s.
* ``cpu``: 3 families × 3 seeds × {SPAMoE, InversionNet, best single} + 11 ablations on CurveVel-A:
  30 SPAMoE-type runs of 64 samples × 4 epochs (≈ 30 s each) + 9 InversionNet runs (≈ 10 s):
  ≈ 15 min, plus the shared 400/50/100 datasets if not cached yet (≈ 5 min for three families).
* ``full``: 5 families × 3 seeds, released model sizes (35 M parameters, ≈ 200 GFLOP per training
  sample), 1500 samples × 8 epochs per run; at an assumed ≈ 300 samples/s on one H100 (bf16) a run
  takes ≈ 45 s, 42 SPAMoE-type runs ≈ 32 min, InversionNet (width 1) ≈ 1 min; every piece far
  under 8 minutes. (Not measured: no GPU was available when this was written.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..claims import Claim
from ..config import ExperimentConfig, OpenFWIFilesMixin, SurveyMixin
from ..data.families import check_family
from ..data.splits import load_family_splits
from ..metrics import mean_std
from ..models.spamoe import SPAMoEConfig
from ..report import pm
from ..results import Artifact, run_piece
from ..training.fit import FitConfig
from .spamoe import (JUDGED_AT, PAPER_MAE_REDUCTION, checkpoint_root, head, judge_spamoe, rho_min_for,
                     target_energy_ratio, train_inversionnet, train_spamoe)

CHAPTER = "spectral"

#: ablations of the reference SPAMoE: changed model fields, and ``bound_factor`` (ρ_min relative to
#: the targets' median ρ). Single experts see the whole encoded map (no bands, top-1 of one expert).
ABLATIONS: dict[str, dict[str, Any]] = {
    "bound-off": dict(bound="off"),               # as released: ρ only logged (ρ_min kept for the diagnostics)
    "bound-0.5x": dict(bound_factor=0.5),
    "bound-2x": dict(bound_factor=2.0),
    "fno-only": dict(experts=("fno",), top_k=1, bands="none"),
    "mno-only": dict(experts=("mno",), top_k=1, bands="none"),
    "lno-only": dict(experts=("lno",), top_k=1, bands="none"),
    "uniform-routing": dict(routing="uniform"),   # as released: the first k experts (FNO, MNO), weight 1/k
    "random-routing": dict(routing="random"),
    "no-bands": dict(bands="none"),
    "hard-bands": dict(bands="hard"),
    "top-1": dict(top_k=1),
    "lb-no-gradient": dict(load_balance="released"),  # as released: in the loss value, no gradient
    # the released code's commented-out target 1/E, with gradient: the load-balancing term that balances
    # (the reference's selection-target term sharpens the gates instead; see fwilab.layers.router)
    "lb-uniform": dict(load_balance="uniform"),
}
SINGLE_EXPERTS: tuple[str, ...] = ("fno-only", "mno-only", "lno-only")
#: the reference SPAMoE: the paper's description (bound enforced, load balancing trained: the released
#: term, given its gradient)
REFERENCE: dict[str, Any] = dict(bound="hinge", load_balance="gradient", routing="learned", bands="soft", top_k=2)
#: the 44.4 % claim "holds" when our average reduction is within this many percentage points of it
MAE_REDUCTION_TOLERANCE: float = 0.10
#: the bound "acts" when its hinge is non-zero in at least this fraction of training batches
HINGE_ACTIVE_FRACTION: float = 0.10


@dataclass(frozen=True)
class SpectralConfig(SurveyMixin, OpenFWIFilesMixin, ExperimentConfig):
    """Parameters of the spectral-ablations chapter.

    Attributes:
        families: families of the main comparison; ablation_family: where the ablations run.
        n_seeds: training seeds of the main comparison (``seed``, ``seed + 1``, ...); ablations use ``seed``.
        n_train, n_val, n_test: split sizes of the cached datasets: at ``full`` just the samples used (a
            fresh GPU machine generates every family it trains, and 7,000 samples a family to use
            2,200 would spend minutes of each lease); at ``cpu`` the baselines chapter's splits.
        train_samples, val_samples, test_samples: how many of each split every run uses (the first ones).
        nt, nbc: time steps and absorbing cells of the acquisition.
        model_size: SPAMoE preset (smoke | cpu | full); inversionnet_width: InversionNet's width.
        epochs, batch_size, lr, schedule, warmup_epochs, grad_clip: the one training budget of every model.
        bound_weight: weight of the hinge; ablations: names from :data:`ABLATIONS`.
    """

    CHAPTER: ClassVar[str] = CHAPTER
    SCOPE_FIELDS: ClassVar[frozenset[str]] = frozenset({"families", "ablation_family", "n_seeds", "ablations"})
    families: tuple[str, ...] = ("flatvel-a", "curvevel-a", "flatfault-a", "curvefault-a", "style-a")
    ablation_family: str = "curvevel-a"
    n_seeds: int = 3
    n_train: int = 1500
    n_val: int = 200
    n_test: int = 500
    train_samples: int = 1500
    val_samples: int = 200
    test_samples: int = 500
    nt: int = 1000
    nbc: int = 120
    model_size: str = "full"
    inversionnet_width: float = 1.0
    epochs: int = 8
    batch_size: int = 32
    lr: float = 3e-4
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    grad_clip: float = 1.0
    bound_weight: float = 1.0
    ablations: tuple[str, ...] = tuple(ABLATIONS)
    progress: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(families=("flatvel-a",), ablation_family="flatvel-a", n_seeds=1, n_train=8, n_val=4,
                      n_test=4, train_samples=4, val_samples=4, test_samples=4, nt=200, nbc=20,
                      model_size="smoke", inversionnet_width=0.125, epochs=2, batch_size=4, lr=1e-3,
                      schedule="constant", warmup_epochs=0.0,
                      ablations=("bound-off", "fno-only", "lno-only", "uniform-routing")),
        "cpu": dict(families=("flatvel-a", "curvevel-a", "flatfault-a"), n_seeds=3, n_train=400, n_val=50,
                    n_test=100, train_samples=64, val_samples=16, test_samples=50, model_size="cpu",
                    inversionnet_width=0.25, epochs=4, batch_size=8, lr=5e-4, schedule="constant",
                    warmup_epochs=0.0),
        "full": dict(),
    }

    def validate(self) -> None:
        self.validate_data_fields()
        object.__setattr__(self, "families", tuple(check_family(f) for f in self.families))
        object.__setattr__(self, "ablation_family", check_family(self.ablation_family))
        if not self.families:
            raise ValueError("families must name at least one family")
        for name in ("n_seeds", "n_train", "n_val", "n_test", "train_samples", "val_samples", "test_samples",
                     "nt", "epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        for part in ("train", "val", "test"):
            if getattr(self, f"{part}_samples") > getattr(self, f"n_{part}"):
                raise ValueError(f"{part}_samples ({getattr(self, f'{part}_samples')}) cannot exceed "
                                 f"n_{part} ({getattr(self, f'n_{part}')})")
        if self.batch_size > self.train_samples:
            raise ValueError(f"batch_size ({self.batch_size}) cannot exceed train_samples ({self.train_samples})")
        if self.model_size not in ("smoke", "cpu", "full"):
            raise ValueError(f"model_size must be smoke, cpu or full, got {self.model_size!r}")
        if not 0 < self.inversionnet_width <= 1:
            raise ValueError(f"inversionnet_width must be in (0, 1], got {self.inversionnet_width}")
        if not (self.lr > 0 and self.bound_weight >= 0 and self.grad_clip > 0):
            raise ValueError("lr and grad_clip must be > 0 and bound_weight >= 0")
        unknown = [a for a in self.ablations if a not in ABLATIONS]
        if unknown:
            raise ValueError(f"unknown ablation(s) {unknown}: choose from {', '.join(ABLATIONS)}")
        self.fit_config(0)  # validates the schedule

    def fit_config(self, seed: int) -> FitConfig:
        return FitConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, schedule=self.schedule,
                         warmup_epochs=self.warmup_epochs, grad_clip=self.grad_clip, device=self.device,
                         seed=seed, progress=self.progress, drop_last=True)

    def model_config(self, variant: str, target_rho: float) -> SPAMoEConfig:
        """SPAMoE config of ``variant`` ('spamoe' = the reference, or an ablation name)."""
        spec = dict(REFERENCE)
        spec.update(ABLATIONS.get(variant, {}))
        factor = float(spec.pop("bound_factor", 1.0))
        return SPAMoEConfig.preset(self.model_size, self.acquisition, rho_min=factor * target_rho,
                                   bound_weight=self.bound_weight, **spec)


def run(config: SpectralConfig) -> Artifact:
    metrics: dict[str, Any] = {"runs": [], "rho_targets": {}, "single_val_l1": {}}
    arrays: dict[str, np.ndarray] = {}
    acq = config.acquisition
    families = tuple(dict.fromkeys(config.families + (config.ablation_family,)))
    data: dict[str, tuple] = {}
    done: set[str] = set()
    for fam in families:
        s = load_family_splits(fam, config.n_train, config.n_val, config.n_test, **config.split_options())
        train, val, test = (head(s.train, config.train_samples), head(s.val, config.val_samples),
                            head(s.test, config.test_samples))
        rho_t = target_energy_ratio(train)
        _, median = rho_min_for(train, 1.0)
        metrics["rho_targets"][fam] = {"median": median, "p10": float(np.percentile(rho_t, 10)),
                                       "p90": float(np.percentile(rho_t, 90))}
        arrays[f"target_rho/{fam}"] = rho_t
        data[fam] = (train, val, test, median)

    def spamoe_piece(variant: str, fam: str, seed: int, main: bool) -> str:
        name = f"{variant}-{fam}-s{seed}"
        if name in done:
            return name
        train, val, test, median = data[fam]
        mc = config.model_config(variant, median)
        m, a = run_piece(config, name, lambda: train_spamoe(
            mc, config.fit_config(seed), train, val, test, checkpoint_root(config) / name,
            keep_predictions=2 if main else 0))
        done.add(name)
        metrics["runs"].append({"model": "spamoe", "variant": variant, "family": fam, "seed": seed, **m})
        arrays.update({f"{name}/{k}": v for k, v in a.items()})
        return name

    # single experts first (on the ablation family): the best one by validation L1 joins the comparison
    abl = config.ablation_family
    singles = [s for s in SINGLE_EXPERTS if s in config.ablations]
    for variant in singles:
        name = spamoe_piece(variant, abl, config.seed, main=False)
        metrics["single_val_l1"][variant] = float(np.nanmin(arrays[f"{name}/curve_val_l1"]))
    best_single = min(singles, key=lambda s: metrics["single_val_l1"][s]) if singles else None
    metrics["best_single"] = best_single

    for fam in config.families:
        train, val, test, _ = data[fam]
        for seed in config.seeds:
            spamoe_piece("spamoe", fam, seed, main=True)
            name = f"inversionnet-{fam}-s{seed}"
            m, a = run_piece(config, name, lambda: train_inversionnet(
                acq, config.inversionnet_width, config.fit_config(seed), train, val, test,
                checkpoint_root(config) / name))
            metrics["runs"].append({"model": "inversionnet", "variant": "inversionnet", "family": fam,
                                    "seed": seed, **m})
            arrays.update({f"{name}/{k}": v for k, v in a.items()})
            if best_single is not None:
                spamoe_piece(best_single, fam, seed, main=True)

    spamoe_piece("spamoe", abl, config.seed, main=abl in config.families)
    for variant in config.ablations:
        if variant not in singles:
            spamoe_piece(variant, abl, config.seed, main=False)
    for fam in families:
        arrays[f"truth/{fam}"] = data[fam][2].tensors[1][:2].numpy().astype(np.float32)

    art = Artifact(chapter=CHAPTER, config=config.to_dict(), provenance={}, metrics=metrics, arrays=arrays)
    art.claims = [c.to_dict() for c in judge_claims(config, metrics, arrays)]
    return art


# --------------------------------------------------------------------------------------------
# summaries the notebook and the claims share
# --------------------------------------------------------------------------------------------

def comparison(metrics: dict[str, Any], key: str = "mae") -> dict[str, dict[str, tuple[float, float, int]]]:
    """``{family: {variant: (mean, std over seeds, n seeds)}}`` of a test metric, main-comparison runs."""
    out: dict[str, dict[str, tuple[float, float, int]]] = {}
    keep = {"spamoe", "inversionnet", metrics.get("best_single")}
    for r in metrics["runs"]:
        if r["variant"] in keep:
            out.setdefault(r["family"], {}).setdefault(r["variant"], []).append((r["seed"], r[key]))
    result = {}
    for fam, by in out.items():
        result[fam] = {}
        for variant, vals in by.items():
            unique = dict(vals)  # one value per seed (the reference also serves the ablations)
            mean, std = mean_std(unique.values())
            result[fam][variant] = (mean, std, len(unique))
    return result


def mae_reduction(metrics: dict[str, Any], families) -> dict[str, float]:
    """Relative MAE reduction of SPAMoE against InversionNet per family: ``1 − MAE_SPAMoE / MAE_InversionNet``."""
    comp = comparison(metrics)
    return {f: 1.0 - comp[f]["spamoe"][0] / comp[f]["inversionnet"][0] for f in families
            if f in comp and "spamoe" in comp[f] and "inversionnet" in comp[f]}


def ablation_table(config: dict[str, Any] | SpectralConfig, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant on the ablation family, seed ``seed``: test MAE and what the bound did."""
    cfg = config if isinstance(config, dict) else config.to_dict()
    fam, seed = cfg["ablation_family"], cfg["seed"]
    rows = []
    seen = set()
    for r in metrics["runs"]:
        if r["model"] != "spamoe" or r["family"] != fam or r["seed"] != seed or r["variant"] in seen:
            continue
        seen.add(r["variant"])
        rows.append({"variant": "reference" if r["variant"] == "spamoe" else r["variant"], "mae": r["mae"],
                     "ssim": r["ssim"], "rho_min": r["rho_min"], "test_rho": r["test_rho_mean"],
                     "max_first_choice": r["utilisation"]["max_first_choice"]})
    order = ["reference", *ABLATIONS]
    return sorted(rows, key=lambda row: order.index(row["variant"]))


def bound_statistics(arrays: dict[str, np.ndarray], piece: str, rho_min: float) -> dict[str, float]:
    """Of one run: fraction of training batches with a non-zero hinge, and of validation samples below ρ_min
    (first and last epoch)."""
    trace = arrays[f"{piece}/trace"]
    rho = arrays[f"{piece}/epoch_rho"]  # [epochs, n_val]
    return {"hinge_batches": float(trace[:, 3].mean()) if len(trace) else float("nan"),
            "below_first": float((rho[0] < rho_min).mean()), "below_last": float((rho[-1] < rho_min).mean()),
            "rho_last": float(np.median(rho[-1]))}


def judge_claims(config: SpectralConfig, metrics: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[Claim]:
    p = config.profile
    claims = []
    comp = comparison(metrics)
    red = mae_reduction(metrics, config.families)
    setting = (f"{config.data_source}, {config.train_samples} training samples per family, "
               f"{config.epochs} epochs, batch {config.batch_size}, {config.n_seeds} seed(s); SPAMoE at the "
               f"'{config.model_size}' size with its ViT encoder trained from scratch (no DINOv3 weights); "
               f"InversionNet width {config.inversionnet_width} trained here with the same budget; verdicts "
               f"at the {', '.join(JUDGED_AT)} profile only (smaller runs do not train the networks far enough); "
               "theirs: OpenFWI's training sets (24k-60k samples per dataset), a pretrained DINOv3 encoder, "
               "epochs not reported — our full run is far smaller, so a shortfall may be the budget's")
    if red:
        avg = float(np.mean(list(red.values())))
        clear = 0
        for f in red:
            s_mean, s_std, _ = comp[f]["spamoe"]
            i_mean, i_std, _ = comp[f]["inversionnet"]
            clear += i_mean - s_mean > max(s_std, i_std)
        claims.append(Claim(
            id="spamoe.mae-reduction", paper="SPAMoE",
            statement="SPAMoE reduces the average MAE by 44.4 % relative to the best baseline.",
            theirs=f"−{100 * PAPER_MAE_REDUCTION:.1f} % average MAE vs the best official OpenFWI baseline, "
                   "ten OpenFWI datasets (real data)",
            ours=f"average MAE change vs InversionNet {-100 * avg:+.1f} % "
                 f"({'SPAMoE better' if avg > 0 else 'SPAMoE worse' if avg < 0 else 'no change'}); MAE SPAMoE vs "
                 "InversionNet: " + "; ".join(
                f"{f}: {pm(*comp[f]['spamoe'])} vs {pm(*comp[f]['inversionnet'])} ({-100 * r:+.1f} %)"
                for f, r in red.items()),
            rule=f"holds if our average reduction is at least {100 * (PAPER_MAE_REDUCTION - MAE_REDUCTION_TOLERANCE):.1f} % "
                 f"(theirs less {100 * MAE_REDUCTION_TOLERANCE:.0f} points; a change of "
                 f"−{100 * (PAPER_MAE_REDUCTION - MAE_REDUCTION_TOLERANCE):.1f} % or lower); partly if SPAMoE is better on average "
                 "and beats InversionNet by more than the larger seed std on at least half the families",
            verdict=judge_spamoe(p, avg >= PAPER_MAE_REDUCTION - MAE_REDUCTION_TOLERANCE,
                          avg > 0 and 2 * clear >= len(red)),
            chapter=CHAPTER, profile=p,
            setting=setting + "; theirs is against the best official OpenFWI baseline on the real data, "
                              "ours against InversionNet trained here on the same samples and budget"))

    abl, seed = config.ablation_family, config.seed
    ref = f"spamoe-{abl}-s{seed}"
    runs = {r["variant"]: r for r in metrics["runs"] if r["family"] == abl and r["seed"] == seed}
    _, noise, n_noise = comp.get(abl, {}).get("spamoe", (0.0, 0.0, 1))
    spread = f"seed std of the reference {noise:.4f}" if n_noise > 1 else "one seed: no spread to compare with"
    if "bound-off" in runs and "spamoe" in runs:
        rho_min = runs["spamoe"]["rho_min"]
        on = bound_statistics(arrays, ref, rho_min)
        off = bound_statistics(arrays, f"bound-off-{abl}-s{seed}", rho_min)
        acts = on["hinge_batches"] >= HINGE_ACTIVE_FRACTION
        binds = off["below_last"] >= 0.5
        held = on["below_last"] <= 0.5 * off["below_last"]
        claims.append(Claim(
            id="spamoe.bound-active", paper="SPAMoE",
            statement="The encoder keeps the high-to-low energy ratio of its output above a lower bound, "
                      "and the bound is what keeps it there (not trivially met).",
            theirs="a lower bound on E_H/E_L is enforced (no value of the bound, no evidence it is active); "
                   "the released code never enforces it",
            ours=f"ρ_min = {rho_min:.4f} (the {abl} targets' median ρ); with the hinge: non-zero in "
                 f"{100 * on['hinge_batches']:.0f} % of training batches, {100 * on['below_last']:.0f} % of validation "
                 f"samples below ρ_min at the end (median ρ {on['rho_last']:.4f}); without it (as released): "
                 f"{100 * off['below_last']:.0f} % below (median ρ {off['rho_last']:.4f})",
            rule=f"holds if the hinge is non-zero in ≥ {100 * HINGE_ACTIVE_FRACTION:.0f} % of batches, at least half "
                 "the samples fall below ρ_min without it, and with it at most half as many do; partly if the "
                 "bound binds (first or second condition) but the penalty does not hold it",
            verdict=judge_spamoe(p, acts and binds and held, acts or binds),
            chapter=CHAPTER, profile=p, setting=setting + f"; ablation on {abl}, one seed"))

        others = {v: runs[v]["mae"] for v in ("bound-off", "bound-0.5x", "bound-2x") if v in runs}
        ref_mae = runs["spamoe"]["mae"]
        claims.append(Claim(
            id="spamoe.bound-helps", paper="SPAMoE",
            statement="Enforcing the spectral lower bound lowers the reconstruction error.",
            theirs="the bound mitigates high-frequency collapse (no ablation reported)",
            ours=f"test MAE with the bound at 1× ρ_min {ref_mae:.4f}; " + "; ".join(
                f"{v}: {m:.4f}" for v, m in others.items()) + f" ({spread})",
            rule="holds if the bound at 1× beats the run without it by more than the reference's seed std, "
                 "partly if it is lower at all",
            verdict=judge_spamoe(p, ref_mae < others["bound-off"] - noise, ref_mae < others["bound-off"]),
            chapter=CHAPTER, profile=p, setting=setting + f"; ablation on {abl}, one seed"))

    contenders = {v: runs[v]["mae"] for v in ("uniform-routing", "random-routing") if v in runs}
    best = metrics.get("best_single")
    if best and abl in comp and best in comp[abl]:
        contenders[best] = comp[abl][best][0]
    if contenders and "spamoe" in runs:
        # like with like: the one-seed routing ablations against the reference's run with the same seed,
        # the best single expert (run on every seed) against the reference's mean over seeds
        seed_mae = runs["spamoe"]["mae"]
        mean_mae = comp[abl]["spamoe"][0] if abl in comp and "spamoe" in comp[abl] else seed_mae
        ref_for = {v: mean_mae if v == best else seed_mae for v in contenders}
        beyond = [v for v, m in contenders.items() if ref_for[v] < m - noise]
        lower = [v for v, m in contenders.items() if ref_for[v] < m]
        claims.append(Claim(
            id="spamoe.routing-helps", paper="SPAMoE",
            statement="Routing frequency bands to a learned mixture of FNO, MNO and LNO experts beats fixed "
                      "routing and any single operator.",
            theirs="the spectral decomposition and routing mechanism reduces the error (no routing ablation reported)",
            ours=f"test MAE on {abl}, learned routing vs " + "; ".join(
                f"{v}: {ref_for[v]:.4f} vs {m:.4f}"
                + (f" (means over {comp[abl][best][2]} seeds)" if v == best and comp[abl][best][2] > 1
                   else f" (seed {seed})")
                for v, m in contenders.items()) + f"; {spread}",
            rule="holds if learned routing beats every alternative by more than the reference's seed std; partly "
                 "if it beats at least one by that margin or all of them in the mean",
            verdict=judge_spamoe(p, len(beyond) == len(contenders), bool(beyond) or len(lower) == len(contenders)),
            chapter=CHAPTER, profile=p, setting=setting + f"; uniform/random routing on {abl} with one seed"))
    return claims


CONFIG = SpectralConfig
