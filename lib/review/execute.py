"""Execute one page: a MyST chapter run by papermill with one parameter set.

Runs in a worker process of the build. The executed notebook and the files the chapter
writes (figures, tables) land in a fresh cache folder, which the build commits only when
the run succeeded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from review.params import NOTEBOOK, Page

if TYPE_CHECKING:
    import nbformat

KERNEL = "python3"


class PageFailed(Exception):
    """A page's notebook raised; the message names the chapter file, cell and error."""


def _label_line(source: str) -> bool:
    return source.startswith("(ch-") and source.rstrip().endswith(")=")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")


def _failing_line(traceback: list[str]) -> int:
    """The line of the cell (1-based) where it raised, from IPython's traceback; 1 if unknown."""
    for frame in traceback:
        found = _CELL_FRAME.search(_ANSI.sub("", frame))
        if found:
            return int(found.group(1))
    return 1


def _where(source: Path, cell: str, line_in_cell: int) -> tuple[str, str]:
    """(`` line N`` in the chapter file, the code on that line) where a cell raised."""
    code = cell.strip().splitlines()
    shown = code[line_in_cell - 1].strip() if 0 < line_in_cell <= len(code) else ""
    text = source.read_text(encoding="utf-8")
    at = text.find(cell.strip()) if cell.strip() else -1
    if at < 0:
        return "", shown
    return f" line {text.count(chr(10), 0, at) + line_in_cell}", shown


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the kernel this process starts, then restore them.

    The kernel inherits this process's environment; restoring it keeps one page's data
    folder from leaking into whatever runs next in the same process (a test, another page).
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def preload(fork_server: str | None = None) -> None:
    """Import what executing a page needs (a worker does this when it starts, before it has
    a page to run); with ``fork_server``, a socket of :func:`review.forkkernel.serving`,
    the kernels of this process are forked by that server."""
    from review import forkkernel

    forkkernel.use_server(fork_server)
    import jupyter_client.manager  # noqa: F401
    import nbformat  # noqa: F401
    import papermill  # noqa: F401


def chapter_notebook(source: Path, converted: Path | None = None) -> nbformat.NotebookNode:
    """The chapter ``source`` (MyST Markdown) as a notebook.

    With ``converted``, a folder, the conversion is kept there under the hash of the
    chapter's text and of the jupytext version, and read back while neither changes: a
    worker that finds it need not import jupytext (a quarter of a second).
    """
    import nbformat

    if converted is None:
        import jupytext

        return jupytext.read(source)
    text = source.read_bytes()
    name = hashlib.sha256(text + metadata.version("jupytext").encode()).hexdigest()
    kept = converted / f"{name}.ipynb"
    try:
        return nbformat.read(kept, as_version=4)
    except (OSError, ValueError):  # not converted yet, or a damaged file: convert again
        import jupytext

        nb = jupytext.reads(text.decode("utf-8"), fmt=source.suffix.lstrip("."))
        converted.mkdir(parents=True, exist_ok=True)
        tmp = kept.with_name(f".{kept.name}.{os.getpid()}")
        nbformat.write(nb, tmp)
        os.replace(tmp, kept)
        return nb


# Jupyter Book's tags that say how a cell's code is shown; a cell with none of them is
# collapsed (``hide-input``) by finish_notebook.
CODE_VISIBILITY_TAGS = frozenset({"hide-input", "remove-input", "remove-cell", "hide-cell"})


def finish_notebook(nb: nbformat.NotebookNode, page: Page) -> None:
    """Make the executed notebook a page of its own.

    The page title fills the chapter's ``{{ title }}`` substitution; the chapter label gets
    the set id (``(ch-outcome)=`` becomes ``(ch-outcome-cr)=``) so that labels stay unique;
    the chapter's own ``parameters`` cell is hidden, the values papermill injected are shown.

    Readers first: a code cell that a chapter did not tag itself (``hide-input``,
    ``remove-input``, ``remove-cell``, ``hide-cell``) gets ``hide-input``, so that its code is
    collapsed behind Jupyter Book's "show code" toggle (still there to read and copy) and
    the page's results come first.
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
            cell.metadata["tags"] = tags = [*tags, "remove-cell"]
        if cell.cell_type == "code" and not CODE_VISIBILITY_TAGS & set(tags):
            cell.metadata["tags"] = [*tags, "hide-input"]


def execute_page(
    root: str,
    page: Page,
    data_dir: str,
    entry: str,
    validated_hash: str | None = None,
    converted: str | None = None,
    memo_dir: str | None = None,
    reads_file: str | None = None,
) -> float:
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
    validated_hash : str, optional
        Hash of the data folder (``review.release.data_hash``) that the build has just
        validated; the chapter's ``review.data.load`` then skips validating those same
        bytes again (it still validates if the folder's hash differs).
    converted : str, optional
        Folder that keeps the chapters converted to notebooks (:func:`chapter_notebook`).
    memo_dir : str, optional
        Folder of the results pages share (``REVIEW_MEMO_DIR``, :mod:`review.memo`).
    reads_file : str, optional
        File where the kernel records what the page reads (``REVIEW_READS_FILE``,
        :mod:`review.reads`); the recorder starts in a cell run before the chapter's
        first, which the executed notebook does not keep.

    Raises
    ------
    PageFailed
        With the chapter file, the cell number and first line, and the error.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from review import forkkernel

    start = time.perf_counter()
    source = Path(root) / page.source
    nb = chapter_notebook(source, Path(converted) if converted else None)
    if reads_file:
        add_reads_cell(nb)
    kernel_env = _environment(
        REVIEW_DATA_DIR=str(Path(data_dir).resolve()),
        REVIEW_BOOK_ROOT=str(Path(root).resolve()),
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # silence debugger start-up noise
        REVIEW_DATA_VALIDATED=validated_hash or "",
        REVIEW_MEMO_DIR=memo_dir or "",
        REVIEW_READS_FILE=reads_file or "",
    )
    output = Path(entry) / NOTEBOOK
    with kernel_env, tempfile.TemporaryDirectory(prefix="review-input-") as tmp:
        template = Path(tmp) / "input.ipynb"
        nbformat.write(nb, template)
        # a local kernel talks over Unix sockets in the temporary folder, not TCP ports
        km = forkkernel.kernel_manager(KERNEL, transport="ipc", ip=str(Path(tmp) / "kernel"))
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
                bool({"injected-parameters", READS_TAG} & set(c.metadata.get("tags", [])))
                for c in executed.cells[: exc.cell_index]
            )
            number = exc.cell_index - injected + 1
            line, code = _where(source, exc.source, _failing_line(exc.traceback or []))
            raise PageFailed(
                f"{page.name}: {page.source}{line}, cell {number} "
                f"(`{code}`) with parameters {json.dumps(page.parameters)}: "
                f"{exc.ename}: {exc.evalue}"
            ) from None
        except Exception as exc:  # kernel died, bad notebook, ...: name the page anyway
            raise PageFailed(f"{page.name}: {page.source}: {type(exc).__name__}: {exc}") from None
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    executed = nbformat.read(output, as_version=4)
    drop_reads_cell(executed)
    strip_local_paths(executed, page, {entry: ".", data_dir: "data", root: "."})
    finish_notebook(executed, page)
    nbformat.write(executed, output)
    return time.perf_counter() - start


# --- recording what a page reads (review.reads) -------------------------------------------
READS_TAG = "review-reads"
READS_CODE = "import review.reads\n\nreview.reads.start()"


def add_reads_cell(nb: nbformat.NotebookNode) -> None:
    """Put the cell that starts :mod:`review.reads` before the chapter's first cell."""
    import nbformat

    cell = nbformat.v4.new_code_cell(READS_CODE, metadata={"tags": [READS_TAG]})
    nb.cells.insert(0, cell)


def drop_reads_cell(nb: nbformat.NotebookNode) -> None:
    """Remove the cell of :func:`add_reads_cell` from an executed notebook, and number the
    other cells' executions as if it had not run."""
    kept = [c for c in nb.cells if READS_TAG not in c.metadata.get("tags", [])]
    if len(kept) == len(nb.cells):
        return
    nb.cells = kept
    for cell in kept:
        if cell.cell_type == "code" and cell.get("execution_count"):
            cell.execution_count -= 1
            for out in cell.get("outputs", []):
                if out.get("execution_count"):
                    out["execution_count"] -= 1


# --- no local paths in published notebooks -------------------------------------------------


def strip_local_paths(nb: nbformat.NotebookNode, page: Page, folders: dict[str, str]) -> None:
    """Write the folders of the machine that ran ``nb`` as names relative to the book.

    papermill records the absolute paths of its input and output notebooks; a warning a
    cell prints names the file that gave it. Published (``_sources/*.ipynb``), they would
    show where the book was built. In text outputs and the notebook's metadata, each folder
    of ``folders`` (absolute path: name), the Python installation and the temporary folder
    are replaced; images and the chapter's own code are left as they are.
    """
    import sys

    names = {str(Path(k).resolve()): v for k, v in folders.items()}
    names[sys.prefix] = "<python>"
    names[str(Path(tempfile.gettempdir()).resolve())] = "<tmp>"
    # the longest first: a folder inside another is replaced by its own name; paths inside
    # a folder first, then the folder itself
    longest = sorted(names.items(), key=lambda item: -len(item[0]))
    pairs = [(k.rstrip("/") + "/", v + "/") for k, v in longest] + longest

    def clean(value):
        if isinstance(value, str):
            for old, new in pairs:
                value = value.replace(old, new)
            return value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    run = nb.metadata.get("papermill")
    if run is not None:
        run["input_path"] = page.source.as_posix()
        run["output_path"] = f"{page.docname}.ipynb"
    nb.metadata.update(clean(dict(nb.metadata)))
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for field in ("text", "traceback", "evalue"):
                if field in out:
                    out[field] = clean(out[field])
            for mime in list(out.get("data", {})):
                if mime.startswith("text/"):
                    out["data"][mime] = clean(out["data"][mime])
