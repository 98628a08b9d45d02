"""Serve a model locally with ``mlflow models serve``, as the staging endpoint of a local run.

Runs the ``mlflow`` command that sits beside this Python interpreter (never imports mlflow) in
its own process group, on a free loopback port, with ``--env-manager local`` (the current
environment, no virtualenv build). :func:`serve` launches it and waits for ``/ping``, measuring
the cold start from launch to the first successful readiness check; :meth:`LocalServer.stop`
ends the whole process group (the CLI and the uvicorn it starts). :func:`fetch_example` downloads
only a model URI's input example (``mlflow artifacts download``), not the model.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from components import probe
from contracts import errors

__all__ = ["LocalServer", "fetch_example", "free_port", "launch", "mlflow_command", "serve"]

READY_PATH = "/ping"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def mlflow_command() -> Path:
    """The ``mlflow`` executable installed beside ``sys.executable`` (or on ``PATH``)."""
    beside = Path(sys.executable).parent / "mlflow"
    if beside.is_file():
        return beside
    found = shutil.which("mlflow")
    if found:
        return Path(found)
    raise errors.InputError(
        "the 'mlflow' command was not found beside this Python or on PATH; install signoff[local] "
        "(pip install 'signoff[local]') to serve models locally"
    )


@dataclass
class LocalServer:
    """A running ``mlflow models serve`` process; use as a context manager or call :meth:`stop`."""

    model_uri: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    launched_at: float
    """``time.monotonic()`` just before the process started."""
    log_path: Path
    cold_start_s: float | None = None
    """Seconds from launch to the first 200 on ``/ping``; none until ready (or if it never was)."""
    exit_code: int | None = None
    """The process's exit code if it ended on its own before it was ready."""
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)
    _log: str | None = field(default=None, repr=False)

    @property
    def ready(self) -> bool:
        return self.cold_start_s is not None

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's combined output."""
        text = self._log
        if text is None:
            try:
                text = self.log_path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, deadline_s: float) -> float | None:
        """Wait for ``/ping`` until ``deadline_s`` after launch; returns and records the cold start."""
        self.cold_start_s = probe.wait_ready(
            self.url, ready_path=READY_PATH, deadline_s=deadline_s, launched_at=self.launched_at,
            alive=self.alive,
        )  # fmt: skip
        if self.cold_start_s is None and not self.alive():
            self.exit_code = self.process.returncode
        return self.cold_start_s

    def stop(self, grace_s: float = 10.0) -> None:
        """End the server's whole process group (TERM, then KILL after ``grace_s``). Idempotent."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=grace_s)
        # uvicorn may outlive the CLI that launched it: sweep the group once more.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
            end = time.monotonic() + grace_s
            while time.monotonic() < end:  # until the group is gone (its port free again)
                os.killpg(self.process.pid, 0)
                time.sleep(0.05)
        if self._tmp is not None:
            self._log = self.log_tail(200)
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def launch(
    model_uri: str | Path, *, port: int | None = None, workers: int = 1, env: dict[str, str] | None = None
) -> LocalServer:
    """Start ``mlflow models serve`` for a model URI (a folder path, ``models:/NAME/VERSION``...).

    Args:
        model_uri: The model to serve; ``models:/`` and ``runs:/`` URIs use ``MLFLOW_TRACKING_URI``
            from ``env`` or this process's environment.
        port: Loopback port; default a free one.
        workers: uvicorn workers.
        env: Extra environment variables for the server.

    Returns:
        The handle, not yet waited for (see :meth:`LocalServer.wait_ready`).
    """
    uri = str(model_uri)
    if "://" not in uri and ":/" not in uri and not Path(uri).is_dir():
        raise errors.InputError(f"{uri}: not a model folder nor a model URI such as models:/NAME/VERSION")
    port = port or free_port()
    tmp = tempfile.TemporaryDirectory(prefix="signoff-serve-")
    log_path = Path(tmp.name) / "serve.log"
    cmd = [
        str(mlflow_command()), "models", "serve", "-m", uri, "-h", "127.0.0.1", "-p", str(port),
        "-w", str(workers), "--env-manager", "local",
    ]  # fmt: skip
    full_env = {**os.environ, **(env or {})}
    with log_path.open("wb") as log:
        launched_at = time.monotonic()
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=full_env,
            start_new_session=True,
        )  # fmt: skip
    return LocalServer(
        model_uri=uri, url=f"http://127.0.0.1:{port}", port=port, process=process,
        launched_at=launched_at, log_path=log_path, _tmp=tmp,
    )  # fmt: skip


def serve(
    model_uri: str | Path,
    *,
    deadline_s: float,
    port: int | None = None,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> LocalServer:
    """Launch ``mlflow models serve`` and wait until it answers ``/ping`` or the deadline passes.

    Args:
        model_uri: The model to serve (folder path or model URI).
        deadline_s: Longest cold start to wait for (the contract's ``max_cold_start``).
        port: Loopback port; default a free one.
        workers: uvicorn workers.
        env: Extra environment variables for the server.

    Returns:
        The running server with ``url`` and ``cold_start_s``. When it was not ready in time (or
        exited first) it is already stopped, ``cold_start_s`` is none and :meth:`LocalServer.log_tail`
        shows why.
    """
    server = launch(model_uri, port=port, workers=workers, env=env)
    try:
        if server.wait_ready(deadline_s) is None:
            server.stop()
    except BaseException:
        server.stop()
        raise
    return server


def fetch_example(
    model_uri: str, *, env: dict[str, str] | None = None, timeout_s: float = 300.0
) -> dict[str, Any]:
    """Download only the input example of a model URI (``models:/NAME/VERSION``, ``runs:/...``).

    Runs ``mlflow artifacts download`` for ``serving_input_example.json``, then
    ``input_example.json``, into a temporary folder (the model itself is not downloaded).

    Args:
        model_uri: The model's URI; a local folder is read in place.
        env: Extra environment (e.g. ``MLFLOW_TRACKING_URI``) for the ``mlflow`` command.
        timeout_s: Per download.

    Returns:
        The example as an MLflow scoring payload (see :func:`components.probe.load_example`).
    """
    if Path(model_uri).is_dir():
        return probe.load_example(Path(model_uri))
    full_env = {**os.environ, **(env or {})}
    why = ""
    with tempfile.TemporaryDirectory(prefix="signoff-example-") as tmp:
        for name in ("serving_input_example.json", "input_example.json"):
            cmd = [str(mlflow_command()), "artifacts", "download", "-u", f"{model_uri.rstrip('/')}/{name}",
                   "-d", tmp]  # fmt: skip
            try:
                done = subprocess.run(
                    cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=full_env,
                    timeout=timeout_s,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise errors.TemporaryError(
                    f"{model_uri}: downloading {name} took over {timeout_s:g}s"
                ) from None
            if done.returncode == 0 and (Path(tmp) / name).is_file():
                return probe.load_example(Path(tmp))
            why = (done.stderr.strip().splitlines() or [""])[-1]
    raise errors.InputError(
        f"{model_uri}: no input example could be downloaded (serving_input_example.json or "
        f"input_example.json){': ' + why if why else ''}; pass --example FILE"
    )
