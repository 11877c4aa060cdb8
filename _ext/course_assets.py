"""Sphinx extension: offline browser assets and fixes to stock Jupyter Book 1 pages.

1. Vendored assets. ``./course.sh setup`` copies MathJax, require.js and the ipywidgets HTML
   manager from the npm registry into ``_vendor/``. When they are present, the built pages
   render math and widgets with no network connection; when they are missing (no npm on the
   machine) the book falls back to the CDN defaults of Sphinx and MyST-NB and says so in the
   build log (an info message, so the strict ``-W`` build still passes).
2. The widget manager derives the address of its font files from its AMD module name
   (``@jupyter-widgets/html-manager/dist/embed-amd``), which require.js resolves relative to the
   page: every widget page then requests missing fonts. A require.js ``paths`` entry maps that
   module name to the vendored copy. The manager also calls MathJax 2's ``MathJax.Hub.Queue``,
   which MathJax 3 lacks; a forwarding shim is installed on widget pages.
3. Executed notebooks from the test run. When ``COURSE_EXECUTED_NOTEBOOKS`` names a jupyter-cache
   folder (``tests/test_book.py`` sets it to the chapters nbval has just executed, see
   ``tools/executed.py``), the build takes each chapter's outputs and widget state from there
   (MyST-NB's ``cache`` mode) instead of executing it a second time. A chapter missing from it
   (or edited since) is executed as usual. ``./course.sh build`` never sets it.
4. Sphinx 7.4 registers body-only scripts twice (once as ``None``, once as ``''``), so the
   inline ``const THEBE_JS_URL = ...`` of sphinx-thebe is declared twice and every page logs a
   SyntaxError. Duplicate inline scripts are removed before each page is written.
5. A folded proof (sphinx-proof's ``{prf:proof}`` with ``:class: dropdown``) has no title:
   sphinx-proof writes "Proof." into its first paragraph, and sphinx-togglebutton, which folds
   every ``.dropdown`` admonition behind its ``.admonition-title``, then throws on the page. The
   word moves into a real admonition title, so the proof folds behind "Proof".
"""

from __future__ import annotations

import os
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

MATHJAX = "mathjax/tex-mml-chtml.js"
REQUIREJS = "require.js"
WIDGETS = "widgets/embed-amd.js"

# Inserted right before embed-amd.js on pages with widgets (require.js is loaded before it).
# The require.js path fixes the font addresses (point 2). The widget manager also typesets with
# the MathJax 2 call ``MathJax.Hub.Queue``; the book loads MathJax 3, which has no ``Hub``, so
# a ``Hub.Queue`` that forwards to MathJax 3's ``typesetPromise`` is attached to whatever object
# ``window.MathJax`` holds: the configuration object first, MathJax itself once it has loaded.
_WIDGET_PAGE_JS = """
(function () {
  if (window.require && window.require.config) {
    var root = document.documentElement.dataset.content_root || "";
    var paths = {"@jupyter-widgets/html-manager/dist": root + "_static/widgets"};
    window.require.config({paths: paths});
  }
  var hub = {Queue: function (job) {
    var mj = window.MathJax, el = Array.isArray(job) ? job[2] : undefined;
    if (mj && mj.startup && mj.startup.promise && mj.typesetPromise) {
      mj.startup.promise.then(function () { return mj.typesetPromise(el ? [el] : undefined); });
    }
  }};
  // MathJax 3 replaces window.MathJax (its configuration object) when it loads: re-attach Hub.
  var current = window.MathJax;
  if (current && !current.Hub) current.Hub = hub;
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return current; },
    set: function (value) {
      current = value;
      if (value && typeof value === "object" && !value.Hub) value.Hub = hub;
    }
  });
})();
"""


def _use_vendored_assets(app, config) -> None:
    vendor = Path(app.confdir) / "_vendor"
    needed = [vendor / MATHJAX, vendor / REQUIREJS, vendor / WIDGETS]
    if not all(p.is_file() for p in needed):
        logger.info(
            "[course_assets] _vendor/ is incomplete (run ./course.sh setup with npm available): "
            "pages will load MathJax and the widget manager from their CDNs"
        )
        return
    config.html_static_path = [*config.html_static_path, str(vendor)]
    config.mathjax_path = MATHJAX
    config.nb_ipywidgets_js = {REQUIREJS: {}, WIDGETS: {}}
    logger.info("[course_assets] using vendored MathJax, require.js and widget manager")


def _use_executed_notebooks(app, config) -> None:
    folder = os.environ.get("COURSE_EXECUTED_NOTEBOOKS")
    if not folder:
        return
    if not Path(folder).is_dir():
        logger.info(f"[course_assets] {folder} does not exist: chapters are executed")
        return
    config.nb_execution_mode = "cache"
    config.nb_execution_cache_path = folder
    logger.info(f"[course_assets] chapters executed by the test run are taken from {folder}")


def _fix_page_scripts(app, pagename, templatename, context, doctree) -> None:
    from sphinx.builders.html._assets import _JavaScript

    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen = set()
    unique = []
    for js in scripts:
        filename = getattr(js, "filename", None) or ""
        key = (filename, repr(sorted(js.attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        if filename.endswith(WIDGETS):
            unique.append(_JavaScript(None, body=_WIDGET_PAGE_JS, priority=js.priority))
        unique.append(js)
    scripts[:] = unique


def _title_folded_proofs(app, doctree) -> None:
    from docutils import nodes

    for box in doctree.findall(nodes.admonition):
        classes = box.get("classes", [])
        if "proof" not in classes or "dropdown" not in classes:
            continue
        if box.children and isinstance(box.children[0], nodes.title):
            continue
        label = next((c for c in classes if c not in ("proof", "dropdown")), "proof").title()
        first = box.children[0] if box.children else None
        if isinstance(first, nodes.paragraph) and first.children:
            text = first.children[0]
            prefix = f"{label}. "
            if isinstance(text, nodes.Text) and text.astext().startswith(prefix):
                first.replace(text, nodes.Text(text.astext()[len(prefix) :]))
        box.insert(0, nodes.title("", label))


def setup(app):
    app.connect("config-inited", _use_vendored_assets)
    app.connect("config-inited", _use_executed_notebooks)
    app.connect("doctree-read", _title_folded_proofs)
    # Late priority: runs after MyST-NB has added the page's widget scripts.
    app.connect("html-page-context", _fix_page_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
