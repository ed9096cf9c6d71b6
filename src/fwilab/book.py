"""Execute the book's chapters with papermill and build the HTML with Jupyter Book 1.x.

The chapters are jupytext MyST notebooks in ``book/`` (the source of truth, no outputs). A build:

1. converts each chapter to ``.ipynb`` (jupytext) and executes it with papermill, passing the
   chapter's parameters (``profile``, ``device``, ``results_dir`` ...), into
   ``<build>/site/book/<chapter>.ipynb`` — an error in any cell fails the build;
2. copies ``_config.yml``, ``_toc.yml`` and the plain pages beside them into ``<build>/site``;
3. runs ``jupyter-book build`` on that staging folder with execution off (the notebooks already
   carry their outputs), optionally with Sphinx warnings as errors.

The HTML lands in ``<build>/html``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import yaml

#: the files at the project's root that make the book
BOOK_FILES = ("_config.yml", "_toc.yml")


def project_root() -> Path:
    """The folder that holds ``_toc.yml`` (the repository root), searched upwards from here and cwd."""
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for d in (start, *start.parents):
            if (d / "_toc.yml").exists() and (d / "book").is_dir():
                return d
    raise FileNotFoundError("cannot find the fwilab project root (a folder with _toc.yml and book/)")


def resolve_results_dir(results_dir: str | os.PathLike) -> Path:
    """A relative ``results_dir`` is taken from the project root, so a chapter opened from ``book/``
    in Jupyter reads the same committed artifacts as ``make book``."""
    return Path(project_path(results_dir))


def project_path(path: str | os.PathLike | None) -> str | None:
    """A chapter's path parameter as an absolute path: a relative one is taken from the project root
    (where ``make book`` runs the chapters, whichever folder Jupyter was opened in); ``None`` and ``""``
    stay ``None``."""
    if path is None or str(path) == "":
        return None
    p = Path(path).expanduser()
    if p.is_absolute():
        return str(p)
    try:
        return str(project_root() / p)
    except FileNotFoundError:
        return str(p.resolve())


def toc_documents(root: Path | None = None) -> list[str]:
    """Document names in ``_toc.yml`` order, e.g. ``['book/intro', 'book/data', 'book/claims']``."""
    root = root or project_root()
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    docs = [toc["root"]]

    def walk(entries: Iterable[dict[str, Any]]) -> None:
        for e in entries:
            if "file" in e:
                docs.append(e["file"])
            for key in ("chapters", "sections"):
                if key in e:
                    walk(e[key])
            for part in e.get("parts", []):
                walk(part.get("chapters", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return [d.removesuffix(".md").removesuffix(".ipynb") for d in docs]


def is_notebook(path: Path) -> bool:
    """A MyST page is a notebook when its front matter names a kernel (jupytext MyST format)."""
    text = path.read_text()
    if not text.startswith("---"):
        return False
    front = text.split("---", 2)[1]
    return "kernelspec" in front


def chapters(root: Path | None = None) -> list[str]:
    """The executable chapters (notebooks) in book order, as short names: ``['data', ..., 'claims']``."""
    root = root or project_root()
    return [Path(d).name for d in toc_documents(root) if is_notebook(root / f"{d}.md")]


def execute_chapter(name: str, out_dir: Path, parameters: dict[str, Any], *, root: Path | None = None,
                    log_output: bool = False, timeout: int | None = None) -> Path:
    """Convert ``book/<name>.md`` to a notebook and execute it with papermill into ``out_dir``."""
    import jupytext
    import papermill as pm

    root = root or project_root()
    src = root / "book" / f"{name}.md"
    if not src.exists():
        known = ", ".join(chapters(root))
        raise ValueError(f"unknown chapter {name!r}: choose one of {known}")
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    unexecuted = out_dir / f".{name}.input.ipynb"
    jupytext.write(nb, unexecuted, fmt="ipynb")
    out = out_dir / f"{name}.ipynb"
    tmp = out_dir / f".{name}.running.ipynb"
    # progress bars belong in terminals, not in the book's pages (fwilab.progress.bar reads TQDM_DISABLE)
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        pm.execute_notebook(str(unexecuted), str(tmp), parameters=parameters, cwd=str(root),
                            kernel_name="python3", log_output=log_output, progress_bar=False,
                            execution_timeout=timeout, **_kernel_config())
        _hide_injected_parameters(tmp)
        os.replace(tmp, out)
    finally:
        unexecuted.unlink(missing_ok=True)
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous
    return out


def _hide_injected_parameters(path: Path) -> None:
    """papermill adds an ``injected-parameters`` code cell after the parameters cell: plumbing, so it is kept
    off the rendered page (``remove-input``) like the parameters cell itself."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-input" not in tags:
            cell["metadata"]["tags"] = [*tags, "remove-input"]
            changed = True
    if changed:
        nbformat.write(nb, path)


def _kernel_config() -> dict[str, Any]:
    """Ask jupyter_client (≥ 8.10) to encrypt the kernel's local TCP sockets where the kernel supports
    it: ipykernel ≥ 7.3 warns on every start of an unencrypted kernel, once per chapter."""
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    import zmq

    if "transport_encryption" not in KernelManager.class_trait_names() or not zmq.has("curve"):
        return {}
    return {"config": Config({"KernelManager": {"transport_encryption": "auto"}})}


def stage_book(site: Path, executed: dict[str, Path], root: Path | None = None) -> None:
    """Lay out ``site`` as a Jupyter Book: config, toc, plain pages and the executed notebooks."""
    root = root or project_root()
    if site.exists():
        shutil.rmtree(site)
    (site / "book").mkdir(parents=True)
    for f in BOOK_FILES:
        shutil.copy2(root / f, site / f)
    for src in (root / "book").iterdir():
        if src.is_dir() or src.name.startswith("."):
            if src.is_dir() and src.name == "_static":
                shutil.copytree(src, site / "book" / src.name)
            continue
        if src.suffix == ".md" and is_notebook(src):
            continue  # replaced by its executed .ipynb
        shutil.copy2(src, site / "book" / src.name)
    for name, nb in executed.items():
        shutil.copy2(nb, site / "book" / f"{name}.ipynb")


def build_html(site: Path, html_dir: Path, *, warnings_as_errors: bool = True) -> Path:
    """Run ``jupyter-book build`` on ``site`` and move the HTML to ``html_dir``."""
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(site), "--path-output", str(site), "--all"]
    if warnings_as_errors:
        cmd += ["--warningiserror", "--keep-going"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {res.returncode}):\n{res.stdout[-6000:]}\n{res.stderr[-6000:]}")
    built = site / "_build" / "html"
    if html_dir.exists():
        shutil.rmtree(html_dir)
    shutil.move(str(built), str(html_dir))
    return html_dir


def build_book(build_dir: str | os.PathLike = "_build", *, profile: str | None = None, device: str = "auto",
               results_dir: str | os.PathLike = "results", recompute: bool = False,
               only: Iterable[str] | None = None, warnings_as_errors: bool = True,
               log_output: bool = False, log=print) -> Path:
    """Execute every chapter (or ``only`` these) and build the HTML book. Returns the HTML folder.

    ``profile=None`` keeps each chapter's own default (the profile its committed artifacts were
    made at); any other value is passed to every chapter.
    """
    root = project_root()
    build = Path(build_dir).resolve()
    nb_dir = build / "notebooks"
    names = chapters(root)
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f"unknown chapter(s) {unknown}: choose from {names}")
    executed: dict[str, Path] = {}
    for name in names:
        if only and name not in only and (nb_dir / f"{name}.ipynb").exists():
            executed[name] = nb_dir / f"{name}.ipynb"
            continue
        params: dict[str, Any] = {"device": device, "results_dir": str(Path(results_dir).resolve()),
                                  "recompute": recompute}
        if profile is not None:
            params["profile"] = profile
        t0 = time.perf_counter()
        log(f"executing {name} ...")
        executed[name] = execute_chapter(name, nb_dir, params, root=root, log_output=log_output)
        log(f"  {name}: {time.perf_counter() - t0:.1f} s")
    stage_book(build / "site", executed, root)
    log("building HTML ...")
    html = build_html(build / "site", build / "html", warnings_as_errors=warnings_as_errors)
    log(f"The book is at {html / 'index.html'}")
    return html
