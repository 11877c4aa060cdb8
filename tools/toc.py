"""The pages of the book, read from ``_toc.yml`` (one source of truth for tests and scripts).

A chapter may have section pages (Jupyter Book's ``sections:``, nested to any depth); every
listed file counts, in reading order.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _walk(entries: list[dict]) -> list[str]:
    files: list[str] = []
    for entry in entries:
        if "file" in entry:
            files.append(entry["file"])
        files += _walk(entry.get("sections", []))
    return files


def toc_files(root: Path = ROOT) -> list[str]:
    """Every file the table of contents lists (without suffix), root page first."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += _walk(part.get("chapters", []))
    files += _walk(toc.get("chapters", []))
    files += _walk(toc.get("sections", []))
    return files


def chapters(root: Path = ROOT, caption: str = "Chapters") -> dict[str, list[str]]:
    """The numbered chapters: each chapter's file mapped to its pages (itself, then sections)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    groups: dict[str, list[str]] = {}
    for part in toc.get("parts", []):
        if part.get("caption") != caption:
            continue
        for entry in part.get("chapters", []):
            groups[entry["file"]] = _walk([entry])
    return groups


def is_notebook(path: Path) -> bool:
    """A MyST-Markdown notebook: a ``.md`` file whose front matter declares a kernelspec."""
    if path.suffix != ".md":
        return False
    with open(path, encoding="utf-8") as fh:
        head = fh.read(2000)
    return head.startswith("---") and "kernelspec:" in head


def notebook_pages(root: Path = ROOT) -> list[Path]:
    """The notebook pages listed in the table of contents, in reading order."""
    paths = [root / f"{f}.md" for f in toc_files(root)]
    return [p for p in paths if p.is_file() and is_notebook(p)]


def notebook_files(root: Path = ROOT) -> list[Path]:
    """Every notebook page under ``book/`` (subfolders included), listed or not.

    Hidden folders are skipped: JupyterLab keeps ``.ipynb_checkpoints/<chapter>-checkpoint.md``
    copies next to the chapters a reader opened.
    """
    book = root / "book"
    return sorted(
        p for p in book.rglob("*.md")
        if is_notebook(p) and not any(part.startswith(".") for part in p.relative_to(book).parts)
    )
