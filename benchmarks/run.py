"""Benchmark the course: cold execution time of each chapter, live recompute time of each widget.

    ./course.sh bench [--repeats N] [--chapter NAME ...] [--no-rerun] [--live] [--presses N]
                      [--baseline]

For every notebook chapter listed in ``_toc.yml``:

1. the chapter is executed in a fresh kernel (cwd ``book/``, as in the build) and its wall-clock
   time is measured: that is the *cold execution time* (kernel start and imports included);
2. in the same kernel, every static-live widget the chapter created recomputes frames at random
   grid points ``N`` times through ``StaticLive.recompute``, exactly what a live slider runs;
   ``compute`` (the numerics), ``draw`` (the chapter's draw function, or its in-place ``update``),
   ``encode`` (matplotlib rendering and PNG encoding) and ``total`` are timed. With
   ``--baseline`` each recompute is followed by the same one rendered as before the
   shared-renderer change (a new figure and renderer per frame, PNG level 6), so the gain is
   measured under the same machine load;
   Every ``functools`` cache in the chapter's namespace is cleared before each recompute, so a
   chapter that memoizes its training runs is timed as if the value had never been computed;
3. the chapter is executed a second time in a fresh kernel, and everything its cells print must be
   identical (seeded numerics: two runs print the same numbers; ``--no-rerun`` skips this);
4. the empirical NTK of a width-4096 two-layer network on 256 inputs is timed against a naive
   per-example autograd loop (``benchmarks/ntk_speed.py``);
5. 10^4 SGD paths x 10^3 steps on a 10-dimensional quadratic are timed, Gaussian and Rademacher
   noise (``benchmarks/sde_paths.py``).

With ``--live``, the live path is also measured end to end in a real front-end: every chapter
is opened in a headless JupyterLab (``tools/lab_server.py``), run, and each slider of each widget
is moved ``--presses`` times; the round trip (keydown -> recomputed status line shown, the image
replaced) is reported per widget (``tests/browser/check_live.mjs``, the live browser test's
script).

Budgets (exit status 1 if exceeded): chapter < 30 s; widget ``total`` (compute + draw + encode)
p95 < 100 ms; empirical NTK (n = 256, width 4096) < 1 s; SGD paths (Gaussian) < 1 s; a chapter
that prints different numbers on its second run also fails. The live round trip is reported,
with its target (median < 100 ms, p95 < 150 ms), not budgeted: it also depends on the browser
and the machine's load.
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
TOTAL_BUDGET_MS = 100.0
NTK_BUDGET_S = 1.0
PATHS_BUDGET_S = 1.0
LIVE_TARGET_MS = (100.0, 150.0)  # median, p95 of the live round trip

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


import contextlib as _contextlib
from matplotlib.figure import Figure as _Figure
import ibcore.widgets as _widgets


@_contextlib.contextmanager
def _previous_rendering(_w):
    # The widget code before the shared-renderer change: a new Figure (no Agg canvas) for
    # every frame and PNG at zlib level 6. Used by --baseline, interleaved with the current code.
    # The widget's current figure (and its renderer) is kept aside, so the current code's next
    # frame still inherits its renderer: the two variants do not disturb each other.
    _png, _fig = _widgets.plotting.figure_png, _w._fig
    _w._new_figure = lambda: _Figure(figsize=_w.figsize)
    _widgets.plotting.figure_png = lambda fig, **kw: _png(fig, **{{**kw, "compress_level": 6}})
    try:
        yield
    finally:
        del _w._new_figure
        _widgets.plotting.figure_png = _png
        _w._fig = _fig
        _w._handles = _widgets._NOT_DRAWN


def _stats(_t):
    _row = {{}}
    for _key in ("compute", "draw", "encode", "total"):
        _ms = [1e3 * t.get(_key, t["total"] - t["compute"] - t.get("draw", 0.0)) for t in _t]
        _row[_key + "_p50"] = float(_np.percentile(_ms, 50))
        _row[_key + "_p95"] = float(_np.percentile(_ms, 95))
    return _row


_rows = []
for _w in _live():
    _rng = _random.Random(0)
    _t, _t0 = [], []
    for _ in range({repeats}):
        _idx = tuple(_rng.randrange(len(v)) for v in _w.values)
        _t.append(_cold(_w, _idx))
        if {baseline}:
            with _previous_rendering(_w):
                _t0.append(_cold(_w, _idx))
    _row = {{"name": _w.name, "frames": len(_w.images), **_stats(_t)}}
    if _t0:
        _row["before"] = _stats(_t0)
    _rows.append(_row)
print("BENCH" + _json.dumps(_rows))
"""


def chapters() -> list[Path]:
    return notebook_pages(ROOT)


def run_chapter(path: Path, repeats: int, baseline: bool = False) -> tuple[float, list[dict]]:
    nb = jupytext.read(path)
    n_cells = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE.format(repeats=repeats, baseline=baseline)))
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


def live_round_trips(pages: list[Path], presses: int) -> tuple[list[str], list[str]]:
    """Run the live browser check on ``pages``; return (table lines, failures)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_live import latency_table, run_live

    report = run_live([p.relative_to(ROOT).as_posix() for p in pages], presses=presses,
                      timeout=3600)
    return latency_table(report), report["failures"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="recomputes per widget")
    parser.add_argument("--chapter", action="append", help="only these chapters (file stem)")
    parser.add_argument("--no-rerun", action="store_true",
                        help="skip the second execution that checks printed numbers repeat")
    parser.add_argument("--live", action="store_true",
                        help="also time live round trips in a headless JupyterLab")
    parser.add_argument("--presses", type=int, default=10, help="slider moves per slider (--live)")
    parser.add_argument("--baseline", action="store_true",
                        help="also time each widget with the previous rendering (a new figure "
                        "per frame, PNG level 6), interleaved, and print the gain")
    args = parser.parse_args()

    failures = []
    print(f"{'chapter':<16} {'cold s':>7}   {'widget':<26} {'frames':>6} "
          f"{'compute p50/p95':>16} {'draw p50/p95':>13} {'encode p50/p95':>15} "
          f"{'total p50/p95 ms':>17}")
    selected = [p for p in chapters() if not args.chapter or p.stem in args.chapter]
    for path in selected:
        elapsed, rows, first = run_chapter(path, args.repeats, args.baseline)
        flag = "  OVER BUDGET" if elapsed > CHAPTER_BUDGET_S else ""
        if flag:
            failures.append(f"{path.stem}: {elapsed:.1f} s > {CHAPTER_BUDGET_S} s")
        if args.no_rerun:
            note = "(second run not checked)"
        else:
            same = first == rerun_printed(path)
            if not same:
                failures.append(f"{path.stem}: a second run printed different numbers")
            note = "same output on a second run" if same else "OUTPUT DIFFERS on a second run"
        print(f"{path.stem:<16} {elapsed:7.1f}{flag}   {note}")
        for r in rows:
            over = r["total_p95"] > TOTAL_BUDGET_MS
            if over:
                failures.append(f"{r['name']}: total p95 {r['total_p95']:.0f} ms")
            cols = [f"{r[k + '_p50']:.0f} / {r[k + '_p95']:.0f}"
                    for k in ("compute", "draw", "encode", "total")]
            print(f"{'':<16} {'':>7}   {r['name']:<26} {r['frames']:>6} {cols[0]:>16} "
                  f"{cols[1]:>13} {cols[2]:>15} {cols[3]:>17}" + ("  OVER BUDGET" if over else ""))
            if "before" in r:
                b = r["before"]
                cols = [f"{b[k + '_p50']:.0f} / {b[k + '_p95']:.0f}"
                        for k in ("compute", "draw", "encode", "total")]
                gain = 1 - r["total_p50"] / b["total_p50"]
                print(f"{'':<16} {'':>7}   {'  before (fresh figure)':<26} {'':>6} {cols[0]:>16} "
                      f"{cols[1]:>13} {cols[2]:>15} {cols[3]:>17}  total p50 -{100 * gain:.0f} %")
    if not args.chapter:
        import ntk_speed  # this folder is on sys.path when run as a script

        print("\nempirical NTK speed (issue 6 workload)")
        rows = ntk_speed.measure()
        for label, value in rows:
            print(f"  {label:45s} {value:.3g}")
        if rows[0][1] > NTK_BUDGET_S:
            failures.append(f"empirical NTK: {rows[0][1]:.2f} s > {NTK_BUDGET_S} s")

        import sde_paths

        print("\nSGD path ensembles (SGD-noise chapter workload; budget: Gaussian noise < 1 s)")
        rows = sde_paths.measure()
        for label, value in rows:
            print(f"  {label:55s} {value:.3g}")
        if rows[0][1] > PATHS_BUDGET_S:
            failures.append(f"SGD paths: {rows[0][1]:.2f} s > {PATHS_BUDGET_S} s")
    if args.live:
        print(f"\nlive round trips in JupyterLab, {args.presses} moves per slider "
              f"(target: median < {LIVE_TARGET_MS[0]:.0f} ms, p95 < {LIVE_TARGET_MS[1]:.0f} ms)")
        table, live_failures = live_round_trips(selected, args.presses)
        print("\n".join(table))
        failures += [f"live: {f}" for f in live_failures]
    print(f"\nbudgets: chapter < {CHAPTER_BUDGET_S:.0f} s cold; widget total (compute + draw + "
          f"encode) p95 < {TOTAL_BUDGET_MS:.0f} ms; empirical NTK < {NTK_BUDGET_S:.0f} s")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("all within budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
