"""A local MLflow tracking server for the embedded default (``signoff demo``, ``signoff run``).

Runs the ``mlflow server`` command that sits beside this interpreter (full ``mlflow`` installed)
with a sqlite registry and served artifacts under one working folder, bound to 127.0.0.1 on a free
port, ``--workers 1``. Reusing the folder reuses the registry: a second demo run finds its models.
This module starts and stops a process; it never imports mlflow.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from components import http_client, procenv
from contracts.errors import TemporaryError

START_DEADLINE_S = 300.0
"""Generous: on a busy 2-core machine `mlflow server` takes from 10 s to over a minute to start."""


def mlflow_executable() -> str:
    """The ``mlflow`` command of this environment (beside ``sys.executable`` first, then PATH)."""
    return procenv.executable(
        "mlflow",
        hint="install signoff with the 'local' extra (pip install 'signoff[local]') "
        "or set MLFLOW_TRACKING_URI to a running server",
    )


@dataclass
class TrackingServer:
    """A running local ``mlflow server``; ``stop()`` ends it (and its workers)."""

    workdir: Path
    url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    started_in_s: float = 0.0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def backend_uri(self) -> str:
        return f"sqlite:///{self.workdir / 'mlflow.db'}"

    def ui_command(self) -> str:
        """The ``mlflow ui`` line that shows this store, pasteable into a fresh shell (the full path
        of ``mlflow``, and the artifact root its model versions' ``mlflow-artifacts:`` URIs need)."""
        return (
            f"{shlex.quote(mlflow_executable())} ui --backend-store-uri {shlex.quote(self.backend_uri)} "
            f"--artifacts-destination {shlex.quote(str(self.workdir / 'artifacts'))} --port 5000"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return http_client.fetch(f"{url}/health", timeout=2).status == 200
    except OSError:
        return False


def _webhook_key(workdir: Path) -> str:
    path = workdir / "webhook-secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip()


def start(workdir: Path, *, deadline_s: float = START_DEADLINE_S) -> TrackingServer:
    """Start ``mlflow server`` with a sqlite registry under ``workdir``; wait until it is healthy."""
    workdir = workdir.resolve()
    (workdir / "artifacts").mkdir(parents=True, exist_ok=True)
    port = http_client.free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "mlflow-server.log"
    env = procenv.child_env()
    env.pop("MLFLOW_TRACKING_URI", None)
    # MLflow 3's job runner starts about a dozen worker processes nothing here uses; on 2 cores it
    # doubles the server's start-up time.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    # Without this key MLflow webhook deliveries fail silently. It encrypts webhook secrets in the
    # store, so it is kept beside the store (mode 0600) and reused when the folder is reused.
    env.setdefault("MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY", _webhook_key(workdir))
    cmd = [
        mlflow_executable(), "server",
        "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination", str(workdir / "artifacts"),
        "--serve-artifacts",
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    started = time.perf_counter()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=workdir
        )
    server = TrackingServer(workdir=workdir, url=url, process=proc, log_path=log_path, env=env)
    while time.perf_counter() - started < deadline_s:
        if proc.poll() is not None:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            raise TemporaryError(
                procenv.exit_report(
                    "mlflow server", proc.returncode, time.perf_counter() - started, text, log_path
                )
            )
        if _healthy(url):
            server.started_in_s = time.perf_counter() - started
            return server
        time.sleep(0.25)
    server.stop()
    raise TemporaryError(f"mlflow server did not become healthy within {deadline_s:.0f}s; see {log_path}")
