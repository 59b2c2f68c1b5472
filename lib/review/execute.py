"""Execute one page: a MyST chapter run by papermill with one parameter set.

Runs in a worker process of the build. The executed notebook and the files the chapter
writes (figures, tables) land in a fresh cache folder, which the build commits only when
the run succeeded.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat

from review.params import NOTEBOOK, Page

KERNEL = "python3"


class PageFailed(Exception):
    """A page's notebook raised; the message names the chapter file, cell and error."""


def _label_line(source: str) -> bool:
    return source.startswith("(ch-") and source.rstrip().endswith(")=")


def _line_of(source: Path, cell: str) -> str:
    """`` line N`` where the cell's code starts in the chapter file, or nothing if not found."""
    text = source.read_text(encoding="utf-8")
    at = text.find(cell.strip()) if cell.strip() else -1
    return f" line {text.count(chr(10), 0, at) + 1}" if at >= 0 else ""


def finish_notebook(nb: nbformat.NotebookNode, page: Page) -> None:
    """Make the executed notebook a page of its own.

    The page title fills the chapter's ``{{ title }}`` substitution; the chapter label gets
    the set id (``(ch-outcome)=`` becomes ``(ch-outcome-cr)=``) so that labels stay unique;
    the chapter's own ``parameters`` cell is hidden, the values papermill injected are shown.
    """
    if page.title is not None:
        nb.metadata.setdefault("myst", {}).setdefault("substitutions", {})["title"] = page.title
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown" and page.label_suffix:
            lines = cell.source.split("\n")
            cell.source = "\n".join(
                line.replace(")=", f"{page.label_suffix})=", 1) if _label_line(line) else line
                for line in lines
            )
        if cell.cell_type == "code" and "parameters" in tags and page.parameters:
            cell.metadata["tags"] = [*tags, "remove-cell"]


def execute_page(root: str, page: Page, data_dir: str, entry: str) -> float:
    """Run ``page`` into the folder ``entry``; return the seconds it took.

    Parameters
    ----------
    root : str
        Repository root (holds ``chapters/``).
    page : Page
        The page to execute.
    data_dir : str
        Data folder the chapter reads (``REVIEW_DATA_DIR`` of its kernel).
    entry : str
        Empty folder that receives ``index.ipynb`` and every file the chapter writes; it is
        also the kernel's working directory.

    Raises
    ------
    PageFailed
        With the chapter file, the cell number and first line, and the error.
    """
    import papermill
    from jupyter_client.manager import KernelManager
    from papermill.exceptions import PapermillExecutionError

    start = time.perf_counter()
    source = Path(root) / page.source
    nb = jupytext.read(source)
    os.environ["REVIEW_DATA_DIR"] = str(Path(data_dir).resolve())
    os.environ["REVIEW_BOOK_ROOT"] = str(Path(root).resolve())
    # the kernel inherits this process's environment; silence debugger start-up noise
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    output = Path(entry) / NOTEBOOK
    with tempfile.TemporaryDirectory(prefix="review-input-") as tmp:
        template = Path(tmp) / "input.ipynb"
        nbformat.write(nb, template)
        # a local kernel talks over Unix sockets in the temporary folder, not TCP ports
        km = KernelManager(kernel_name=KERNEL, transport="ipc", ip=str(Path(tmp) / "kernel"))
        try:
            papermill.execute_notebook(
                str(template),
                str(output),
                parameters=page.parameters,
                cwd=entry,
                kernel_name=KERNEL,
                progress_bar=False,
                log_output=False,
                km=km,
            )
        except PapermillExecutionError as exc:
            executed = nbformat.read(output, as_version=4)
            # count cells as the chapter file does: papermill's injected cell is not in it
            injected = sum(
                "injected-parameters" in c.metadata.get("tags", [])
                for c in executed.cells[: exc.cell_index]
            )
            number = exc.cell_index - injected + 1
            first = exc.source.strip().splitlines()[0] if exc.source.strip() else ""
            raise PageFailed(
                f"{page.name}: {page.source}{_line_of(source, exc.source)}, cell {number} "
                f"(`{first}`) with parameters {json.dumps(page.parameters)}: "
                f"{exc.ename}: {exc.evalue}"
            ) from None
        except Exception as exc:  # kernel died, bad notebook, ...: name the page anyway
            raise PageFailed(f"{page.name}: {page.source}: {type(exc).__name__}: {exc}") from None
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    executed = nbformat.read(output, as_version=4)
    finish_notebook(executed, page)
    nbformat.write(executed, output)
    return time.perf_counter() - start
