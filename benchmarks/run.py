"""Benchmark the course: cold execution time of each chapter, live recompute time of each widget.

    ./course.sh bench [--repeats N] [--chapter NAME ...]

For every notebook chapter listed in ``_toc.yml``:

1. the chapter is executed in a fresh kernel (cwd ``book/``, as in the build) and its wall-clock
   time is measured: that is the *cold execution time* (kernel start and imports included);
2. in the same kernel, every static-live widget the chapter created recomputes frames at random
   grid points ``N`` times through ``StaticLive.recompute``, exactly what a live slider runs;
   ``compute`` (the numerics) and ``total`` (numerics + matplotlib drawing + PNG) are timed.
   Every ``functools`` cache in the chapter's namespace is cleared before each recompute, so a
   chapter that memoizes its training runs is timed as if the value had never been computed;
3. the chapter is executed a second time in a fresh kernel, and everything its cells print must be
   identical (seeded numerics: two runs print the same numbers);
4. the empirical NTK of a width-4096 two-layer network on 256 inputs is timed against a naive
   per-example autograd loop (``benchmarks/ntk_speed.py``).

Budgets (exit status 1 if exceeded): chapter < 30 s; widget ``compute`` p95 < 100 ms;
empirical NTK (n = 256, width 4096) < 1 s; a chapter that prints different numbers on its
second run also fails.
The total is reported but not budgeted: matplotlib alone needs about 60-150 ms to draw and
encode a one- or two-panel PNG on this 2-core machine, whatever the experiment is.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.toc import notebook_pages

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_BUDGET_S = 30.0
COMPUTE_BUDGET_MS = 100.0
NTK_BUDGET_S = 1.0

PROBE = """
import json as _json, random as _random
import numpy as _np
from ibcore.widgets import live_instances as _live
# Chapters may memoize expensive runs (functools caches) that their widgets reuse; clear them
# before every recompute so the numbers are those of a slider reaching a value never computed.
_caches = [_v for _v in list(globals().values()) if callable(getattr(_v, "cache_clear", None))]


def _cold(_w, _idx):
    for _c in _caches:
        _c.cache_clear()
    return _w.recompute(_idx)


_rows = []
for _w in _live():
    _rng = _random.Random(0)
    _t = [_cold(_w, tuple(_rng.randrange(len(v)) for v in _w.values)) for _ in range({repeats})]
    _compute = [1e3 * t["compute"] for t in _t]
    _total = [1e3 * t["total"] for t in _t]
    _rows.append({{"name": _w.name, "frames": len(_w.images),
                  "compute_p50": float(_np.percentile(_compute, 50)),
                  "compute_p95": float(_np.percentile(_compute, 95)),
                  "total_p50": float(_np.percentile(_total, 50)),
                  "total_p95": float(_np.percentile(_total, 95))}})
print("BENCH" + _json.dumps(_rows))
"""


def chapters() -> list[Path]:
    return notebook_pages(ROOT)


def run_chapter(path: Path, repeats: int) -> tuple[float, list[dict]]:
    nb = jupytext.read(path)
    n_cells = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE.format(repeats=repeats)))
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    # Time the chapter's own cells only: execute them, then the probe.
    t0 = time.perf_counter()
    with client.setup_kernel():
        for index in range(n_cells):
            client.execute_cell(nb.cells[index], index)
        elapsed = time.perf_counter() - t0
        client.execute_cell(nb.cells[n_cells], n_cells)
    out = "".join(o.get("text", "") for o in nb.cells[n_cells].outputs if o.get("name") == "stdout")
    line = next(s for s in out.splitlines() if s.startswith("BENCH"))
    return elapsed, json.loads(line[len("BENCH"):]), printed(nb.cells[:n_cells])


def printed(cells) -> list[str]:
    """The text each code cell printed or returned (widget views left out)."""
    texts = []
    for cell in cells:
        if cell.cell_type != "code":
            continue
        text = ""
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if o.get("name") == "stdout":
                text += o["text"]
            elif "text/plain" in data and "application/vnd.jupyter.widget-view+json" not in data:
                text += data["text/plain"]
        texts.append(text)
    return texts


def rerun_printed(path: Path) -> list[str]:
    """Execute the chapter once more in a fresh kernel and return what its cells printed."""
    nb = jupytext.read(path)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return printed(nb.cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="recomputes per widget")
    parser.add_argument("--chapter", action="append", help="only these chapters (file stem)")
    args = parser.parse_args()

    failures = []
    print(f"{'chapter':<16} {'cold s':>7}   {'widget':<20} {'frames':>6} "
          f"{'compute p50/p95 ms':>19} {'total p50/p95 ms':>17}")
    for path in chapters():
        if args.chapter and path.stem not in args.chapter:
            continue
        elapsed, rows, first = run_chapter(path, args.repeats)
        flag = "  OVER BUDGET" if elapsed > CHAPTER_BUDGET_S else ""
        if flag:
            failures.append(f"{path.stem}: {elapsed:.1f} s > {CHAPTER_BUDGET_S} s")
        same = first == rerun_printed(path)
        if not same:
            failures.append(f"{path.stem}: a second run printed different numbers")
        print(f"{path.stem:<16} {elapsed:7.1f}{flag}   "
              f"{'same output on a second run' if same else 'OUTPUT DIFFERS on a second run'}")
        for r in rows:
            over = r["compute_p95"] > COMPUTE_BUDGET_MS
            if over:
                failures.append(f"{r['name']}: compute p95 {r['compute_p95']:.0f} ms")
            compute = f"{r['compute_p50']:.1f} / {r['compute_p95']:.1f}"
            total = f"{r['total_p50']:.0f} / {r['total_p95']:.0f}"
            print(f"{'':<16} {'':>7}   {r['name']:<20} {r['frames']:>6} {compute:>19} "
                  f"{total:>17}" + ("  OVER BUDGET" if over else ""))
    if not args.chapter:
        import ntk_speed  # this folder is on sys.path when run as a script

        print("\nempirical NTK speed (issue 6 workload)")
        rows = ntk_speed.measure()
        for label, value in rows:
            print(f"  {label:45s} {value:.3g}")
        if rows[0][1] > NTK_BUDGET_S:
            failures.append(f"empirical NTK: {rows[0][1]:.2f} s > {NTK_BUDGET_S} s")
    print(f"\nbudgets: chapter < {CHAPTER_BUDGET_S:.0f} s cold; widget compute p95 < "
          f"{COMPUTE_BUDGET_MS:.0f} ms (total with drawing reported, not budgeted); "
          f"empirical NTK < {NTK_BUDGET_S:.0f} s")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("all within budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
