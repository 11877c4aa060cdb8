"""The conventions of book/conventions.md, each checked (the page names these tests)."""

import numpy as np
import pytest

from ibcore import validation


def test_arrays_are_float64():
    for a in ([[1, 2], [3, 4]], np.ones((2, 2), dtype=np.float32), np.ones((2, 2), dtype=int)):
        assert validation.as_matrix(a, "X").dtype == np.float64


def test_seed_is_required():
    with pytest.raises(TypeError, match="seeded"):
        validation.check_rng(None)
    first = validation.check_rng(123).standard_normal(4)
    again = validation.check_rng(123).standard_normal(4)
    np.testing.assert_array_equal(first, again)


def test_nan_input_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        validation.as_vector([0.0, np.nan], "y")


def test_import_ibcore_is_light():
    import subprocess
    import sys

    heavy = ("torch", "matplotlib", "ipywidgets")
    code = f"import sys, ibcore; print(any(m in sys.modules for m in {heavy!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
