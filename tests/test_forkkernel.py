"""Page kernels forked from a warm server (review.forkkernel) behave as new processes do."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from review import execute, forkkernel, params, release

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "data_small"


@pytest.fixture
def server():
    with forkkernel.serving() as running:
        forkkernel.use_server(running.path)
        yield running
    forkkernel.use_server(None)


def _gone(pid: int, within: float = 15.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if forkkernel.ForkedProcess(pid).poll() is not None:
            return True
        time.sleep(0.1)
    return False


def _run(km, code: str) -> str:
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(code, timeout=60, store_history=False)
        assert reply["content"]["status"] == "ok", reply["content"]
        return reply
    finally:
        client.stop_channels()


def test_without_a_server_kernels_are_new_processes():
    forkkernel.use_server(None)
    km = forkkernel.kernel_manager("python3")
    assert type(km.kernel_spec_manager).__name__ == "KernelSpecManager"


def _seen(km, folder: Path) -> dict:
    """Working folder, matplotlib backend and module path of the kernel of ``km``."""
    out = folder / "seen.json"
    _run(
        km,
        "import json, os, sys, matplotlib\n"
        "json.dump({'cwd': os.getcwd(), 'backend': matplotlib.get_backend(), "
        f"'path': sys.path}}, open({str(out)!r}, 'w'))",
    )
    return json.loads(out.read_text())


def test_a_forked_kernel_is_set_up_as_a_new_one_and_ends_when_shut_down(server, tmp_path):
    from jupyter_client.manager import KernelManager

    new = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "new"))
    new.start_kernel(cwd=str(tmp_path))
    try:
        expected = _seen(new, tmp_path)
    finally:
        new.shutdown_kernel(now=True)
    km = forkkernel.kernel_manager("python3", transport="ipc", ip=str(tmp_path / "kernel"))
    km.start_kernel(cwd=str(tmp_path))
    try:
        assert isinstance(km.provisioner.process, forkkernel.ForkedProcess)
        pid = km.provisioner.process.pid
        with open(f"/proc/{pid}/stat") as fh:  # a child of the server, not of this process
            assert int(fh.read().rpartition(")")[2].split()[1]) == server.process.pid
        seen = _seen(km, tmp_path)
    finally:
        km.shutdown_kernel(now=True)
    assert seen == expected
    assert seen["cwd"] == str(tmp_path)
    assert seen["backend"] == forkkernel.INLINE_BACKEND
    assert _gone(pid)


def test_kernels_end_when_their_server_does(server, tmp_path):
    km = forkkernel.kernel_manager("python3", transport="ipc", ip=str(tmp_path / "kernel"))
    km.start_kernel(cwd=str(tmp_path))
    pid = km.provisioner.process.pid
    _run(km, "x = 1")
    server.process.stdin.close()  # as the build does when it ends
    server.process.wait(timeout=30)
    assert _gone(pid), "the kernel outlived its fork server"
    km.cleanup_resources()


def test_a_dead_server_falls_back_to_a_new_process(server, tmp_path):
    server.process.kill()
    server.process.wait()
    km = forkkernel.kernel_manager("python3", transport="ipc", ip=str(tmp_path / "kernel"))
    km.start_kernel(cwd=str(tmp_path))
    try:
        assert not isinstance(km.provisioner.process, forkkernel.ForkedProcess)
        _run(km, "y = 2")
    finally:
        km.shutdown_kernel(now=True)


def test_a_malformed_request_is_answered_and_the_server_goes_on(server, tmp_path):
    import socket

    for bad in (b"not json\n", b'{"cwd": "/"}\n'):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(server.path)
            conn.sendall(bad)
            with conn.makefile() as reader:
                assert "error" in json.loads(reader.readline())
    km = forkkernel.kernel_manager("python3", transport="ipc", ip=str(tmp_path / "kernel"))
    km.start_kernel(cwd=str(tmp_path))
    try:
        assert isinstance(km.provisioner.process, forkkernel.ForkedProcess)
    finally:
        km.shutdown_kernel(now=True)


def _outputs(notebook: Path) -> list:
    nb = json.loads(notebook.read_text())
    return [
        (c.get("execution_count"), c.get("outputs"))
        for c in nb["cells"]
        if c["cell_type"] == "code"
    ]


@pytest.mark.slow
def test_a_page_is_the_same_from_a_forked_kernel_as_from_a_new_one(tmp_path):
    page = next(p for p in params.load_pages(ROOT) if p.name == "outcome[cr]")
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data)
    validated = release.data_hash(data, short=False)
    entries = {}
    for mode in ("new", "forked"):
        entries[mode] = tmp_path / mode
        entries[mode].mkdir()
        with forkkernel.serving() as running:
            forkkernel.use_server(running.path if mode == "forked" else None)
            try:
                execute.execute_page(str(ROOT), page, str(data), str(entries[mode]), validated)
            finally:
                forkkernel.use_server(None)
    new, forked = entries["new"], entries["forked"]
    assert _outputs(forked / "index.ipynb") == _outputs(new / "index.ipynb")
    figures = sorted(p.name for p in new.glob("*.png"))
    assert figures, "the page drew no figure"
    assert sorted(p.name for p in forked.glob("*.png")) == figures
    for name in figures:  # PNGs carry no date: the same bytes
        assert (forked / name).read_bytes() == (new / name).read_bytes(), name
    assert sorted(os.listdir(forked)) == sorted(os.listdir(new))
