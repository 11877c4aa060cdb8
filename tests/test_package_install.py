"""The Colab path: the package, installed by pip without the lock, runs a chapter.

On Colab (and any environment that is not ours) a reader runs ``pip install`` of the course
package, with no constraints file: the runtime dependencies declared in ``pyproject.toml`` must
bring everything a chapter imports. This test builds the wheel, makes a fresh virtual environment,
installs the wheel into it **without** ``constraints.txt`` (pip picks today's releases within the
declared bounds) and executes the reference chapter there with nbclient.

Colab already provides torch and its notebook runtime (ipykernel, nbclient, jupytext), which are
not the package's to bring. The fresh environment gets them the way Colab has them, as
preinstalled packages on its path: the course environment's own copies (torch and the runtime,
with their dependencies, but *not* numpy, scipy, matplotlib or ipywidgets) are linked into a
folder that a ``.pth`` file puts on the fresh environment's ``sys.path``. So no torch is
downloaded or unpacked, while everything the package declares is installed fresh from the index
by pip, at today's releases (checked: numpy & co. are imported from the fresh environment).
Needs the package index (that is the point). It runs in a background thread from the start of
the test session (``conftest.py``) and the test waits for it at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import venv
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "gradient_flow.md"
#: What the package must bring itself (its declared runtime dependencies).
DECLARED = ("numpy", "scipy", "matplotlib", "ipywidgets", "torch")
#: What Colab already has: torch and the notebook runtime.
PREINSTALLED = ("torch", "ipykernel", "nbclient", "jupytext")

RUN_CHAPTER = """
import sys, jupytext
from nbclient import NotebookClient
nb = jupytext.read(sys.argv[1])
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
print("executed", sum(c.cell_type == "code" for c in nb.cells), "code cells")
"""


def pip(python: Path, *args: str, timeout: float = 1200) -> str:
    proc = subprocess.run(
        [str(python), "-m", "pip", *args, "--quiet", "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=timeout,
    )
    out = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{out}"
    return proc.stdout


def closure(names, exclude) -> dict[str, metadata.Distribution]:
    """The installed distributions ``names`` need (dependencies included), minus ``exclude``."""
    found: dict[str, metadata.Distribution] = {}
    stack = [canonicalize_name(n) for n in names]
    while stack:
        name = stack.pop()
        if name in found or name in exclude:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(canonicalize_name(req.name))
    return found


def link_preinstalled(folder: Path, dists) -> None:
    """Link each distribution's top-level files and folders (code and .dist-info) into folder."""
    folder.mkdir()
    for dist in dists.values():
        for top in {Path(str(f)).parts[0] for f in dist.files or []} - {".."}:
            src = Path(dist.locate_file(top))
            if src.exists() and not (folder / top).exists() and not top.endswith(".pth"):
                (folder / top).symlink_to(src)


def colab_path(tmp_path: Path) -> str:
    """Build, install without the lock, execute the chapter; return the line to report."""
    # Build the wheel from a copy, so no build/ or egg-info folder appears in the repository.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "ibcore", src / "ibcore", ignore=shutil.ignore_patterns("__pycache__"))
    pip(Path(sys.executable), "wheel", "--no-deps", "--no-build-isolation", "-w",
        str(tmp_path / "dist"), str(src))
    (wheel,) = (tmp_path / "dist").glob("ibcore-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    # What Colab already has: torch and the notebook runtime, preinstalled on the path.
    pre = closure(PREINSTALLED, exclude={canonicalize_name(n) for n in DECLARED if n != "torch"})
    link_preinstalled(tmp_path / "preinstalled", pre)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    (Path(site) / "colab-preinstalled.pth").write_text(str(tmp_path / "preinstalled") + "\n")
    # The reader's step: the package alone, no constraints.
    pip(python, "install", str(wheel))
    where = subprocess.run(
        [str(python), "-c", "import numpy, scipy, matplotlib, ipywidgets, torch; "
         "print(numpy.__file__, scipy.__file__, matplotlib.__file__, ipywidgets.__file__)"],
        capture_output=True, text=True, timeout=300,
    )
    assert where.returncode == 0, where.stderr[-3000:]
    for path in where.stdout.split():
        fresh = Path(path).resolve().is_relative_to(env_dir.resolve())
        assert fresh, f"not installed in the fresh environment: {path}"
    freeze = pip(python, "freeze")
    # The fresh environment's own kernel, not a user-level kernelspec of the same name.
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"), "MPLBACKEND": "Agg"}
    env.pop("JUPYTER_PATH", None)
    run = subprocess.run([str(python), "-c", RUN_CHAPTER, str(CHAPTER), str(CHAPTER.parent)],
                         capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    assert run.returncode == 0, f"the chapter failed without the lock:\n{run.stderr[-5000:]}"
    return "Colab path: " + run.stdout.strip() + " with " + ", ".join(
        line for line in freeze.splitlines() if line.split("==")[0].lower() in DECLARED
    )


class _Background:
    """The Colab path run in a thread from the start of the session (conftest.py starts it).

    It is mostly pip and a single-kernel chapter: run alongside the unit tests and the chapters,
    it costs the test command little wall time; the test itself waits for it and reports.
    """

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="course-colab-"))
        self.result: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="colab-path", daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.result = colab_path(self.folder)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def wait(self, timeout: float) -> str:
        self.thread.join(timeout)
        try:
            assert not self.thread.is_alive(), f"the Colab path did not finish in {timeout:.0f} s"
            if self.error is not None:
                raise self.error
            return self.result
        finally:
            if not self.thread.is_alive():
                shutil.rmtree(self.folder, ignore_errors=True)


_JOB: _Background | None = None


def start_in_background() -> None:
    """Start the Colab path now (called by conftest.py once the session's tests are known)."""
    global _JOB
    if _JOB is None:
        _JOB = _Background()


@pytest.mark.install
def test_wheel_without_the_lock_runs_a_chapter(tmp_path, measurements):
    if _JOB is None:  # not started early (e.g. this file run on its own): run it here
        measurements.append(colab_path(tmp_path))
        return
    measurements.append(_JOB.wait(timeout=2400))
