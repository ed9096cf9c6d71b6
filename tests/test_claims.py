"""Verdicts are computed from comparisons, and smoke runs are never judged."""

import pytest

from fwilab.claims import DOES_NOT_HOLD, HOLDS, NOT_JUDGED, PARTLY, Claim, judge, ledger_rows


@pytest.mark.parametrize("profile, holds, partly, expected", [
    ("cpu", True, False, HOLDS), ("cpu", False, True, PARTLY), ("cpu", False, False, DOES_NOT_HOLD),
    ("full", True, True, HOLDS), ("smoke", True, True, NOT_JUDGED), ("smoke", False, False, NOT_JUDGED),
])
def test_judge(profile, holds, partly, expected):
    assert judge(profile, holds, partly) == expected


def test_judged_at_can_include_smoke():
    assert judge("smoke", True, judged_at=("smoke", "cpu")) == HOLDS


def test_typed_verdicts_are_rejected():
    with pytest.raises(ValueError, match="verdict"):
        Claim(id="x", paper="p", statement="s", theirs="1", ours="2", rule="r", verdict="looks fine",
              chapter="c", profile="cpu")


def test_ledger_orders_and_validates():
    class A:
        claims = [dict(id="b", paper="p", statement="s", theirs="1", ours="2", rule="r", verdict=HOLDS,
                       chapter="z", profile="cpu", setting=""),
                  dict(id="a", paper="p", statement="s", theirs="1", ours="2", rule="r", verdict=PARTLY,
                       chapter="z", profile="cpu", setting="")]
    assert [r["id"] for r in ledger_rows([A()])] == ["a", "b"]
    A.claims[0]["verdict"] = "great"
    with pytest.raises(ValueError):
        ledger_rows([A()])


def test_ledger_keeps_each_chapter_at_its_largest_profile():
    def claim(chapter, profile, verdict=NOT_JUDGED):
        return dict(id=f"{chapter}.x", paper="p", statement="s", theirs="1", ours="2", rule="r", verdict=verdict,
                    chapter=chapter, profile=profile, setting="")

    class Art:
        def __init__(self, *claims):
            self.claims = list(claims)

    arts = [Art(claim("spectral", "smoke")), Art(claim("spectral", "cpu", HOLDS)), Art(claim("data", "smoke"))]
    rows = ledger_rows(arts)
    assert [(r["chapter"], r["profile"]) for r in rows] == [("data", "smoke"), ("spectral", "cpu")]
    assert len(ledger_rows(arts, largest_profile_only=False)) == 3
