"""What the in-place ``update`` hook of static-live widgets gains, on the widgets demo's picture.

    .venv/bin/python benchmarks/update_hook.py [--repeats N]

The experiment and the drawing are those of ``book/widgets_demo.md`` (GD on a quadratic, a
semilog plot of the iterates and of the flow), built three ways and timed through
``StaticLive.recompute`` (what a live slider runs), interleaved so that machine load affects
all three alike:

* ``fresh figure``: the previous widget code, a new matplotlib Figure for every frame (no Agg
  canvas of its own, so every savefig built a new renderer with cold text-layout caches);
* ``shared renderer``: a new figure per frame on a canvas that inherits the previous frame's
  renderer, drawn by ``draw`` (what every chapter's widget does now, with no change to it);
* ``update``: the same, plus an ``update`` function that moves the two lines and changes the
  title in place (what a chapter gets by adopting the hook).

Prints compute / draw / encode / total (p50 and p95, in ms) for each.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ibcore import plotting
from ibcore.widgets import StaticLive

GRID = {"eta": [0.1, 0.3, 0.5, 0.7, 0.9, 1.1], "lam": [0.5, 1.0, 2.0]}


def gd_on_quadratic(eta, lam, theta0=1.0, n_steps=30):
    theta = np.empty(n_steps + 1)
    theta[0] = theta0
    for k in range(n_steps):
        theta[k + 1] = theta[k] - eta * lam * theta[k]
    return theta


def compute(eta, lam):
    return {"eta": eta, "lam": lam, "theta": gd_on_quadratic(eta, lam)}


def _title(result):
    ratio = result["eta"] * result["lam"]
    return rf"$\eta\lambda = {ratio:.2f}$ (stable iff $\eta\lambda < 2$)"


def draw(result, fig):
    ax = fig.subplots()
    k = np.arange(result["theta"].size)
    (gd,) = ax.semilogy(k, np.abs(result["theta"]), "o-", ms=3, label=r"GD $|\theta_k|$")
    (flow,) = ax.semilogy(k, np.exp(-result["lam"] * k * result["eta"]), "--",
                          label=r"flow $e^{-\lambda k\eta}$")
    title = ax.set_title(_title(result))
    ax.set_xlabel("step k")
    ax.set_ylabel(r"$|\theta_k|$ (log scale)")
    ax.set_ylim(1e-12, 1e6)
    ax.legend(loc="lower left")
    return gd, flow, title


def update(result, fig, handles):
    gd, flow, title = handles
    k = np.arange(result["theta"].size)
    gd.set_data(k, np.abs(result["theta"]))
    flow.set_data(k, np.exp(-result["lam"] * k * result["eta"]))
    title.set_text(_title(result))


class FreshFigure(StaticLive):
    """The previous behaviour: a new Figure (without an Agg canvas) for every frame."""

    def _new_figure(self):
        from matplotlib.figure import Figure

        with plotting.course_style():
            return Figure(figsize=self.figsize)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    variants = {
        "fresh figure": FreshFigure(compute, draw, GRID, name="fresh"),
        "shared renderer": StaticLive(compute, draw, GRID, name="shared-renderer"),
        "update": StaticLive(compute, draw, GRID, name="update", update=update),
    }
    rng = np.random.default_rng(0)
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        idx = tuple(int(rng.integers(len(v))) for v in GRID.values())
        for name, w in variants.items():
            times[name].append(w.recompute(idx))
        time.sleep(0.01)
    print(f"{'variant':<14}" + "".join(f"{k + ' p50/p95 ms':>22}" for k in
                                         ("compute", "draw", "encode", "total")))
    for name, ts in times.items():
        cols = []
        for key in ("compute", "draw", "encode", "total"):
            ms = 1e3 * np.array([t[key] for t in ts])
            cols.append(f"{np.percentile(ms, 50):.0f} / {np.percentile(ms, 95):.0f}")
        print(f"{name:<14}" + "".join(f"{c:>22}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
