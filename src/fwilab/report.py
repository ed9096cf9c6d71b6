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
        f"- **device** {p.get('device_name')} · torch {p.get('torch')} · **wall time** {p.get('wall_s')} s\n"
        ":::\n"
    )


def verdict_badge(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#57606a")
    return (f'<span style="background:{colour};color:#fff;padding:1px 6px;border-radius:4px;'
            f'white-space:nowrap">{html.escape(verdict)}</span>')


def claims_html(rows: Iterable[dict[str, Any]], link_chapters: bool = False) -> str:
    """An HTML table of claims: the paper's value beside ours, the rule and the computed verdict."""
    head = ["claim", "paper", "theirs", "ours", "rule", "verdict", "profile"]
    if link_chapters:
        head.insert(1, "chapter")
    out = ['<table class="fwilab-claims table">', "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in rows:
        cells = [f"<b>{html.escape(r['id'])}</b><br>{html.escape(r['statement'])}"]
        if link_chapters:
            cells.append(f'<a href="{html.escape(r["chapter"])}.html">{html.escape(r["chapter"])}</a>')
        setting = f"<br><i>our setting: {html.escape(r['setting'])}</i>" if r.get("setting") else ""
        cells += [html.escape(r["paper"]), f"{html.escape(r['theirs'])} <i>(theirs)</i>",
                  html.escape(r["ours"]) + setting, html.escape(r["rule"]), verdict_badge(r["verdict"]),
                  html.escape(r["profile"])]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def show_provenance(art: Artifact) -> None:
    from IPython.display import Markdown, display

    display(Markdown(provenance_markdown(art)))


def show_claims(art: Artifact) -> None:
    from IPython.display import HTML, display

    display(HTML(claims_html(art.claims)))
