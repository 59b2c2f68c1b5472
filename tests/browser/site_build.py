"""Build the book with the real pipeline (``python -m review build``) and serve it locally.

The browser tests and the offline link check share one build per test session: the
fixture data (``tests/fixtures/data_small``) with hostile text (:mod:`hostile`), built
into a temporary folder, never into the repository's ``_build``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from browser import hostile

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "data_small"
BUILD_TIMEOUT = 540  # seconds; a cold build should take well under two minutes


def tree_hash(root: Path) -> str:
    """SHA-256 over the relative paths and contents of every file under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_command(data_dir: Path, out: Path, root: Path = REPO) -> list[str]:
    """The command line of one book build."""
    return [
        sys.executable, "-m", "review", "build",
        "--data", str(data_dir), "--out", str(out), "--root", str(root),
    ]  # fmt: skip


def run_build(
    data_dir: Path, out: Path, root: Path = REPO, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run one build to completion; return the finished process (output captured)."""
    return subprocess.run(
        build_command(data_dir, out, root),
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )


def toc_pages(root: Path = REPO) -> list[str]:
    """HTML path (relative to the site) of every page in the expanded table of contents."""
    from review.pipeline import params

    toc = params.expand_toc(root, params.load_pages(root))
    docs = [toc["root"]]
    for part in toc.get("parts", []):
        docs += [entry["file"] for entry in part["chapters"]]
    return [f"{doc}.html" for doc in docs]


def outcome_pages(root: Path = REPO) -> dict[str, str]:
    """HTML path -> outcome code, for every page run with an ``outcome`` parameter."""
    from review.pipeline import params

    return {
        f"{page.docname}.html": page.parameters["outcome"]
        for page in params.load_pages(root)
        if "outcome" in page.parameters
    }


@dataclass
class BuiltSite:
    """A finished build: where it is, what it was built from, what it printed."""

    out: Path
    data: hostile.HostileData
    log: str
    seconds: float

    @property
    def html(self) -> Path:
        """The published site (``<out>/html`` resolved)."""
        return (self.out / "html").resolve()


def add_api_site(out: Path, root: Path = REPO) -> subprocess.CompletedProcess:
    """Build metaprop's API site and copy it into the book's site ``out/html`` as ``api/``.

    The second half of ``make book``, run through the Makefile itself (``make docs
    api-into-book``) with this interpreter and without the virtual-environment check.
    """
    return subprocess.run(
        [
            "make", "-s", "--no-print-directory", "-o", ".venv/.installed",
            "docs", "api-into-book",
            f"PY={sys.executable}", f"API_OUT={out / 'api'}", f"SITE={out / 'html'}",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )  # fmt: skip


def _build_hostile(base: Path) -> dict:
    """Build the book on a hostile copy of the fixture in ``base``, as ``make book`` does
    (the book, then the API site in its ``api/``); return what happened."""
    data = hostile.make(FIXTURE, base / "data")
    before = tree_hash(data.data_dir)
    start = time.perf_counter()
    proc = run_build(data.data_dir, base / "build")
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    error = ""
    if proc.returncode != 0:
        error = (
            f"the book build on the hostile fixture failed (exit {proc.returncode}, "
            f"{seconds:.0f} s):\n{log}"
        )
    elif tree_hash(data.data_dir) != before:
        error = f"the build modified its data folder {data.data_dir}"
    else:
        api = add_api_site(base / "build")
        if api.returncode != 0:
            error = (
                f"make docs api-into-book failed (exit {api.returncode}):\n{api.stdout}{api.stderr}"
            )
    return {
        "error": error,
        "log": log,
        "seconds": seconds,
        "authors": data.authors,
        "plain_author": list(data.plain_author),
    }


def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The session's build on the hostile fixture, made on first use and then reused.

    With pytest-xdist the workers share it: the first builds, the others wait on a lock.
    A failed build fails every test that needs it, with the build's output.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, shared by its workers
    base = root / "hostile-book"
    record = base / "build-record.json"
    with open(root / "hostile-book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.is_file():
            shutil.rmtree(base, ignore_errors=True)  # what a crashed attempt left
            base.mkdir()
            record.write_text(json.dumps(_build_hostile(base)), encoding="utf-8")
    info = json.loads(record.read_text(encoding="utf-8"))
    if info["error"]:
        pytest.fail(info["error"], pytrace=False)
    data = hostile.HostileData(base / "data", info["authors"], tuple(info["plain_author"]))
    return BuiltSite(base / "build", data, info["log"], info["seconds"])


class _Handler(SimpleHTTPRequestHandler):
    """Static files; records each request's path and status instead of logging to stderr."""

    requests: list[tuple[str, int]]

    def log_request(self, code="-", size="-"):  # noqa: ARG002 - base class signature
        self.requests.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, format, *args):  # noqa: A002 - base class signature
        pass


@dataclass
class Server:
    """A local HTTP server of one folder, on a free port of 127.0.0.1."""

    root: Path
    url: str = ""
    requests: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        handler = type("Handler", (_Handler,), {"requests": self.requests})
        self._httpd = ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(handler, directory=os.fspath(self.root))
        )
        self.url = f"http://127.0.0.1:{self._httpd.server_port}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()
