"""Write ``tests/data/neural_tangents_reference.json``: kernel values of the reference library.

neural-tangents (JAX) is *not* a dependency of the course. This script is run by hand, in a
throwaway virtual environment, whenever the reference values need to be regenerated:

    python3 -m venv /tmp/ntvenv
    /tmp/ntvenv/bin/pip install neural-tangents
    /tmp/ntvenv/bin/pip install "jax==0.4.30" "jaxlib==0.4.30" "tf2jax==0.3.6"
    JAX_ENABLE_X64=1 /tmp/ntvenv/bin/python tools/neural_tangents_reference.py

For depth 1 to 3 and three (w_std, b_std) pairs it evaluates the infinite-width NTK and NNGP of
``stax.serial(*[Dense(k, W_std, b_std), Relu()] * depth, Dense(1, W_std, b_std))`` on fixed
random inputs; ``tests/test_ntk.py`` checks ``ibcore.ntk.relu_ntk``/``relu_nngp`` against them.
It also stores the predictions of ``neural_tangents.predict.gradient_descent_mse`` for a fixed
kernel at two learning rates (its time argument counts steps), which
``tests/test_conventions.py`` compares with ``ibcore.linear.kernel_gd_predict`` at flow time
``t = steps * learning_rate``.
"""

import json
from pathlib import Path

import jax
import neural_tangents
import numpy as np
from neural_tangents import stax

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "neural_tangents_reference.json"
SETTINGS = [(1.0, 0.0), (2**0.5, 0.1), (1.5, 0.5)]


def main() -> None:
    if not jax.config.read("jax_enable_x64"):
        raise SystemExit("set JAX_ENABLE_X64=1: reference values must be float64")
    rng = np.random.default_rng(1)
    X1, X2 = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    cases = []
    for depth in (1, 2, 3):
        for w_std, b_std in SETTINGS:
            layers = [stax.Dense(512, W_std=w_std, b_std=b_std), stax.Relu()] * depth
            _, _, kernel_fn = stax.serial(*layers, stax.Dense(1, W_std=w_std, b_std=b_std))
            k = kernel_fn(X1, X2, ("ntk", "nngp"))
            cases.append({"depth": depth, "w_std": w_std, "b_std": b_std,
                          "ntk": np.asarray(k.ntk).tolist(), "nngp": np.asarray(k.nngp).tolist()})
    A = rng.standard_normal((6, 6))
    K, Kx = A @ A.T + 0.1 * np.eye(6), rng.standard_normal((3, 6))
    y, f0 = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    f0x = rng.standard_normal((3, 1))
    steps = np.array([0.0, 0.5, 3.0, 20.0])
    predictions = []
    for lr in (1.0, 0.3):
        predict = neural_tangents.predict.gradient_descent_mse(K, y, learning_rate=lr)
        train, test = predict(steps, f0, f0x, Kx)
        predictions.append({"learning_rate": lr, "train": np.asarray(train)[..., 0].tolist(),
                            "test": np.asarray(test)[..., 0].tolist()})
    OUT.write_text(json.dumps({
        "neural_tangents": neural_tangents.__version__, "jax": jax.__version__,
        "X1": X1.tolist(), "X2": X2.tolist(), "cases": cases,
        "gd_mse": {"K": K.tolist(), "K_test_train": Kx.tolist(), "y": y[:, 0].tolist(),
                   "f0_train": f0[:, 0].tolist(), "f0_test": f0x[:, 0].tolist(),
                   "steps": steps.tolist(), "predictions": predictions}}, indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
