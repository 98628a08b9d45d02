"""``signoff listen alertmanager`` with a real Alertmanager routing to it and the session's real MLflow.

Alertmanager (``prometheus-alertmanager``, the Debian package) runs on loopback with a route whose
webhook receiver is the listener (a ``signoff listen`` process), bearer token from a file,
``send_resolved`` on, and short group/repeat intervals so repeats arrive within seconds. Alerts are
posted to Alertmanager's v2 API; Alertmanager decides what to deliver and when. Versions are
promoted through the real promotion gate (``gated_promote``), so the rollback target is a real
promoted version. Serving is not moved here (``--alias-only``): the cluster tier moves it
(``tests/cluster/test_rollback_serving.py``).

Out of order: Alertmanager never delivers an episode's ``resolved`` before its ``firing``, so that
one case is posted to the listener directly, shaped as Alertmanager shapes it (labelled below).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from trust_kit import team_keys

from components import keys
from components.mlflow_registry import Registry
from contracts.loader import load_contract, load_trust_policy
from contracts.trust import Gate
from gates import promotion, signing
from gates.verdict import Check, Outcome, Subject, Verdict

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
ML, PLATFORM, SRE = "risk-ml", "platform-serving", "sre-payments"  # fraud-scorer's owners
GATES = {
    ML: ("ml-artifact", "approval", "promotion", "rollback"),
    PLATFORM: ("platform",),
    SRE: ("sre-readiness", "rollback"),
}
MODEL = "it-listen-fraud"
TOKEN = "test-only-bearer-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, ok: Callable[[], Any], deadline_s: float = 60.0, log: Path | None = None) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        got = ok()
        if got:
            return got
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def _post(url: str, doc: Any, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, data=json.dumps(doc).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class Stack:
    """Keys, trust, contract, two promoted versions, the listener and Alertmanager."""

    def __init__(self, root: Path, mlflow_url: str, source: str, run_id: str, digest: str) -> None:
        self.root, self.mlflow_url, self.digest = root, mlflow_url, digest
        folder = root / "keys"
        self.key_files, self.trust_file = team_keys(GATES, folder, root / "trust.yaml")
        self.trust = load_trust_policy(self.trust_file)
        doc = yaml.safe_load((ROOT / "contracts" / "examples" / "fraud-scorer.yaml").read_text())
        doc["metadata"]["model"] = MODEL
        self.contract_file = root / "fraud-scorer.yaml"
        self.contract_file.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.contract = load_contract(self.contract_file)
        self.registry = Registry(mlflow_url)
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)
        self.client.create_registered_model(MODEL)
        model_id = source.removeprefix("models:/")
        self.versions = [
            str(self.client.create_model_version(MODEL, source, run_id=run_id, model_id=model_id).version)
            for _ in range(2)
        ]
        for v in self.versions:
            self.promote(v)
        self.procs: list[subprocess.Popen[bytes]] = []

    def envelope(self, gate: Gate, version: str) -> bytes:
        team = {Gate.ML_ARTIFACT: ML, Gate.PLATFORM: PLATFORM, Gate.SRE_READINESS: SRE}[gate]
        verdict = Verdict.decide(
            gate=gate,
            team=team,
            checks=[
                Check(id="it.check", outcome=Outcome.PASS, message="checked"),
                # the example prediction ran in the ML step (promotion requires it somewhere)
                *(
                    [Check(id="prediction.example", outcome=Outcome.PASS, message="predicted")]
                    if gate is Gate.ML_ARTIFACT
                    else []
                ),
            ],
            subject=Subject(model=MODEL, version=version, digest=self.digest),
            contract_digest=self.contract.digest(),
            now=datetime.now(UTC),
            ttl=timedelta(days=1),
        )
        return signing.sign_verdict(verdict, keys.load_private_key(self.key_files[team]))

    def promote(self, version: str) -> None:
        for gate in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS):
            self.registry.store_envelope(MODEL, version, gate, self.envelope(gate, version))
        subject = Subject(model=MODEL, version=version, digest=self.digest)
        stored = list(self.registry.envelopes(MODEL, version).values())
        verdict = promotion.evaluate(self.contract, subject, stored, self.trust, datetime.now(UTC))
        assert verdict.passed, [c.message for c in verdict.failures]
        env = signing.sign_verdict(verdict, keys.load_private_key(self.key_files[ML]))
        self.registry.promote(MODEL, version, promotion_envelope=env, record=verdict)

    def start_listener(self) -> None:
        self.listener_port = _free_port()
        (self.root / "token").write_text(TOKEN + "\n")
        self.listener_log = self.root / "listener.log"
        cmd = [
            sys.executable,
            "-m",
            "pipelines._cli.main",
            "listen",
            "alertmanager",
            "--contract",
            str(self.contract_file),
            "--trust",
            str(self.trust_file),
            "--key",
            str(self.key_files[ML]),
            "--alias-only",
            "--token-file",
            str(self.root / "token"),
            "--listen",
            f"127.0.0.1:{self.listener_port}",
            "--tracking-uri",
            self.mlflow_url,
        ]
        env = {**os.environ, "MLFLOW_TRACKING_URI": self.mlflow_url}
        with self.listener_log.open("wb") as log:
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env))
        _wait(
            "the listener",
            lambda: self._healthy(f"http://127.0.0.1:{self.listener_port}/healthz"),
            log=self.listener_log,
        )

    def start_alertmanager(self) -> None:
        self.am_port = _free_port()
        config = {
            "route": {
                "receiver": "signoff-listen",
                "group_by": ["alertname", "workload"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "2s",
            },
            "receivers": [
                {
                    "name": "signoff-listen",
                    "webhook_configs": [
                        {
                            "url": f"http://127.0.0.1:{self.listener_port}/",
                            "send_resolved": True,
                            "http_config": {
                                "authorization": {
                                    "type": "Bearer",
                                    "credentials_file": str(self.root / "token"),
                                }
                            },
                        }
                    ],
                }
            ],
        }
        cfg = self.root / "alertmanager.yml"
        cfg.write_text(yaml.safe_dump(config))
        self.am_log = self.root / "alertmanager.log"
        cmd = [
            ALERTMANAGER,
            f"--config.file={cfg}",
            f"--storage.path={self.root / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.am_port}",
            "--cluster.listen-address=",
        ]
        with self.am_log.open("wb") as log:
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.root))
        _wait(
            "Alertmanager", lambda: self._healthy(f"http://127.0.0.1:{self.am_port}/-/ready"), log=self.am_log
        )

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def fire(self, alertname: str, signal: str, *, starts: datetime, ends: datetime | None = None) -> None:
        """POST one alert to Alertmanager's v2 API (what Prometheus does)."""
        alert: dict[str, Any] = {
            "labels": {
                "alertname": alertname,
                "signal": signal,
                "workload": self.contract.name,
                "namespace": "ml-prod",
                "severity": "page",
                "team": ML,
                "owner": "ml",
            },
            "annotations": {"summary": f"{alertname} test alert"},
            "startsAt": starts.isoformat(),
        }
        if ends is not None:
            alert["endsAt"] = ends.isoformat()
        status, _ = _post(f"http://127.0.0.1:{self.am_port}/api/v2/alerts", [alert], token=None)
        assert status == 200

    def log_lines(self, needle: str) -> list[str]:
        return [ln for ln in self.listener_log.read_text(errors="replace").splitlines() if needle in ln]

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def stack(
    mlflow_server: Any, register_sklearn_model: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if not shutil.which(ALERTMANAGER):
        pytest.fail(f"{ALERTMANAGER} is missing: apt-get install prometheus-alertmanager", pytrace=False)
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("listen-am")
    version = register_sklearn_model("it-listen-base")
    mv = MlflowClient(tracking_uri=mlflow_server.url).get_model_version("it-listen-base", version)
    subject, _ = Registry(mlflow_server.url).gather_evidence(
        f"models:/it-listen-base/{version}", root / "work"
    )
    s = Stack(root, mlflow_server.url, str(mv.source), str(mv.run_id), subject.digest)
    try:
        s.start_listener()
        s.start_alertmanager()
        yield s
    finally:
        s.stop()


def test_accuracy_drift_firing_through_alertmanager_rolls_back_once_signed_and_audited(stack: Stack) -> None:
    v1, v2 = stack.versions
    assert stack.registry.aliases(MODEL) == {"production": v2, "previous": v1}
    now = datetime.now(UTC)

    # an alert the contract pages on but does not automate: logged, nothing moves
    stack.fire("SignoffLatencyP99", "latency", starts=now)
    _wait(
        "the latency alert's delivery",
        lambda: stack.log_lines("SignoffLatencyP99: ignored"),
        log=stack.listener_log,
    )
    assert stack.registry.aliases(MODEL)["production"] == v2

    # the contract's accuracy-drift alert: "automated: revert on accuracy drift"
    started = time.monotonic()
    stack.fire("SignoffAccuracyDrift", "accuracy_drift", starts=now)
    _wait(
        "the rollback", lambda: stack.log_lines("SignoffAccuracyDrift: rolled-back"), log=stack.listener_log
    )
    print(f"figure: alert posted -> production moved back in {time.monotonic() - started:.1f}s")
    assert stack.registry.aliases(MODEL)["production"] == v1

    # Alertmanager re-sends the still-firing group (repeat_interval 2s): nothing more happens
    _wait(
        "a repeated notification",
        lambda: stack.log_lines("SignoffAccuracyDrift: already-handled"),
        deadline_s=30,
        log=stack.listener_log,
    )
    assert len(stack.log_lines("SignoffAccuracyDrift: rolled-back")) == 1
    assert stack.registry.aliases(MODEL)["production"] == v1

    report = stack.registry.audit(MODEL, stack.trust, stack.contract)
    rollbacks = [h for h in report.history if h.kind == "rollback"]
    assert len(rollbacks) == 1 and rollbacks[0].version == v1 and rollbacks[0].previous == v2
    assert rollbacks[0].by == ML and rollbacks[0].valid is True  # signed by the alert's owner, verifies
    assert report.ok
    env = stack.registry.envelopes(MODEL, v1)[Gate.ROLLBACK]
    signed = signing.verify_envelope(env, stack.trust).verdict
    assert signed.checks[0].id == "rollback.automated" and signed.checks[0].figures["from"] == v2

    # the alert resolves: recorded, still one rollback
    stack.fire("SignoffAccuracyDrift", "accuracy_drift", starts=now, ends=datetime.now(UTC))
    _wait(
        "the resolved notification",
        lambda: stack.log_lines("SignoffAccuracyDrift: resolved"),
        deadline_s=30,
        log=stack.listener_log,
    )
    assert stack.registry.aliases(MODEL)["production"] == v1
    assert len([h for h in stack.registry.audit(MODEL).history if h.kind == "rollback"]) == 1


def _notification(stack: Stack, status: str, starts: str, fingerprint: str) -> dict[str, Any]:
    """An Alertmanager webhook body (version 4), as Alertmanager sends it."""
    labels = {
        "alertname": "SignoffAccuracyDrift",
        "signal": "accuracy_drift",
        "workload": stack.contract.name,
    }
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {},
        "startsAt": starts,
        "endsAt": starts if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "signoff-listen",
        "groupLabels": {},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [alert],
    }


def test_out_of_order_resolved_before_firing_does_nothing_and_bad_token_is_401(stack: Stack) -> None:
    # DIRECT POST (not through Alertmanager): a reordering Alertmanager cannot be made to produce
    url = f"http://127.0.0.1:{stack.listener_port}/"
    before = stack.registry.aliases(MODEL)
    starts = "2026-01-02T03:04:05.000Z"
    status, doc = _post(url, _notification(stack, "resolved", starts, "00aa11bb22cc33dd"))
    assert status == 200 and doc["outcomes"][0]["action"] == "resolved"
    status, doc = _post(url, _notification(stack, "firing", starts, "00aa11bb22cc33dd"))
    assert status == 200 and doc["outcomes"][0]["action"] == "already-handled"
    assert "resolved" in doc["outcomes"][0]["message"]
    assert stack.registry.aliases(MODEL) == before

    status, _ = _post(url, _notification(stack, "firing", starts, "ffee"), token="wrong")
    assert status == 401
    assert stack.log_lines("without the bearer token (401)")
    status, doc = _post(url, {"not": "alertmanager"})
    assert status == 400 and "alerts" in doc["error"]
    assert stack.registry.aliases(MODEL) == before


def test_an_interrupted_rollback_episode_is_resumed_not_repeated(stack: Stack) -> None:
    """The listener died after moving the alias (episode left ``rolling-back``): the next
    notification of that episode completes it without a second rollback."""
    from components.listen import RollbackListener

    v1, v2 = stack.versions
    assert stack.registry.aliases(MODEL)["production"] == v1  # after the first test's rollback
    alert = {
        "status": "firing",
        "startsAt": "2026-12-03T05:00:00Z",
        "fingerprint": "77aa",
        "labels": {
            "alertname": "SignoffAccuracyDrift",
            "signal": "accuracy_drift",
            "workload": stack.contract.name,
        },
    }
    from gates import listen

    episode = listen.episode_key(alert)
    stack.registry.record_alert_episode(MODEL, episode, {"state": "rolling-back", "from": v2, "to": v1})
    listener = RollbackListener(
        [stack.contract], stack.trust, keys.load_private_key(stack.key_files[ML]), stack.registry, None
    )
    [outcome] = listener.handle({"alerts": [alert]})
    assert outcome.action == "rolled-back" and (outcome.figures["from"], outcome.figures["to"]) == (v2, v1)
    assert (stack.registry.alert_episode(MODEL, episode) or {})["state"] == "rolled-back"
    assert len([h for h in stack.registry.audit(MODEL).history if h.kind == "rollback"]) == 1


def test_rollback_with_namespace_refuses_before_anything_when_serving_cannot_follow(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines._cli.main import main as signoff

    v1, v2 = stack.versions
    before = (stack.registry.aliases(MODEL), [h.id for h in stack.registry.audit(MODEL).history])
    rc = signoff(
        [
            "rollback",
            MODEL,
            "--to",
            v2,
            "--reason",
            "quality",
            "--problem",
            "quality",
            "--contract",
            str(stack.contract_file),
            "--trust",
            str(stack.trust_file),
            "--key",
            str(stack.key_files[ML]),
            "--tracking-uri",
            stack.mlflow_url,
            "--namespace",
            "ml-prod",
            "--kubeconfig",
            str(stack.root / "none"),
        ]
    )
    err = capsys.readouterr().err
    assert (
        rc == 2 and f"version {v2} has no promoted manifests kept with it" in err and "Traceback" not in err
    )
    assert (stack.registry.aliases(MODEL), [h.id for h in stack.registry.audit(MODEL).history]) == before
    assert stack.registry.aliases(MODEL)["production"] == v1
