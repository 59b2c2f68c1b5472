"""Execute one page: a MyST chapter run by papermill with one parameter set.

Runs in a thread of the build process; the chapter runs in a standard IPython kernel, a
child process of the build. The executed notebook and the files the chapter
writes (figures, tables) land in a fresh cache folder, which the build commits only when
the run succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

# imported here, in the thread that imports this module, not in the page threads: two
# threads importing (and compiling) at once can fail in CPython 3.11's AST constructor
import jupytext
import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_event_loop, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

from review.pipeline.params import NOTEBOOK, Page

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


def chapter_notebook(source: Path) -> nbformat.NotebookNode:
    """The chapter ``source`` (MyST Markdown) as a notebook (jupytext)."""

    return jupytext.read(source)


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


class Kernels:
    """The kernels of the pages running now, so that a stopped build can end them.

    Pages run in threads of the build process (their kernels are its child processes); a
    thread blocked on its kernel cannot be interrupted, but it returns within a second of
    the kernel's death (nbclient polls it). :meth:`kill_all` ends every kernel started
    through this object; a kernel started after it was called is ended at once.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[int, subprocess.Popen] = {}
        self._stopped = False

    def started(self, km) -> None:
        """Record the kernel ``km`` (a started KernelManager) as running."""
        process = getattr(km.provisioner, "process", None)
        if process is None:
            return
        with self._lock:
            self._running[id(km)] = process
            stopped = self._stopped
        if stopped:
            process.kill()

    def ended(self, km) -> None:
        """Forget the kernel ``km`` (it has been shut down)."""
        with self._lock:
            self._running.pop(id(km), None)

    def kill_all(self) -> None:
        """Kill every recorded kernel, and every kernel recorded from now on."""
        with self._lock:
            self._stopped = True
            processes = list(self._running.values())
        for process in processes:
            with contextlib.suppress(OSError):
                process.kill()


def kernel_environment(
    root: str,
    data_dir: str,
    validated_hash: str | None,
    memo_dir: str | None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a page's kernel: this process's, the review's variables, ``extra``.

    Passed to the kernel when it starts (never set in this process's ``os.environ``, which
    the pages running in other threads share).
    """
    env = dict(os.environ)
    env.update(
        REVIEW_DATA_DIR=str(Path(data_dir).resolve()),
        REVIEW_BOOK_ROOT=str(Path(root).resolve()),
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # silence debugger start-up noise
        REVIEW_DATA_VALIDATED=validated_hash or "",
        REVIEW_MEMO_DIR=memo_dir or "",
    )
    env.update(extra or {})
    return env


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write an executed notebook (one place, so that a test can make the disk full)."""

    nbformat.write(nb, path)


def execute_page(
    root: str,
    page: Page,
    data_dir: str,
    entry: str,
    validated_hash: str | None = None,
    memo_dir: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    kernels: Kernels | None = None,
    reads_file: str | None = None,
) -> float:
    """Run ``page`` into the folder ``entry``; return the seconds it took.

    The chapter runs in a new standard IPython kernel (jupyter_client), driven by papermill
    (nbclient). Safe to call from several threads at once: nothing here changes this
    process's working folder or environment.

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
        Hash of the data folder (``review.data.versions.data_hash``) that the build has just
        validated; the chapter's ``review.data.load`` then skips validating those same
        bytes again (it still validates if the folder's hash differs).
    memo_dir : str, optional
        Folder of the results pages share (``REVIEW_MEMO_DIR``, :mod:`review.analysis.memo`).
    env : mapping, optional
        More environment variables for this page's kernel (added to
        :func:`kernel_environment`).
    timeout : float, optional
        Seconds one cell may run (nbclient's ``timeout``); None: no limit.
    kernels : Kernels, optional
        Where the running kernel is recorded, so that the build can kill it when stopped.
    reads_file : str, optional
        File where the kernel records what the page reads (``REVIEW_READS_FILE``,
        :mod:`review.data.reads`); the recorder starts in a cell run before the chapter's
        first, which the executed notebook does not keep.

    Raises
    ------
    PageFailed
        With the chapter file, the cell number and first line, and the error; or the
        page's name and what ended it (its kernel died, its time limit passed).
    """

    start = time.perf_counter()
    source = Path(root) / page.source
    nb = chapter_notebook(source)
    if reads_file:
        add_reads_cell(nb)
    extra = {"REVIEW_READS_FILE": reads_file or "", **(env or {})}
    kernel_env = kernel_environment(root, data_dir, validated_hash, memo_dir, extra)
    output = Path(entry).resolve() / NOTEBOOK
    with tempfile.TemporaryDirectory(prefix=f"{INPUT_PREFIX}{os.getpid()}-") as tmp:
        template = Path(tmp) / "input.ipynb"
        nbformat.write(nb, template)
        # a local kernel talks over Unix sockets in the temporary folder, not TCP ports.
        # Asynchronous, as nbclient expects: with a blocking client, nbclient waits for the
        # output of a kernel that died for ever (it never gets to check that it is alive).
        # Its connection file goes there too: all a killed build leaves is this one folder,
        # named by the build's process id (remove_orphaned_inputs). The kernel ends when
        # the build does, however it ends: jupyter-client gives it JPY_PARENT_PID, and
        # ipykernel's parent poller exits when its parent changes.
        km = _Manager(
            kernel_name=KERNEL,
            transport="ipc",
            ip=str(Path(tmp) / "k"),
            connection_file=str(Path(tmp) / "kernel.json"),
        )
        try:
            run_sync(km.start_kernel)(env=kernel_env, cwd=str(Path(entry).resolve()))
            if kernels is not None:
                kernels.started(km)
            papermill.execute_notebook(
                str(template),
                str(output),
                parameters=page.parameters,
                kernel_name=KERNEL,
                progress_bar=False,
                log_output=False,
                km=km,
                execution_timeout=timeout,
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
        except CellTimeoutError:
            raise PageFailed(
                f"{page.name}: {page.source}: a cell ran past the time limit of {timeout:g} s"
            ) from None
        except DeadKernelError:
            raise PageFailed(
                f"{page.name}: {page.source}: its kernel died (it exited or was killed)"
            ) from None
        except OSError as exc:  # a full disk, a missing folder: say which page
            raise PageFailed(f"{page.name}: {page.source}: {os_error(exc)}") from None
        except Exception as exc:  # a bad notebook, ...: name the page anyway
            raise PageFailed(f"{page.name}: {page.source}: {type(exc).__name__}: {exc}") from None
        finally:
            if kernels is not None:
                kernels.ended(km)
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)
            else:
                run_sync(km.cleanup_resources)()
            for client in km.clients:  # papermill leaves its client open (not its manager)
                client.stop_channels()
            _close_thread_loop()
    try:
        executed = nbformat.read(output, as_version=4)
        drop_reads_cell(executed)
        strip_local_paths(executed, page, {entry: ".", data_dir: "data", root: "."})
        finish_notebook(executed, page)
        write_notebook(executed, output)
    except OSError as exc:
        raise PageFailed(f"{page.name}: {page.source}: {os_error(exc)}") from None
    return time.perf_counter() - start


INPUT_PREFIX = "review-input-"  # + the build's process id: a page's temporary folder


def remove_orphaned_inputs(folder: str | None = None) -> list[Path]:
    """Remove the temporary folders of pages whose build no longer runs; return them.

    A build killed outright (SIGKILL, the OOM killer) cannot remove the folder of a page it
    was running (the page's notebook, its kernel's connection file and sockets); the next
    build does, here. Each folder is named by its build's process id, and only those of
    processes that have ended are removed (another build may be running). ``folder`` is the
    temporary folder (default :func:`tempfile.gettempdir`). On Windows, where ``os.kill``
    cannot test a process, nothing is removed.
    """
    if sys.platform == "win32":
        return []
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{INPUT_PREFIX}*-*"):
        pid = path.name[len(INPUT_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or not path.is_dir():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except (OSError, OverflowError):  # runs, as another user; or not a process id
            continue
    return removed


# --- recording what a page reads (review.data.reads) -------------------------------------------
READS_TAG = "review-reads"
READS_CODE = "import review.data.reads\n\nreview.data.reads.start()"


def add_reads_cell(nb: nbformat.NotebookNode) -> None:
    """Put the cell that starts :mod:`review.data.reads` before the chapter's first cell."""

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


def _close_thread_loop() -> None:
    """Close the event loop jupyter-core keeps for this thread: page threads are reused and
    an unclosed loop leaks its self-pipe sockets (the next page gets a new loop)."""
    loop = ensure_event_loop()
    loop.close()
    asyncio.set_event_loop(None)


class _Manager(AsyncKernelManager):
    """An AsyncKernelManager that keeps the clients it makes, so that they can be closed."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.clients = []

    def client(self, **kwargs):
        made = super().client(**kwargs)
        self.clients.append(made)
        return made


def os_error(exc: OSError) -> str:
    """An operating system error in words: what failed, and on which file."""
    what = exc.strerror or type(exc).__name__
    return f"{what} ({exc.filename})" if exc.filename else what
