"""Rollback moves serving, not only the alias: the real API server and controllers, a real MLflow.

Two versions of fraud-scorer (CPU, Deployment mode) are rendered for production, stamped with their
promotion records and kept with their versions in MLflow (what the promotion step does). Version 2
serves. Then:

* ``signoff rollback --namespace ml-prod`` (manual, signed by the deciding team) re-applies version
  1's promoted manifests through ``components.kube``; kube-controller-manager rolls the Deployment,
  kwok makes the new pods Ready, and the command returns once the Deployment is ready;
* the Alertmanager listener's automated rollback (``components.listen``) does the same on an
  accuracy-drift notification;
* ``signoff audit --namespace`` puts the serving object's version beside the alias, and flags the
  mismatch (exit 1) once someone re-applies the other version by hand.

MLflow: a real ``mlflow server`` (the integration tier's ``MlflowServer``, loaded from its conftest).
"""

from __future__ import annotations

import copy
import importlib.util
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from _controlplane import ControlPlane
from _infra import ROOT
from trust_kit import team_keys

from components import keys, kube
from components.listen import RollbackListener, Serving
from components.mlflow_registry import Registry
from contracts.cluster import ServingMode
from contracts.loader import load_cluster_policy, load_contract, load_trust_policy
from contracts.trust import Gate
from gates import promotion, serving, signing
from gates.render import ModelRef, render, with_promotion
from gates.verdict import Check, Outcome, Subject, Verdict, digest_bytes
from pipelines._cli.main import main as signoff

pytestmark = pytest.mark.cluster

NS = "ml-prod"
IMAGE = "registry.example.com/ml/mlserver@sha256:" + "b" * 64
DIGEST = "sha256:" + "a" * 64
ML, PLATFORM, SRE = "risk-ml", "platform-serving", "sre-payments"
GATES = {
    ML: ("ml-artifact", "approval", "promotion", "rollback"),
    PLATFORM: ("platform",),
    SRE: ("sre-readiness", "rollback"),
}


def _mlflow_server_class() -> Any:
    spec = importlib.util.spec_from_file_location(
        "signoff_integration_conftest", ROOT / "tests" / "integration" / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.MlflowServer


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-rollback")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = _mlflow_server_class()(root=root, port=port, log_path=root / "server.log")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


class Workload:
    """One model with two promoted versions whose manifests are kept in MLflow; version 2 serves."""

    def __init__(self, name: str, url: str, cluster: ControlPlane, root: Path) -> None:
        from mlflow import MlflowClient

        self.root, self.cluster = root, cluster
        folder = root / "keys"
        self.key_files, self.trust_file = team_keys(GATES, folder, root / "trust.yaml")
        self.trust = load_trust_policy(self.trust_file)
        doc = yaml.safe_load((ROOT / "contracts" / "examples" / "fraud-scorer.yaml").read_text())
        doc["metadata"]["name"], doc["metadata"]["model"] = name, f"{name}-model"
        self.contract_file = root / "contract.yaml"
        self.contract_file.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.contract = load_contract(self.contract_file)
        self.model, self.url = self.contract.metadata.model, url
        self.registry = Registry(url)
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        client.create_registered_model(self.model)
        self.versions = [
            str(client.create_model_version(self.model, f"s3://models/{self.model}/{i}").version)
            for i in (1, 2)
        ]
        self.client = kube.load_client(kubeconfig=str(cluster.kubeconfig))
        self.manifests: dict[str, str] = {}
        for v in self.versions:
            self.promote(v)
        launched = time.monotonic()
        kube.apply(
            with_promotion_of(self, self.versions[1]), namespace=NS, production=True, client=self.client
        )
        ready = kube.wait_ready(
            "Deployment", self.contract.name, NS, deadline_s=120, launched_at=launched, client=self.client
        )
        assert ready is not None, cluster.kubectl("get", "deploy,rs,pods", "-n", NS).stdout

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
            subject=Subject(model=self.model, version=version, digest=DIGEST),
            contract_digest=self.contract.digest(),
            now=datetime.now(UTC),
            ttl=timedelta(days=1),
        )
        return signing.sign_verdict(verdict, keys.load_private_key(self.key_files[team]))

    def promote(self, version: str) -> None:
        for gate in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS):
            self.registry.store_envelope(self.model, version, gate, self.envelope(gate, version))
        subject = Subject(model=self.model, version=version, digest=DIGEST)
        stored = list(self.registry.envelopes(self.model, version).values())
        verdict = promotion.evaluate(self.contract, subject, stored, self.trust, datetime.now(UTC))
        assert verdict.passed, [c.message for c in verdict.failures]
        env = signing.sign_verdict(verdict, keys.load_private_key(self.key_files[ML]))
        self.registry.promote(self.model, version, promotion_envelope=env, record=verdict)
        policy = load_cluster_policy(ROOT / "contracts" / "examples" / "cluster-policy.yaml")
        ref = ModelRef(
            name=self.model, version=version, storage_uri=f"s3://models/{self.model}/{version}", digest=DIGEST
        )
        rendered = render(
            self.contract, policy, ref, IMAGE, environment="production", mode=ServingMode.DEPLOYMENT
        )
        text = with_promotion(rendered, digest_bytes(env)).to_yaml()
        self.manifests[version] = text
        self.registry.store_manifests(self.model, version, text)  # what the promotion step keeps

    def serving_version(self) -> str | None:
        obj = kube.get_serving("Deployment", self.contract.name, NS, client=self.client)
        return (obj["metadata"].get("annotations") or {}).get("signoff.dev/model-version")


def with_promotion_of(w: Workload, version: str) -> Any:
    from gates.render import Manifests

    return Manifests(objects=tuple(copy.deepcopy(o) for o in yaml.safe_load_all(w.manifests[version]) if o))


def test_manual_rollback_reapplies_the_previous_versions_manifests_and_waits_until_ready(
    cluster: ControlPlane,
    infra_applied: dict[str, str],
    mlflow_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = Workload("fraud-rb-manual", mlflow_url, cluster, tmp_path)
    v1, v2 = w.versions
    assert w.serving_version() == v2
    started = time.monotonic()
    rc = signoff(
        [
            "rollback",
            w.model,
            "--to",
            "previous",
            "--reason",
            "precision dropped",
            "--problem",
            "quality",
            "--contract",
            str(w.contract_file),
            "--trust",
            str(w.trust_file),
            "--key",
            str(w.key_files[ML]),
            "--tracking-uri",
            mlflow_url,
            "--namespace",
            NS,
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--deadline",
            "120s",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    with capsys.disabled():
        took = time.monotonic() - started
        print(f"figure: manual rollback, alias and serving moved and ready in {took:.1f}s")
    assert f"ready     Deployment/{w.contract.name} serves version {v1}" in out
    assert w.registry.aliases(w.model)["production"] == v1
    obj = kube.get_serving("Deployment", w.contract.name, NS, client=w.client)
    assert serving.is_ready(obj) and obj["metadata"]["annotations"]["signoff.dev/model-version"] == v1
    assert obj["spec"]["template"]["metadata"]["annotations"]["signoff.dev/model-version"] == v1
    assert (w.registry.serving_record(w.model) or {})["state"] == "ready"

    audit = [
        "audit",
        w.model,
        "--trust",
        str(w.trust_file),
        "--contract",  # the rollback's deciding team is checked against it
        str(w.contract_file),
        "--tracking-uri",
        mlflow_url,
        "--namespace",
        NS,
        "--kubeconfig",
        str(cluster.kubeconfig),
    ]
    assert signoff(audit) == 0
    assert f"version {v1} (ready); production alias: {v1}  [ok]" in capsys.readouterr().out

    # someone re-applies version 2 by hand: the audit shows serving and alias apart, and fails
    path = tmp_path / "v2.yaml"
    path.write_text(w.manifests[v2])
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=by-hand", "-n", NS, "-f", str(path)
    )
    assert signoff(audit) == 1
    assert f"version {v2}" in (text := capsys.readouterr().out) and "[MISMATCH]" in text


def test_the_alertmanager_listener_rollback_moves_serving_and_records_it(
    cluster: ControlPlane, infra_applied: dict[str, str], mlflow_url: str, tmp_path: Path
) -> None:
    w = Workload("fraud-rb-auto", mlflow_url, cluster, tmp_path)
    v1, v2 = w.versions
    assert w.serving_version() == v2
    listener = RollbackListener(
        [w.contract],
        w.trust,
        keys.load_private_key(w.key_files[ML]),
        w.registry,
        Serving(NS, w.client, deadline_s=120, poll_s=0.5),
    )
    alert = {
        "status": "firing",
        "startsAt": "2026-12-03T09:00:00Z",
        "fingerprint": "4f1d2c3b",
        "labels": {
            "alertname": "SignoffAccuracyDrift",
            "signal": "accuracy_drift",
            "workload": w.contract.name,
        },
    }
    started = time.monotonic()
    [outcome] = listener.handle({"alerts": [alert]})
    print(
        f"figure: automated rollback, alias and serving moved and ready in {time.monotonic() - started:.1f}s"
    )
    assert outcome.action == "rolled-back", outcome
    assert (outcome.figures["from"], outcome.figures["to"]) == (v2, v1) and outcome.figures[
        "ready_after_s"
    ] is not None
    assert w.serving_version() == v1 and w.registry.aliases(w.model)["production"] == v1
    [again] = listener.handle({"alerts": [alert]})
    assert again.action == "already-handled" and w.serving_version() == v1
    history = [h for h in w.registry.audit(w.model, w.trust, w.contract).history if h.kind == "rollback"]
    assert len(history) == 1 and history[0].valid is True and history[0].by == ML
