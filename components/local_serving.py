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
import importlib.util
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from components import http_client, probe, procenv
from contracts import errors

__all__ = ["LocalServer", "fetch_example", "launch", "mlflow_command", "serve"]

READY_PATH = "/ping"


def mlflow_command() -> Path:
    """The ``mlflow`` executable installed beside ``sys.executable`` (or on ``PATH``)."""
    return Path(
        procenv.executable(
            "mlflow", hint="install signoff[local] (pip install 'signoff[local]') to serve models locally"
        )
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
    exited_after_s: float | None = None
    """Seconds from launch to when the process was seen to have ended on its own."""
    keep_log: bool = False
    """Whether ``log_path`` is the run's (kept) rather than a temporary file."""
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)
    _log: str | None = field(default=None, repr=False)

    @property
    def ready(self) -> bool:
        return self.cold_start_s is not None

    def alive(self) -> bool:
        """Whether the server process is still running (and, the first time it is not, when it ended)."""
        code = self.process.poll()
        if code is None:
            return True
        if self.exit_code is None:
            self.exit_code = code
            self.exited_after_s = time.monotonic() - self.launched_at
        return False

    def exit_reason(self, lines: int = 20) -> str | None:
        """``mlflow models serve exited with code 127 after 2.1 s``, where its log is, and the log's
        last ``lines`` lines; none while it runs or when it was stopped by us."""
        if self.exit_code is None:
            return None
        return procenv.exit_report(
            "mlflow models serve", self.exit_code, self.exited_after_s or 0.0, self.log_tail(lines),
            self.log_path if self.keep_log else None, lines=lines,
        )  # fmt: skip

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
        if self.cold_start_s is None:
            self.alive()  # records the exit code and time when it ended on its own
        return self.cold_start_s

    def stop(self, grace_s: float = 10.0) -> None:
        """End the server's whole process group (TERM, then KILL after ``grace_s``). Idempotent."""
        self.alive()  # an exit on its own is recorded before we end anything
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
            while time.monotonic() < end and _group_runs(self.process.pid):  # until its port is free
                time.sleep(0.02)
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


def _group_runs(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (and may hold its port).

    A killed process is a zombie until its parent reaps it; the orphaned uvicorn's parent is the
    machine's init, which may take a second or more. A zombie holds no port and runs nothing, but
    ``killpg(pgid, 0)`` still finds it: with ``/proc`` (Linux) the group's zombies do not count. A
    process counts as gone only when every thread of it is: a multi-threaded process's main thread
    turns zombie while its other threads still exit, and those still hold its sockets.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    proc = Path("/proc")
    if not (proc / "self" / "stat").is_file():
        return True  # no /proc here: the signal is all there is to ask
    for stat in proc.glob("[0-9]*/stat"):
        fields = _stat(stat)
        if fields is None or int(fields[2]) != pgid:
            continue
        if fields[0] not in _DEAD or any(
            (task := _stat(t)) is not None and task[0] not in _DEAD for t in stat.parent.glob("task/*/stat")
        ):
            return True
    return False


_DEAD = ("Z", "X")


def _stat(path: Path) -> list[str] | None:
    """``state ppid pgrp ...`` of a ``/proc/PID/stat`` (after ``pid (comm)``: comm may hold spaces and
    parentheses); None when the process or thread is gone meanwhile."""
    try:
        return path.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def missing_runtime() -> list[str]:
    """The packages ``mlflow models serve`` needs that this environment lacks (empty: it can serve).

    mlflow-skinny (the step image's MLflow) has the ``mlflow`` command but not what its scoring server
    imports: pandas and numpy for the payload, uvicorn and FastAPI for the server.
    """
    return [m for m in ("numpy", "pandas", "uvicorn", "fastapi") if importlib.util.find_spec(m) is None]


def launch(
    model_uri: str | Path,
    *,
    port: int | None = None,
    workers: int = 1,
    env: dict[str, str] | None = None,
    log_dir: str | Path | None = None,
) -> LocalServer:
    """Start ``mlflow models serve`` for a model URI (a folder path, ``models:/NAME/VERSION``...).

    Args:
        model_uri: The model to serve; ``models:/`` and ``runs:/`` URIs use ``MLFLOW_TRACKING_URI``
            from ``env`` or this process's environment.
        port: Loopback port; default a free one.
        workers: uvicorn workers.
        env: Extra environment variables for the server.
        log_dir: Keep the server's log as ``mlflow-models-serve.log`` in this folder (the run's);
            default a temporary file removed on :meth:`LocalServer.stop`.

    Returns:
        The handle, not yet waited for (see :meth:`LocalServer.wait_ready`).
    """
    uri = str(model_uri)
    if "://" not in uri and ":/" not in uri and not Path(uri).is_dir():
        raise errors.InputError(f"{uri}: not a model folder nor a model URI such as models:/NAME/VERSION")
    port = port or http_client.free_port()
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if log_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="signoff-serve-")
        log_path = Path(tmp.name) / "serve.log"
    else:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        log_path = Path(log_dir).resolve() / "mlflow-models-serve.log"
    cmd = [
        str(mlflow_command()), "models", "serve", "-m", uri, "-h", "127.0.0.1", "-p", str(port),
        "-w", str(workers), "--env-manager", "local",
    ]  # fmt: skip
    full_env = procenv.child_env(env)
    with log_path.open("wb") as log:
        launched_at = time.monotonic()
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=full_env,
            start_new_session=True,
        )  # fmt: skip
    return LocalServer(
        model_uri=uri, url=f"http://127.0.0.1:{port}", port=port, process=process,
        launched_at=launched_at, log_path=log_path, keep_log=tmp is None, _tmp=tmp,
    )  # fmt: skip


def serve(
    model_uri: str | Path,
    *,
    deadline_s: float,
    port: int | None = None,
    workers: int = 1,
    env: dict[str, str] | None = None,
    log_dir: str | Path | None = None,
) -> LocalServer:
    """Launch ``mlflow models serve`` and wait until it answers ``/ping`` or the deadline passes.

    Args:
        model_uri: The model to serve (folder path or model URI).
        deadline_s: Longest cold start to wait for (the contract's ``max_cold_start``).
        port: Loopback port; default a free one.
        workers: uvicorn workers.
        env: Extra environment variables for the server.
        log_dir: Keep the server's log in this folder (see :func:`launch`).

    Returns:
        The running server with ``url`` and ``cold_start_s``. When it was not ready in time (or
        exited first) it is already stopped, ``cold_start_s`` is none and :meth:`LocalServer.log_tail`
        shows why.
    """
    server = launch(model_uri, port=port, workers=workers, env=env, log_dir=log_dir)
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
    full_env = procenv.child_env(env)
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
