"""``signoff admission serve`` over real HTTPS: AdmissionReview v1 bodies in, the judgement out.

The server is the installed console script on a free loopback port, with a certificate authority
made for the test (``cryptography``); the client trusts only that CA.
"""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
import _door_kit as door  # noqa: E402

from contracts.cluster import ServingMode  # noqa: E402
from gates import admission_review as ar  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def webhook(signoff_exe: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[door.Webhook]:
    hook = door.start_webhook(signoff_exe, tmp_path_factory.mktemp("webhook"))
    try:
        yield hook
    finally:
        hook.stop()


@pytest.fixture(scope="module")
def promoted() -> door.Promoted:
    """A promotion signed just now (the server judges at its own clock)."""
    return door.promote(ServingMode.DEPLOYMENT, now=datetime.now(UTC))


def test_promoted_deployment_is_allowed(webhook: door.Webhook, promoted: door.Promoted) -> None:
    req = door.request(promoted.obj("Deployment"), uid="8f5c1d2e-0000-4000-8000-00000000aaaa")
    status, body = door.post(webhook, door.review_body(req))
    assert status == 200
    assert body == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "8f5c1d2e-0000-4000-8000-00000000aaaa", "allowed": True},
    }
    logged = webhook.entries(until=lambda e: e["uid"] == req["uid"])
    assert any(e["uid"] == req["uid"] and e["allowed"] for e in logged)


def test_unpromoted_gpu_deployment_is_denied_with_the_reason(
    webhook: door.Webhook, promoted: door.Promoted
) -> None:
    req = door.request(promoted.manifests.by_kind("Deployment")[0], uid="u-2")
    status, body = door.post(webhook, door.review_body(req))
    assert status == 200
    resp = body["response"]
    assert resp["uid"] == "u-2" and resp["allowed"] is False
    assert resp["status"]["code"] == 403 and resp["status"]["reason"] == "Forbidden"
    assert f"carries no {ar.BUNDLE_ANNOTATION} annotation" in resp["status"]["message"]


def test_tampered_object_is_denied(webhook: door.Webhook, promoted: door.Promoted) -> None:
    obj = promoted.obj("Deployment")
    obj["spec"]["template"]["spec"]["containers"][0]["args"] = ["--other-model"]
    status, body = door.post(webhook, door.review_body(door.request(obj)))
    assert status == 200 and body["response"]["allowed"] is False
    assert "not the object platform signed" in body["response"]["status"]["message"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "not JSON"),
        (json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}).encode(), "v1"),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), "request"),
    ],
    ids=["not-json", "v1beta1", "no-request"],
)
def test_malformed_bodies_are_a_failed_call(webhook: door.Webhook, body: bytes, error: str) -> None:
    """400: the API server counts the call as failed, and failurePolicy Fail refuses the object."""
    status, answer = door.post(webhook, body)
    assert status == 400 and error in answer["error"]


def test_keep_alive_and_health(webhook: door.Webhook, promoted: door.Promoted) -> None:
    host, port = webhook.url.removeprefix("https://").split("/", 1)[0].rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(webhook.ca_file))
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"ok")
        for i in range(3):  # the same connection, as the API server reuses it
            body = json.dumps(door.review_body(door.request(promoted.obj("Deployment"), uid=f"k{i}")))
            conn.request("POST", "/validate", body=body)
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["response"]["uid"] == f"k{i}"
    finally:
        conn.close()


def test_a_client_that_does_not_trust_the_ca_cannot_talk(webhook: door.Webhook) -> None:
    host, port = webhook.url.removeprefix("https://").split("/", 1)[0].rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/healthz")
    conn.close()


def test_sigterm_stops_the_server(signoff_exe: str, tmp_path: Path) -> None:
    hook = door.start_webhook(signoff_exe, tmp_path)
    assert hook.stop() == 0


def test_missing_certificate_is_a_clear_error(signoff_exe: str, tmp_path: Path) -> None:
    hook_files = tmp_path / "files"
    hook_files.mkdir()
    (hook_files / "trust.yaml").write_text(door.dump_yaml(door.trust()), encoding="utf-8")
    proc = subprocess.run(
        [
            signoff_exe,
            "admission",
            "serve",
            "--trust-policy",
            str(hook_files / "trust.yaml"),
            "--cluster-policy",
            str(ROOT / "contracts" / "examples" / "cluster-policy.yaml"),
            "--cert",
            str(tmp_path / "missing.crt"),
            "--key",
            str(tmp_path / "missing.key"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert f"--cert {tmp_path / 'missing.crt'}: no such file" in proc.stderr
    assert "Traceback" not in proc.stderr
