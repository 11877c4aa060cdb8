"""Static-live widgets: sliders that work on a static web page *and* in a live kernel.

A published Jupyter Book page has no kernel, so a classic ``interact`` slider moves but its plot
never changes. ``static_live`` avoids that by precomputing the experiment on a small grid:

* every grid point is computed and drawn once, when the notebook executes, into its own
  ``ipywidgets.Image`` (PNG bytes are part of the saved widget state);
* the images sit in (nested) ``ipywidgets.Stack`` containers, one nesting level per parameter;
* each parameter's ``SelectionSlider`` is linked **in the browser** (``jslink``) from its ``index``
  to the ``selected_index`` of every Stack of its level, so moving a slider on the static page
  swaps frames with no kernel;
* in a live kernel, moving a slider also *recomputes* the frame for the new parameters and shows
  how long that took, so a reader who edits the experiment sees fresh results. A reader who wants
  values between grid points passes a finer grid with ``precompute=False``: frames are then
  computed on demand, as the slider reaches them.

The experiment is split in two callables so that numerics and drawing can be timed and tested
separately::

    def compute(eta):              # numerics only, returns any result object
        ...
    def draw(result, fig):         # draws the result into an empty matplotlib Figure
        ...
    w = static_live(compute, draw, {"eta": [0.1, 0.5, 1.0]}, name="lr-sweep")
    w                              # display it

Each frame is checked with :func:`ibcore.plotting.check_figure` (labelled axes, finite data).

Drawing speed (a live slider's round trip is mostly drawing). Each frame is drawn on an Agg
canvas that reuses the renderer of the widget's previous frame: matplotlib then keeps its
text-layout caches (tick labels, math text) from frame to frame, which more than halves the
rendering time of a figure that starts with a renderer of its own. Live frames are cropped to
a box computed once (the union of the precomputed frames' boxes) and encoded with fast PNG
compression. A chapter can go further with an optional ``update`` function that changes the
artists of the figure in place instead of rebuilding it::

    def draw(result, fig):                 # builds the figure, returns its artists
        ax = fig.subplots()
        (line,) = ax.plot(result["x"], result["y"])
        ...
        return line
    def update(result, fig, line):         # the same picture for another result, in place
        line.set_data(result["x"], result["y"])
    static_live(compute, draw, grid, update=update)

The precomputed (published) frames are always drawn by ``draw``; live recomputes use ``update``.
When ``update`` is given, the widget checks once, as it is built, that ``update`` draws exactly
the pixels ``draw`` draws (one frame updated from another), so the two cannot drift apart.
"""

from __future__ import annotations

import inspect
import itertools
import math
import numbers
import re
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import plotting

__all__ = ["ExperimentError", "StaticLive", "live_instances", "static_live"]

#: Upper bound on the number of precomputed frames of one widget (page weight and build time).
MAX_FRAMES = 64

_INSTANCES: weakref.WeakSet = weakref.WeakSet()
_NOT_DRAWN = object()  # the figure holds no drawing that update could change in place


class ExperimentError(RuntimeError):
    """The experiment (``compute``, ``draw`` or ``update``) raised, or drew an invalid figure, for a
    given grid point.

    A subclass of ``RuntimeError``; the message names the widget, the step that failed and the
    parameters, and the original exception is chained as ``__cause__``.
    """


def _format_value(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def _check_grid(compute: Callable, grid) -> tuple[tuple[str, ...], tuple[tuple, ...]]:
    if not isinstance(grid, Mapping):
        raise TypeError(
            f"grid must be a mapping {{parameter name: list of values}}, got {type(grid).__name__}"
        )
    if len(grid) == 0:
        raise ValueError("grid is empty: give at least one parameter and its values")
    names = tuple(grid)
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"grid keys must be parameter names (identifiers), got {name!r}")
    sig = inspect.signature(compute)
    params = sig.parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = [
        n
        for n, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    if not takes_kwargs:
        unknown = [n for n in names if n not in accepted]
        if unknown:
            raise TypeError(
                f"unknown parameter(s) {unknown} in grid: compute{sig} accepts {accepted}"
            )
    missing = [
        n
        for n, p in params.items()
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and n not in names
    ]
    if missing:
        raise TypeError(f"compute{sig} needs parameter(s) {missing} that the grid does not give")
    values = []
    for name in names:
        vals = grid[name]
        if isinstance(vals, (str, bytes)) or not isinstance(vals, (Sequence, np.ndarray)):
            raise TypeError(f"grid['{name}'] must be a list of values, got {type(vals).__name__}")
        vals = tuple(v.item() if isinstance(v, np.generic) else v for v in vals)
        if len(vals) == 0:
            raise ValueError(f"grid['{name}'] is empty: give at least one value")
        for v in vals:
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isfinite(v):
                raise ValueError(f"grid['{name}'] contains a non-finite value {v}")
        labels = [_format_value(v) for v in vals]
        if len(set(labels)) != len(labels):
            raise ValueError(f"grid['{name}'] has repeated values (as displayed): {labels}")
        values.append(vals)
    n_frames = math.prod(len(v) for v in values)
    if n_frames > MAX_FRAMES:
        raise ValueError(
            f"the grid has {n_frames} frames, more than MAX_FRAMES={MAX_FRAMES}: use fewer values"
            " (a live kernel can explore finer grids with precompute=False)"
        )
    return names, tuple(values)



class _Blitter:
    """Redraws only what an in-place ``update`` changed: matplotlib blitting, made safe.

    Rendering the whole figure (text layout, ticks, every line) is most of a live frame's cost;
    an ``update`` usually changes a few lines or texts. After ``update`` the artists it changed
    are *stale* (matplotlib marks every artist whose data, text or style is set). For each axes
    the artists from the first stale one on, in the z-order ``Axes.draw`` uses, are the
    *foreground*; the rest of the figure is a *background* rendered once (with the foreground
    hidden) and restored for every frame, on which the foreground is drawn again in the same
    order. A frame is rendered in full instead when ``update`` added or removed artists, changed
    an axis's limits or scale, or changed something outside the axes. The widget's check of
    ``update`` against ``draw`` renders through this class, and turns it off (``enabled``) if
    its pixels differ from a full drawing, so blitting never shows what ``draw`` would not.
    """

    def __init__(self):
        self.enabled = True
        self.key = None  # the foreground the stored background was rendered without
        self.background = None

    @staticmethod
    def _order(ax) -> list:
        """The artists ``Axes.draw`` draws after the axes patch, in its order."""
        from operator import attrgetter

        arts = [a for a in ax.get_children() if a is not ax.patch]
        if not (ax.axison and ax.get_frame_on()):
            arts = [a for a in arts if a not in ax.spines.values()]
        if not ax.axison:
            arts = [a for a in arts if a not in (ax.xaxis, ax.yaxis)]
        return sorted(arts, key=attrgetter("zorder"))

    @staticmethod
    def snapshot(fig):
        """What an update must leave as it is for a blitted frame."""
        return [
            (ax, [id(a) for a in ax.get_children()], ax.viewLim.get_points().copy(),
             ax.get_xscale(), ax.get_yscale())
            for ax in fig.axes
        ]

    def _foreground(self, fig, before):
        if not self.enabled or before is None or len(before) != len(fig.axes):
            return None
        if any(a.stale for a in (*fig.texts, *fig.legends, *fig.lines, *fig.patches,
                                 *fig.images)):
            return None
        plan = []
        for (ax, children, lims, xs, ys), now in zip(before, fig.axes, strict=True):
            if ax is not now or [id(a) for a in ax.get_children()] != children:
                return None
            if not np.array_equal(ax.viewLim.get_points(), lims) or (
                ax.get_xscale(), ax.get_yscale()) != (xs, ys):
                return None
            order = self._order(ax)
            first = next((i for i, a in enumerate(order) if a.stale), None)
            if first is not None:
                plan.append((ax, order[first:]))
        return plan

    def render(self, fig, before) -> np.ndarray:
        """Render ``fig`` after an in-place update; return its RGBA canvas buffer."""
        canvas = fig.canvas
        plan = self._foreground(fig, before)
        if plan is None:
            self.key = self.background = None
            canvas.draw()
        else:
            key = tuple(id(a) for _, arts in plan for a in arts)
            if key != self.key:  # a new foreground: render the background without it, once
                shown = [(a, a.get_visible()) for _, arts in plan for a in arts]
                for a, _ in shown:
                    a.set_visible(False)
                canvas.draw()
                self.background, self.key = canvas.copy_from_bbox(fig.bbox), key
                for a, visible in shown:
                    a.set_visible(visible)
            else:
                canvas.restore_region(self.background)
            renderer = canvas.get_renderer()
            for ax, arts in plan:
                if hasattr(ax, "_update_title_position"):  # as Axes.draw does: the titles'
                    ax._update_title_position(renderer)   # place, found with them visible
                for a in arts:
                    ax.draw_artist(a)
        return np.asarray(canvas.buffer_rgba())

    def reset(self):
        self.key = self.background = None



def _png_crop(rgba: np.ndarray, dpi: float, bbox) -> bytes:
    """PNG bytes (zlib level 1) of a canvas buffer cropped to ``bbox`` (inches, figure coords)."""
    import io

    from PIL import Image

    height, width = rgba.shape[:2]
    x0, x1 = (min(max(round(v * dpi), 0), width) for v in (bbox.x0, bbox.x1))
    y0, y1 = (min(max(height - round(v * dpi), 0), height) for v in (bbox.y1, bbox.y0))
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba[y0:y1, x0:x1])).save(out, format="PNG",
                                                                    compress_level=1)
    return out.getvalue()


class StaticLive:
    """A precomputed grid of experiment frames behind linked sliders (see module docstring).

    Usually built by :func:`static_live`, which takes the same arguments. Construction computes and
    draws every grid frame (or, with ``precompute=False``, only the initial one), checks ``update``
    against ``draw`` once, and links each slider in the browser to the Stacks of its level.

    Parameters
    ----------
    compute : callable
        ``compute(**params) -> result``; the numerics of one frame (no plotting).
    draw : callable
        ``draw(result, fig)``: plots ``result`` into an empty matplotlib ``Figure``; every axis must
        be labelled. May return handles for ``update``.
    grid : mapping of str to sequence
        ``{parameter: values}``, one slider per parameter, at most ``MAX_FRAMES`` (64) frames;
        values finite and distinct as displayed.
    name : str, optional
        Label for benchmarks and errors (default ``compute.__name__``).
    initial : mapping, optional
        Grid values to show first (default: the first value of each parameter).
    figsize : tuple of float, optional
        Figure size in inches (default :data:`ibcore.plotting.FIGSIZE`).
    precompute : bool, default True
        Compute every grid frame now (needed for the static page).
    description : str, optional
        A bold caption above the sliders.
    update : callable, optional
        ``update(result, fig, handles)``: change the figure in place (live recomputes).

    Attributes
    ----------
    name : str
        Label used in benchmarks and error messages.
    names, values : tuple
        Parameter names and their grid values, in slider order.
    sliders : list of ipywidgets.SelectionSlider
        One per parameter.
    links : list of ipywidgets.Link
        The browser-side links from each slider's ``index`` to the Stacks of its level.
    images : dict[tuple[int, ...], ipywidgets.Image]
        The frame for each grid index tuple.
    results : dict[tuple[int, ...], Any]
        The ``compute`` result for each computed grid index tuple.
    timings : list of dict
        The timings of every frame rendered so far (as returned by :meth:`recompute`).
    status : ipywidgets.HTML
        A line under the sliders: which frame is shown, and live recompute timings.
    widget : ipywidgets.VBox
        The displayable container (``StaticLive`` displays as this widget).

    Raises
    ------
    TypeError
        If ``compute``, ``draw`` or ``update`` is not callable, ``grid`` or ``initial`` is not a
        mapping, a grid key is not an identifier or not a parameter of ``compute``, ``compute``
        needs a parameter the grid does not give, or a grid entry is not a list of values.
    ValueError
        If the grid is empty, has an empty, non-finite or repeated value list, more than
        ``MAX_FRAMES`` frames, or ``initial`` names an unknown parameter or value.
    ExperimentError
        If ``compute`` or ``draw`` fails at a grid point, a frame fails
        :func:`ibcore.plotting.check_figure`, or ``update`` does not draw what ``draw`` draws.
    """

    def __init__(
        self,
        compute: Callable[..., Any],
        draw: Callable[[Any, Any], None],
        grid: Mapping[str, Sequence],
        *,
        name: str | None = None,
        initial: Mapping[str, Any] | None = None,
        figsize: tuple[float, float] | None = None,
        precompute: bool = True,
        description: str | None = None,
        update: Callable[[Any, Any, Any], Any] | None = None,
    ):
        import ipywidgets as widgets

        if update is not None and not callable(update):
            raise TypeError(f"update must be callable or None, got {type(update).__name__}")
        if not callable(compute):
            raise TypeError(f"compute must be callable, got {type(compute).__name__}")
        if not callable(draw):
            raise TypeError(f"draw must be callable, got {type(draw).__name__}")
        self.compute_fn = compute
        self.draw_fn = draw
        self.update_fn = update
        self._fig = None  # the figure of the current frame (Agg canvas, shared renderer)
        self._handles: Any = _NOT_DRAWN  # what draw returned for the figure's current content
        self._blitter = _Blitter()  # live in-place frames redraw only what update changed
        self._before = None  # the figure's axes before the last in-place update
        self._in_place = False  # whether the last frame was an in-place update
        self.names, self.values = _check_grid(compute, grid)
        self.name = name if name is not None else getattr(compute, "__name__", "experiment")
        self.figsize = figsize if figsize is not None else plotting.FIGSIZE
        self.results: dict[tuple[int, ...], Any] = {}
        self.images: dict[tuple[int, ...], Any] = {}
        self.timings: list[dict[str, float]] = []

        start = self._initial_index(initial)
        self.sliders = []
        for name_, vals, i0 in zip(self.names, self.values, start, strict=True):
            self.sliders.append(
                widgets.SelectionSlider(
                    options=[(_format_value(v), k) for k, v in enumerate(vals)],
                    index=i0,
                    description=name_,
                    continuous_update=False,
                    layout=widgets.Layout(width="420px"),
                    style={"description_width": "initial"},
                )
            )
        self._stacks_by_level: list[list[Any]] = [[] for _ in self.names]
        root = self._build(0, (), start)
        self.links = [
            widgets.jslink((slider, "index"), (stack, "selected_index"))
            for slider, stacks in zip(self.sliders, self._stacks_by_level, strict=True)
            for stack in stacks
        ]
        self.status = widgets.HTML(value=self._status_text(start, None))
        self.status.add_class("static-live-status")
        header = [widgets.HTML(value=f"<b>{description}</b>")] if description else []
        self.widget = widgets.VBox([*header, *self.sliders, self.status, root])
        # Classes for the browser tests: find each widget, its name and its status line.
        self.widget.add_class("static-live")
        self.widget.add_class("static-live--" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name))

        self._bbox = None  # union of the frames' content boxes, reused by live recomputes
        if precompute:
            for idx in itertools.product(*(range(len(v)) for v in self.values)):
                self._render(idx, live=False)
        else:
            self._render(start, live=False)
        if self.update_fn is not None:
            self._check_update()
        for slider in self.sliders:
            slider.observe(self._on_slider, names="index")
        _INSTANCES.add(self)

    # -- construction ------------------------------------------------------------------------
    def _initial_index(self, initial) -> tuple[int, ...]:
        if initial is None:
            return tuple(0 for _ in self.names)
        if not isinstance(initial, Mapping):
            raise TypeError(f"initial must be a mapping, got {type(initial).__name__}")
        unknown = set(initial) - set(self.names)
        if unknown:
            raise ValueError(f"initial names unknown parameter(s) {sorted(unknown)}")
        idx = []
        for name, vals in zip(self.names, self.values, strict=True):
            if name not in initial:
                idx.append(0)
                continue
            matches = [k for k, v in enumerate(vals) if v == initial[name]]
            if not matches:
                raise ValueError(f"initial[{name!r}]={initial[name]!r} is not in grid[{name!r}]")
            idx.append(matches[0])
        return tuple(idx)

    def _build(self, level: int, prefix: tuple[int, ...], start: tuple[int, ...]):
        import ipywidgets as widgets

        if level == len(self.names):
            image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
            self.images[prefix] = image
            return image
        children = [
            self._build(level + 1, (*prefix, k), start) for k in range(len(self.values[level]))
        ]
        stack = widgets.Stack(children, selected_index=start[level])
        self._stacks_by_level[level].append(stack)
        return stack

    # -- computing frames --------------------------------------------------------------------
    def params(self, idx: Sequence[int]) -> dict[str, Any]:
        """The parameter dictionary ``{name: value}`` of grid index tuple ``idx``.

        Parameters
        ----------
        idx : sequence of int
            One index per parameter, in slider order (not range-checked).

        Returns
        -------
        dict of str to object
        """
        return {n: vals[i] for n, vals, i in zip(self.names, self.values, idx, strict=True)}

    def figure(self):
        """The figure showing the widget's current frame (with its own Agg canvas); an empty one is
        made if no frame has been drawn.

        Returns
        -------
        matplotlib.figure.Figure
        """
        if self._fig is None:
            self._fig = self._new_figure()
        return self._fig

    def _new_figure(self):
        """An empty figure on an Agg canvas that reuses the previous frame's renderer.

        matplotlib caches text layout (tick labels, math text) per renderer: handing the
        renderer from frame to frame keeps those caches warm, which more than halves the
        rendering time of a figure that would otherwise start with a renderer of its own. A
        new figure is cheaper than clearing the old one (``Figure.clear`` resets every Axes
        before deleting it).
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        with plotting.course_style():
            fig = Figure(figsize=self.figsize)
        canvas = FigureCanvasAgg(fig)
        previous = getattr(self._fig, "canvas", None)
        renderer = getattr(previous, "renderer", None)
        if renderer is not None and hasattr(previous, "_lastKey"):
            canvas.renderer, canvas._lastKey = renderer, previous._lastKey
        return fig

    def frame(self, *, live: bool = False, **params) -> tuple[Any, Any, dict[str, float]]:
        """Compute and draw one frame for ``params``; return ``(result, figure, timings)``.

        The figure is the widget's current one (:meth:`~ibcore.widgets.StaticLive.figure`): the next
        frame replaces it, or, with ``live=True`` and an ``update`` function, updates it in place
        instead of drawing a new one with ``draw``. The image widgets are not changed (that is
        :meth:`~ibcore.widgets.StaticLive.recompute`).

        Parameters
        ----------
        live : bool, default False
            Use ``update`` (when given and a drawing exists) instead of ``draw``.
        **params
            The arguments of ``compute``.

        Returns
        -------
        result : object
            What ``compute`` returned.
        figure : matplotlib.figure.Figure
            The drawn figure.
        timings : dict of str to float
            Seconds spent in ``compute`` and in ``draw`` (the draw or update function and the figure
            check).

        Raises
        ------
        ExperimentError
            Naming the parameters, if the experiment fails or draws an invalid figure (unlabelled
            axes, non-finite data).
        """
        where = ", ".join(f"{k}={_format_value(v)}" for k, v in params.items())
        t0 = time.perf_counter()
        try:
            result = self.compute_fn(**params)
        except Exception as exc:
            raise ExperimentError(f"{self.name}: compute failed at {where}: {exc}") from exc
        t1 = time.perf_counter()
        in_place = live and self.update_fn is not None and self._handles is not _NOT_DRAWN
        self._in_place = in_place
        if not in_place:
            self._handles = _NOT_DRAWN
            self._blitter.reset()
            self._fig = self._new_figure()
        fig = self._fig
        self._before = _Blitter.snapshot(fig) if in_place else None
        try:
            with plotting.course_style():
                if in_place:
                    handles = self.update_fn(result, fig, self._handles)
                    if handles is not None:
                        self._handles = handles
                else:
                    self._handles = self.draw_fn(result, fig)
            plotting.check_figure(fig)
        except Exception as exc:
            self._handles = _NOT_DRAWN  # unknown state: the next frame redraws from scratch
            what = "update" if in_place else "draw"
            raise ExperimentError(f"{self.name}: {what} failed at {where}: {exc}") from exc
        return result, fig, {"compute": t1 - t0, "draw": time.perf_counter() - t1}

    def _render(self, idx: tuple[int, ...], *, live: bool) -> dict[str, float]:
        from matplotlib.transforms import Bbox

        t0 = time.perf_counter()
        result, fig, timings = self.frame(live=live, **self.params(idx))
        t1 = time.perf_counter()
        if live and self._in_place and self._bbox is not None:
            # Redraw what update changed (_Blitter), crop to the precomputed frames' box.
            png = _png_crop(self._blitter.render(fig, self._before), fig.dpi, self._bbox)
        elif live and self._bbox is not None:
            # Crop to the box of the precomputed frames, found once: no layout pass per frame.
            fig.canvas.draw()
            png = _png_crop(np.asarray(fig.canvas.buffer_rgba()), fig.dpi, self._bbox)
        else:
            box = plotting.tight_bbox(fig)
            self._bbox = box if self._bbox is None else Bbox.union([self._bbox, box])
            png = plotting.figure_png(fig, bbox=box, compress_level=1)
        t2 = time.perf_counter()
        self.images[idx].value = png
        timings["encode"] = t2 - t1
        timings["total"] = time.perf_counter() - t0
        self.results[idx] = result
        self.timings.append(timings)
        return timings

    def _pixels(self):
        fig = self.figure()
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba()).copy()

    def _check_update(self) -> None:
        """``update`` must draw what ``draw`` draws: check one frame updated from another."""
        computed = list(self.results)
        a, b = computed[0], computed[-1]
        try:
            self._fig = self._new_figure()
            with plotting.course_style():
                self._handles = self.draw_fn(self.results[b], self._fig)
            reference = self._pixels()
            self._fig = self._new_figure()
            with plotting.course_style():
                handles = self.draw_fn(self.results[a], self._fig)
                self._fig.canvas.draw()  # frame a as shown, the state a live update starts from
                before = _Blitter.snapshot(self._fig)
                new = self.update_fn(self.results[b], self._fig, handles)
                self._handles = handles if new is None else new
            self._blitter.reset()
            updated = self._blitter.render(self._fig, before).copy()
            if self._blitter.enabled and not np.array_equal(reference, updated):
                self._blitter.enabled = False  # blitting would differ: render live frames whole
                updated = self._pixels()
                self._blitter.reset()
            # Otherwise the background just rendered stays: the first live frame updates this
            # figure in place, and is blitted on it instead of rendering the background again.
        except Exception as exc:
            self._handles = _NOT_DRAWN
            raise ExperimentError(f"{self.name}: update failed at {self.params(b)}: {exc}") from exc
        if reference.shape != updated.shape or not np.array_equal(reference, updated):
            differ = (
                float(np.mean(np.any(reference != updated, axis=-1)))
                if reference.shape == updated.shape else 1.0
            )
            self._handles = _NOT_DRAWN
            raise ExperimentError(
                f"{self.name}: update does not draw what draw draws: frame {self.params(b)} "
                f"updated from frame {self.params(a)} differs in {differ:.2%} of its pixels "
                "(set the data, texts and axis limits that draw sets, or leave update out)"
            )

    def recompute(self, idx: Sequence[int]) -> dict[str, float]:
        """Recompute and redraw the frame at grid index ``idx`` exactly as a live slider does,
        and store its image.

        ``benchmarks/run.py`` calls this.

        Parameters
        ----------
        idx : sequence of int
            One index per parameter, each within its grid.

        Returns
        -------
        dict of str to float
            Timings in seconds: ``compute`` (numerics), ``draw`` (the draw or update function),
            ``encode`` (rendering and PNG encoding) and ``total`` (everything).

        Raises
        ------
        ValueError
            If ``idx`` does not have one in-range index per parameter.
        ExperimentError
            If the experiment fails at that point.
        """
        idx = tuple(int(i) for i in idx)
        if len(idx) != len(self.names) or any(
            not 0 <= i < len(v) for i, v in zip(idx, self.values, strict=True)
        ):
            sizes = tuple(len(v) for v in self.values)
            raise ValueError(f"idx must be a grid index tuple within {sizes}, got {idx}")
        return self._render(idx, live=True)

    def current_index(self) -> tuple[int, ...]:
        """The grid index tuple the sliders show (tuple of int, one per parameter)."""
        return tuple(s.index for s in self.sliders)

    def _status_text(self, idx, timings) -> str:
        sizes = " × ".join(str(len(v)) for v in self.values)
        if timings is None:
            # Shown on the static page, where it cannot change: it must not name a value.
            return (
                f"<small>Precomputed grid of {sizes} frames; in a live kernel, moving a slider "
                "recomputes the frame.</small>"
            )
        shown = ", ".join(f"{k} = {_format_value(v)}" for k, v in self.params(idx).items())
        drawing = timings["total"] - timings["compute"]
        return (
            f"<small>Showing {shown}: recomputed live in {1e3 * timings['compute']:.0f} ms "
            f"(+ {1e3 * drawing:.0f} ms drawing).</small>"
        )

    def _on_slider(self, change) -> None:
        idx = self.current_index()
        try:
            timings = self.recompute(idx)
        except ExperimentError as exc:
            self.status.value = f"<small style='color:#D55E00'>{exc}</small>"
            return
        self.status.value = self._status_text(idx, timings)

    # -- display -----------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        pairs = zip(self.names, self.values, strict=True)
        grid = ", ".join(f"{n}: {len(v)} values" for n, v in pairs)
        return f"StaticLive({self.name!r}, {grid})"


def static_live(
    compute: Callable[..., Any],
    draw: Callable[[Any, Any], None],
    grid: Mapping[str, Sequence],
    **kwargs,
) -> StaticLive:
    """Build a :class:`StaticLive` widget; see the module docstring for the recipe.

    Parameters
    ----------
    compute : callable
        ``compute(**params) -> result``; the numerics of one frame (no plotting).
    draw : callable
        ``draw(result, fig)``: plots ``result`` into the empty matplotlib ``Figure`` ``fig`` (add
        axes with ``fig.subplots(...)``); every axis must be labelled.
    grid : mapping
        ``{parameter: values}``, one slider per parameter, at most ``MAX_FRAMES`` frames.
    **kwargs
        The keyword arguments of :class:`StaticLive`:

        * ``name`` (str, optional): label for benchmarks and errors (default ``compute.__name__``);
        * ``initial`` (mapping, optional): grid values to show first (default: the first value of
          each parameter);
        * ``figsize`` ((float, float), optional): figure size in inches (default
          :data:`ibcore.plotting.FIGSIZE`);
        * ``precompute`` (bool, default True): compute every grid frame now (needed for the static
          page); ``False`` computes frames on demand in a live kernel;
        * ``description`` (str, optional): a bold caption above the sliders;
        * ``update`` (callable, optional): ``update(result, fig, handles)`` changes the figure drawn
          by ``draw`` (which returned ``handles``) in place so that it shows ``result``; may return
          new handles. Used by live recomputes (much faster than redrawing); checked once against
          ``draw``.

    Returns
    -------
    StaticLive
        The widget (display it as the last expression of a cell).

    Raises
    ------
    TypeError, ValueError, ExperimentError
        As :class:`StaticLive`.
    """
    return StaticLive(compute, draw, grid, **kwargs)


def live_instances() -> list[StaticLive]:
    """The widgets created in this process (used by ``benchmarks/run.py``), sorted by name.

    Returns
    -------
    list of StaticLive
        Those still alive (the registry holds weak references).
    """
    return sorted(_INSTANCES, key=lambda w: w.name)
