"""Command line: everything a chapter notebook can do, ``python -m fwilab …``.

    python -m fwilab run data --profile cpu --device auto --seed 0
    python -m fwilab run baselines --profile full --device cuda --budget-s 480   # whole pieces only
    python -m fwilab reproduce --profile full --device cuda --chapters data
    python -m fwilab data generate --family flatvel-a --n 1000 --out DIR [--device cuda] [--seed 0]
    python -m fwilab data build flatvel-a --source real --split train [--n 5000] [--decimate 4]
    python -m fwilab data status
    python -m fwilab data families
    python -m fwilab bench forward|gradient|train [--batches 1 4 16] [--device auto]
    python -m fwilab book [--profile smoke] [--results-dir results] [--build-dir _build]
    python -m fwilab claims [--results-dir results]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

#: exit status of ``run --budget-s`` when the budget ran out before the chapter finished (pieces saved)
EXIT_PARTIAL = 3


def _parse_value(text: str) -> Any:
    """``--set key=value``: JSON when it parses (numbers, lists, booleans), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if "," in text:
            return [_parse_value(t) for t in text.split(",")]
        return text


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise ValueError(f"--set expects key=value, got {pair!r}")
        k, v = pair.split("=", 1)
        out[k.strip()] = _parse_value(v.strip())
    return out


def _cmd_data_build(args: argparse.Namespace) -> int:
    from .data.store import StoreSpec, build, status

    split = args.split or ("train" if args.source == "real" else "all")
    spec = StoreSpec(args.family, source=args.source, split=split, seed=args.seed, decimate=args.decimate)
    folder = build(spec, args.n, device=args.device, progress=not args.quiet)
    st = status(spec)
    print(f"{st['dataset']}: {st['samples']} samples in {folder} ({st['wall_s']} s of compute)")
    return 0


def _cmd_data_families(args: argparse.Namespace) -> int:
    from .data.catalog import catalog

    for f in catalog():
        real = ", ".join(f"{s} {n}" for s, n in f.real_splits) or "none"
        print(f"{f.name:<13} {f.openfwi_name:<13} {f.kind:<6} layout {f.layout:<6} range {f.data_range[0]:>7.2f} "
              f"{f.data_range[1]:>6.2f}  OpenFWI {f.openfwi_train}/{f.openfwi_test}  real maps: {real:<21} "
              f"generator: {f.calibration}")
    return 0


def _cmd_data_status(args: argparse.Namespace) -> int:
    import json as _json

    from .files import default_cache_dir

    root = default_cache_dir() / "store"
    folders = sorted(p for p in root.glob("*") if (p / "manifest.json").exists()) if root.exists() else []
    if not folders:
        print(f"the store under {root} is empty")
    for folder in folders:
        m = _json.loads((folder / "manifest.json").read_text())
        ident, shards = m["identity"], m["shards"]
        n = sum(e["n"] for e in shards.values())
        wall = sum(e["wall_s"] for e in shards.values())
        print(f"{ident['family']:<13} {ident['source']:<9} {ident['split']:<5} q{ident['decimate']} "
              f"{n:>6} samples {wall:>8.0f} s  {folder.name}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .experiments import make_config, run_chapter
    from .results import BudgetExhausted, piece_budget

    pairs = list(args.set or ())
    if args.chapter is None:   # `run --set n_real=8 data`: --set took every word after it, the chapter too
        names = [w for w in pairs if "=" not in w]
        if len(names) != 1:
            raise ValueError("name one chapter: python -m fwilab run CHAPTER [options]")
        args.chapter = names[0]
        pairs.remove(names[0])
    options = dict(device=args.device, seed=args.seed, results_dir=args.results_dir, recompute=args.recompute)
    options.update(_openfwi_option(args.openfwi_dir, [args.chapter], refused=f"not to {args.chapter!r}")
                   .get(args.chapter, {}))
    overrides = _overrides(pairs)
    if "profile" in overrides:
        raise ValueError("the profile is chosen with --profile, not --set profile=...")
    options.update(overrides)   # `--set seed=3` wins over --seed's default, it does not clash
    cfg = make_config(args.chapter, args.profile, **options)
    try:
        with piece_budget(args.budget_s):
            art = run_chapter(cfg)
    except BudgetExhausted as exc:
        print(f"stopped: {exc}")
        return EXIT_PARTIAL
    for c in art.claims:
        print(f"  [{c['verdict']}] {c['id']}: {c['ours']}")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .experiments import EXPERIMENTS, make_config, run_chapter

    names = list(EXPERIMENTS) if args.chapters in (None, "", "all") else args.chapters.split(",")
    real = _openfwi_option(args.openfwi_dir, names)
    for name in names:
        cfg = make_config(name, args.profile, device=args.device, seed=args.seed,
                          results_dir=args.results_dir, recompute=True, **real.get(name, {}))
        run_chapter(cfg)
    return 0


def _openfwi_option(openfwi_dir: str | None, names: list[str], refused: str | None = None
                    ) -> dict[str, dict[str, str]]:
    """``{chapter: {"openfwi_dir": absolute path}}`` for the chapters among ``names`` whose config takes
    it (they train on a family's splits); an error when ``--openfwi-dir`` was given and none does."""
    from dataclasses import fields

    from .experiments import EXPERIMENTS, experiment

    if openfwi_dir is None:
        return {}
    takers = [n for n in EXPERIMENTS if "openfwi_dir" in {f.name for f in fields(experiment(n).CONFIG)}]
    chosen = [n for n in names if n in takers]
    if not chosen:
        raise ValueError(f"--openfwi-dir applies to the chapters that train on a family's splits "
                         f"({', '.join(takers)}), {refused or f'none of which is among {names}'}")
    path = str(Path(openfwi_dir).expanduser().resolve())
    return {n: {"openfwi_dir": path} for n in chosen}


def _cmd_data_generate(args: argparse.Namespace) -> int:
    from .data.generate import generate_dataset

    out = generate_dataset(args.family, args.n, args.out, seed=args.seed, device=args.device,
                           samples_per_file=args.samples_per_file, progress=not args.quiet)
    print(f"dataset written to {out}")
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    from .data.splits import describe_openfwi_dir

    rows = describe_openfwi_dir(args.openfwi_dir)
    if not rows:
        raise ValueError(f"no OpenFWI dataset folders under {args.openfwi_dir} (expected sub-folders such as "
                         "FlatVel_A/ or flatvel-a/)")
    bad = 0
    for r in rows:
        if "error" in r:
            bad += 1
            print(f"{r['family']:13s} {r['folder']}: ERROR {r['error']}")
            continue
        note = "OpenFWI survey" if r["survey"] else "NOT on OpenFWI's survey: the chapters cannot use it"
        bad += not r["survey"]
        print(f"{r['family']:13s} train {r['train']:6d}  test {r['test']:6d}  seismic {r['seismic']}  "
              f"velocity {r['velocity']}  ({note})  {r['folder']}")
    return 1 if bad else 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .benchmarks import run_benchmark

    report, path = run_benchmark(args.what, device=args.device, batch_sizes=args.batches,
                                 results_dir=args.results_dir)
    def show(row: dict) -> None:
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))

    for row in report["rows"]:
        show(row)
    target = report.get("cpu_target")
    if target:
        ratio = f"{target['ratio']:.1f}x deepwave" if target["ratio"] else "deepwave not timed"
        print(f"target at batch {target['batch']}: {target['fast_gcell_updates_per_s'] or 0:.2f} G cell-updates/s "
              f"(>= {target['target']['gcell_updates_per_s']:g}: {'met' if target['meets_rate'] else 'not met'}), "
              f"{ratio} (>= {target['target']['vs_deepwave']:g}x: {'met' if target['meets_ratio'] else 'not met'})")
    recipe = report.get("cpu_recipe")
    if recipe:
        print(f"cpu recipe ({recipe['model']}):")
        for row in recipe["rows"]:
            show(row)
        print(f"best: {recipe['best']} (target >= {recipe['target_samples_per_s']:g} samples/s: "
              f"{'met' if recipe['meets_target'] else 'not met'})")
    print(f"written to {path}")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from .book import build_book

    build_book(args.build_dir, profile=args.profile, device=args.device, results_dir=args.results_dir,
               recompute=args.recompute, only=args.only, warnings_as_errors=not args.no_strict,
               log_output=args.verbose)
    return 0


def _cmd_claims(args: argparse.Namespace) -> int:
    from .experiments import ledger
    from .results import iter_artifacts

    if not Path(args.results_dir).is_dir():
        raise ValueError(f"no results folder {args.results_dir!r} (run a chapter first, or pass --results-dir)")
    rows = ledger(iter_artifacts(args.results_dir))
    if not rows:
        print(f"no claims under {args.results_dir}")
    for r in rows:
        print(f"[{r['verdict']}] {r['paper']}: {r['id']} ({r['chapter']}, {r['profile']})\n"
              f"    {r['statement']}\n    theirs: {r['theirs']}\n    ours:   {r['ours']}\n    rule:   {r['rule']}")
    return 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown in the options' help (not the empty ones: None, False); descriptions kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from .config import PROFILES
    from .devices import DEVICES
    from .data.families import FAMILIES
    from .experiments import EXPERIMENTS

    p = argparse.ArgumentParser(prog="python -m fwilab", description=__doc__, formatter_class=_HelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def parser(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, formatter_class=_HelpFormatter)

    def common(sp: argparse.ArgumentParser, profile_default: str | None = "cpu") -> None:
        sp.add_argument("--profile", choices=PROFILES, default=profile_default, help="experiment size")
        sp.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)} or cuda:N")
        sp.add_argument("--seed", type=int, default=0, help="base seed (data and training)")
        sp.add_argument("--results-dir", default="results",
                        help="artifacts go to RESULTS_DIR/CHAPTER/PROFILE (one per chapter and profile)")
        sp.add_argument("--openfwi-dir", default=None, metavar="DIR",
                        help="train and test on the real OpenFWI files in DIR (one sub-folder per dataset, "
                             "e.g. DIR/FlatVel_A/data/data1.npy) instead of generated data")

    r = parser("run", "run (or load) one chapter's experiment and save its artifact")
    r.add_argument("chapter", nargs="?", metavar="CHAPTER", help=f"one of {', '.join(EXPERIMENTS)}")
    common(r)
    r.add_argument("--recompute", action="store_true", help="ignore a matching artifact and run again")
    r.add_argument("--set", nargs="*", metavar="KEY=VALUE",
                   help="override config fields, e.g. n_real=8 families=flatvel-a,curvevel-a")
    r.add_argument("--budget-s", type=float, default=None,
                   help="wall-time budget [s]: start a piece only if the longest piece so far still fits; "
                        f"exit {EXIT_PARTIAL} with the finished pieces saved when it is spent")
    r.set_defaults(func=_cmd_run)

    rp = parser("reproduce", "recompute and rewrite the artifacts of several chapters")
    common(rp, profile_default="full")
    rp.add_argument("--chapters", default="all", help="comma-separated chapter names, or 'all'")
    rp.set_defaults(func=_cmd_reproduce)

    d = parser("data", "datasets in the OpenFWI layout")
    dsub = d.add_subparsers(dest="data_command", required=True)
    text = ("generate an OpenFWI-like dataset (velocity maps and their seismic data on the OpenFWI survey)\n"
            "in OpenFWI's file layout; resumable, and a rerun with a larger --n (same --seed) extends it")
    g = dsub.add_parser("generate", help=text, description=text, formatter_class=_HelpFormatter)
    g.add_argument("--family", required=True, help=f"one of {', '.join(FAMILIES)}")
    g.add_argument("--n", type=int, required=True, help="number of samples")
    g.add_argument("--out", required=True, type=Path, help="output folder (dataN.npy / modelN.npy, metadata)")
    g.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)} or cuda:N")
    g.add_argument("--seed", type=int, default=0, help="seed of the velocity maps")
    g.add_argument("--samples-per-file", type=int, default=None,
                   help="samples per .npy file (default: the folder's own when extending it, else OpenFWI's 500)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_cmd_data_generate)
    text = ("forward-model a family's velocity maps into the dataset store that every chapter reads (once, on\n"
            "OpenFWI's survey; resumable: rerun to continue, or with a larger --n to extend)")
    bd = dsub.add_parser("build", help=text, description=text, formatter_class=_HelpFormatter)
    bd.add_argument("family", help=f"one of {', '.join(FAMILIES)}")
    bd.add_argument("--source", choices=["real", "generated"], default="real",
                    help="the shipped real OpenFWI maps, or the family's generator")
    bd.add_argument("--split", default=None,
                    help="real maps: train or test (default train); generated: all (the default)")
    bd.add_argument("--n", type=int, default=None, help="samples (default: every real map of the split)")
    bd.add_argument("--decimate", type=int, default=1, help="time decimation factor q (4: nt 1000 -> 250)")
    bd.add_argument("--seed", type=int, default=0, help="generator seed (generated data only)")
    bd.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)} or cuda:N")
    bd.add_argument("--quiet", action="store_true", help="no progress bar")
    bd.set_defaults(func=_cmd_data_build)
    text = "the table of family facts: kind, file layout, OpenFWI's data range and splits, the real maps shipped"
    fam = dsub.add_parser("families", help=text, description=text, formatter_class=_HelpFormatter)
    fam.set_defaults(func=_cmd_data_families)
    text = "list the datasets in the store: what each holds, how much is built, and its compute time"
    st = dsub.add_parser("status", help=text, description=text, formatter_class=_HelpFormatter)
    st.set_defaults(func=_cmd_data_status)
    text = ("list the real OpenFWI datasets in a folder (one sub-folder per dataset) with the samples of their\n"
            "train and test splits and their shapes, as the chapters' --openfwi-dir reads them; exit 1 if one\n"
            "cannot be used")
    ck = dsub.add_parser("check", help=text, description=text, formatter_class=_HelpFormatter)
    ck.add_argument("openfwi_dir", metavar="DIR", help="folder with FlatVel_A/, CurveFault_A/, ... (or flatvel-a/, ...)")
    ck.set_defaults(func=_cmd_data_check)

    b = parser("bench", "speed benchmarks (make bench)")
    b.add_argument("what", choices=["forward", "gradient", "train"],
                   help="forward modelling, the FWI gradient (forward + adjoint), or InversionNet training")
    b.add_argument("--device", default="auto")
    b.add_argument("--batches", type=int, nargs="*", default=None)
    b.add_argument("--results-dir", default="results")
    b.set_defaults(func=_cmd_bench)

    bk = parser("book", "execute the chapters and build the HTML book")
    bk.add_argument("--profile", choices=PROFILES, default=None,
                    help="profile for every chapter (default: each chapter's published profile)")
    bk.add_argument("--device", default="auto")
    bk.add_argument("--results-dir", default="results")
    bk.add_argument("--build-dir", default="_build")
    bk.add_argument("--recompute", action="store_true")
    bk.add_argument("--only", nargs="*", default=None, help="re-execute only these chapters; the others are reused from a previous build in --build-dir "
                         "(or executed if it has none)")
    bk.add_argument("--no-strict", action="store_true", help="do not turn Sphinx warnings into errors")
    bk.add_argument("--verbose", action="store_true", help="stream the notebooks' output")
    bk.set_defaults(func=_cmd_book)

    c = parser("claims", "print the claims ledger of the artifacts under --results-dir")
    c.add_argument("--results-dir", default="results")
    c.set_defaults(func=_cmd_claims)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:  # bad input or a missing folder: one clear line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")
        return 0
