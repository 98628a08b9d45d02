"""Shared fixtures of the integration tests: ONE real ``mlflow server`` per test session.

``mlflow_server`` starts ``mlflow server`` on a sqlite backend in a temporary folder, one worker,
127.0.0.1 on a free port, artifacts served by the server itself. The object it yields can stop and
start the server again on the same port and store (the crash test needs that).

``register_sklearn_model(name, *, metrics=None) -> version`` trains a tiny iris model, logs it with
signature, input example and metrics, and registers it as a new version of ``name``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_START_DEADLINE_S = 300.0
"""Generous: on a busy 2-core CI machine `mlflow server` takes from 10 s to over a minute to start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MlflowServer:
    """A real ``mlflow server`` process; ``stop()`` and ``start()`` keep port and store."""

    root: Path
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backend_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the server (if not running) and wait for ``/health``."""
        if self.running:
            return
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # A Fernet key (32 url-safe base64 bytes), fixed so a restart reads the same store; tests only.
        test_key = base64.urlsafe_b64encode(b"signoff-tests-only-not-secret-32").decode()
        env.setdefault("MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY", test_key)
        # Webhooks to the listener under test on loopback: MLflow allows only https to public
        # addresses by default, and caches the webhook list for 60 s.
        env.setdefault("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http,https")
        env.setdefault("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")
        env.setdefault("MLFLOW_WEBHOOK_CACHE_TTL", "1")
        env.pop("MLFLOW_TRACKING_URI", None)
        # No job runner: it starts a dozen huey worker processes the registry tests never use.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            self.backend_uri,
            "--serve-artifacts",
            "--artifacts-destination",
            str(self.artifacts_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.root, env=env, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + _START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.proc.returncode}:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mlflow server not healthy after {_START_DEADLINE_S}s:\n{self._log_tail()}")

    def stop(self) -> None:
        """Kill the server's whole process group (as a crash would) and wait until the port is free."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real ``mlflow server`` for the whole session (sqlite, one worker, loopback)."""
    root = tmp_path_factory.mktemp("mlflow-server")
    server = MlflowServer(root=root, port=_free_port(), log_path=root / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def register_sklearn_model(mlflow_server: MlflowServer) -> Callable[..., str]:
    """Factory: ``register_sklearn_model(name, *, metrics=None) -> version``.

    Trains an iris LogisticRegression (a few ms), logs it with signature, input example and metrics
    (``accuracy`` plus any given) to the session server and registers it as a new version of ``name``.
    """
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(x, y)
    accuracy = float(model.score(x, y))
    signature = infer_signature(x, model.predict(x))
    example = x.head(3)

    def register(name: str, *, metrics: dict[str, float] | None = None) -> str:
        mlflow.set_tracking_uri(mlflow_server.url)
        mlflow.set_registry_uri(mlflow_server.url)
        mlflow.set_experiment("signoff-tests")
        with mlflow.start_run() as run:
            all_metrics = {"accuracy": accuracy, **(metrics or {})}
            mlflow.log_metrics(all_metrics)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=example,
                registered_model_name=name,
                # Given, not inferred: inference runs a subprocess that takes tens of seconds.
                pip_requirements=["scikit-learn", "mlflow"],
            )
        del run
        version = info.registered_model_version
        assert version is not None
        return str(version)

    return register


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration is an integration test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
