"""Build the book once per test session: every chapter executed at the smoke profile by papermill into
a temporary results folder, then the HTML built from those runs with Sphinx warnings as errors."""

import os

import pytest


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    from fwilab.book import build_book, chapters

    build = tmp_path_factory.mktemp("book")
    results_dir = build / "results"
    html = build_book(build, profile="smoke", device="cpu", results_dir=results_dir,
                      warnings_as_errors=True, log=lambda s: None)
    return {"html": html, "results": results_dir, "notebooks": build / "notebooks", "chapters": chapters()}
