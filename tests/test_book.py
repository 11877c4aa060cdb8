"""The book as a whole: wiring, the strict build, and a real browser on the built pages.

The build and browser tests are marked ``book``: they take a minute or two, need the setup step
(``./course.sh test`` runs it) and run as part of the test command. Deselect them with
``-m "not book"`` for a quick unit-test run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.executed import ENV_VAR, stored
from tools.page_stats import HISTORY, page_size, page_stats, stray_dollars
from tools.toc import chapters, notebook_files, toc_files

ROOT = Path(__file__).resolve().parents[1]
BROWSER = ROOT / "tests" / "browser"


def test_toc_lists_existing_files_and_every_notebook():
    files = toc_files()
    for f in files:
        assert (ROOT / f"{f}.md").is_file(), f"_toc.yml lists {f} but {f}.md does not exist"
    for nb in notebook_files():
        page = nb.relative_to(ROOT).with_suffix("").as_posix()
        assert page in files, f"{page}.md is not in _toc.yml"


def test_readme_lists_every_chapter():
    readme = (ROOT / "README.md").read_text()
    for nb in notebook_files():
        page = nb.relative_to(ROOT).as_posix()
        assert page in readme, f"README.md does not list {page}"


def test_api_reference_lists_every_module():
    """The reference pages are what tools/api_page.py writes from the package: every public
    module of ibcore on one theme page, each with a docstring whose first paragraph sums it up,
    and every theme page in _toc.yml."""
    from tools.api_page import modules, pages, toc_lists_the_pages

    texts = pages()
    for path, text in texts.items():
        assert path.read_text() == text, f"{path.name} is out of date: run python tools/api_page.py"
    assert {"ibcore.descent", "ibcore.errors", "ibcore.validation"} <= set(modules())
    everything = "".join(texts.values())
    for name in modules():
        assert everything.count(f".. automodule:: {name}\n") == 1, name
    assert toc_lists_the_pages()


def test_no_committed_notebook_twins():
    assert not list((ROOT / "book").rglob("*.ipynb")), "commit chapters as .md only"


@pytest.fixture(scope="session")
def built_book(request, tmp_path_factory, measurements):
    """Build the book once, strictly, from scratch, into a temporary folder.

    The chapters nbval has executed in this session (conftest.py) are not executed again: the
    build takes their outputs and widget state from the session's folder of executed notebooks.
    A chapter nbval did not run, or that failed there, is executed by the build itself.
    """
    from conftest import EXECUTED

    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    folder = request.config.stash[EXECUTED]
    from_nbval = {Path(uri).name for uri in stored(folder)}  # before the build adds its own
    env = {**os.environ, ENV_VAR: str(folder)}
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    log = proc.stdout + proc.stderr
    reused = len(re.findall(r"Using cached notebook", log))
    executed = re.findall(r"(\S+\.md): Executing notebook", log)
    measurements.append(f"strict build: {reused} chapter(s) taken from nbval's run, "
                        f"{len(executed)} executed by the build {[Path(e).name for e in executed]}")
    proc.from_nbval = from_nbval
    return proc, out / "_build" / "html"


@pytest.mark.book
def test_build_does_not_execute_again_what_nbval_executed(built_book):
    """Each chapter executes once per test run (nbval), not a second time in the build."""
    proc, _ = built_book
    assert proc.returncode == 0
    executed = {Path(e).name for e in re.findall(r"(\S+\.md): Executing notebook", proc.stdout)}
    twice = proc.from_nbval & executed
    assert not twice, f"executed twice (by nbval and by the build): {sorted(twice)}"


@pytest.mark.book
def test_strict_build_succeeds_without_warnings(built_book):
    proc, html = built_book
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"strict build failed:\n{log[-6000:]}"
    assert not re.search(r"\bWARNING\b: (?!.*Kernel is running over TCP)", log), log[-6000:]
    for f in toc_files():
        assert (html / f"{f}.html").is_file(), f"no page for {f}"


@pytest.mark.book
def test_built_pages_use_vendored_assets_and_store_widget_state(built_book):
    proc, html = built_book
    assert proc.returncode == 0
    demo = (html / "book" / "widgets_demo.html").read_text()
    if (ROOT / "_vendor" / "mathjax").is_dir():
        assert "_static/mathjax/tex-mml-chtml.js" in demo
        assert "_static/widgets/embed-amd.js" in demo
        assert "cdn.jsdelivr.net" not in demo and "unpkg.com/@jupyter-widgets" not in demo
    assert "application/vnd.jupyter.widget-state+json" in demo


@pytest.mark.book
def test_pages_in_a_real_browser(built_book):
    """Every page in headless Chromium: no JS/console error, math typeset, sliders work."""
    proc, html = built_book
    assert proc.returncode == 0
    node = shutil.which("node")
    assert node, "the browser test needs Node.js (run ./course.sh test, which sets it up)"
    assert (BROWSER / "node_modules" / "playwright-core").is_dir(), "run ./course.sh test"
    run = subprocess.run(
        [node, str(BROWSER / "check_pages.mjs"), str(html)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.stdout.strip(), f"no report from the browser test:\n{run.stderr[-3000:]}"
    report = json.loads(run.stdout)
    assert not report["failures"], "\n".join(report["failures"])
    assert run.returncode == 0, run.stderr[-3000:]
    pages = {p["page"]: p for p in report["pages"]}
    for f in toc_files():
        assert f"{f}.html" in pages, f"{f}.html was not checked"
    widget_pages = [p for p in report["pages"] if p["sliders"]]
    assert widget_pages, "no static-live widget was found on any page"


# -- the reader's edition: budgets every chapter meets (tools/page_stats.py measures them) ------

#: Per chapter (its page and its section pages together).
MIN_FIGURES, MIN_WIDGETS, MIN_EXERCISES = 6, 3, 5
#: Per page.
MAX_VISIBLE_SHARE, MAX_VISIBLE_CELL, MAX_WORDS, MAX_PAGE_BYTES = 0.35, 25, 4000, 1_500_000


@pytest.mark.parametrize("chapter", list(chapters()))
def test_chapter_meets_the_readers_budgets(chapter):
    stats = [page_stats(ROOT / f"{page}.md") for page in chapters()[chapter]]
    figures = sum(s.figures for s in stats)
    widgets = sum(s.widgets for s in stats)
    exercises = sum(s.exercises for s in stats)
    assert figures >= MIN_FIGURES, f"{chapter}: {figures} figures, want {MIN_FIGURES}"
    assert widgets >= MIN_WIDGETS, f"{chapter}: {widgets} widgets, want {MIN_WIDGETS}"
    assert exercises >= MIN_EXERCISES, f"{chapter}: {exercises} exercises"
    for s in stats:
        assert s.visible <= MAX_VISIBLE_SHARE, f"{s.page}: {s.visible:.0%} of code visible"
        assert s.max_visible <= MAX_VISIBLE_CELL, f"{s.page}: a visible cell of {s.max_visible}"
        assert s.words <= MAX_WORDS, f"{s.page}: {s.words} words of prose, split the page"


def test_no_source_history_in_the_book():
    """The book cites papers; it never talks about the documents it was written from."""
    for path in sorted((ROOT / "book").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        found = HISTORY.findall(text)
        assert not found, f"{path.relative_to(ROOT)}: {found[:5]}"


@pytest.mark.book
def test_built_pages_are_light(built_book):
    proc, html = built_book
    assert proc.returncode == 0
    for page in toc_files():
        size = page_size(html / f"{page}.html")
        assert size <= MAX_PAGE_BYTES, f"{page}.html weighs {size / 1e6:.2f} MB"


@pytest.mark.book
def test_no_raw_tex_in_the_prose(built_book):
    """A line break inside $...$ before '+', '-', '>' or '1.' leaves raw TeX on the page."""
    proc, html = built_book
    assert proc.returncode == 0
    for page in toc_files():
        stray = stray_dollars(html / f"{page}.html")
        assert not stray, f"{page}.html shows unparsed math: {stray[:3]}"
