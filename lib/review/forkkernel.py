"""Start page kernels by forking a process that has imported what every page imports.

A page's kernel spends about a second and a half of CPU starting: Python, IPython and
ipykernel, then numpy, pandas, SciPy, metaprop and the review's modules, which every page
imports in its first cells. On two cores, thirty pages pay that thirty times. A *fork
server* (``python -m review.forkkernel FD``, one per build) imports all of it once;
each kernel is then a fork of it that goes on to start ipykernel exactly as
``python -m ipykernel_launcher -f <connection file>`` would. Nothing of a page runs in the
server, so every kernel starts from the same state, as a new process would.

The build starts the server (:func:`serving`) and tells its workers the server's socket
(:func:`use_server`). :class:`ForkProvisioner` is the jupyter_client kernel provisioner
(entry point ``review-fork`` of ``jupyter_client.kernel_provisioners``) that asks that
server for a kernel, and :func:`kernel_manager` gives a KernelManager that uses it. Where
no server is known, or it does not answer, the kernel is started as a new process, as
jupyter_client does.

The server imports nothing that starts a thread (OpenBLAS is held to one thread, which is
also what three kernels sharing two cores want), and it imports no pyplot: the inline
backend hooks into the kernel's own shell, so pages import pyplot themselves. Settings
that ipykernel and matplotlib read when they are imported (the backend, the debugger's
switch) are set in the server as a kernel's environment has them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# imported by the server before it forks: what the pages import in their first cells
WARM = (
    "ipykernel.kernelapp",
    "numpy",
    "pandas",
    "scipy.special",
    "scipy.optimize",
    "matplotlib",
    "metaprop",
    "review.analysis",
    "review.book",
    "review.data",
    "review.plan",
)
PROVISIONER = "review-fork"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
SOCKET_NAME = "fork.sock"
REQUEST = {"connection_file", "cwd", "env"}

_socket: str | None = None  # the server this process asks for kernels (use_server)


@dataclass(frozen=True)
class Server:
    """A running fork server: its socket and its process."""

    path: str
    process: subprocess.Popen


@contextlib.contextmanager
def serving() -> Iterator[Server]:
    """Run a fork server for the duration of the block.

    The server binds its socket at once and imports :data:`WARM` while the caller goes on
    (a request made meanwhile waits). Leaving the block stops it; the kernels it forked
    end with it (they watch their parent).
    """
    folder = tempfile.mkdtemp(prefix="review-fork-")
    path = os.path.join(folder, SOCKET_NAME)
    # bound and listening here, before the server starts: a request never finds no socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(64)
        # as the kernel's environment has it when ipykernel and its debugger are imported
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "review.forkkernel", str(listener.fileno())],
            stdin=subprocess.PIPE,
            env=env,
            pass_fds=[listener.fileno()],
        )
    try:
        yield Server(path, proc)
    finally:
        proc.stdin.close()  # the server's signal to stop
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def use_server(path: str | None) -> None:
    """Have this process's kernels forked by the server at ``path`` (None: new processes)."""
    global _socket
    _socket = path


def fork(connection_file: str, cwd: str, env: dict[str, str]) -> int | None:
    """A kernel forked by the server; its pid, or None when no server answers."""
    if _socket is None:
        return None
    request = json.dumps({"connection_file": connection_file, "cwd": cwd, "env": env})
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(120)  # the server may still be importing
            conn.connect(_socket)
            conn.sendall(request.encode() + b"\n")
            with conn.makefile() as reader:
                answer = reader.readline()
        return int(json.loads(answer)["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ForkedProcess:
    """What jupyter_client needs of a ``Popen`` for a kernel that is not our child.

    The server reaps its children; a kernel has ended when its pid is gone. The exit code
    is not known here and is reported as 0 (-9 after :meth:`kill`).
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self._killed = False

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                with open(f"/proc/{self.pid}/stat") as fh:
                    state = fh.read().rpartition(")")[2].split()[0]
                alive = state not in ("Z", "X")
            except (OSError, IndexError):
                alive = False
            if not alive:
                self.returncode = -signal.SIGKILL if self._killed else 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self._killed = True
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _provisioner_class():
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        """Kernels forked by the fork server; new processes where none answers."""

        async def launch_kernel(self, cmd: list[str], **kwargs: Any):
            pid = None
            if "-f" in cmd:
                env = dict(kwargs.get("env") or os.environ)
                cwd = str(kwargs.get("cwd") or os.getcwd())
                pid = fork(cmd[cmd.index("-f") + 1], cwd, env)
            if pid is None:
                return await super().launch_kernel(cmd, **kwargs)
            self.process = ForkedProcess(pid)
            self.pid = self.pgid = pid  # the kernel leads a session of its own
            self.cwd = kwargs.get("cwd")
            return self.connection_info

    return ForkProvisioner


_provisioner: type | None = None


def __getattr__(name: str):
    # the provisioner class is made on first use: importing this module (the server, the
    # build) need not import jupyter_client
    global _provisioner
    if name == "ForkProvisioner":
        if _provisioner is None:
            _provisioner = _provisioner_class()
        return _provisioner
    raise AttributeError(name)


@functools.cache  # read once per process: nothing is installed while a build runs
def _registered() -> bool:
    """True when the provisioner's entry point is installed (``pip install -e lib/review``)."""
    from importlib.metadata import entry_points

    return bool(entry_points(group="jupyter_client.kernel_provisioners", name=PROVISIONER))


def kernel_manager(kernel_name: str, **kwargs):
    """A KernelManager for ``kernel_name`` whose kernels come from the fork server."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    class Specs(KernelSpecManager):
        def get_kernel_spec(self, name):
            spec = super().get_kernel_spec(name)
            provisioner = {"provisioner_name": PROVISIONER}
            spec.metadata = {**spec.metadata, "kernel_provisioner": provisioner}
            return spec

    if _socket is None or not _registered():
        return KernelManager(kernel_name=kernel_name, **kwargs)
    return KernelManager(kernel_name=kernel_name, kernel_spec_manager=Specs(), **kwargs)


def _child(request: dict) -> None:
    """In the forked process: become the kernel ``ipykernel_launcher`` would start."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the server's stdin is the build's signal
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # the kernel ends if the server does (ipykernel read JPY_PARENT_PID when the server
    # imported it, so it is given on the command line)
    parent = str(os.getppid())
    os.environ["JPY_PARENT_PID"] = parent
    sys.argv = [
        sys.executable,
        "-f",
        request["connection_file"],
        f"--IPKernelApp.parent_handle={parent}",
    ]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def serve(listening: int) -> int:
    """The fork server: import :data:`WARM`, then fork a kernel for each request on the
    socket ``listening`` (a file descriptor), until its standard input closes."""
    import importlib

    listener = socket.socket(fileno=listening)
    # as `python -m ipykernel_launcher` does: no start folder on the path (IPython puts the
    # kernel's working directory first when its shell starts)
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    # matplotlib reads its backend when it is imported: the one ipykernel sets for a kernel
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    events.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _ in events.select():
            if key.fileobj is sys.stdin:
                if not sys.stdin.readline():  # closed: the build is done
                    # nothing to flush or close: skip tearing down numpy, pandas & co.
                    # (a third of a second the build would wait for)
                    os._exit(0)
                continue
            conn, _ = listener.accept()
            with conn:
                try:
                    with conn.makefile() as reader:
                        request = json.loads(reader.readline())
                    if not isinstance(request, dict) or {*request} != REQUEST:
                        raise ValueError(f"a request has the keys {sorted(REQUEST)}")
                except ValueError as exc:  # answered, and the server goes on
                    conn.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
                    continue
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    conn.close()
                    _exit_as_kernel(request)
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _exit_as_kernel(request: dict) -> None:
    """In the forked process: run the kernel, then exit (never return to the server loop)."""
    code = 0
    try:
        _child(request)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # whatever happens, the child never returns to the loop
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
