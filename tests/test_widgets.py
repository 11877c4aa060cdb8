"""Unit tests of ibcore.widgets.static_live (the static-live widget recipe)."""

import ipywidgets as widgets
import numpy as np
import pytest

from ibcore.widgets import MAX_FRAMES, ExperimentError, StaticLive, live_instances, static_live


def compute(a, b=1.0):
    return {"x": np.linspace(0, 1, 5), "y": a * np.linspace(0, 1, 5) + b}


def draw(result, fig):
    ax = fig.subplots()
    ax.plot(result["x"], result["y"])
    ax.set_xlabel("x (unit)")
    ax.set_ylabel("y (unit)")


def test_one_parameter_precomputes_every_frame():
    w = static_live(compute, draw, {"a": [0.0, 1.0, 2.0]}, name="t-one")
    assert isinstance(w, StaticLive)
    assert set(w.images) == {(0,), (1,), (2,)}
    pngs = [bytes(w.images[(k,)].value) for k in range(3)]
    assert all(p.startswith(b"\x89PNG") for p in pngs)
    assert len(set(pngs)) == 3  # different parameters give different frames
    assert w.results[(2,)]["y"][-1] == pytest.approx(3.0)


def test_slider_is_linked_in_the_browser_to_the_stack():
    w = static_live(compute, draw, {"a": [0.0, 1.0]}, name="t-link")
    links = [link for link in w.links if link.source[0] is w.sliders[0]]
    assert len(links) == 1
    assert links[0]._model_name == "LinkModel"  # a browser-side link, no kernel needed
    (stack, trait) = links[0].target
    assert isinstance(stack, widgets.Stack) and trait == "selected_index"
    assert links[0].source[1] == "index"


def _frames(w):
    """The tree of frames in the displayed widget: its last child, after sliders and status."""
    return w.widget.children[-1]


def _shown(w):
    """The Image a browser displays: follow ``selected_index`` down the nested Stacks."""
    node = _frames(w)
    while isinstance(node, widgets.Stack):
        node = node.children[node.selected_index]
    return node


def _move_on_static_page(w, slider, index):
    """Move ``slider`` as a reader does on the static page: the slider's index changes and
    every browser-side link copies it to its target (the kernel side recomputes as well)."""
    slider.index = index
    for link in w.links:
        if link.source[0] is slider:
            setattr(link.target[0], link.target[1], getattr(slider, link.source[1]))


def test_two_parameters_nest_stacks_and_link_every_inner_stack():
    w = static_live(compute, draw, {"a": [0.0, 1.0, 2.0], "b": [0.0, 5.0]}, name="t-two")
    assert len(w.images) == 6
    assert w.widget.children[:2] == tuple(w.sliders)
    outer = _frames(w)
    assert isinstance(outer, widgets.Stack) and len(outer.children) == 3  # one per value of a
    for i, inner in enumerate(outer.children):
        assert isinstance(inner, widgets.Stack) and len(inner.children) == 2  # one per b
        for j, image in enumerate(inner.children):
            assert image is w.images[(i, j)]
    targets = {k: [link.target for link in w.links if link.source[0] is s]
               for k, s in enumerate(w.sliders)}
    assert [(id(s), t) for s, t in targets[0]] == [(id(outer), "selected_index")]
    assert sorted((id(s), t) for s, t in targets[1]) == sorted(
        (id(inner), "selected_index") for inner in outer.children
    )
    # each move shows the frame of the sliders' pair: a move of a keeps the b chosen before
    # (every inner Stack follows the b slider), a move of b acts inside the current a
    for k, index, pair in [(1, 1, (0, 1)), (0, 2, (2, 1)), (1, 0, (2, 0)), (0, 1, (1, 0))]:
        _move_on_static_page(w, w.sliders[k], index)
        assert w.current_index() == pair
        assert _shown(w) is w.images[pair]
        a, b = w.params(pair).values()
        assert w.results[pair]["y"][-1] == pytest.approx(a + b)


def test_initial_value_selects_the_frame():
    w = static_live(compute, draw, {"a": [0.0, 1.0, 2.0]}, initial={"a": 2.0}, name="t-init")
    assert w.sliders[0].index == 2
    assert _frames(w).selected_index == 2
    assert _shown(w) is w.images[(2,)]


def test_live_slider_recomputes_and_reports_timing():
    calls = []

    def counting(a):
        calls.append(a)
        return compute(a)

    w = static_live(counting, draw, {"a": [0.0, 1.0]}, name="t-live")
    assert calls == [0.0, 1.0]
    w.sliders[0].index = 1
    assert calls == [0.0, 1.0, 1.0]
    assert "recomputed live" in w.status.value


def test_lazy_mode_computes_frames_on_demand():
    w = static_live(compute, draw, {"a": np.linspace(0, 1, 11)}, precompute=False, name="t-lazy")
    assert list(w.results) == [(0,)]
    w.sliders[0].index = 7
    assert set(w.results) == {(0,), (7,)}
    assert bytes(w.images[(7,)].value).startswith(b"\x89PNG")


def test_numpy_grid_values_and_display_labels():
    w = static_live(compute, draw, {"a": np.array([0.125, 0.5])}, name="t-numpy")
    assert w.values[0] == (0.125, 0.5)
    assert isinstance(w.values[0][0], float)
    assert [label for label, _ in w.sliders[0].options] == ["0.125", "0.5"]


def test_repr_and_mimebundle():
    w = static_live(compute, draw, {"a": [1.0]}, name="t-repr")
    assert "t-repr" in repr(w)
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_registry_lists_instances():
    w = static_live(compute, draw, {"a": [1.0]}, name="t-registry")
    assert w in live_instances()


@pytest.mark.parametrize(
    ("grid", "exc", "match"),
    [
        ({}, ValueError, "grid is empty"),
        ([("a", [1])], TypeError, "mapping"),
        ({"a": []}, ValueError, r"grid\['a'\] is empty"),
        ({"c": [1.0]}, TypeError, r"unknown parameter\(s\) \['c'\]"),
        ({"a": "abc"}, TypeError, "list of values"),
        ({"a": [1.0, float("nan")]}, ValueError, "non-finite"),
        ({"a": [1.0, 1.0]}, ValueError, "repeated values"),
        ({"a": list(range(MAX_FRAMES + 1))}, ValueError, "MAX_FRAMES"),
        ({"b": [1.0]}, TypeError, r"needs parameter\(s\) \['a'\]"),
        ({1: [1.0]}, TypeError, "identifiers"),
    ],
)
def test_bad_grids_are_refused_with_clear_errors(grid, exc, match):
    with pytest.raises(exc, match=match):
        static_live(compute, draw, grid)


def test_bad_callables_and_initial_are_refused():
    with pytest.raises(TypeError, match="compute must be callable"):
        static_live(None, draw, {"a": [1.0]})
    with pytest.raises(TypeError, match="draw must be callable"):
        static_live(compute, "draw", {"a": [1.0]})
    with pytest.raises(ValueError, match="not in grid"):
        static_live(compute, draw, {"a": [1.0]}, initial={"a": 3.0})
    with pytest.raises(ValueError, match="unknown parameter"):
        static_live(compute, draw, {"a": [1.0]}, initial={"z": 3.0})


def test_experiment_raising_names_the_grid_point():
    def failing(a):
        if a > 1:
            raise FloatingPointError("overflow")
        return compute(a)

    with pytest.raises(ExperimentError, match=r"compute failed at a=2: overflow"):
        static_live(failing, draw, {"a": [1.0, 2.0]}, name="t-fail")


def test_live_failure_is_shown_in_the_widget_not_raised():
    state = {"fail": False}

    def sometimes(a):
        if state["fail"]:
            raise ValueError("bad value")
        return compute(a)

    w = static_live(sometimes, draw, {"a": [1.0, 2.0]}, name="t-live-fail")
    state["fail"] = True
    w.sliders[0].index = 1
    assert "bad value" in w.status.value


def test_unlabelled_or_nan_frames_are_refused():
    def unlabelled(result, fig):
        fig.subplots().plot(result["x"], result["y"])

    with pytest.raises(ExperimentError, match="axis labels"):
        static_live(compute, unlabelled, {"a": [1.0]})

    def nan_compute(a):
        return {"x": np.arange(3.0), "y": np.array([1.0, np.nan, 2.0])}

    with pytest.raises(ExperimentError, match="NaN"):
        static_live(nan_compute, draw, {"a": [1.0]})


def test_recompute_is_the_live_path_and_reuses_the_crop_box():
    w = static_live(compute, draw, {"a": [0.0, 1.0, 2.0]}, name="t-recompute")
    png_static = bytes(w.images[(1,)].value)
    t = w.recompute((1,))
    assert set(t) == {"compute", "draw", "encode", "total"}
    assert t["total"] >= t["compute"] + t["draw"] + t["encode"] - 1e-9 >= 0
    # Same experiment, same crop box (the union of the precomputed frames' boxes): same size.
    png_live = bytes(w.images[(1,)].value)
    size = lambda png: (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))  # noqa: E731
    assert size(png_live)[0] >= size(png_static)[0] - 2
    with pytest.raises(ValueError, match="grid index tuple"):
        w.recompute((3,))
    with pytest.raises(ValueError, match="grid index tuple"):
        w.recompute((0, 0))


def test_frames_share_one_renderer():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    w = static_live(compute, draw, {"a": [0.0, 1.0, 2.0]}, name="t-one-renderer")
    w.recompute((2,))
    fig = w.figure()
    assert isinstance(fig.canvas, FigureCanvasAgg)
    renderer = fig.canvas.renderer  # made by the first frame's PNG, then handed on
    w.recompute((1,))
    _, fig2, _ = w.frame(a=1.0)
    assert fig2 is not fig and len(fig2.axes) == 1  # a new figure, not drawn over the old one
    assert fig2.canvas.renderer is renderer  # text-layout caches stay warm


def draw_returning_line(result, fig):
    ax = fig.subplots()
    (line,) = ax.plot(result["x"], result["y"])
    ax.set_xlabel("x (unit)")
    ax.set_ylabel("y (unit)")
    ax.set_ylim(0, 4)
    return line


def test_update_hook_is_used_live_and_matches_draw():
    calls = {"draw": 0, "update": 0}

    def counted_draw(result, fig):
        calls["draw"] += 1
        return draw_returning_line(result, fig)

    def update(result, fig, line):
        calls["update"] += 1
        line.set_data(result["x"], result["y"])

    w = static_live(compute, counted_draw, {"a": [0.0, 1.0, 2.0]}, update=update, name="t-update")
    drawn = calls["draw"]
    static = bytes(w.images[(2,)].value)
    w.recompute((2,))
    w.recompute((1,))
    assert calls["draw"] == drawn and calls["update"] >= 3  # live frames: in place only
    # The live frame of a=2 (updated in place, crop box of the grid) shows the static frame's
    # pixels; both are cropped PNGs of the same picture, so compare the decoded images.
    from io import BytesIO

    from PIL import Image

    w.recompute((2,))
    live = np.asarray(Image.open(BytesIO(bytes(w.images[(2,)].value))).convert("RGB"))
    ref = np.asarray(Image.open(BytesIO(static)).convert("RGB"))
    if live.shape == ref.shape:
        assert np.array_equal(live, ref)


def test_update_that_forgets_something_is_refused():
    def lazy_update(result, fig, line):
        pass  # does not set the new data

    with pytest.raises(ExperimentError, match="update does not draw what draw draws"):
        static_live(compute, draw_returning_line, {"a": [0.0, 2.0]}, update=lazy_update,
                    name="t-bad-update")
    with pytest.raises(TypeError, match="update must be callable"):
        static_live(compute, draw, {"a": [1.0]}, update="no")


def test_failing_update_is_reported_and_the_next_frame_redraws():
    state = {"fail": False}

    def update(result, fig, line):
        if state["fail"]:
            raise RuntimeError("stale handle")
        line.set_data(result["x"], result["y"])

    w = static_live(compute, draw_returning_line, {"a": [0.0, 2.0]}, update=update,
                    name="t-update-fail")
    state["fail"] = True
    w.sliders[0].index = 1
    assert "update failed" in w.status.value and "stale handle" in w.status.value
    state["fail"] = False
    t = w.recompute((0,))  # redrawn by draw, then updates resume
    assert t["total"] > 0


def _decoded(png):
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(bytes(png))).convert("RGB"))


def _full_drawing(w, idx):
    """The live frame ``idx`` of ``w`` drawn from scratch by ``draw`` (no update, no blitting):
    the same grid gives the same crop box."""
    fresh = static_live(w.compute_fn, w.draw_fn, {"a": list(w.values[0])}, name="t-fresh")
    fresh.recompute((idx,))
    return _decoded(fresh.images[(idx,)].value)


def _draw_with_legend(result, fig):
    ax = fig.subplots()
    (line,) = ax.plot(result["x"], result["y"], label="data")
    ax.plot([0, 1], [3, 3], "k:", label="level 3")
    ax.legend(loc="upper left")  # the data line passes under the legend
    ax.set(xlabel="x (unit)", ylabel="y (unit)", ylim=(0, 4), title=f"a = {result['a']:g}")
    return line, ax.title


def _compute_a(a):
    x = np.linspace(0, 1, 50)
    return {"a": a, "x": x, "y": 1 + 2.5 * np.sin(3 * a + 6 * x) ** 2}


def _update_line_and_title(result, fig, handles):
    line, title = handles
    line.set_data(result["x"], result["y"])
    title.set_text(f"a = {result['a']:g}")


def test_live_update_redraws_only_what_changed(monkeypatch):
    """After an in-place update the live frame is rendered by blitting: the rest of the figure
    comes from a stored background, and the pixels are those of a full drawing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    w = static_live(_compute_a, _draw_with_legend, {"a": [0.0, 0.5, 1.0]},
                    update=_update_line_and_title, name="t-blit")
    full_draws = []
    original = FigureCanvasAgg.draw
    monkeypatch.setattr(FigureCanvasAgg, "draw", lambda self: (full_draws.append(1),
                                                                original(self))[1])
    w.recompute((1,))  # the first live frame renders the background once
    first = len(full_draws)
    w.recompute((2,))
    w.recompute((0,))
    assert first <= 1 and len(full_draws) == first  # later frames: no full rendering
    monkeypatch.setattr(FigureCanvasAgg, "draw", original)
    live = _decoded(w.images[(0,)].value)
    assert np.array_equal(live, _full_drawing(w, 0))


def test_first_live_frame_reuses_the_background_of_the_update_check(monkeypatch):
    """The check of update renders the background the live frames are blitted on: the first
    live frame (the slowest one otherwise) needs no full rendering either."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    w = static_live(_compute_a, _draw_with_legend, {"a": [0.0, 0.5, 1.0]},
                    update=_update_line_and_title, name="t-blit-first")
    full_draws = []
    original = FigureCanvasAgg.draw
    monkeypatch.setattr(FigureCanvasAgg, "draw", lambda self: (full_draws.append(1),
                                                                original(self))[1])
    w.recompute((1,))
    assert full_draws == []
    monkeypatch.setattr(FigureCanvasAgg, "draw", original)
    assert np.array_equal(_decoded(w.images[(1,)].value), _full_drawing(w, 1))


def test_live_update_that_moves_the_limits_is_rendered_whole(monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def draw_autoscaled(result, fig):
        ax = fig.subplots()
        (line,) = ax.plot(result["x"], result["y"])
        ax.set(xlabel="x (unit)", ylabel="y (unit)")
        return line

    def update_autoscaled(result, fig, line):
        line.set_data(result["x"], result["y"])
        ax = fig.axes[0]
        ax.relim()
        ax.autoscale_view()

    w = static_live(compute, draw_autoscaled, {"a": [0.0, 1.0, 3.0]}, update=update_autoscaled,
                    name="t-limits")
    full_draws = []
    original = FigureCanvasAgg.draw
    monkeypatch.setattr(FigureCanvasAgg, "draw", lambda self: (full_draws.append(1),
                                                                original(self))[1])
    w.recompute((2,))
    w.recompute((0,))
    assert len(full_draws) == 2  # the limits changed: each frame is a full rendering
    monkeypatch.setattr(FigureCanvasAgg, "draw", original)
    live = _decoded(w.images[(0,)].value)
    assert np.array_equal(live, _full_drawing(w, 0))
