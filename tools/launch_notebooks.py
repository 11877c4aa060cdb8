"""Generate the .ipynb notebooks that the Colab and Binder launch buttons open.

    python tools/launch_notebooks.py OUTDIR

The chapters are MyST-Markdown notebooks; Colab cannot open those, and the repository never
commits ``.ipynb`` twins (Jupyter Book would see every chapter twice). The Pages workflow runs
this script and publishes the result on the ``notebooks`` branch, which ``_config.yml`` names
as the branch of the launch buttons. Each generated notebook starts with one setup cell that
installs the course package *only when running on Colab* (Binder builds the repository's own
environment), followed by the chapter's cells unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.toc import notebook_files

ROOT = Path(__file__).resolve().parents[1]
#: The repository address, from _config.yml (one source of truth).
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]

SETUP_CELL = f'''# Colab only: install the course package (ibcore). Elsewhere this does nothing.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "git+{REPOSITORY}@main"
'''


def chapter_files(root: Path = ROOT) -> list[Path]:
    """The notebook pages under ``book/`` (section pages in subfolders included)."""
    return notebook_files(root)


def launch_notebook(chapter: Path) -> nbformat.NotebookNode:
    """The chapter as an .ipynb notebook with the Colab setup cell in front."""
    nb = jupytext.read(chapter)
    setup = nbformat.v4.new_code_cell(SETUP_CELL, metadata={"tags": ["colab-setup"]})
    nb.cells.insert(0, setup)
    return nb


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    out = Path(argv[0])
    for chapter in chapter_files():
        target = out / chapter.relative_to(ROOT).with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(launch_notebook(chapter), target)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
