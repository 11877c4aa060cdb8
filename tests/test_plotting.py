"""Unit tests of the shared plotting style (ibcore.plotting)."""

import matplotlib as mpl
import numpy as np
import pytest

from ibcore import plotting


def test_palette_is_okabe_ito():
    assert plotting.PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")
    assert len(set(plotting.PALETTE)) == len(plotting.PALETTE) == 7


def test_style_sets_colour_cycle_and_is_reversible():
    before = mpl.rcParams["axes.prop_cycle"]
    with plotting.course_style():
        colors = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
        assert tuple(colors) == plotting.PALETTE
    assert mpl.rcParams["axes.prop_cycle"] == before


def test_new_figure_is_not_managed_by_pyplot():
    import matplotlib.pyplot as plt

    n_before = len(plt.get_fignums())
    _, axes = plotting.new_figure(1, 2)
    assert len(axes) == 2
    assert len(plt.get_fignums()) == n_before
    fig1, ax = plotting.new_figure()
    assert ax is fig1.axes[0]


def labelled(fig, y):
    ax = fig.axes[0]
    ax.plot([0, 1, 2], y)
    ax.set_xlabel("step k")
    ax.set_ylabel("loss")
    return fig


def test_check_figure_accepts_labelled_finite_figure():
    fig, _ = plotting.new_figure()
    plotting.check_figure(labelled(fig, [1.0, 2.0, 3.0]))


def test_check_figure_refuses_missing_label_nan_and_empty():
    fig, ax = plotting.new_figure()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x")
    with pytest.raises(ValueError, match="axis labels"):
        plotting.check_figure(fig)
    fig, _ = plotting.new_figure()
    with pytest.raises(ValueError, match="NaN"):
        plotting.check_figure(labelled(fig, [1.0, np.nan, 3.0]))
    from matplotlib.figure import Figure

    with pytest.raises(ValueError, match="no axes"):
        plotting.check_figure(Figure())
    with pytest.raises(TypeError, match="Figure"):
        plotting.check_figure("not a figure")


def test_check_figure_skips_hidden_axes_and_accepts_colorbars():
    fig, axes = plotting.new_figure(1, 2)
    axes[1].axis("off")
    im = axes[0].imshow(np.eye(3))
    axes[0].set_xlabel("column")
    axes[0].set_ylabel("row")
    cb = fig.colorbar(im, ax=axes[0])
    cb.set_label("value")
    plotting.check_figure(fig)


def test_figure_png_is_png():
    fig, _ = plotting.new_figure()
    png = plotting.figure_png(labelled(fig, [1.0, 2.0, 3.0]))
    assert png.startswith(b"\x89PNG")


def test_png_helpers_refuse_what_is_not_a_figure():
    for bad in (None, "fig", np.zeros((2, 2))):
        with pytest.raises(TypeError, match="matplotlib Figure"):
            plotting.figure_png(bad)
        with pytest.raises(TypeError, match="matplotlib Figure"):
            plotting.tight_bbox(bad)
