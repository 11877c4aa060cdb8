"""Write ``book/api.md``, the API reference appendix, from the package itself.

    python tools/api_page.py           # regenerate book/api.md
    python tools/api_page.py --check   # exit 1 if book/api.md is not what the package gives

The page lists the package and every public module of ``ibcore`` (subpackages included, private
``_name`` modules left out; a subpackage documents the names it re-exports, its modules
show their docstrings) in the order of :data:`ORDER` (then alphabetically), with the first line
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

#: The reading order of the reference: the shared machinery, then the themes by chapter.
ORDER = ["validation", "errors", "descent", "stats", "quadratic", "linear"]

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

    def key(name: str):
        short = name.removeprefix("ibcore.")
        top = short.split(".")[0]
        return (ORDER.index(top) if top in ORDER else len(ORDER), short)

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


def page() -> str:
    names = modules()
    rows = "".join(f"| {{ref}}`{n} <api-{n.replace('.', '-')}>` | {summary(n)} |\n" for n in names)
    sections = "".join(
        f"\n(api-{n.replace('.', '-')})=\n## `{n}`\n\n```{{eval-rst}}\n.. automodule:: {n}\n"
        + ("" if docstring_only(n) else "   :members:\n") + "```\n"
        for n in names
    )
    return HEADER + rows + sections


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = page()
    if args.check:
        if not PAGE.is_file() or PAGE.read_text() != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python tools/api_page.py")
            return 1
        print(f"{PAGE.relative_to(ROOT)} is up to date ({len(modules())} modules)")
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)} ({len(modules())} modules)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
