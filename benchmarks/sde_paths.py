"""Speed of the vectorized SGD path ensembles (``ibcore.sde.quadratic_sgd_paths``).

Workload of the SGD-noise chapter's issue: 10^4 paths x 10^3 steps of SGD on a 10-dimensional
quadratic (paths as a batch dimension), Gaussian noise and Rademacher noise of the same
covariance (cheaper to draw). Best of ``repeats`` timings.

    .venv/bin/python benchmarks/sde_paths.py     (also part of ./course.sh bench)
"""

from __future__ import annotations

import time

N_PATHS, N_STEPS, D = 10_000, 1_000, 10


def measure(repeats: int = 3) -> list[tuple[str, float]]:
    """Rows ``(label, seconds)``, one per noise law."""
    import numpy as np

    from ibcore import sde

    H = np.diag(np.linspace(0.5, 2.0, D))
    Sigma = 0.01 * np.eye(D)
    rows = []
    for noise in ("gaussian", "rademacher"):
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            sde.quadratic_sgd_paths(H, Sigma, 0.1, np.ones(D), N_STEPS, n_paths=N_PATHS, seed=0,
                                    noise=noise)
            best = min(best, time.perf_counter() - t0)
        rows.append((f"{N_PATHS} paths x {N_STEPS} steps, d = {D}, {noise} noise (s)", best))
    return rows


if __name__ == "__main__":
    for label, value in measure():
        print(f"{label:55s} {value:.3g}")
