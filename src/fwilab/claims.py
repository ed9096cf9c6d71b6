"""The claims registry: each chapter judges published claims from its own numbers.

A :class:`Claim` records the paper's value, ours, the rule that compares them and the verdict that
rule computed. Verdicts are never typed: :func:`judge` derives them from the comparisons a chapter
makes, and returns "not judged at this profile" wherever the profile is too small to be honest.
The ledger chapter (``book/claims.md``) collects the claims of every artifact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

HOLDS = "holds"
PARTLY = "partly"
DOES_NOT_HOLD = "does not hold"
NOT_JUDGED = "not judged at this profile"
VERDICTS = (HOLDS, PARTLY, DOES_NOT_HOLD, NOT_JUDGED)


def judge(profile: str, holds: bool, partly: bool = False,
          judged_at: Iterable[str] = ("cpu", "full")) -> str:
    """Verdict from computed comparisons.

    Args:
        profile: the run's profile; outside ``judged_at`` the verdict is "not judged at this profile".
        holds: the claim's rule is met in full.
        partly: a weaker form of the rule is met (ignored when ``holds``).
        judged_at: profiles at which judging this claim is honest.
    """
    if profile not in tuple(judged_at):
        return NOT_JUDGED
    if bool(holds):
        return HOLDS
    return PARTLY if bool(partly) else DOES_NOT_HOLD


@dataclass(frozen=True)
class Claim:
    """One published claim as judged by one chapter run.

    Attributes:
        id: stable identifier, e.g. ``"data.amplitude-regime"``.
        paper: which paper (or benchmark) makes the claim, e.g. ``"OpenFWI"``, ``"InvLINT"``.
        statement: the claim in one sentence.
        theirs: the paper's number or wording, labelled as theirs.
        ours: our measured value, formatted, from the artifact.
        rule: how ``ours`` is compared with ``theirs`` to reach the verdict.
        verdict: one of :data:`VERDICTS`, computed by :func:`judge`.
        chapter: the chapter (book document name) that judges it.
        profile: the profile of the run that produced ``ours``.
        setting: how our setting differs from the paper's (smaller data, no pretrained weights...).
        values: where numbers compare directly, ``{label: [ours, theirs]}`` (e.g. one family's MAE
            beside the paper's), for the ledger's figure; left out of :meth:`to_dict` when None.
    """

    id: str
    paper: str
    statement: str
    theirs: str
    ours: str
    rule: str
    verdict: str
    chapter: str
    profile: str
    setting: str = ""
    values: dict[str, list[float]] | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.id!r}: verdict {self.verdict!r} is not one of {VERDICTS}")
        for label, pair in (self.values or {}).items():
            if len(pair) != 2:
                raise ValueError(f"claim {self.id!r}: values[{label!r}] must be [ours, theirs], got {pair!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["values"] is None:   # claims without comparable numbers keep the stored layout
            del d["values"]
        return d


def unjudged_for_overrides(claims: Iterable[dict[str, Any]], overrides: dict[str, tuple[Any, Any]]
                           ) -> list[dict[str, Any]]:
    """The claims of a run whose parameters differ from its profile's preset, with every verdict made
    "not judged": a rule's margins and sizes were chosen for the preset (one seed has no spread, two
    epochs do not train), and the run is saved under the preset's profile name, so a verdict would pass
    for the preset's. ``overrides``: ``{field: (preset value, run's value)}``; the rule says which."""
    if not overrides:
        return [dict(c) for c in claims]
    changed = ", ".join(f"{k}={v!r} (preset {p!r})" for k, (p, v) in overrides.items())
    out = []
    for c in claims:
        c = dict(c)
        if c["verdict"] != NOT_JUDGED:
            c["rule"] += (f" — not judged here: this run's parameters differ from the {c['profile']} preset "
                          f"({changed}); verdicts are given at the presets' sizes only")
            c["verdict"] = NOT_JUDGED
        out.append(c)
    return out


def ledger_rows(artifacts: Iterable[Any], largest_profile_only: bool = True,
                overrides_of: Callable[[Any], dict[str, tuple[Any, Any]]] | None = None) -> list[dict[str, Any]]:
    """All claims of the given artifacts, one dict per claim, ordered by chapter then id.

    ``overrides_of(artifact)`` gives the preset overrides recorded in an artifact's config (the claims of
    an overridden run are listed unjudged, :func:`unjudged_for_overrides`); the registry knows no
    chapter, so the caller hands it in (:func:`fwilab.experiments.ledger` does).

    With ``largest_profile_only`` (the ledger's view) a chapter whose artifacts exist at several
    profiles contributes the claims of its largest one only (full over cpu over smoke), so a claim
    appears once, judged at the most honest size on record.
    """
    from .config import PROFILES

    rank = {p: i for i, p in enumerate(PROFILES)}
    rows = []
    for art in artifacts:
        for c in unjudged_for_overrides(art.claims, overrides_of(art) if overrides_of else {}):
            Claim(**c)  # validates the stored verdict
            rows.append(dict(c))
    if largest_profile_only:
        best: dict[str, int] = {}
        for r in rows:
            best[r["chapter"]] = max(best.get(r["chapter"], -1), rank.get(r["profile"], -1))
        rows = [r for r in rows if rank.get(r["profile"], -1) == best[r["chapter"]]]
    return sorted(rows, key=lambda r: (r["chapter"], r["id"], r["profile"]))
