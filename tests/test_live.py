"""The live path in a real front-end: JupyterLab, a kernel, headless Chromium.

``tools/lab_server.py`` starts the JupyterLab of ``./course.sh lab`` headless (free local port,
no token, 127.0.0.1, always shut down); ``tests/browser/check_live.mjs`` opens the widgets demo and
the reference chapter by their ``.md`` paths (they must open as notebooks), runs all cells, fails
on any traceback, page error or console error, then moves every slider of every static-live
widget and checks that the kernel's recompute answers: the status line changes and the image is
replaced. The round-trip latencies (keydown to new status line) are printed, not asserted: timing
is the benchmark's job (``./course.sh bench``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import numpy as np
import pytest

from tools.lab_server import ROOT, lab_server

BROWSER = ROOT / "tests" / "browser"
PAGES = ["book/widgets_demo.md", "book/gradient_flow.md"]


def run_live(pages: list[str], presses: int = 3, timeout: float = 1200) -> dict:
    """Run check_live.mjs on ``pages`` against a fresh headless JupyterLab; return its report."""
    node = shutil.which("node")
    assert node, "the live browser test needs Node.js (run ./course.sh test, which sets it up)"
    assert (BROWSER / "node_modules" / "playwright-core").is_dir(), "run ./course.sh test"
    with lab_server() as url:
        run = subprocess.run(
            [node, str(BROWSER / "check_live.mjs"), url, *pages, "--presses", str(presses)],
            capture_output=True, text=True, timeout=timeout,
        )
    assert run.stdout.strip(), f"no report from the live browser test:\n{run.stderr[-3000:]}"
    report = json.loads(run.stdout)
    report["returncode"], report["stderr"] = run.returncode, run.stderr
    return report


def latency_table(report: dict) -> list[str]:
    """One line per widget: round trips (keydown to new status) in ms, median and p95."""
    lines = [f"{'page':<24} {'widget':<28} {'moves':>5} {'median ms':>10} {'p95 ms':>8}"]
    for page in report["pages"]:
        by_widget: dict[str, list[float]] = {}
        for w in page.get("widgets", []):
            trips = [t["status"] for t in w["trips"] if t["status"] is not None]
            by_widget.setdefault(w["name"], []).extend(trips)
        for name, trips in by_widget.items():
            if trips:
                lines.append(f"{page['page']:<24} {name:<28} {len(trips):>5} "
                             f"{np.median(trips):>10.0f} {np.percentile(trips, 95):>8.0f}")
    return lines


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.book
def test_live_widgets_recompute_in_jupyterlab(measurements):
    before = {p: digest(ROOT / p) for p in PAGES}
    report = run_live(PAGES)
    measurements.append("live round trips in JupyterLab (keydown -> recomputed status line shown):")
    measurements.extend("  " + line for line in latency_table(report))
    assert not report["failures"], "\n".join(report["failures"])
    assert report["returncode"] == 0, report["stderr"][-3000:]
    for page in report["pages"]:
        assert page.get("cells", 0) > 0, f"{page['page']}: no cell ran"
        assert page.get("widgets"), f"{page['page']}: no static-live widget"
        for w in page["widgets"]:
            for t in w["trips"]:
                assert t["status"] is not None and t["image"] is not None, (page["page"], w)
    # Running the chapters in JupyterLab never writes to them (autosave is off in the test).
    assert {p: digest(ROOT / p) for p in PAGES} == before
