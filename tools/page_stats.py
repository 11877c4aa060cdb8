"""Reader-facing statistics of every notebook page: what a reader sees, measured.

    python tools/page_stats.py [BUILT_HTML_DIR] [--json]

For each notebook page listed in ``_toc.yml`` it reports, from the MyST source,

* ``figures``: static figures (a code cell that shows a matplotlib figure or glues one) plus
  static-live widgets (each counts as one figure), and ``widgets`` alone;
* ``code_lines`` and ``visible``: code lines in all code cells, and the share of them in cells
  shown by default (not tagged ``hide-input``, ``hide-cell``, ``remove-input`` or
  ``remove-cell``); ``max_visible``: the longest visible cell;
* ``words``: prose words (Markdown cells, without math, directive options and labels);
* ``exercises``: ``{exercise}`` directives;
* ``history``: phrases that leak where the text came from (see ``HISTORY``), which the book must
  not contain;

and, given the built HTML folder, ``size``: the page's HTML plus the images it references, in
bytes. ``tests/test_book.py`` turns the reader's-edition budgets into tests with these numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path

import jupytext

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.toc import ROOT, notebook_pages

HIDDEN_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
#: Phrases that describe the course's sources instead of the mathematics.
HISTORY = re.compile(
    r"seed (?:essay|text|document|0[0-4]|§)|seeds? (?:say|says|state|writes)|seed's|"
    r"the translation|translation's|chinese|misstatement",
    re.IGNORECASE,
)
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)
_FENCE = re.compile(r"^(```|:::).*$", re.MULTILINE)
_OPTION = re.compile(r"^:[a-z-]+:.*$", re.MULTILINE)
_LABEL = re.compile(r"^\([\w-]+\)=\s*$", re.MULTILINE)
_ROLE = re.compile(r"\{[\w:-]+\}`([^`]*)`")


@dataclass(frozen=True)
class PageStats:
    page: str
    figures: int
    widgets: int
    code_lines: int
    visible: float
    max_visible: int
    words: int
    exercises: int
    history: int
    size: int | None = None


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _shows_figure(source: str) -> bool:
    return bool(re.search(r"plt\.show\(\)|glue\([^)]*fig|^\s*fig\s*$", source, re.MULTILINE))


def prose_words(markdown: str) -> int:
    text = _MATH.sub(" ", markdown)
    text = _ROLE.sub(r"\1", text)
    for pattern in (_FENCE, _OPTION, _LABEL):
        text = pattern.sub(" ", text)
    return len(re.findall(r"[A-Za-z][A-Za-z'-]*", text))


def page_size(html: Path) -> int:
    """Bytes of the HTML file plus the local images it references."""
    text = html.read_text(encoding="utf-8")
    size = html.stat().st_size
    for src in set(re.findall(r'<img[^>]+src="([^"]+)"', text)):
        if src.startswith(("data:", "http")):
            continue
        image = (html.parent / src).resolve()
        if image.is_file():
            size += image.stat().st_size
    return size


class _Prose(HTMLParser):
    """The text of a built page outside code, outputs, widgets and typeset math."""

    SKIP_TAGS = frozenset({"pre", "code", "script", "style", "mjx-container", "svg"})
    SKIP_CLASSES = frozenset({"math", "highlight", "cell_output", "output"})
    VOID = frozenset({"area", "br", "col", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self):
        super().__init__()
        self.skipping: list[bool] = []
        self.depth = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        skip = tag in self.SKIP_TAGS or bool(classes & self.SKIP_CLASSES)
        self.skipping.append(skip)
        self.depth += skip

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.skipping:
            self.depth -= self.skipping.pop()

    def handle_data(self, data):
        if self.depth == 0:
            self.chunks.append(data)


def stray_dollars(html: Path) -> list[str]:
    """Dollar signs left in a built page's prose: inline math that MyST did not parse.

    A line break inside ``$...$`` followed by ``+``, ``-``, ``>`` or ``1.`` turns the rest of
    the formula into a list item or a quote; the page then shows raw TeX.
    """
    parser = _Prose()
    parser.feed(html.read_text(encoding="utf-8"))
    return re.findall(r"\$[^\n]{0,50}", "".join(parser.chunks))


def page_stats(path: Path, html_root: Path | None = None) -> PageStats:
    nb = jupytext.read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    lines = [len(c.source.splitlines()) for c in code]
    shown = [n for c, n in zip(code, lines, strict=True) if not (_tags(c) & HIDDEN_TAGS)]
    widgets = sum(c.source.count("static_live(") for c in code)
    statics = sum(_shows_figure(c.source) for c in code)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    text = "\n".join(c.source for c in nb.cells)
    page = path.relative_to(ROOT).with_suffix("").as_posix()
    size = None
    if html_root is not None and (html_root / f"{page}.html").is_file():
        size = page_size(html_root / f"{page}.html")
    return PageStats(
        page=page,
        figures=statics + widgets,
        widgets=widgets,
        code_lines=sum(lines),
        visible=sum(shown) / max(1, sum(lines)),
        max_visible=max(shown, default=0),
        words=prose_words(markdown),
        exercises=len(re.findall(r"^:::\{exercise\}|^```\{exercise\}", markdown, re.MULTILINE)),
        history=len(HISTORY.findall(text)),
        size=size,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", type=Path, help="the built HTML folder (page sizes)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    rows = [page_stats(p, args.html) for p in notebook_pages()]
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
        return 0
    print(f"{'page':38s} {'fig':>4s} {'wid':>4s} {'code':>5s} {'vis%':>5s} {'maxv':>5s} "
          f"{'words':>6s} {'ex':>3s} {'hist':>4s} {'MB':>6s}")
    for r in rows:
        mb = f"{r.size / 1e6:6.2f}" if r.size is not None else "     -"
        print(f"{r.page:38s} {r.figures:4d} {r.widgets:4d} {r.code_lines:5d} "
              f"{100 * r.visible:5.0f} {r.max_visible:5d} {r.words:6d} {r.exercises:3d} "
              f"{r.history:4d} {mb}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
