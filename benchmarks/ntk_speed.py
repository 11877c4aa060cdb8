"""Speed of the empirical NTK (``ibcore.ntk.empirical_ntk``) against a naive autograd loop.

Workload of issue 6: n = 256 inputs in R^16 on a two-layer network of width 4096
(``Linear(16, 4096) -> ReLU -> Linear(4096, 1)``, float64, 73,729 parameters), kernel
``J J^T`` of shape (256, 256). ``empirical_ntk`` uses torch.func (vmap over examples of jacrev
over the parameters); the baseline ``empirical_ntk_loop`` runs one autograd backward pass per
example. Best of ``repeats`` timings after one warm-up call; 2 torch threads.

    .venv/bin/python benchmarks/ntk_speed.py     (also part of ./course.sh bench)
"""

from __future__ import annotations

import time

N, D, WIDTH = 256, 16, 4096


def _best(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def measure(repeats: int = 3) -> list[tuple[str, float]]:
    """Rows ``(label, value)``: vectorized seconds, naive-loop seconds, speed-up, max rel. diff."""
    import numpy as np
    import torch

    from ibcore.ntk import empirical_ntk, empirical_ntk_loop

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(D, WIDTH), torch.nn.ReLU(), torch.nn.Linear(WIDTH, 1)
    ).double()
    X = np.random.default_rng(0).standard_normal((N, D))
    empirical_ntk(model, X[:8])  # warm-up (torch.func tracing, allocator)
    t_fast, K_fast = _best(lambda: empirical_ntk(model, X), repeats)
    t_loop, K_loop = _best(lambda: empirical_ntk_loop(model, X), max(1, repeats - 1))
    rel = float(np.abs(K_fast - K_loop).max() / np.abs(K_loop).max())
    return [
        (f"empirical_ntk n={N} width={WIDTH} (s)", t_fast),
        ("naive per-example loop (s)", t_loop),
        ("speed-up", t_loop / t_fast),
        ("max relative difference", rel),
    ]


if __name__ == "__main__":
    for label, value in measure():
        print(f"{label:45s} {value:.3g}")
