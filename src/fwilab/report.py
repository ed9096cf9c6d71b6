"""What a chapter shows around its figures: the provenance box and the claims table.

Both are built from an :class:`~fwilab.results.Artifact` only, so every number on the page can be
traced to the artifact's file, config hash, commit and device.
"""

from __future__ import annotations

import html
from typing import Any, Iterable

from .claims import DOES_NOT_HOLD, HOLDS, NOT_JUDGED, PARTLY
from .results import Artifact

VERDICT_COLOURS = {HOLDS: "#1a7f37", PARTLY: "#9a6700", DOES_NOT_HOLD: "#cf222e", NOT_JUDGED: "#57606a"}


def provenance_markdown(art: Artifact) -> str:
    """A MyST admonition naming the profile, seed, commit, device and wall time of the artifact."""
    p = art.provenance
    dirty = " (uncommitted changes)" if p.get("git_dirty") else ""
    return (
        ":::{admonition} Provenance of the numbers on this page\n:class: note\n\n"
        f"- **profile** `{p.get('profile')}` · **seed** {p.get('seed')} · **config hash** `{p.get('config_hash')}`\n"
        f"- **commit** `{str(p.get('git_commit'))[:12]}`{dirty} · **date** {p.get('date')}\n"
        f"- **device** {p.get('device_name')} · torch {p.get('torch')} · **wall time** {p.get('wall_s')} s"
        + (f" (pieces: {p['compute_wall_s']:.0f} s of compute over {len(p.get('pieces_wall_s', {}))} pieces, "
           "each recorded with its own commit)" if p.get("compute_wall_s") is not None else "") + "\n"
        + _data_line(art.config) +
        ":::\n"
    )


def _data_line(config: dict[str, Any]) -> str:
    """Which data a training chapter used (configs with ``openfwi_dir``; none for the data chapter)."""
    if "openfwi_dir" not in config:
        return ""
    rate = (f"; the networks read records decimated ×{config['decimate']} in time"
            if config.get("decimate", 1) > 1 else "")
    if config["openfwi_dir"] is None and config.get("maps") == "real":
        return ("- **data** real OpenFWI velocity maps (FlatVel-A, CurveVel-A; scored on OpenFWI's test maps) "
                f"forward-modelled here on OpenFWI's convention, generated maps for the other families{rate}\n")
    if config["openfwi_dir"] is None:
        return f"- **data** generated here (OpenFWI's families and acquisition, seeded by the seed above){rate}\n"
    return f"- **data** the real OpenFWI files under `{config['openfwi_dir']}` (OpenFWI's train and test splits)\n"


def pm(mean: float, std: float, n: int, spec: str = ".4f") -> str:
    """``"mean ± std"`` of a result over ``n`` seeds; one seed has no spread, so ``"mean (1 seed)"``
    rather than a misleading ``± 0``; none is ``"– (no seeds)"``."""
    if n < 1:
        return "– (no seeds)"
    if n < 2:
        return f"{mean:{spec}} (1 seed)"
    return f"{mean:{spec}} ± {std:{spec}}"


def seconds(s: float) -> str:
    """A duration for the page: milliseconds below a second (smoke runs and inference take fractions of
    a second, which ``:.0f`` showed as "0 s"), three significant figures below 100 s, whole seconds above."""
    if abs(s) < 1:
        return f"{1e3 * s:.3g} ms"
    return f"{s:.3g} s" if abs(s) < 100 else f"{s:.0f} s"


def verdict_badge(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#57606a")
    return (f'<span style="background:{colour};color:#fff;padding:1px 6px;border-radius:4px;'
            f'white-space:nowrap">{html.escape(verdict)}</span>')


def claims_html(rows: Iterable[dict[str, Any]], link_chapters: bool = False) -> str:
    """An HTML table of claims: the paper's value (theirs) beside ours, the rule and the computed verdict.

    Three columns keep it readable in the book's text width: the claim, theirs vs ours (with how our
    setting differs), and the verdict with the rule that computed it.
    """
    out = ['<div style="overflow-x:auto"><table class="fwilab-claims table" style="font-size:0.85em">',
           "<thead><tr><th>claim</th><th>theirs vs ours</th><th>verdict</th></tr></thead><tbody>"]
    esc = html.escape
    for r in rows:
        where = (f' · <a href="{esc(r["chapter"])}.html">{esc(r["chapter"])}</a>' if link_chapters else "")
        claim = f"<b>{esc(r['id'])}</b> <small>({esc(r['paper'])}{where})</small><br>{esc(r['statement'])}"
        setting = f"<br><small><i>our setting: {esc(r['setting'])}</i></small>" if r.get("setting") else ""
        values = f"<b>theirs:</b> {esc(r['theirs'])}<br><b>ours:</b> {esc(r['ours'])}{setting}"
        verdict = (f"{verdict_badge(r['verdict'])}<br><small>profile {esc(r['profile'])}</small>"
                   f"<br><small>{esc(r['rule'])}</small>")
        out.append(f"<tr><td>{claim}</td><td>{values}</td><td>{verdict}</td></tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def show_provenance(art: Artifact) -> None:
    from IPython.display import Markdown, display

    display(Markdown(provenance_markdown(art)))


def show_claims(art: Artifact) -> None:
    from IPython.display import HTML, display

    display(HTML(claims_html(art.claims)))


def table(df, precision: int = 4, caption: str | None = None):
    """A pandas table styled for the page: no index, numbers never wrapped over lines (``mean ± std``
    stays in one cell), compact cells."""
    styler = df.style.format(precision=precision, na_rep="–").hide(axis="index")
    styler = styler.set_table_styles([{"selector": "td, th", "props": [("white-space", "nowrap"),
                                                                        ("padding", "2px 8px")]}])
    if caption:
        styler = styler.set_caption(caption)
    return styler


def learned_vs_fwi(fwi: dict[str, dict[str, Any]], learned: dict[str, tuple[list[float], float]]
                   ) -> tuple[list[str], int, int]:
    """The learned-against-classic-FWI comparison both InvLINT claims and the baselines claim make.

    Args:
        fwi: per family, classic FWI's ``mae_ms`` and ``s_per_sample``.
        learned: per family, the learned model's per-seed MAE [m/s] on FWI's samples and its inference
            time per sample [s].

    Returns: ``(rows, wins, partial)``: one text per family; the families where the learned mean + std
    MAE is below FWI's *and* it is faster; those where its mean MAE is below FWI's.
    """
    from .metrics import mean_std

    rows, wins, partial = [], 0, 0
    for fam, f in fwi.items():
        per_seed, learned_s = learned[fam]
        mean, std = mean_std(per_seed)
        faster = learned_s < f["s_per_sample"]
        wins += mean + std < f["mae_ms"] and faster
        partial += mean < f["mae_ms"]
        rows.append(f"{fam}: {pm(mean, std, len(per_seed), '.1f')} vs {f['mae_ms']:.1f} m/s, "
                    f"{seconds(learned_s)} vs {seconds(f['s_per_sample'])} per sample")
    return rows, wins, partial
