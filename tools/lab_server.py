"""A headless JupyterLab server at the repository root, for the live browser test and benchmark.

    with lab_server() as url:   # http://127.0.0.1:<free port>
        ...

The server is the one ``./course.sh lab`` opens (same environment, same settings: MyST chapters
open as notebooks), started with no token on a free port bound to 127.0.0.1, with its own
temporary Jupyter config, runtime, data, checkpoint and user-settings folders so nothing of the
user's (``~/.jupyter``, user-installed extensions, workspaces) leaks in or is written. Autosave
is off in those user settings, so running a chapter never writes to its ``.md`` file. The server
runs in its own process group and is always shut down (its kernels with it) when the block ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-3000:]
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    tail = log.read_text()[-3000:]
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{tail}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def lab_server(root: Path = ROOT, timeout: float = 120.0) -> Iterator[str]:
    """Start JupyterLab on 127.0.0.1 with no token; yield its base URL; always shut it down."""
    lab = Path(sys.executable).with_name("jupyter-lab")
    with tempfile.TemporaryDirectory(prefix="course-lab-") as tmp:
        tmp = Path(tmp)
        settings = tmp / "user-settings" / "@jupyterlab" / "docmanager-extension"
        settings.mkdir(parents=True)
        (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTER_DATA_DIR": str(tmp / "data"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        env.pop("JUPYTER_PATH", None)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = tmp / "server.log"
        cmd = [
            str(lab), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
            f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={tmp / 'user-settings'}",
            f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
            # No network: no extension manager queries, no news.
            "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
            # Checkpoints (copies made when a file is opened) go to the temporary folder too.
            f"--FileCheckpoints.checkpoint_dir={tmp / 'checkpoints'}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
            cmd.append("--allow-root")
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    cwd=root, start_new_session=True)
        try:
            _wait_until_up(url, proc, log, timeout)
            yield url
        finally:
            _stop(proc)
