"""Render the executed pages with Jupyter Book and publish the site atomically.

Sphinx runs in a child process (``python -m review.site SRC OUT DOCTREES``) so that its
global state and its failures stay out of the build process. Its doctrees persist between
builds: only the pages whose notebook changed are read again. After a failed render they
are thrown away, so the warnings of a page are raised again on the next build rather than
hidden by Sphinx's incremental reading.

The published site is ``<build>/html``, a symbolic link to ``<build>/sites/<id>``; a new
site replaces the link in one ``rename``, so a reader (or a deploy step) sees either the
old site or the new one, never a mixture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def render(src: Path, out: Path, doctrees: Path) -> tuple[int, str]:
    """Run the strict Jupyter Book HTML build of ``src`` into ``out``.

    Returns
    -------
    (int, str)
        Exit status and Sphinx's warnings and errors.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "review.site", str(src), str(out), str(doctrees)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        shutil.rmtree(doctrees, ignore_errors=True)
    return proc.returncode, proc.stderr.strip()


def publish(new_site: Path, link: Path) -> None:
    """Point ``link`` (e.g. ``_build/html``) at ``new_site`` in one atomic rename.

    A real folder left at ``link`` by an earlier ``jb build`` is moved beside the new sites
    first. Older sites are removed once the link points at the new one.
    """
    sites = new_site.parent
    if link.exists() and not link.is_symlink():
        os.replace(link, sites / f"legacy-{os.getpid()}")
    tmp_link = link.with_name(f".{link.name}.new")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(os.path.relpath(new_site, link.parent))
    os.replace(tmp_link, link)
    for old in sites.iterdir():
        if old != new_site:
            shutil.rmtree(old, ignore_errors=True)


def _main(src: str, out: str, doctrees: str) -> int:
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


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:4]))
