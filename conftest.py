"""Let nbval run the MyST-Markdown chapters in place (pytest --nbval-lax book/).

nbval only collects ``.ipynb`` files. For a ``.md`` file whose front matter declares a
``kernelspec`` (a jupytext notebook), we return nbval's own collector, with ``nbformat.read``
redirected to ``jupytext.read`` while it loads the file. Cells then run with the file's folder
as working directory, exactly as in the book build. Failures are reported as
``book/<chapter>.md::Cell N``.
"""

from __future__ import annotations

import nbformat
import pytest

from tools.toc import is_notebook


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if not (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)):
        return None
    if not is_notebook(file_path):
        return None
    from nbval.plugin import IPyNbFile

    class MystNotebook(IPyNbFile):
        def collect(self):
            import jupytext

            original = nbformat.read
            nbformat.read = lambda fp, as_version=4, **kw: jupytext.read(fp)
            try:
                yield from super().collect()
            finally:
                nbformat.read = original

    return MystNotebook.from_parent(parent, path=file_path)


@pytest.fixture(autouse=True)
def _agg_backend(monkeypatch):
    """Unit tests never open windows: matplotlib's non-interactive backend."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
