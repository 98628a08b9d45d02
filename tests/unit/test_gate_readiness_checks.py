"""The SRE readiness gate on real rendered manifests and observability objects: pass, fail, figures."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.cluster import ClusterPolicy, ServingMode
from contracts.loader import load_cluster_policy, load_contract
from contracts.trust import Gate
from contracts.workload import WorkloadContract
from gates import observability as obs
from gates import readiness
from gates.evidence import ProbeResult
from gates.render import Manifests, ModelRef, render
from gates.verdict import Outcome, Subject, Verdict

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
DIGEST = "sha256:" + "a" * 64
IMAGE = "registry.example.com/ml/server@sha256:" + "b" * 64
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SUBJECT = Subject(model="recsys-ranker", version="3", digest=DIGEST)
GOOD_PROBE = ProbeResult(
    url="http://127.0.0.1:8080", protocol="kserve-v2", cold_start_s=41.0, cold_start_deadline_s=90.0,
    target_rate=200.0, achieved_rate=198.5, duration_s=30.0, requests=5955, errors=1,
    p50_ms=11.0, p95_ms=35.0, p99_ms=62.0, max_ms=90.0,
    prediction_checked=True, prediction_rows_in=5, prediction_rows_out=5,
)  # fmt: skip


@pytest.fixture(scope="module")
def contract() -> WorkloadContract:
    return load_contract(EXAMPLES / "recsys-ranker.yaml")


@pytest.fixture(scope="module")
def policy() -> ClusterPolicy:
    return load_cluster_policy(EXAMPLES / "cluster-policy.yaml")


def _manifests(contract: WorkloadContract, policy: ClusterPolicy, mode: ServingMode) -> list[dict[str, Any]]:
    model = ModelRef(
        name="recsys-ranker", version="3", storage_uri="s3://models/recsys-ranker/3", digest=DIGEST
    )
    return copy.deepcopy(list(render(contract, policy, model, IMAGE, mode=mode).objects))


def _evaluate(
    contract: WorkloadContract,
    manifests: list[dict[str, Any]],
    *,
    mode: ServingMode = ServingMode.KSERVE,
    observability: list[dict[str, Any]] | None = None,
    alertmanager: dict[str, Any] | None = None,
    probe: ProbeResult | None = GOOD_PROBE,
    rollback_target: str | None = "2",
    first_release: bool = False,
) -> Verdict:
    return readiness.evaluate(
        contract,
        manifests=manifests,
        observability=observability if observability is not None
        else obs.render_observability(contract, namespace="ml-prod", mode=mode),
        alertmanager=alertmanager if alertmanager is not None else obs.alertmanager_config(contract),
        probe=probe,
        rollback_target=rollback_target,
        first_release=first_release,
        subject=SUBJECT,
        now=NOW,
    )  # fmt: skip


def _check(verdict: Verdict, id_: str) -> Any:
    found = [c for c in verdict.checks if c.id == id_]
    assert len(found) == 1, f"no check {id_}: {[c.id for c in verdict.checks]}"
    return found[0]


@pytest.mark.parametrize("mode", list(ServingMode), ids=lambda m: m.value)
def test_rendered_workload_with_a_good_probe_passes(
    contract: WorkloadContract, policy: ClusterPolicy, mode: ServingMode
) -> None:
    manifests = _manifests(contract, policy, mode)
    verdict = _evaluate(contract, manifests, mode=mode)
    assert verdict.passed, [(c.id, c.message) for c in verdict.failures]
    assert all(c.outcome is Outcome.PASS for c in verdict.checks), [(c.id, c.outcome) for c in verdict.checks]
    assert verdict.gate is Gate.SRE_READINESS
    assert verdict.team == "sre-ai-oncall"
    assert verdict.expires_at - verdict.issued_at == timedelta(days=7)
    assert verdict.contract_digest == contract.digest()
    # The manifests digest is the one the platform gate signs for the same objects.
    assert verdict.artifacts["manifests"] == Manifests(objects=tuple(manifests)).digest()
    assert set(verdict.artifacts) == {"manifests", "observability", "alertmanager", "probe"}
    ids = [c.id for c in verdict.checks]
    for alert in contract.spec.alerts:
        assert f"alert.{alert.id}" in ids
    budget = _check(verdict, "probes.startup-budget")
    assert budget.figures == {"budget_s": 90.0, "max_cold_start_s": 90.0}


def test_missing_startup_probe_and_a_budget_over_the_cold_start(
    contract: WorkloadContract, policy: ClusterPolicy
) -> None:
    manifests = _manifests(contract, policy, ServingMode.KSERVE)
    isvc = next(m for m in manifests if m["kind"] == "InferenceService")
    container = isvc["spec"]["predictor"]["model"]
    container["startupProbe"].update(initialDelaySeconds=30, failureThreshold=24, periodSeconds=5)
    verdict = _evaluate(contract, manifests)
    check = _check(verdict, "probes.startup-budget")
    assert check.outcome is Outcome.FAIL
    assert check.figures == {"budget_s": 150.0, "max_cold_start_s": 90.0}
    assert "150s" in check.message and "90s" in check.message
    del container["startupProbe"], container["livenessProbe"]
    verdict = _evaluate(contract, manifests)
    present = _check(verdict, "probes.present")
    assert present.outcome is Outcome.FAIL
    assert present.figures == {"readiness": True, "liveness": False, "startup": False}
    assert "liveness, startup" in present.message
    assert not verdict.passed


def test_deployment_probes_are_read_from_the_pod_template(
    contract: WorkloadContract, policy: ClusterPolicy
) -> None:
    manifests = _manifests(contract, policy, ServingMode.DEPLOYMENT)
    dep = next(m for m in manifests if m["kind"] == "Deployment")
    del dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    verdict = _evaluate(contract, manifests, mode=ServingMode.DEPLOYMENT)
    assert _check(verdict, "probes.present").figures["readiness"] is False
    assert "Deployment/recsys-ranker-v2" in _check(verdict, "probes.present").message


def test_pdb_must_keep_one_replica(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    manifests = _manifests(contract, policy, ServingMode.KSERVE)
    pdb = next(m for m in manifests if m["kind"] == "PodDisruptionBudget")
    pdb["spec"]["maxUnavailable"] = 3  # all three replicas may go at once
    check = _check(_evaluate(contract, manifests), "pdb.keeps-one")
    assert check.outcome is Outcome.FAIL and check.figures["kept"] == 0
    pdb["spec"].pop("maxUnavailable")
    pdb["spec"]["minAvailable"] = "50%"  # of 3 replicas, rounded up: 2
    check = _check(_evaluate(contract, manifests), "pdb.keeps-one")
    assert check.outcome is Outcome.PASS and check.figures["kept"] == 2
    pdb["spec"]["selector"]["matchLabels"] = {"signoff.dev/workload": "someone-else"}
    check = _check(_evaluate(contract, manifests), "pdb.keeps-one")
    assert check.outcome is Outcome.FAIL and "no PodDisruptionBudget selects" in check.message
    manifests.remove(pdb)
    assert _check(_evaluate(contract, manifests), "pdb.keeps-one").outcome is Outcome.FAIL


def test_pdb_is_skipped_below_two_replicas(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    data = contract.model_dump(mode="json")
    data["spec"]["resources"]["replicas"] = {"min": 1, "max": 4}
    single = WorkloadContract.model_validate(data)
    check = _check(_evaluate(single, _manifests(single, policy, ServingMode.KSERVE)), "pdb.keeps-one")
    assert check.outcome is Outcome.SKIP and check.figures == {"min_replicas": 1}


def test_autoscaler_bounds_must_equal_the_contract(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    manifests = _manifests(contract, policy, ServingMode.KSERVE)
    next(m for m in manifests if m["kind"] == "InferenceService")["spec"]["predictor"]["maxReplicas"] = 8
    check = _check(_evaluate(contract, manifests), "autoscaler.bounds")
    assert check.outcome is Outcome.FAIL
    assert check.figures == {"contract_min": 3, "contract_max": 12, "min": 3, "max": 8}
    manifests = _manifests(contract, policy, ServingMode.DEPLOYMENT)
    hpa = next(m for m in manifests if m["kind"] == "HorizontalPodAutoscaler")
    hpa["spec"]["minReplicas"] = 2
    check = _check(_evaluate(contract, manifests, mode=ServingMode.DEPLOYMENT), "autoscaler.bounds")
    assert (
        check.outcome is Outcome.FAIL
        and check.figures["min"] == 2
        and "HorizontalPodAutoscaler" in check.message
    )
    manifests.remove(hpa)
    assert (
        _check(_evaluate(contract, manifests, mode=ServingMode.DEPLOYMENT), "autoscaler.bounds").outcome
        is Outcome.FAIL
    )


def test_an_alert_routed_to_the_wrong_team_fails(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    manifests = _manifests(contract, policy, ServingMode.KSERVE)
    config = obs.alertmanager_config(contract)
    # Someone "simplifies" the tree: GPU alerts go to SRE, not platform.
    team_routes = config["route"]["routes"][0]["routes"]
    platform = next(r for r in team_routes if r["receiver"] == "platform-gpu-team")
    platform["receiver"] = "sre-ai-oncall"
    platform["routes"] = []
    verdict = _evaluate(contract, manifests, alertmanager=config)
    check = _check(verdict, "alert.gpu-oom")
    assert check.outcome is Outcome.FAIL
    assert check.figures["receiver"] == "sre-ai-oncall" and check.figures["team"] == "platform-gpu-team"
    assert "not platform-gpu-team" in check.message
    assert _check(verdict, "alert.latency-p99").outcome is Outcome.PASS
    # An empty configuration routes nothing anywhere but the root.
    verdict = _evaluate(
        contract,
        manifests,
        alertmanager={"route": {"receiver": "default"}, "receivers": [{"name": "default"}]},
    )
    assert {c.id for c in verdict.failures} >= {
        "alert.latency-p99",
        "alert.accuracy-drift",
        "alert.gpu-oom",
        "slo.latency",
    }


def test_missing_alert_rule_slo_rule_and_monitor(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    manifests = _manifests(contract, policy, ServingMode.KSERVE)
    monitor, rule = obs.render_observability(contract, namespace="ml-prod", mode=ServingMode.KSERVE)
    for group in rule["spec"]["groups"]:
        group["rules"] = [
            r for r in group["rules"]
            if r.get("alert") != "SignoffAccuracyDrift"
            and r.get("record") != "signoff:request_errors:ratio_rate6h"
        ]  # fmt: skip
    verdict = _evaluate(contract, manifests, observability=[rule])
    drift = _check(verdict, "alert.accuracy-drift")
    assert drift.outcome is Outcome.FAIL and "no alert rule SignoffAccuracyDrift" in drift.message
    slo = _check(verdict, "slo.availability")
    assert slo.outcome is Outcome.FAIL and slo.figures["recording_rules"] == 4
    assert "signoff:request_errors:ratio_rate6h" in slo.message
    assert _check(verdict, "slo.latency").outcome is Outcome.PASS
    assert _check(verdict, "monitor.selects-workload").outcome is Outcome.FAIL
    assert _check(
        _evaluate(contract, manifests, observability=[monitor, rule]), "monitor.selects-workload"
    ).passed


def test_alert_labelled_with_another_owner_fails(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    manifests = _manifests(contract, policy, ServingMode.KSERVE)
    objects = obs.render_observability(contract, namespace="ml-prod", mode=ServingMode.KSERVE)
    rule = next(
        r
        for g in objects[1]["spec"]["groups"]
        for r in g["rules"]
        if r.get("alert") == "SignoffAccuracyDrift"
    )
    rule["labels"].update(team="sre-ai-oncall", owner="sre")
    check = _check(_evaluate(contract, manifests, observability=objects), "alert.accuracy-drift")
    assert check.outcome is Outcome.FAIL and "pages ml (ranking-squad)" in check.message


def test_paging_alert_without_runbook_fails(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    data = contract.model_dump(mode="json")
    data["spec"]["owners"]["platform"].pop("runbook")
    bare = WorkloadContract.model_validate(data)
    verdict = _evaluate(bare, _manifests(bare, policy, ServingMode.KSERVE))
    check = _check(verdict, "alerts.runbooks")
    assert check.outcome is Outcome.FAIL
    assert check.figures == {"paging": 7, "without_runbook": 1}
    assert "SignoffGpuOom" in check.message


def test_rollback_target(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    manifests = _manifests(contract, policy, ServingMode.KSERVE)
    none = _evaluate(contract, manifests, rollback_target=None)
    assert _check(none, "rollback.target").outcome is Outcome.FAIL and not none.passed
    first = _evaluate(contract, manifests, rollback_target=None, first_release=True)
    assert _check(first, "rollback.target").outcome is Outcome.WARN and first.passed
    assert _check(_evaluate(contract, manifests), "rollback.target").figures["rollback_target"] == "2"


def test_no_probe_fails_even_when_everything_else_passes(
    contract: WorkloadContract, policy: ClusterPolicy
) -> None:
    verdict = _evaluate(contract, _manifests(contract, policy, ServingMode.KSERVE), probe=None)
    assert [c.id for c in verdict.failures] == ["probe.present"]
    assert "no live probe" in verdict.failures[0].message
    assert "probe" not in verdict.artifacts


@pytest.mark.parametrize(
    ("update", "failed", "figures"),
    [
        ({"p99_ms": 380.0}, "probe.p99-latency", {"p99_ms": 380.0, "slo_ms": 75.0}),
        ({"p50_ms": 40.0}, "probe.p50-latency", {"p50_ms": 40.0, "slo_ms": 25.0}),
        ({"errors": 600}, "probe.error-rate", {"errors": 600, "requests": 5955, "budget": 0.0005}),
        ({"achieved_rate": 150.0}, "probe.rate", {"target_rate": 200.0, "achieved_rate": 150.0}),
        ({"cold_start_s": 95.2}, "probe.cold-start", {"cold_start_s": 95.2, "max_cold_start_s": 90.0}),
        ({"ready": False, "cold_start_s": None, "requests": 0, "errors": 0}, "probe.ready", {"ready": False}),
    ],
    ids=["p99", "p50", "errors", "rate", "cold-start", "never-ready"],
)
def test_probe_figures_against_the_slos(
    contract: WorkloadContract,
    policy: ClusterPolicy,
    update: dict[str, Any],
    failed: str,
    figures: dict[str, Any],
) -> None:
    probe = GOOD_PROBE.model_copy(update=update)
    verdict = _evaluate(contract, _manifests(contract, policy, ServingMode.KSERVE), probe=probe)
    assert not verdict.passed
    check = _check(verdict, failed)
    assert check.outcome is Outcome.FAIL
    assert {k: check.figures[k] for k in figures} == figures


def test_probe_without_cold_start_measurement_warns(
    contract: WorkloadContract, policy: ClusterPolicy
) -> None:
    probe = GOOD_PROBE.model_copy(update={"cold_start_s": None})
    verdict = _evaluate(contract, _manifests(contract, policy, ServingMode.KSERVE), probe=probe)
    assert _check(verdict, "probe.cold-start").outcome is Outcome.WARN
    assert verdict.passed


def test_probe_below_the_expected_load_warns(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    probe = GOOD_PROBE.model_copy(update={"target_rate": 50.0, "achieved_rate": 50.0})
    verdict = _evaluate(contract, _manifests(contract, policy, ServingMode.KSERVE), probe=probe)
    check = _check(verdict, "probe.load-level")
    assert check.outcome is Outcome.WARN
    assert check.figures == {"target_rate": 50.0, "expected_per_replica": 200.0}
    assert verdict.passed


def test_no_serving_object_fails_the_probe_checks(contract: WorkloadContract, policy: ClusterPolicy) -> None:
    manifests = [
        m for m in _manifests(contract, policy, ServingMode.KSERVE) if m["kind"] != "InferenceService"
    ]
    verdict = _evaluate(contract, manifests)
    assert _check(verdict, "probes.present").outcome is Outcome.FAIL
    assert _check(verdict, "autoscaler.bounds").outcome is Outcome.FAIL


def test_startup_budget_uses_kubernetes_defaults() -> None:
    assert readiness.startup_budget_seconds({"httpGet": {"path": "/"}}) == 30.0
    assert (
        readiness.startup_budget_seconds(
            {"initialDelaySeconds": 10, "failureThreshold": 5, "periodSeconds": 4}
        )
        == 30.0
    )


def test_a_server_that_exited_is_reported_as_what_it_is(
    contract: WorkloadContract, policy: ClusterPolicy
) -> None:
    """A crash is named (exit code, when, where its log is), not 'never became ready' or 'was running'."""
    exit_text = (
        "mlflow models serve exited with code 127 after 2.1 s; its log: runs/sre/mlflow-models-serve.log\n"
        "last 20 lines of its log:\nbash: line 1: exec: uvicorn: not found"
    )
    probe = ProbeResult(url="http://127.0.0.1:1", protocol="mlflow", ready=False, server_exit=exit_text)
    verdict = _evaluate(contract, _manifests(contract, policy, ServingMode.KSERVE), probe=probe)
    ready, cold = _check(verdict, "probe.ready"), _check(verdict, "probe.cold-start")
    assert ready.outcome is Outcome.FAIL and ready.message == exit_text
    assert cold.outcome is Outcome.FAIL
    assert "the server exited before it was ready" in cold.message
    assert "already running" not in cold.message
    assert not verdict.passed


def test_an_endpoint_that_never_became_ready_does_not_claim_it_was_running(
    contract: WorkloadContract, policy: ClusterPolicy
) -> None:
    probe = ProbeResult(url="http://127.0.0.1:1", protocol="mlflow", ready=False, cold_start_deadline_s=90)
    verdict = _evaluate(contract, _manifests(contract, policy, ServingMode.KSERVE), probe=probe)
    assert _check(verdict, "probe.ready").message == "endpoint never became ready (deadline 90s)"
    cold = _check(verdict, "probe.cold-start")
    assert cold.outcome is Outcome.FAIL and "the endpoint never became ready" in cold.message


@pytest.mark.parametrize(
    ("p99", "outcome", "says"),
    [
        ("75ms", Outcome.PASS, "P99 latency SLO 75ms is a bucket bound"),
        ("250ms", Outcome.PASS, "P99 latency SLO 250ms is a bucket bound"),
        ("80ms", Outcome.FAIL, "write slos.p99_latency as 75ms or 100ms"),
        ("200ms", Outcome.FAIL, "write slos.p99_latency as 100ms or 250ms"),
        ("30s", Outcome.FAIL, "write slos.p99_latency as 10s"),
    ],
)
def test_latency_slo_must_be_a_bucket_of_the_servers_histogram(
    contract: WorkloadContract, policy: ClusterPolicy, p99: str, outcome: Outcome, says: str
) -> None:
    # MLServer's histogram has prometheus_client's default buckets: no 80 ms, no 200 ms.
    doc = contract.model_dump(mode="json")
    doc["spec"]["slos"]["p99_latency"] = p99
    changed = WorkloadContract.model_validate(doc)
    verdict = readiness.evaluate(
        changed,
        manifests=_manifests(changed, policy, ServingMode.KSERVE),
        observability=obs.render_observability(changed, namespace="ml-prod", mode=ServingMode.KSERVE),
        alertmanager=obs.alertmanager_config(changed),
        probe=GOOD_PROBE, rollback_target="2", first_release=False, subject=SUBJECT, now=NOW,
        metrics=obs.MetricNames.for_policy(policy),
    )  # fmt: skip
    check = _check(verdict, "slo.latency-bucket")
    assert check.outcome is outcome and says in check.message, check.message
    if outcome is Outcome.FAIL:
        assert "the latency alerts would never fire" in check.message


@pytest.mark.parametrize(
    ("over", "outcome", "message"),
    [
        ({}, Outcome.PASS, "answered the stored example's 5 rows with 5 prediction rows"),
        ({"prediction_rows_out": 4, "prediction_error": "4 prediction rows for 5 input rows"}, Outcome.FAIL,
         "4 prediction rows for 5 input rows"),
        ({"prediction_checked": False, "prediction_rows_in": None, "prediction_rows_out": None}, Outcome.FAIL,
         "did not send the stored input example"),
        ({"ready": False}, Outcome.FAIL, "never became ready"),
    ],
)  # fmt: skip
def test_the_probe_signs_that_the_staging_endpoint_predicts_on_the_stored_example(
    contract: WorkloadContract, policy: ClusterPolicy, over: dict[str, Any], outcome: Outcome, message: str
) -> None:
    # Where the ML gate's deferred example prediction runs: the signed check says where it ran.
    c_, p_ = contract, policy
    probe = GOOD_PROBE.model_copy(update=over)
    c = _check(_evaluate(c_, _manifests(c_, p_, ServingMode.KSERVE), probe=probe), "probe.prediction")
    assert c.outcome is outcome and message in c.message
    assert c.figures["prediction_ran_in"] == "staging endpoint http://127.0.0.1:8080"
