"""Write the API reference appendix (``book/api.md`` and ``book/api/*.md``) from the package.

    python tools/api_page.py           # regenerate the pages
    python tools/api_page.py --check   # exit 1 if a page is not what the package gives

``book/api.md`` is the overview (a table of every module); each theme of :data:`GROUPS` gets a
page of its own under ``book/api/`` (one page with every module weighed over 2 MB: the theme's
navigation lists every function), listed as sections of ``book/api`` in ``_toc.yml``.

The page lists the package and every public module of ``ibcore`` (subpackages included, private
``_name`` modules left out; a subpackage documents the names it re-exports, its modules
show their docstrings) in the order of the theme pages of :data:`GROUPS`, with the first line
of its docstring as a summary, and one ``automodule`` section per module. Sphinx autodoc renders the
docstrings (NumPy sections via napoleon); the strict build (``-n``) then checks every
cross-reference in them, and the chapters link to the functions they call.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "api.md"

#: The reference's pages: a file stem under book/api/, its title, and the top-level names of
#: ``ibcore`` it documents (a subpackage with its modules). Every public module must be in one.
GROUPS = {
    "core": ("The shared machinery", ["ibcore", "errors", "validation", "schedules", "descent",
                                      "flow", "stats", "datasets", "plotting", "widgets"]),
    "linear": ("Least squares, quadratics and l_p geometry",
               ["quadratic", "linear", "lp_geometry", "interpolants", "diagonal"]),
    "margin": ("Margins and homogeneous networks", ["margin", "homogeneous", "symmetry"]),
    "ntk": ("Neural tangent kernels", ["ntk", "mlp"]),
    "dropout": ("Dropout and matrix factorization", ["dropout", "factorization", "sensing"]),
    "normalization": ("Normalization, weight decay and sharpness",
                      ["normalization", "scale_invariance", "weight_decay", "exponential_lr",
                       "sharpness_reduction", "deep_product", "sharpness"]),
    "sde": ("SGD noise", ["sde"]),
}

HEADER = """\
(api)=
# API reference: `ibcore`

Every experiment of the book calls the small package `ibcore`; this appendix is generated from
its docstrings, so it says what the code does. The conventions are the book's
({doc}`conventions`): float64 numpy arrays, an explicit integer `seed` or
`numpy.random.Generator` for anything random, step sizes called `eta`. Every public function
checks its arguments and raises `ValueError` or `TypeError` naming the argument and the fix; a
training run that blows up raises {class}`ibcore.DivergenceError` with the step and the
value (or, where an experiment shows divergence on purpose, stops and reports it).

Install it with the course (`./course.sh setup`) or on its own (`pip install .` in a clone of
the repository) and import the module of a theme:

```python
from ibcore import descent, margin
```

| module | what it holds |
|---|---|
"""


def modules() -> list[str]:
    """The public module names of ibcore, in reading order."""
    sys.path.insert(0, str(ROOT))
    import ibcore

    names = []
    for info in pkgutil.walk_packages(ibcore.__path__, "ibcore."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)

    def key(name: str):  # the reference's order: by theme page, then as the theme lists them
        top = name.split(".")[1]
        for g, (_, tops) in enumerate(GROUPS.values()):
            if top in tops:
                return (g, tops.index(top), name)
        return (len(GROUPS), 0, name)

    return ["ibcore", *sorted(names, key=key)]


def docstring_only(name: str) -> bool:
    """Sections that show their docstring only, so that every object has one description under
    its public name: the modules of a subpackage (the subpackage documents the names its
    ``__all__`` re-exports, e.g. ``ibcore.ntk.relu_ntk``), and ``ibcore.errors`` (the package
    documents ``ibcore.DivergenceError`` and ``ibcore.SolverError``)."""
    parent = name.rsplit(".", 1)[0]
    return name == "ibcore.errors" or (
        parent != "ibcore" and "." in name and hasattr(importlib.import_module(parent), "__path__")
    )


def summary(name: str) -> str:
    doc = importlib.import_module(name).__doc__ or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    if not first:
        raise SystemExit(f"{name} has no module docstring: write one (its first line sums it up)")
    return first.replace("``", "`").replace("|", "\\|")


def _top(name: str) -> str:
    return "ibcore" if name == "ibcore" else name.split(".")[1]


def group_of(name: str) -> str:
    top = _top(name)
    for stem, (_, tops) in GROUPS.items():
        if top in tops:
            return stem
    raise SystemExit(f"{name} is in no page of tools/api_page.py GROUPS: add it to one")


def _label(name: str) -> str:
    return "api-" + name.replace(".", "-")


def pages() -> dict[Path, str]:
    """Every page of the reference, path -> text."""
    names = modules()
    rows = "".join(f"| {{ref}}`{n} <{_label(n)}>` | {summary(n)} |\n" for n in names)
    listing = "".join(f"* {{doc}}`api/{stem}`\n" for stem in GROUPS)
    out = {PAGE: HEADER + rows + "\nThe reference, by theme:\n\n" + listing}
    for stem, (title, _) in GROUPS.items():
        members = [n for n in names if group_of(n) == stem]
        text = f"(api-page-{stem})=\n# {title}\n\n" + "".join(
            f"\n({_label(n)})=\n## `{n}`\n\n```{{eval-rst}}\n.. automodule:: {n}\n"
            + ("" if docstring_only(n) else "   :members:\n") + "```\n"
            for n in members
        )
        out[PAGE.parent / "api" / f"{stem}.md"] = text
    return out


def page() -> str:
    """The overview page (book/api.md)."""
    return pages()[PAGE]


def toc_lists_the_pages() -> bool:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tools.toc import toc_files

    listed = set(toc_files(ROOT))
    return all(f"book/api/{stem}" in listed for stem in GROUPS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    texts = pages()
    if args.check:
        stale = [p for p, t in texts.items() if not p.is_file() or p.read_text() != t]
        for p in stale:
            print(f"{p.relative_to(ROOT)} is out of date: run python tools/api_page.py")
        if not toc_lists_the_pages():
            print("_toc.yml must list every book/api/<theme> page as a section of book/api")
        return 1 if stale or not toc_lists_the_pages() else 0
    (PAGE.parent / "api").mkdir(exist_ok=True)
    for p, t in texts.items():
        p.write_text(t)
    print(f"wrote {len(texts)} pages ({len(modules())} modules)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
