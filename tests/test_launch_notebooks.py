"""The notebooks generated for the Colab/Binder launch buttons (tools/launch_notebooks.py)."""

import importlib.util
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("launch", ROOT / "tools" / "launch_notebooks.py")
launch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launch)


def test_every_chapter_gets_a_notebook(tmp_path):
    assert launch.main([str(tmp_path)]) == 0
    made = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ipynb"))
    expected = sorted(
        p.relative_to(ROOT).with_suffix(".ipynb").as_posix() for p in launch.chapter_files()
    )
    assert made == expected
    assert "book/gradient_flow.ipynb" in made


def test_setup_cell_is_guarded_and_the_chapter_is_unchanged():
    chapter = ROOT / "book" / "widgets_demo.md"
    nb = launch.launch_notebook(chapter)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "code"
    assert 'if "google.colab" in sys.modules:' in first.source
    assert "%pip install" in first.source and launch.REPOSITORY in first.source
    original = jupytext.read(chapter)
    assert [c.source for c in nb.cells[1:]] == [c.source for c in original.cells]


def test_usage_message_without_outdir(capsys):
    assert launch.main([]) == 2
    assert "OUTDIR" in capsys.readouterr().out
