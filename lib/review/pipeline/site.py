"""Render the executed pages with Jupyter Book and publish the site atomically.

Sphinx runs in a child process (:class:`Renderer`, ``python -m review.pipeline.site``) so that its
global state and its failures stay out of the build process; the build starts it while
pages are still executing, so that its imports are done by the time the pages are. Its
doctrees persist between builds: only the pages whose notebook changed are read again.
After a failed render they are thrown away, so the warnings of a page are raised again on
the next build rather than hidden by Sphinx's incremental reading.

The published site is ``<build>/html``, a symbolic link to ``<build>/sites/<id>``; a new
site replaces the link in one ``rename``, so a reader (or a deploy step) sees either the
old site or the new one, never a mixture. The site it replaced is removed by the next
build, while that build's pages execute, not on the way out of this one.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from pygments.styles import get_all_styles

# Folders myst-nb keeps beside the site it renders (the outputs of the notebooks it read):
# Sphinx's saved state points at them, so they outlive each site.
RENDER_STATE = frozenset({"jupyter_execute", ".jupyter_cache"})


class Renderer:
    """A Sphinx child process, started early, that renders when it is told where.

    It imports Jupyter Book, Sphinx and the book's extensions as soon as it starts (most of
    a second), while the build is still executing pages, then waits for one request on its
    standard input. :meth:`render` sends it; :meth:`cancel` (or leaving a ``with`` block
    without rendering) ends it with nothing written.
    """

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "review.pipeline.site", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def render(self, src: Path, out: Path, doctrees: Path) -> tuple[int, str]:
        """Run the strict Jupyter Book HTML build of ``src`` into ``out``.

        Returns
        -------
        (int, str)
            Exit status and Sphinx's warnings and errors. After a failure the doctrees are
            removed, so that the next build reads every page (and reports its warnings) again.
        """
        request = json.dumps({"src": str(src), "out": str(out), "doctrees": str(doctrees)})
        _, errors = self.proc.communicate(request + "\n")
        if self.proc.returncode != 0:
            shutil.rmtree(doctrees, ignore_errors=True)
        return self.proc.returncode, errors.strip()

    def cancel(self) -> None:
        """End the child without rendering (no request: it exits as soon as it reads EOF)."""
        if self.proc.poll() is None:
            try:
                self.proc.communicate("", timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()


def publish(new_site: Path, link: Path) -> None:
    """Point ``link`` (e.g. ``_build/html``) at ``new_site`` in one atomic rename.

    A real folder left at ``link`` by an earlier ``jb build`` is moved beside the new sites
    first. The site the link pointed at stays until :func:`superseded` lists it for removal
    (by the next build, while its pages execute).
    """
    sites = new_site.parent
    if link.exists() and not link.is_symlink():
        os.replace(link, sites / f"legacy-{os.getpid()}")
    tmp_link = link.with_name(f".{link.name}.new")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(os.path.relpath(new_site, link.parent))
    os.replace(tmp_link, link)


def superseded(sites: Path, link: Path) -> list[Path]:
    """The site folders under ``sites`` that ``link`` does not point at (earlier sites and
    the remains of interrupted builds), not the render state beside them."""
    if not sites.is_dir():
        return []
    current = link.resolve() if link.is_symlink() else None
    return [
        folder
        for folder in sites.iterdir()
        if folder != current and folder.name not in RENDER_STATE
    ]


def remove(folders: list[Path]) -> None:
    """Remove ``folders`` (whatever of them still exists)."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


# Modules a render imports, most of them while Sphinx sets up its extensions: Sphinx's
# built-in ones and those Jupyter Book and the book's _config.yml add.
PRELOAD = (
    "jupyter_book.sphinx",
    "myst_nb.sphinx_ext",
    "sphinx_book_theme",
    "sphinx_design.extension",
    "sphinx_external_toc.events",
    "sphinxcontrib.bibtex",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
)


def _preload() -> None:
    """Import what a render needs before it is asked (an optimisation only: a module that
    fails to import here is imported, and reported, by the render itself)."""
    # lazy: Sphinx takes about 0.5 s to import; only a render needs it, not a build that finds
    # nothing to do
    from sphinx.application import builtin_extensions

    for name in (*PRELOAD, *builtin_extensions):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # the theme lists pygments' styles when it writes its CSS: pygments reads every
    # package's entry points for that once per process (a fifth of a second), now
    list(get_all_styles())


def _render(src: str, out: str, doctrees: str) -> int:
    # lazy: jupyter_book.sphinx takes about 1 s to import; only a render needs it
    from jupyter_book.sphinx import build_sphinx

    src_path = Path(src)
    result = build_sphinx(
        src_path,
        Path(out),
        noconfig=True,
        path_config=str(src_path / "_config.yml"),
        confoverrides={
            "external_toc_path": (src_path / "_toc.yml").as_posix(),
            "nitpicky": True,
            "latex_individualpages": False,
        },
        doctreedir=doctrees,
        warningiserror=True,
        keep_going=True,
        quiet=True,
    )
    return result if isinstance(result, int) else 1


def _end_with(build: int | None, doctrees: list[str]) -> None:
    """Exit as soon as the build (process ``build``) has ended, as a kernel does (ipykernel's
    parent poller): a build killed outright (SIGKILL) cannot end this process, which would
    render on for nothing. The doctrees of an unfinished render (``doctrees``) go first,
    as when the build is interrupted; the half site is removed by the next build."""

    def watch() -> None:
        while os.getppid() == build:
            time.sleep(1.0)
        for folder in doctrees:
            shutil.rmtree(folder, ignore_errors=True)
        os._exit(1)

    if build is not None:
        threading.Thread(target=watch, name="parent-poller", daemon=True).start()


def _serve(build: int | None = None) -> int:
    """The child of :class:`Renderer` (started by the process ``build``): preload, then
    render the one request on stdin."""
    doctrees: list[str] = []
    _end_with(build, doctrees)
    _preload()
    request = sys.stdin.readline()
    if not request.strip():  # cancelled: the build stopped before it had a site to render
        return 0
    doctrees.append(json.loads(request)["doctrees"])
    return _render(**json.loads(request))


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else None))
