"""Let nbval run the MyST-Markdown chapters in place (pytest --nbval-lax book/), once per run.

nbval only collects ``.ipynb`` files. For a ``.md`` file whose front matter declares a
``kernelspec`` (a jupytext notebook), we return nbval's own collector, with ``nbformat.read``
redirected to ``jupytext.read`` while it loads the file. Cells then run with the file's folder
as working directory, exactly as in the book build. Failures are reported as
``book/<chapter>.md::Cell N``.

Each chapter executes once per test run: while nbval runs a chapter, ``tools.executed.Recorder``
keeps what the kernel sends (outputs, widget state) and, if every cell passed, stores the executed
notebook in a jupyter-cache folder of this session; the strict build (``tests/test_book.py``) takes
the chapters from there instead of executing them again. The build and browser tests (marked
``book``) therefore run after the chapters.
"""

from __future__ import annotations

import os

# Unit tests never open windows: matplotlib's non-interactive backend. matplotlib reads
# MPLBACKEND once, when it is first imported, so it is set here, before the test modules are
# imported (tests/test_properties.py checks it took effect). Subprocesses and the kernels nbval
# starts inherit it; a chapter's ``plotting.use_style()`` switches its kernel to the inline
# backend, as it did before.
os.environ["MPLBACKEND"] = "Agg"

import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from hypothesis import settings

from tools.executed import Recorder, store
from tools.toc import is_notebook

# Property-based tests draw the same examples on every run (CI is reproducible; a failure found
# once is found again), and keep no example database in the clean clone.
settings.register_profile("course", derandomize=True, database=None, deadline=None)
settings.load_profile("course")

#: The session's folder of executed notebooks (a jupyter-cache database), see tools/executed.py.
EXECUTED = pytest.StashKey[Path]()
#: Lines the tests report (round trips, what the build reused), printed at the end of the run.
MEASUREMENTS = pytest.StashKey[list]()


def pytest_configure(config):
    config.stash[EXECUTED] = Path(tempfile.mkdtemp(prefix="course-executed-"))
    config.stash[MEASUREMENTS] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(MEASUREMENTS, [])
    if lines:
        terminalreporter.section("measurements (reported, not asserted)")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def measurements(request) -> list:
    """Append lines here to have them printed in the summary of the test run."""
    return request.config.stash[MEASUREMENTS]


def pytest_unconfigure(config):
    shutil.rmtree(config.stash[EXECUTED], ignore_errors=True)


def pytest_collection_modifyitems(session, config, items):
    """Build and browser tests last: the build reuses the chapters nbval has executed. The
    install test (which runs in the background from the start) is waited for at the very end."""

    def rank(item):
        if item.get_closest_marker("install"):
            return 2
        return 1 if item.get_closest_marker("book") else 0

    items[:] = sorted(items, key=rank)  # stable: the order within each group is kept


def pytest_collection_finish(session):
    """Start the install test's work (pip, a fresh venv, one chapter) alongside the others."""
    if session.config.option.collectonly:
        return
    for item in session.items:
        if item.get_closest_marker("install") is not None:
            start = getattr(getattr(item, "module", None), "start_in_background", None)
            if start is not None:
                start()


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if not (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)):
        return None
    if not is_notebook(file_path):
        return None
    from nbval.plugin import IPyNbFile

    class MystNotebook(IPyNbFile):
        recorder: Recorder | None = None

        def collect(self):
            import jupytext

            original = nbformat.read
            nbformat.read = lambda fp, as_version=4, **kw: jupytext.read(fp)
            try:
                items = list(super().collect())
            finally:
                nbformat.read = original
            self.recorder = Recorder(self.nb, self.path)
            self._started: set[int] = set()
            for item in items:
                item.runtest = self._recording(item, item.runtest)
            yield from items

        def _recording(self, item, runtest):
            def run():
                self._started.add(item.cell_num)
                self.recorder.start_cell(item.cell_num)
                try:
                    runtest()
                except BaseException:  # a failure, an error or a skip: do not store
                    self.recorder.skip_cell()
                    raise

            return run

        def setup(self):
            super().setup()
            self.recorder.attach(self.kernel.kc)

        def get_kernel_message(self, timeout=None, stream="iopub"):
            msg = super().get_kernel_message(timeout=timeout, stream=stream)
            if stream == "iopub" and self.recorder is not None:
                self.recorder.feed(msg)
            return msg

        def teardown(self):
            rec = self.recorder
            ran_all = rec is not None and self._started == set(range(len(rec.code_cells)))
            if ran_all and rec.complete and self.kernel is not None and self.kernel.is_alive():
                import time

                reply = self.kernel.kc.kernel_info(reply=True, timeout=30)
                nb = rec.finish(reply["content"].get("language_info"))
                store(self.config.stash[EXECUTED], nb, self.path, time.perf_counter() - rec.started)
            super().teardown()

    return MystNotebook.from_parent(parent, path=file_path)
