"""Sphinx glue for the book (listed in ``_config.yml`` under ``sphinx.extra_extensions``).

- sphinx-thebe 0.3 registers its inline configuration script twice under Jupyter Book 1.0, which makes
  every page log ``Identifier 'THEBE_JS_URL' has already been declared``: keep the first copy only.
- pydata-sphinx-theme logs "Got invalid theme mode" on a first visit unless a default mode is set.
"""

from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # an inline script's filename is None or "" depending on who registered it: both mean "no file"
        key = (getattr(js, "filename", None) or "", repr(sorted((getattr(js, "attributes", None) or {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    scripts[:] = kept


def _default_mode(app, config) -> None:
    # pydata-sphinx-theme reads the template variable default_mode from html_context
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")
    config.html_context = context


def setup(app):
    app.connect("config-inited", _default_mode)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
