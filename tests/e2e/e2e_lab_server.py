"""A throwaway JupyterLab server on loopback for browser tests: random port, random token, isolated settings. It
serves Notebook 7 (`/tree`, `/notebooks/<path>`) too, with the same settings.

Everything it starts is shut down by `stop()` — politely through the REST API first, then by signals to the
server's process group and to every kernel it spawned (kernels run in sessions of their own, so killing the
server's group alone would orphan them). `stop()` reports any process that survived instead of hiding it.
"""

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psutil

__all__ = ["JupyterLabServer", "LabStartError"]

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0

_LAB_SETTINGS: dict[str, dict[str, Any]] = {
    # Render every cell: with windowing, outputs of cells scrolled out of view are not laid out.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # No "would you like news?" toast over the screenshots, no update check against the closed network.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


class LabStartError(RuntimeError):
    """JupyterLab did not come up; the message carries the tail of its log."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLabServer:
    """One `jupyter lab` process serving `root_dir`; `start()` waits for `/api/status`, `stop()` always cleans up."""

    def __init__(self, root_dir: Path, state_dir: Path, env: dict[str, str] | None = None) -> None:
        self.root_dir = root_dir
        self.state_dir = state_dir
        self._extra_env = env or {}
        self.port = _free_port()
        self.token = secrets.token_hex(24)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = state_dir / "jupyterlab.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._children: dict[int, psutil.Process] = {}

    def start(self) -> None:
        settings_dir = self.state_dir / "user-settings"
        for relative_path, settings in _LAB_SETTINGS.items():
            path = settings_dir / relative_path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings))
        env = {
            **os.environ,
            # The stock `python3` kernelspec runs `python` from PATH: make that the interpreter running the tests.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            # Nothing from the user's Jupyter setup (config, kernelspecs, settings) changes what the tests see.
            "JUPYTER_CONFIG_DIR": str(self.state_dir / "config"),
            "JUPYTER_DATA_DIR": str(self.state_dir / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.state_dir / "runtime"),
            "PYTHONUNBUFFERED": "1",
            **self._extra_env,
        }
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.user_settings_dir={settings_dir}",
            f"--LabApp.workspaces_dir={self.state_dir / 'workspaces'}",
            # Publishes `window.jupyterapp`, so the test can run JupyterLab commands instead of clicking menus.
            "--LabApp.expose_app_in_browser=True",
            # Notebook 7 (`/tree`, `/notebooks/<path>` on the same server) is an app of its own: same settings, same
            # `window.jupyterapp`.
            f"--JupyterNotebookApp.user_settings_dir={settings_dir}",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.root_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LabStartError(f"JupyterLab exited with code {self._process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if self.api("GET", "/api/status", timeout=2).get("started"):
                    return
            time.sleep(0.25)
        raise LabStartError(
            f"JupyterLab did not answer /api/status within {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        )

    def api(self, method: str, path: str, timeout: float = 10.0) -> Any:
        """Call the server's REST API with the token; returns the decoded JSON body (None when empty)."""
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method in ("POST", "PUT", "PATCH") else None,
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}?token={self.token}"

    def shutdown_kernels(self) -> None:
        """Stop every running kernel (between tests, so kernels do not pile up on a small machine)."""
        self._remember_processes()
        for kernel in self.api("GET", "/api/kernels"):
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def stop(self) -> list[str]:
        """Shut everything down, however the test ended; returns descriptions of processes that had to be killed."""
        if self._process is None:
            return []
        self._remember_processes()
        with contextlib.suppress(OSError):
            self.api("POST", "/api/shutdown", timeout=5)
        try:
            self._process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=STOP_TIMEOUT_S / 2)
                    break
        return self._kill_survivors()

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def _remember_processes(self) -> None:
        import psutil  # a dependency of ipykernel, so present wherever JupyterLab can run a kernel

        if self._process is None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self._process.pid).children(recursive=True):
                self._children.setdefault(child.pid, child)

    def _kill_survivors(self) -> list[str]:
        import psutil

        survivors = []
        for process in self._children.values():
            # `psutil.Process` remembers its start time, so a recycled pid is never mistaken for our child.
            with contextlib.suppress(psutil.NoSuchProcess):
                if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                    continue
                survivors.append(f"pid {process.pid}: {' '.join(process.cmdline())}")
                process.kill()
        return survivors
