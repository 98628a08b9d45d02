"""The deploy step applies the workload's monitors and alert rules, and the deployer may do exactly that.

Against the real API server with the Prometheus Operator's CRDs (v0.93.0, ../shared/schemas,
installed by the ``crds`` fixture) and infra/ applied, as ``signoff-deployer`` with a token the API
server issued (no impersonation):

* ``signoff deploy --observability`` applies the SRE step's ``observability.yaml`` (as the step
  writes it) before the promoted manifests: the ServiceMonitor (Deployment mode) and PrometheusRule
  in ml-prod, a PodMonitor (KServe mode) in ml-staging; the server validates each against its CRD
  and stores it with the labels kube-prometheus-stack selects by (``release``, from the policy);
* an account without the deployer's Role (the SRE step's) is refused with 403 naming it, and nothing
  is created; an ordinary user may not create them either;
* the deployer may not write monitoring objects outside ml-staging/ml-prod, nor other monitoring
  kinds (Prometheus, Alertmanager, AlertmanagerConfig, Probe, ScrapeConfig, ThanosRuler) anywhere,
  nor delete the ones it applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _serving
import pytest
from _controlplane import ControlPlane

from components import kube
from contracts.cluster import ServingMode
from contracts.errors import PermanentError
from contracts.loader import load_cluster_policy, load_contract
from gates import observability
from gates.render import Manifests
from pipelines._cli import main as cli

pytestmark = pytest.mark.cluster

PROD, STAGING = "ml-prod", "ml-staging"
DEPLOYER = "system:serviceaccount:signoff-system:signoff-deployer"
OTHER_MONITORING = [
    "prometheuses.monitoring.coreos.com",
    "alertmanagers.monitoring.coreos.com",
    "alertmanagerconfigs.monitoring.coreos.com",
    "probes.monitoring.coreos.com",
    "scrapeconfigs.monitoring.coreos.com",
    "thanosrulers.monitoring.coreos.com",
]
APPLIED = ["podmonitors.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com",
           "prometheusrules.monitoring.coreos.com"]  # fmt: skip


def _observability(contract: str, namespace: str, mode: ServingMode) -> list[dict[str, Any]]:
    """The monitors and rules the SRE step renders for ``namespace`` with the example policy."""
    policy = load_cluster_policy(_serving.EXAMPLES / "cluster-policy.yaml")
    loaded = load_contract(_serving.EXAMPLES / f"{contract}.yaml")
    return observability.render_observability(loaded, namespace=namespace, mode=mode, policy=policy)


def _write(path: Path, objects: list[dict[str, Any]]) -> Path:
    """As the SRE step writes observability.yaml."""
    path.write_text("---\n".join(observability.to_yaml(o) for o in objects), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def deployer(deployer: Path, crds: list[str]) -> Path:
    """The deployer's kubeconfig (tests/cluster/conftest.py), once the monitoring CRDs are installed."""
    assert {"podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"} <= set(crds)
    return deployer


def _can(cluster: ControlPlane, user: str, verb: str, resource: str, ns: str, *groups: str) -> bool:
    args = ["auth", "can-i", verb, resource, "-n", ns, "--as", user, *(f"--as-group={g}" for g in groups)]
    proc = cluster.kubectl(*args, check=False)
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return answer == "yes"


def test_signoff_deploy_applies_the_monitors_and_rules_first_with_the_release_label(
    cluster: ControlPlane, deployer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = _serving.manifests("fraud-scorer")
    monitors = _observability("fraud-scorer", PROD, ServingMode.DEPLOYMENT)
    assert [o["kind"] for o in monitors] == ["ServiceMonitor", "PrometheusRule"]
    path = _serving.write(tmp_path / "deployable-manifests.yaml", manifests)
    obs_path = _write(tmp_path / "observability.yaml", monitors)
    try:
        argv = [
            "deploy",
            str(path),
            "--observability",
            str(obs_path),
            "-n",
            PROD,
            "--kubeconfig",
            str(deployer),
        ]
        rc = cli.main([*argv, "--wait", "--deadline", "120s", "--poll", "0.5"])
        out, err = capsys.readouterr()
        assert rc == 0, f"{out}\n{err}\n{_serving.diagnostics(cluster, PROD)}"
        applied = [line.split()[1] for line in out.splitlines() if line.startswith("applied ")]
        assert applied[:2] == ["ServiceMonitor/fraud-scorer", "PrometheusRule/fraud-scorer-slo"], applied
        assert len(applied) == 2 + len(manifests.objects)
        for obj in monitors:
            kind, name = obj["kind"].lower(), obj["metadata"]["name"]
            stored = _serving.get(cluster, kind, name, "--show-managed-fields", namespace=PROD)
            assert stored["metadata"]["labels"]["release"] == "kube-prometheus-stack", stored["metadata"]
            assert stored["metadata"]["labels"]["signoff.dev/workload"] == "fraud-scorer"
            managers = {(m["manager"], m["operation"]) for m in stored["metadata"]["managedFields"]}
            assert ("signoff", "Apply") in managers, managers
        rule = _serving.get(cluster, "prometheusrule", "fraud-scorer-slo", namespace=PROD)
        assert rule["spec"] == monitors[1]["spec"], "the server kept every rule as rendered"
    finally:
        cluster.kubectl("delete", "-f", str(path), "--ignore-not-found", "--wait=false")
        cluster.kubectl("delete", "-f", str(obs_path), "--ignore-not-found", "--wait=false")


def test_the_deployer_applies_a_podmonitor_in_staging(cluster: ControlPlane, deployer: Path) -> None:
    monitors = _observability("recsys-ranker", STAGING, ServingMode.KSERVE)
    assert [o["kind"] for o in monitors] == ["PodMonitor", "PrometheusRule"]
    client = kube.load_client(str(deployer))
    try:
        applied = kube.apply(Manifests(objects=tuple(monitors)), namespace=STAGING, client=client)
        assert applied == ["PodMonitor/recsys-ranker-v2", "PrometheusRule/recsys-ranker-v2-slo"]
        stored = _serving.get(cluster, "podmonitor", "recsys-ranker-v2", namespace=STAGING)
        assert stored["spec"]["podMetricsEndpoints"] == monitors[0]["spec"]["podMetricsEndpoints"]
    finally:
        for obj in monitors:
            cluster.kubectl("delete", obj["kind"].lower(), obj["metadata"]["name"], "-n", STAGING,
                            "--ignore-not-found", "--wait=false")  # fmt: skip


def test_an_account_without_the_role_is_refused_and_nothing_is_created(
    cluster: ControlPlane, sre_step: Path
) -> None:
    monitors = _observability("fraud-scorer", PROD, ServingMode.DEPLOYMENT)
    with pytest.raises(PermanentError) as refused:
        kube.apply(Manifests(objects=tuple(monitors)), namespace=PROD, client=kube.load_client(str(sre_step)))
    message = str(refused.value)
    assert "signoff-sre-step" in message and "servicemonitors.monitoring.coreos.com" in message, message
    assert "403" in message
    for obj in monitors:
        got = cluster.kubectl("get", obj["kind"].lower(), obj["metadata"]["name"], "-n", PROD, check=False)
        assert got.returncode != 0 and "NotFound" in got.stderr, got.stdout
    for resource in APPLIED:
        assert not _can(cluster, "alice@example.com", "create", resource, PROD, "ml-ranking"), resource


def test_the_deployer_writes_no_other_monitoring_object_and_none_elsewhere(
    cluster: ControlPlane, deployer: Path
) -> None:
    rule = _observability("fraud-scorer", "signoff-system", ServingMode.DEPLOYMENT)[1]
    client = kube.load_client(str(deployer))
    refused = r"may not 'patch' prometheusrules.monitoring.coreos.com in namespace 'signoff-system'"
    with pytest.raises(PermanentError, match=refused):
        kube.apply(Manifests(objects=(rule,)), namespace="signoff-system", client=client)
    for ns in (PROD, STAGING):
        for resource in APPLIED:
            assert _can(cluster, DEPLOYER, "patch", resource, ns), (resource, ns)
            assert not _can(cluster, DEPLOYER, "delete", resource, ns), (resource, ns)
        for resource in OTHER_MONITORING:
            assert not _can(cluster, DEPLOYER, "create", resource, ns), (resource, ns)
    for ns in ("signoff-system", "monitoring", "default", "kube-system"):
        for resource in APPLIED + OTHER_MONITORING:
            assert not _can(cluster, DEPLOYER, "create", resource, ns), (resource, ns)
