"""The course's plotting style, in one place.

* ``PALETTE``: the Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008), used as the default
  colour cycle; ``COLORS`` names its entries.
* ``use_style()``: applies the course's rcParams (palette, sizes, grid) to matplotlib.
* ``new_figure(nrows, ncols)``: a figure that is *not* registered with pyplot (no leaks when
  widgets draw hundreds of frames), already styled.
* ``check_figure(fig)``: refuses a figure with an unlabelled axis or non-finite plotted data,
  so a NaN never reaches a reader as a silently empty plot.
* ``figure_png(fig)``: PNG bytes of a figure (what static-live widget frames store), cropped
  to its content (``tight_bbox``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = [
    "COLORS",
    "FIGSIZE",
    "PALETTE",
    "check_figure",
    "course_style",
    "figure_png",
    "new_figure",
    "tight_bbox",
    "use_style",
]

#: Okabe-Ito palette, without its black, in the order used by the colour cycle.
COLORS: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
}
#: The values of ``COLORS`` in order: the default colour cycle of the course style.
PALETTE: tuple[str, ...] = tuple(COLORS.values())

_RC = {
    "axes.prop_cycle": None,  # filled lazily (needs matplotlib's cycler)
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "figure.dpi": 96,
    "savefig.dpi": 96,
    "image.cmap": "viridis",
}

#: Default size of a one-row figure, in inches (width, height).
FIGSIZE = (8.0, 3.2)


def _rc() -> dict:
    from cycler import cycler

    rc = dict(_RC)
    rc["axes.prop_cycle"] = cycler(color=list(PALETTE))
    return rc


def use_style() -> None:
    """Apply the course style (Okabe-Ito colour cycle, sizes, grid: the rcParams of this module) to
    matplotlib globally; chapters call this once.

    In a Jupyter kernel this also switches on the inline backend (``%matplotlib inline``), which
    registers the display of figures: without it a figure from :func:`new_figure` (not made by
    pyplot) displays as ``<Figure size ...>`` text instead of an image. In plain Python only the
    rcParams change.

    Returns
    -------
    None
    """
    import matplotlib as mpl

    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to display into
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        shell.run_line_magic("matplotlib", "inline")
    mpl.rcParams.update(_rc())


@contextmanager
def course_style() -> Iterator[None]:
    """Context manager applying the course style temporarily (``matplotlib.rc_context`` with the
    course's rcParams); the previous rcParams come back on exit.

    Yields
    ------
    None
    """
    import matplotlib as mpl

    with mpl.rc_context(_rc()):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None):
    """Return ``(fig, axes)``: a styled figure not managed by pyplot.

    The figure is a ``matplotlib.figure.Figure`` made under :func:`course_style`, not registered
    with pyplot (no leaks when widgets draw hundreds of frames).

    Parameters
    ----------
    nrows, ncols : int, default 1
        The grid of subplots (passed to ``Figure.subplots``; not validated here).
    figsize : tuple of float, optional
        ``(width, height)`` in inches; ``(FIGSIZE[0], FIGSIZE[1] * nrows)`` when omitted.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : matplotlib.axes.Axes or ndarray of Axes
        A single Axes when ``nrows == ncols == 1``, else a flat array of the ``nrows * ncols``
        Axes, row by row.
    """
    from matplotlib.figure import Figure

    if figsize is None:
        figsize = (FIGSIZE[0], FIGSIZE[1] * nrows)
    with course_style():
        fig = Figure(figsize=figsize)
        axes = fig.subplots(nrows, ncols, squeeze=False)
    flat = axes.ravel()
    return fig, (flat[0] if flat.size == 1 else flat)


def _check_figure_type(fig):
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")


def check_figure(fig) -> None:
    """Raise ``ValueError`` if ``fig`` has an axis without a label or non-finite plotted data.

    Checked: each visible Axes has an x-label and a y-label (and a z-label for 3-D axes; colorbar
    axes are exempt); every line's data are finite. Axes without any visible content (e.g.
    ``ax.axis("off")``) are skipped. Only lines (``ax.plot``) are checked for finiteness, not
    scatter collections or images.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to check.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``fig`` is not a matplotlib ``Figure``.
    ValueError
        If the figure has no axes, a visible Axes lacks a label, or a line holds NaN/inf.
    """
    _check_figure_type(fig)
    if not fig.axes:
        raise ValueError("the figure has no axes: the draw function did not plot anything")
    for k, ax in enumerate(fig.axes):
        if not ax.axison:
            continue
        where = f"axes {k}" + (f" ('{ax.get_title()}')" if ax.get_title() else "")
        if hasattr(ax, "get_zlabel"):
            labels = (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel())
        else:
            labels = (ax.get_xlabel(), ax.get_ylabel())
        if not all(s.strip() for s in labels):
            # Colorbar axes carry a single label; they are recognised by matplotlib's marker.
            if getattr(ax, "_colorbar", None) is None:
                raise ValueError(f"{where} needs both axis labels (with units): got {labels}")
        for line in ax.get_lines():
            x, y = (np.asarray(v, dtype=float) for v in line.get_data())
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
                raise ValueError(
                    f"{where}: line '{line.get_label()}' has NaN/inf data; the experiment "
                    "diverged or failed: report it in the figure instead of plotting NaN"
                )


def tight_bbox(fig, *, pad: float = 0.08):
    """The bounding box (inches) of everything drawn in ``fig``, padded by ``pad`` inches.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (a layout pass is run to find its content).
    pad : float, default 0.08
        Padding in inches on every side.

    Returns
    -------
    matplotlib.transforms.Bbox
        ``fig.get_tightbbox().padded(pad)``.

    Raises
    ------
    TypeError
        If ``fig`` is not a matplotlib ``Figure``.
    """
    _check_figure_type(fig)
    return fig.get_tightbbox().padded(pad)


def figure_png(fig, *, dpi: float | None = None, bbox=None, compress_level: int = 6) -> bytes:
    """PNG bytes of ``fig`` (at ``dpi``, default the style's ``savefig.dpi`` of 96).

    The image is cropped to ``bbox`` (a matplotlib ``Bbox`` in inches), by default to the figure's
    content (:func:`tight_bbox`, as the inline backend does) so no axis label is cut off. Passing a
    known box skips the layout pass that finding the content costs.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    dpi : float, optional
        Resolution; 96 when omitted.
    bbox : matplotlib.transforms.Bbox, optional
        The region to save, in inches; :func:`tight_bbox` when omitted.
    compress_level : int, default 6
        zlib's level, 0-9: 1 encodes a figure about twice as fast as the default 6 for files about
        7 % larger (what live widget frames use).

    Returns
    -------
    bytes
        The PNG file.

    Raises
    ------
    TypeError
        If ``fig`` is not a matplotlib ``Figure``.
    ValueError
        If ``compress_level`` is not an integer from 0 to 9.
    """
    _check_figure_type(fig)
    if not (isinstance(compress_level, int) and 0 <= compress_level <= 9):
        raise ValueError(f"compress_level must be an integer from 0 to 9, got {compress_level!r}")
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=dpi if dpi is not None else _RC["savefig.dpi"],
        bbox_inches=tight_bbox(fig) if bbox is None else bbox,
        pil_kwargs={"compress_level": compress_level},
    )
    return buf.getvalue()
