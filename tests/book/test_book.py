"""Tier 5: every chapter runs end to end at the smoke profile and the book builds with -W."""

import json
import re
from pathlib import Path

import pytest

from fwilab.book import chapters, execute_chapter, toc_documents
from fwilab.results import iter_artifacts

pytestmark = [pytest.mark.book, pytest.mark.slow]


def test_every_chapter_has_one_literal_parameters_cell():
    import ast

    import jupytext

    root = Path(__file__).resolve().parents[2]
    for name in chapters(root):
        nb = jupytext.read(root / "book" / f"{name}.md")
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: {len(tagged)} cells tagged 'parameters'"
        tree = ast.parse(tagged[0].source)
        names = set()
        for stmt in tree.body:
            assert isinstance(stmt, ast.Assign), f"{name}: parameters cell holds a non-assignment"
            ast.literal_eval(stmt.value)  # literals only
            names |= {t.id for t in stmt.targets}
        assert {"profile", "device", "seed", "recompute", "results_dir"} <= names, f"{name}: {names}"


def test_each_chapter_wrote_a_smoke_artifact_with_provenance(smoke_book):
    arts = {a.chapter: a for a in iter_artifacts(smoke_book["results"])}
    experiments = [c for c in smoke_book["chapters"] if c != "claims"]
    assert set(experiments) <= set(arts), f"missing artifacts for {set(experiments) - set(arts)}"
    for a in arts.values():
        assert a.profile == "smoke"
        for key in ("config_hash", "seed", "git_commit", "device_name", "torch", "wall_s"):
            assert key in a.provenance
        # smoke verdicts are never 'holds' unless the claim is size-independent
        for c in a.claims:
            assert c["profile"] == "smoke"


def test_html_has_every_chapter_with_its_figures(smoke_book):
    html = smoke_book["html"]
    for doc in toc_documents():
        page = html / f"{doc}.html"
        assert page.exists(), f"{page} missing"
    for name in smoke_book["chapters"]:
        text = (html / "book" / f"{name}.html").read_text()
        assert "Traceback" not in text and "An Exception was encountered" not in text, f"{name}: error output"
        if name != "claims":
            imgs = re.findall(r'<img[^>]+src="([^"]+)"', text)
            assert len(imgs) >= 3, f"{name}: expected figures, found {len(imgs)} images"
            for src in imgs:
                assert (html / "book" / src).exists(), f"{name}: image {src} missing"
            assert "Provenance of the numbers on this page" in text
    ledger = (html / "book" / "claims.html").read_text()
    assert "not judged at this profile" in ledger


def test_unknown_profile_fails_the_chapter(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="unknown profile 'huge'"):
        execute_chapter("claims", tmp_path, {"profile": "huge", "results_dir": str(tmp_path)})


def test_chapters_execute_without_the_unencrypted_kernel_warning(tmp_path, capfd):
    """ipykernel ≥ 7.3 warns on stderr at every start of a kernel on unencrypted TCP: once per chapter
    in `make book`'s output. The kernel is asked for encrypted sockets."""
    import papermill

    with pytest.raises(papermill.PapermillExecutionError):   # the cheapest full kernel start and stop
        execute_chapter("claims", tmp_path, {"profile": "huge", "results_dir": str(tmp_path)})
    assert "without encryption" not in capfd.readouterr().err
