"""Start page kernels by forking a process that has imported what every page imports.

A page's kernel spends about a second and a half of CPU starting: Python, IPython and
ipykernel, then numpy, pandas, SciPy, metaprop and the review's modules, which every page
imports in its first cells. On two cores, thirty pages pay that thirty times. A *fork
server* (``python -m review.forkkernel``, one per build worker) imports all of it once;
each kernel is then a fork of it that goes on to start ipykernel exactly as
``python -m ipykernel_launcher -f <connection file>`` would. Nothing of a page runs in the
server, so every kernel starts from the same state, as a new process would.

:class:`ForkProvisioner` is the jupyter_client kernel provisioner (entry point
``review-fork`` of ``jupyter_client.kernel_provisioners``) that asks the server of its
process for a kernel; :func:`kernel_manager` gives a KernelManager that uses it. Where no
server runs (it was not started, or it died), the provisioner starts the kernel as a new
process, like jupyter_client's own.

The server imports nothing that starts a thread (OpenBLAS is held to one thread, which is
also what three kernels sharing two cores want), and it imports no pyplot: the inline
backend must hook into the kernel's own shell, so pages import pyplot themselves.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
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

_server: ForkServer | None = None


class ForkServer:
    """The fork server of this process, started by :meth:`start`."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lock = threading.Lock()

    @classmethod
    def start(cls) -> ForkServer:
        """Start the server (it imports :data:`WARM` while the caller goes on)."""
        # as the kernel's environment has it when ipykernel and its debugger are imported
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "review.forkkernel"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        return cls(proc)

    def fork(self, connection_file: str, cwd: str, env: dict[str, str]) -> int | None:
        """A new kernel, forked; its pid, or None when the server does not answer."""
        request = json.dumps({"connection_file": connection_file, "cwd": cwd, "env": env})
        with self.lock:
            if self.proc.poll() is not None:
                return None
            try:
                self.proc.stdin.write(request + "\n")
                self.proc.stdin.flush()
                answer = self.proc.stdout.readline()
            except (OSError, ValueError):
                return None
        try:
            return int(json.loads(answer)["pid"])
        except (ValueError, KeyError, TypeError):
            return None

    def stop(self) -> None:
        """End the server (its kernels end with it: they watch their parent)."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server() -> None:
    """Start this process's fork server (a build worker does, when it starts)."""
    global _server
    if _server is None:
        _server = ForkServer.start()


def stop_server() -> None:
    """Stop this process's fork server, if it runs."""
    global _server
    if _server is not None:
        _server.stop()
        _server = None


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
        """Kernels forked by this process's fork server; new processes without one."""

        async def launch_kernel(self, cmd: list[str], **kwargs: Any):
            pid = None
            if _server is not None and "-f" in cmd:
                env = dict(kwargs.get("env") or os.environ)
                cwd = str(kwargs.get("cwd") or os.getcwd())
                pid = _server.fork(cmd[cmd.index("-f") + 1], cwd, env)
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
            spec.metadata = {**spec.metadata, "kernel_provisioner": {"provisioner_name": PROVISIONER}}
            return spec

    if _server is None or not _registered():
        return KernelManager(kernel_name=kernel_name, **kwargs)
    return KernelManager(kernel_name=kernel_name, kernel_spec_manager=Specs(), **kwargs)


def _child(request: dict) -> None:
    """In the forked process: become the kernel ``ipykernel_launcher`` would start."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)  # the server's stdout is its channel to the worker
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


def serve() -> int:
    """The fork server: import :data:`WARM`, then fork a kernel per request on stdin."""
    import importlib
    from pathlib import Path

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
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
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
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
