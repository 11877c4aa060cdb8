"""What each page prints, saved and compared: the "same numbers" check of a refactor.

    python tools/printed.py save DIR [PAGE ...]      execute the pages, write DIR/<page>.json
    python tools/printed.py compare DIR [PAGE ...]   execute them again, report every cell whose
                                                     printed text differs from DIR (exit 1)

Pages default to every notebook page of the table of contents; a page is given as its path
(``book/ntk.md``). The text is what :func:`benchmarks.run.printed` collects: each code cell's
stdout and plain-text results, widget views left out (the benchmark's repeatability check reads
the same text, so a page that prints the same twice is deterministic enough to compare).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tools")]

from run import rerun_printed  # noqa: E402
from toc import notebook_pages  # noqa: E402


def _key(page: Path) -> str:
    return page.resolve().relative_to(ROOT).with_suffix("").as_posix().replace("/", "__")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["save", "compare"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("pages", nargs="*", type=Path)
    args = parser.parse_args()
    pages = args.pages or notebook_pages()
    args.folder.mkdir(parents=True, exist_ok=True)
    differ = 0
    for page in pages:
        texts = rerun_printed(page.resolve())
        target = args.folder / f"{_key(page)}.json"
        if args.action == "save":
            target.write_text(json.dumps(texts, indent=0))
            print(f"saved {page}: {len(texts)} code cells")
            continue
        before = json.loads(target.read_text())
        changed = [i for i, (a, b) in enumerate(zip(before, texts, strict=False)) if a != b]
        if len(before) != len(texts):
            print(f"{page}: {len(before)} code cells before, {len(texts)} now")
        for i in changed:
            print(f"{page}: code cell {i} prints differently\n  before: {before[i]!r}\n"
                  f"  now:    {texts[i]!r}")
        differ += bool(changed) or len(before) != len(texts)
        if not changed and len(before) == len(texts):
            print(f"{page}: same output")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
