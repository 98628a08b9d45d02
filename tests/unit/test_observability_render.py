"""Observability objects from the contract: CRD-valid, golden, and selecting the serving pods."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from contracts.cluster import ServingMode
from contracts.loader import load_cluster_policy, load_contract
from gates import observability as obs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from crd_schema import validate_crd_object  # noqa: E402

NS = "ml-prod"
CRD = {
    "PodMonitor": "prometheus-operator-v0.93.0-podmonitors.crd.yaml",
    "ServiceMonitor": "prometheus-operator-v0.93.0-servicemonitors.crd.yaml",
    "PrometheusRule": "prometheus-operator-v0.93.0-prometheusrules.crd.yaml",
}


def _contracts() -> list[Path]:
    paths = sorted((ROOT / "contracts" / "examples").glob("*.yaml"))
    return [
        p
        for p in paths
        if (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("kind") == "WorkloadContract"
    ]


@pytest.mark.parametrize("mode", list(ServingMode), ids=lambda m: m.value)
@pytest.mark.parametrize("path", _contracts(), ids=lambda p: p.stem)
def test_objects_validate_against_prometheus_operator_crds(
    shared_schemas: Path, path: Path, mode: ServingMode
) -> None:
    objects = obs.render_observability(load_contract(path), namespace=NS, mode=mode)
    kinds = [o["kind"] for o in objects]
    assert kinds == ["PodMonitor" if mode is ServingMode.KSERVE else "ServiceMonitor", "PrometheusRule"]
    for obj in objects:
        assert validate_crd_object(shared_schemas / CRD[obj["kind"]], obj) == [], obj["kind"]


def test_crd_validation_refuses_a_misspelled_field(shared_schemas: Path) -> None:
    # The check above can fail: a typo in a rule is refused, not silently pruned.
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    rule = obs.render_observability(contract, namespace=NS, mode=ServingMode.KSERVE)[1]
    rule["spec"]["groups"][0]["rules"][0]["recrod"] = rule["spec"]["groups"][0]["rules"][0].pop("record")
    assert validate_crd_object(shared_schemas / CRD["PrometheusRule"], rule)


@pytest.mark.parametrize("path", _contracts(), ids=lambda p: p.stem)
def test_goldens(golden: Callable[[str, str], None], path: Path) -> None:
    contract = load_contract(path)
    stem = path.stem
    golden(
        f"observability/{stem}.rules.knative-queue-proxy.yaml",
        obs.to_yaml(obs.rule_groups(contract, obs.MetricNames.knative_queue_proxy(), namespace=NS)),
    )
    golden(
        f"observability/{stem}.rules.mlserver.yaml",
        obs.to_yaml(obs.rule_groups(contract, obs.MetricNames.mlserver(), namespace=NS)),
    )
    golden(f"observability/{stem}.alertmanager.yaml", obs.to_yaml(obs.alertmanager_config(contract)))
    monitors = [obs.render_observability(contract, namespace=NS, mode=m)[0] for m in ServingMode]
    golden(f"observability/{stem}.monitors.yaml", "---\n".join(obs.to_yaml(m) for m in monitors))


def test_monitor_selects_the_serving_pods_and_names_the_workload() -> None:
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    pod_monitor, rule = obs.render_observability(contract, namespace=NS, mode=ServingMode.KSERVE)
    assert pod_monitor["spec"]["selector"] == {"matchLabels": {"signoff.dev/workload": "recsys-ranker-v2"}}
    assert pod_monitor["spec"]["namespaceSelector"] == {"matchNames": [NS]}
    endpoint = pod_monitor["spec"]["podMetricsEndpoints"][0]
    assert endpoint["port"] == "metrics"  # MLServer's metrics port (8082), named in the rendered pod
    assert endpoint["relabelings"][0]["sourceLabels"] == ["__meta_kubernetes_pod_label_signoff_dev_workload"]
    assert endpoint["relabelings"][0]["targetLabel"] == "workload"
    service_monitor, _ = obs.render_observability(contract, namespace=NS, mode=ServingMode.DEPLOYMENT)
    assert service_monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert rule["spec"] == obs.rule_groups(contract, obs.MetricNames.mlserver(), namespace=NS)


def test_recording_rules_cover_every_window_and_the_budgets_follow_the_slos() -> None:
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    rules = [
        r
        for g in obs.rule_groups(contract, obs.MetricNames.knative_queue_proxy())["groups"]
        for r in g["rules"]
    ]
    records = {r["record"] for r in rules if "record" in r}
    for w in ("5m", "30m", "1h", "6h", "3d"):
        assert f"signoff:request_errors:ratio_rate{w}" in records
        assert f"signoff:request_latency_slo_violations:ratio_rate{w}" in records
    fast = next(r for r in rules if r.get("alert") == "SignoffAvailabilityBudgetBurn")
    # 99.95% availability: budget 0.0005, paged at 14.4x over 1h and 5m.
    assert (
        "ratio_rate1h" in fast["expr"]
        and "ratio_rate5m" in fast["expr"]
        and "(14.4 * 0.0005)" in fast["expr"]
    )
    latency = next(
        r for r in rules if r.get("record") == "signoff:request_latency_slo_violations:ratio_rate5m"
    )
    assert 'le=~"75(\\\\.0)?"' in latency["expr"]  # queue-proxy latencies are in ms: the 75ms bucket
    seconds = next(
        r for g in obs.rule_groups(contract, obs.MetricNames.mlserver())["groups"] for r in g["rules"]
        if r.get("record") == "signoff:request_latency_slo_violations:ratio_rate5m"
    )  # fmt: skip
    assert 'le=~"0\\\\.075"' in seconds["expr"]  # MLServer: seconds, le="0.075"


def test_paging_alerts_carry_owner_labels_and_runbooks() -> None:
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    rules = [
        r
        for g in obs.rule_groups(contract, obs.MetricNames.knative_queue_proxy())["groups"]
        for r in g["rules"]
        if "alert" in r
    ]
    by_name = {r["alert"]: r for r in rules}
    assert by_name["SignoffAccuracyDrift"]["labels"] | {} == {
        "signal": "accuracy_drift", "severity": "page", "team": "ranking-squad", "owner": "ml",
        "workload": "recsys-ranker-v2", "namespace": "default",
    }  # fmt: skip
    assert (
        by_name["SignoffGpuOom"]["annotations"]["runbook_url"]
        == "https://runbooks.example.com/platform/gpu-serving"
    )
    assert by_name["SignoffLatencyP99"]["for"] == "10m"
    for rule in rules:
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}


def test_metric_names_are_validated() -> None:
    with pytest.raises(ValidationError):
        obs.MetricNames(requests_total="bad name{", error_label="code", error_regex="5..",
                        latency_bucket="x_bucket", latency_unit_seconds=1, port="metrics")  # fmt: skip
    with pytest.raises(ValidationError):
        obs.MetricNames.knative_queue_proxy().model_copy(update={}).model_validate(
            {**obs.MetricNames.knative_queue_proxy().model_dump(), "latency_bucket": "no_suffix"}
        )


@pytest.mark.parametrize("mode", list(ServingMode), ids=lambda m: m.value)
def test_monitor_matches_what_render_puts_in_the_cluster(mode: ServingMode) -> None:
    # The monitors select objects gates.render writes: the Service (and its metrics port) in
    # Deployment mode, the predictor pods (labels KServe copies from spec.predictor.labels) in KServe mode.
    from contracts.loader import load_cluster_policy
    from gates.render import ModelRef, render

    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    policy = load_cluster_policy(ROOT / "contracts" / "examples" / "cluster-policy.yaml")
    model = ModelRef(name="recsys-ranker", version="3", storage_uri="s3://m/3", digest="sha256:" + "a" * 64)
    objects = render(
        contract, policy, model, "registry.example.com/ml/s@sha256:" + "b" * 64, mode=mode
    ).objects
    namespace = objects[0]["metadata"]["namespace"]
    monitor = obs.render_observability(contract, namespace=namespace, mode=mode)[0]
    wanted = monitor["spec"]["selector"]["matchLabels"]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [namespace]
    if mode is ServingMode.DEPLOYMENT:
        service = next(o for o in objects if o["kind"] == "Service")
        assert wanted.items() <= service["metadata"]["labels"].items()
        assert monitor["spec"]["endpoints"][0]["port"] in [p["name"] for p in service["spec"]["ports"]]
        pods = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["metadata"]["labels"]
    else:
        pods = next(o for o in objects if o["kind"] == "InferenceService")["spec"]["predictor"]["labels"]
    assert wanted.items() <= pods.items()
    # The relabelling reads the pod label the selector matched.
    assert pods[obs.WORKLOAD_LABEL] == contract.name


def test_the_policy_chooses_the_metrics_and_labels_the_operator_selects_by() -> None:
    from contracts.cluster import ClusterPolicy
    from contracts.errors import InputError

    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    base = load_cluster_policy(ROOT / "contracts" / "examples" / "cluster-policy.yaml")
    doc = base.model_dump(mode="json")
    doc["spec"]["monitoring"] = {"labels": {"release": "kube-prometheus-stack"}}
    policy = ClusterPolicy.model_validate(doc)
    monitor, rule = obs.render_observability(contract, namespace=NS, mode=ServingMode.KSERVE, policy=policy)
    for obj in (monitor, rule):
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert obj["metadata"]["labels"]["signoff.dev/workload"] == "recsys-ranker-v2"
    assert "rest_server_requests_total" in obs.to_yaml(rule)
    knative = copy.deepcopy(doc)
    knative["spec"]["kserve"].update(deployment_mode="Knative", knative={"version": "1.19", "features": []})
    with pytest.raises(InputError, match=r"Knative Serving >= 1.19 exports OpenTelemetry metrics"):
        obs.MetricNames.for_policy(ClusterPolicy.model_validate(knative))
    knative["spec"]["kserve"]["knative"]["version"] = "1.18"
    assert obs.MetricNames.for_policy(ClusterPolicy.model_validate(knative)).requests_total == (
        "revision_request_count"
    )
    other = copy.deepcopy(doc)
    other["spec"]["kserve"]["runtime"] = "my-runtime"
    with pytest.raises(InputError, match=r"kserve.runtime 'my-runtime': signoff knows the metrics of"):
        obs.MetricNames.for_policy(ClusterPolicy.model_validate(other))


KPS_RELEASE = ("release", "kube-prometheus-stack")
"""What kube-prometheus-stack's Prometheus selects monitors and rules by with its chart defaults
(``*SelectorNilUsesHelmValues: true``: the label ``release: <the Helm release>``)."""


@pytest.mark.parametrize(
    "policy_path",
    [
        ROOT / "contracts" / "examples" / "cluster-policy.yaml",
        ROOT / "infra" / "overlays" / "staging" / "cluster-policy.yaml",
    ],
    ids=["example", "staging-overlay"],
)
@pytest.mark.parametrize("mode", list(ServingMode), ids=lambda m: m.value)
def test_the_shipped_policies_label_every_monitor_and_rule_for_kube_prometheus_stack(
    policy_path: Path, mode: ServingMode
) -> None:
    """The shipped cluster policies name the release label, so what the deploy step applies is what
    kube-prometheus-stack's Prometheus loads, not objects it silently ignores."""
    policy = load_cluster_policy(policy_path)
    assert KPS_RELEASE in policy.spec.monitoring.labels.items()
    for path in _contracts():
        for obj in obs.render_observability(load_contract(path), namespace=NS, mode=mode, policy=policy):
            assert obj["metadata"]["labels"].get(KPS_RELEASE[0]) == KPS_RELEASE[1], (path.stem, obj["kind"])
