"""Every fault of a build ends cleanly (issue 23): a kernel that exits or is killed, a page
past its time limit, SIGINT or SIGTERM of the build, a full disk.

Each test builds the two-page book ``tests/fixtures/tiny_book`` (its fault page misbehaves
as ``TINY_BOOK_FAULT`` says) on a copy of a finished build, and checks that the build ends
within a bounded time with a non-zero exit and ONE message naming the page or the cause (no
traceback), leaves no kernel running and no temporary file, and that the published site
stays byte-identical.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser.site_build import FIXTURE, REPO, tree_hash

pytestmark = pytest.mark.slow

TINY = REPO / "tests" / "fixtures" / "tiny_book"
BOUND = 120  # seconds: a fault must end the build well within this
# The build's message for a failed page; nothing else on standard error.
PAGE = "fault: chapters/fault.md"
# A disk that is full when the build writes the executed notebook or commits it to the cache.
DISK_FULL = """
import errno, sys
from review import cache, cli, execute

def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "injected-by-test")

if sys.argv[1] == "writer":
    execute.write_notebook = full
else:
    cache.Cache.commit = full
sys.exit(cli.main(sys.argv[2:]))
"""


def _command(book: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "review", "build",
        "--data", str(data), "--out", str(out), "--root", str(book), "--jobs", "2", *extra,
    ]  # fmt: skip


def _env(tmp: Path, **values: str) -> dict[str, str]:
    """The build's environment: private temporary and Jupyter runtime folders, to look in."""
    for name in ("tmp", "runtime"):
        (tmp / name).mkdir(exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "lib"), os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(tmp / "tmp"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        **values,
    }


def _published(out: Path) -> tuple[str, str]:
    link = out / "html"
    return os.readlink(link), tree_hash(link.resolve())


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A finished build of the tiny book: (data folder, build folder)."""
    root = tmp_path_factory.mktemp("tiny")
    data = root / "data"
    shutil.copytree(FIXTURE, data)
    out = root / "build"
    proc = subprocess.run(
        _command(TINY, data, out), env=_env(root), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return data, out


@pytest.fixture
def work(base, tmp_path):
    """A copy of the base build, and a copy of the book whose fault page must run again."""
    out = tmp_path / "build"
    shutil.copytree(base[1], out, symlinks=True)
    book = tmp_path / "book"
    shutil.copytree(TINY, book)
    with open(book / "chapters" / "fault.md", "a", encoding="utf-8") as fh:
        fh.write("\nThis line changes the page: it runs again.\n")
    return book, base[0], out


def _gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _assert_clean_end(proc, stderr: str, out: Path, before, tmp: Path, message: str, code=1):
    """One message, the exit status, the site as it was, no temporary file left."""
    assert proc.returncode == code, f"exit {proc.returncode}: {stderr}"
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("BUILD "), stderr
    assert all(line.startswith(("BUILD ", "  ")) for line in lines), (
        f"more than one message:\n{stderr}"
    )
    assert message in stderr, stderr
    assert _published(out) == before, "the published site changed"
    assert not list((tmp / "tmp").iterdir()), "temporary files left behind"
    assert not list((tmp / "runtime").iterdir()), "kernel connection files left behind"
    assert not (out / ".staging").exists()
    assert not [p for p in (out / ".cache").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "fault, extra, message",
    [
        ("exit", (), f"{PAGE}: its kernel died"),
        ("wait", ("--timeout", "3"), f"{PAGE}: a cell ran past the time limit of 3 s"),
    ],
    ids=["kernel-exits", "time-limit"],
)
def test_page_fault_fails_the_build_naming_the_page(work, tmp_path, fault, extra, message):
    book, data, out = work
    before = _published(out)
    marker = tmp_path / "kernel.pid"
    env = _env(tmp_path, TINY_BOOK_FAULT=fault, TINY_BOOK_MARKER=str(marker))
    start = time.monotonic()
    proc = subprocess.run(
        _command(book, data, out, *extra), env=env, capture_output=True, text=True, timeout=BOUND
    )
    assert time.monotonic() - start < BOUND
    _assert_clean_end(proc, proc.stderr, out, before, tmp_path, message)
    assert _gone(int(marker.read_text())), "the page's kernel is still running"


def _start(book, data, out, env) -> subprocess.Popen:
    return subprocess.Popen(
        _command(book, data, out),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _kernel_pid(marker: Path, proc: subprocess.Popen, timeout: float = 300) -> int:
    """The fault page's kernel, once it runs (it writes its pid to ``marker``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if marker.is_file() and marker.read_text():
            return int(marker.read_text())
        time.sleep(0.2)
    proc.kill()
    pytest.fail("the fault page never started: " + "".join(proc.communicate()))


@pytest.mark.parametrize(
    "target, signum, code, message",
    [
        ("kernel", signal.SIGKILL, 1, f"{PAGE}: its kernel died"),
        ("build", signal.SIGINT, 130, "BUILD INTERRUPTED"),
        ("build", signal.SIGTERM, 130, "BUILD INTERRUPTED"),
    ],
    ids=["kill-9-kernel", "sigint-build", "sigterm-build"],
)
def test_killed_kernel_or_build_ends_cleanly(work, tmp_path, target, signum, code, message):
    book, data, out = work
    before = _published(out)
    marker = tmp_path / "kernel.pid"
    env = _env(tmp_path, TINY_BOOK_FAULT="wait", TINY_BOOK_MARKER=str(marker))
    proc = _start(book, data, out, env)
    try:
        kernel = _kernel_pid(marker, proc)
        os.kill(kernel if target == "kernel" else proc.pid, signum)
        _, stderr = proc.communicate(timeout=BOUND)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    _assert_clean_end(proc, stderr, out, before, tmp_path, message, code)
    assert _gone(kernel), "the page's kernel is still running"


@pytest.mark.parametrize("where", ["writer", "cache"])
def test_full_disk_fails_the_build_naming_the_page(work, tmp_path, where):
    book, data, out = work
    before = _published(out)
    proc = subprocess.run(
        [sys.executable, "-c", DISK_FULL, where, *_command(book, data, out)[3:]],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    _assert_clean_end(proc, proc.stderr, out, before, tmp_path, f"{PAGE}: No space left on device")
