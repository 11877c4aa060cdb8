"""Keep the notebooks that nbval executes, so the strict build does not execute them again.

nbval runs every chapter cell by cell in its own kernel and reports a failing cell as a test with
its traceback; the strict build (Jupyter Book, MyST-NB) then needs the same chapters *executed*,
outputs and ipywidgets state included. Rather than executing every chapter a second time,
:class:`Recorder` listens to the kernel messages nbval reads and rebuilds the executed notebook
with nbclient's own message handling (``NotebookClient.process_message``: outputs, display
updates, widget comm state), the code MyST-NB runs when it executes a notebook itself.
:func:`store` puts the result in a jupyter-cache database; a build with
``COURSE_EXECUTED_NOTEBOOKS=<that folder>`` in its environment (``_ext/course_assets.py``) then
takes each chapter from it (MyST-NB's ``cache`` mode: matched by the hash of the code cells, so
an edited chapter is executed again rather than served stale).

Only notebooks whose every cell passed are stored.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import nbformat

#: Environment variable naming the jupyter-cache folder a build takes executed notebooks from.
ENV_VAR = "COURSE_EXECUTED_NOTEBOOKS"


class Recorder:
    """Rebuild the executed notebook from the iopub messages of the kernel that runs it."""

    def __init__(self, nb: nbformat.NotebookNode, path: Path):
        from nbclient import NotebookClient

        self.path = Path(path)
        self.nb = copy.deepcopy(nb)
        self.code_cells = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
        for i in self.code_cells:
            self.nb.cells[i].outputs = []
            self.nb.cells[i].execution_count = None
        # Used for its message handling only: it never starts a kernel.
        self.client = NotebookClient(self.nb, record_timing=False, store_widget_state=True)
        self.client.reset_execution_trackers()
        self._current: int | None = None
        self._cell_of_msg: dict[str, int] = {}
        self.started = time.perf_counter()
        self.complete = True

    def attach(self, kernel_client) -> None:
        """The kernel client nbval uses (nbclient's Output-widget emulation answers through it)."""
        self.client.kc = kernel_client

    def start_cell(self, code_index: int) -> None:
        """nbval is about to execute the ``code_index``-th code cell."""
        self._current = self.code_cells[code_index]
        # What nbclient resets before each cell it executes (a pending clear_output(wait=True)).
        self.client.clear_before_next_output = False

    def skip_cell(self) -> None:
        self.complete = False

    def feed(self, msg: dict) -> None:
        """One iopub message, as nbval received it."""
        from nbclient.exceptions import CellExecutionComplete

        parent = (msg.get("parent_header") or {}).get("msg_id")
        if msg["msg_type"] == "execute_input" and self._current is not None:
            self._cell_of_msg[parent] = self._current
        index = self._cell_of_msg.get(parent)
        if index is None:
            return  # kernel start-up, kernel_info, ...: not a cell's message
        try:
            self.client.process_message(msg, self.nb.cells[index], index)
        except CellExecutionComplete:
            pass

    def finish(self, language_info: dict | None) -> nbformat.NotebookNode:
        """The executed notebook, with the widget state as nbclient saves it."""
        self.client.set_widgets_metadata()
        # nbval executes with store_history=False (no prompt numbers): number the cells in order,
        # as a kernel executing the notebook from the top does.
        for count, i in enumerate(self.code_cells, start=1):
            self.nb.cells[i].execution_count = count
            for out in self.nb.cells[i].outputs:
                if out.output_type == "execute_result":
                    out.execution_count = count
        if language_info:
            self.nb.metadata["language_info"] = language_info
        return self.nb


def stored(cache_dir: Path) -> set[str]:
    """The paths of the notebooks stored in ``cache_dir``."""
    from jupyter_cache import get_cache

    return {r.uri for r in get_cache(str(cache_dir)).list_cache_records()}


def store(cache_dir: Path, nb: nbformat.NotebookNode, path: Path, seconds: float) -> None:
    """Add an executed notebook to the jupyter-cache database in ``cache_dir``."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(cache_dir))
    cache.cache_notebook_bundle(
        CacheBundleIn(nb, str(Path(path).resolve()), data={"execution_seconds": seconds}),
        check_validity=False,
        overwrite=True,
    )
