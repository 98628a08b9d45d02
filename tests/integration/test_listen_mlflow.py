"""``signoff listen mlflow`` receiving the session's real MLflow server's webhooks.

The server runs with ``MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY`` set (it stores webhook secrets
encrypted) and, for loopback only, ``http`` allowed and private addresses allowed
(``tests/integration/conftest.py``). Webhooks are registered with ``MlflowClient.create_webhook``;
setting an alias makes the server itself sign and deliver ``model_version_alias.created``.

Submission: no KFP API or Argo Server runs here, so the listener is configured ``--engine argo``
without ``--host``, where ``signoff submit`` prints the exact ``argo submit`` command instead of
sending it; the test checks that command names the version that got the candidate alias.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gates import listen

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
MODEL = "it-listen-mlflow"
SECRET = "test-only-webhook-secret"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Listener:
    def __init__(self, root: Path, mlflow_url: str) -> None:
        self.root, self.port = root, _free_port()
        (root / "secret").write_text(SECRET + "\n")
        doc = yaml.safe_load((EXAMPLES / "fraud-scorer.yaml").read_text())
        doc["metadata"]["model"] = MODEL
        (root / "contract.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        self.log = root / "listener.log"
        cmd = [
            sys.executable,
            "-m",
            "pipelines._cli.main",
            "listen",
            "mlflow",
            "--secret-file",
            str(root / "secret"),
            "--candidate-alias",
            "candidate",
            "--replay-window",
            "5m",
            "--engine",
            "argo",
            "--contract",
            str(root / "contract.yaml"),
            "--policy",
            str(EXAMPLES / "cluster-policy.yaml"),
            "--trust",
            str(EXAMPLES / "trust-policy.yaml"),
            "--image",
            "registry.example.com/ml/mlserver@sha256:" + "b" * 64,
            "--staging-url",
            "http://fraud-scorer.ml-staging.svc.cluster.local",
            "--tracking-uri",
            mlflow_url,
            "--listen",
            f"127.0.0.1:{self.port}",
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ)
            )
        self.url = f"http://127.0.0.1:{self.port}/"
        self.wait("the listener", lambda: self._healthy())

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "healthz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def lines(self, needle: str) -> list[str]:
        return [ln for ln in self.log.read_text(errors="replace").splitlines() if needle in ln]

    def wait(self, what: str, ok: Callable[[], Any], deadline_s: float = 60.0) -> Any:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            got = ok()
            if got:
                return got
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{self.log.read_text(errors='replace')[-3000:]}")

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def listener(mlflow_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    lst = Listener(tmp_path_factory.mktemp("listen-mlflow"), mlflow_server.url)
    try:
        yield lst
    finally:
        lst.proc.terminate()
        lst.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def client(mlflow_server: Any, register_sklearn_model: Callable[..., str]) -> Any:
    from mlflow import MlflowClient

    register_sklearn_model(MODEL)
    register_sklearn_model(MODEL)
    return MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)


def test_the_candidate_alias_set_in_mlflow_submits_the_pipeline_for_that_version(
    listener: Listener, client: Any
) -> None:
    hook = client.create_webhook(
        name="signoff-listen", url=listener.url, events=["model_version_alias.created"], secret=SECRET
    )
    try:
        time.sleep(1.5)  # the server caches its webhook list (MLFLOW_WEBHOOK_CACHE_TTL=1 here)
        client.set_registered_model_alias(MODEL, "champion", "1")  # not the candidate alias
        listener.wait("the champion delivery", lambda: listener.lines("is not the candidate alias"))
        started = time.monotonic()
        client.set_registered_model_alias(MODEL, "candidate", "2")
        line = listener.wait("the submission", lambda: listener.lines(f"models:/{MODEL}/2 got alias"))[0]
        print(f"figure: alias set -> pipeline submitted in {time.monotonic() - started:.1f}s")
        assert "argo submit --from workflowtemplate/signoff-gated-promotion" in line
        assert "model-version=2" in line and f"model-name={MODEL}" in line
        client.set_registered_model_alias(MODEL, "candidate", "1")  # moved: MLflow sends "created" again
        listener.wait("the second submission", lambda: listener.lines(f"models:/{MODEL}/1 got alias"))
        assert not listener.lines("refused a webhook delivery")
    finally:
        client.delete_webhook(hook.webhook_id)


def test_a_webhook_with_the_wrong_secret_is_refused_401_and_logged(listener: Listener, client: Any) -> None:
    hook = client.create_webhook(
        name="wrong-secret", url=listener.url, events=["model_version_alias.created"], secret="not-the-secret"
    )
    try:
        time.sleep(1.5)
        before = len(listener.lines(f"models:/{MODEL}/2 got alias"))
        client.set_registered_model_alias(MODEL, "candidate", "2")
        listener.wait("the refusal", lambda: listener.lines("(401): the signature does not match"))
        time.sleep(1.0)
        assert len(listener.lines(f"models:/{MODEL}/2 got alias")) == before
    finally:
        client.delete_webhook(hook.webhook_id)


def _signed(body: bytes, delivery: str, stamp: int, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        listen.DELIVERY_ID_HEADER: delivery,
        listen.TIMESTAMP_HEADER: str(stamp),
        listen.SIGNATURE_HEADER: listen.mlflow_signature(secret, delivery, str(stamp), body),
    }


def test_replayed_and_stale_deliveries_are_refused(listener: Listener) -> None:
    body = json.dumps(
        {
            "entity": "model_version_alias",
            "action": "created",
            "timestamp": "2026-01-01T00:00:00+00:00",
            "data": {"name": MODEL, "alias": "other", "version": "1"},
        }
    ).encode()
    now = int(time.time())
    status, doc = listener.post(body, _signed(body, "0b6c7a1e-0000-4000-8000-000000000001", now - 600))
    assert status == 401 and "replay window" in doc["error"]
    status, doc = listener.post(body, _signed(body, "0b6c7a1e-0000-4000-8000-000000000002", now))
    assert status == 200 and "not the candidate alias" in doc["ignored"]
    status, doc = listener.post(body, _signed(body, "0b6c7a1e-0000-4000-8000-000000000002", now))
    assert status == 200 and doc == {"already_handled": "0b6c7a1e-0000-4000-8000-000000000002"}
    headers = _signed(body, "0b6c7a1e-0000-4000-8000-000000000003", now)
    status, doc = listener.post(body.replace(b'"other"', b'"candidate"'), headers)  # body altered in transit
    assert status == 401 and "does not match" in doc["error"]
    unsigned = {k: v for k, v in headers.items() if k != listen.SIGNATURE_HEADER}
    status, _ = listener.post(body, unsigned)
    assert status == 401
