"""The rendered Prometheus rules, checked and run by the real ``promtool``.

``promtool check rules`` parses every expression and annotation template; ``promtool test rules``
feeds synthetic series (``input_series``) through the rules and asserts which alerts fire, so these
tests show the burn-rate alerts firing at the SRE workbook's thresholds and staying quiet below them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.cluster import ServingMode
from contracts.loader import load_contract
from contracts.workload import WorkloadContract
from gates import observability as obs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "contracts" / "examples").glob("*.yaml"))
NS = "ml-prod"


def _contracts() -> list[Path]:
    out = []
    for path in EXAMPLES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("kind") == "WorkloadContract":
            out.append(path)
    return out


@pytest.fixture(scope="module")
def promtool() -> str:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip("promtool not installed (Debian package 'prometheus'; .ci/run installs it)")
    return exe


@pytest.fixture(scope="module")
def ranker() -> WorkloadContract:
    return load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("mode", list(ServingMode), ids=lambda m: m.value)
@pytest.mark.parametrize("path", _contracts(), ids=lambda p: p.stem)
def test_rule_groups_pass_promtool_check_rules(
    promtool: str, tmp_path: Path, path: Path, mode: ServingMode
) -> None:
    contract = load_contract(path)
    rules = obs.rule_groups(contract, obs.MetricNames.for_mode(mode), namespace=NS)
    (tmp_path / "rules.yml").write_text(obs.to_yaml(rules), encoding="utf-8")
    done = _run([promtool, "check", "rules", "rules.yml"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    n = sum(len(g["rules"]) for g in rules["groups"])
    assert f"SUCCESS: {n} rules found" in done.stdout


# ----------------------------------------------------------------------------- promtool test rules


def _rule(rules: dict[str, Any], alert: str, **labels: str) -> dict[str, Any]:
    found = [
        r for g in rules["groups"] for r in g["rules"]
        if r.get("alert") == alert and all(r["labels"].get(k) == v for k, v in labels.items())
    ]  # fmt: skip
    assert len(found) == 1, f"expected one {alert} rule with {labels}, found {len(found)}"
    return found[0]


def _firing(rule: dict[str, Any]) -> dict[str, Any]:
    # The alert's labels: the rule's labels plus the (namespace, workload) labels of the result.
    return {"exp_labels": dict(rule["labels"])}


def _series(metric: str, values: str, **labels: str) -> dict[str, str]:
    body = ", ".join(
        f"{k}={obs._q(v)}" for k, v in {"namespace": NS, "workload": "recsys-ranker-v2", **labels}.items()
    )
    return {"series": f"{metric}{{{body}}}", "values": values}


def _requests(ok_per_min: int, errors: str) -> list[dict[str, str]]:
    return [
        _series("revision_request_count", f"0+{ok_per_min}x240", response_code_class="2xx"),
        _series("revision_request_count", errors, response_code_class="5xx"),
    ]


def _latency(total_per_min: int, fast_per_min: int, le: str = "75") -> list[dict[str, str]]:
    return [
        _series("revision_request_latencies_bucket", f"0+{fast_per_min}x240", le=le),
        _series("revision_request_latencies_bucket", f"0+{total_per_min}x240", le="200"),
        _series("revision_request_latencies_bucket", f"0+{total_per_min}x240", le="+Inf"),
    ]


def _case(
    series: list[dict[str, str]], checks: list[tuple[str, str, list[dict[str, Any]]]]
) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": t, "alertname": name, "exp_alerts": exp} for t, name, exp in checks
        ],
    }


def _run_rule_tests(promtool: str, tmp_path: Path, rules: dict[str, Any], cases: list[dict[str, Any]]) -> str:
    # promtool compares annotations exactly, and ours hold {{ $value }} templates; the firing logic
    # (expressions, labels) is what these cases test, so the copy under test drops the annotations.
    # (test_rule_groups_pass_promtool_check_rules checks the templates as rendered.)
    def strip(rule: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in rule.items() if k != "annotations"}

    bare = {"groups": [{**g, "rules": [strip(r) for r in g["rules"]]} for g in rules["groups"]]}
    (tmp_path / "rules.yml").write_text(obs.to_yaml(bare), encoding="utf-8")
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": cases}
    (tmp_path / "rules_test.yml").write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    done = _run([promtool, "test", "rules", "rules_test.yml"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_availability_burn_rate_alerts_fire_and_stay_quiet(
    promtool: str, tmp_path: Path, ranker: WorkloadContract
) -> None:
    # Availability 99.95%: budget 0.0005; 14.4x = 0.72% errors, 6x = 0.3%, 1x = 0.05%.
    rules = obs.rule_groups(ranker, obs.MetricNames.knative_queue_proxy(), namespace=NS)
    alert = "SignoffAvailabilityBudgetBurn"
    fast, slow, ticket = (_firing(_rule(rules, alert, burn_rate=b)) for b in ("14.4", "6", "1"))
    cases = [
        # 1% errors (20x): every window burns.
        _case(_requests(990, "0+10x240"), [("30m", alert, [fast, slow, ticket])]),
        # 0.4% errors (8x): the 6x page and the ticket, not the 14.4x page.
        _case(_requests(996, "0+4x240"), [("30m", alert, [slow, ticket]), ("2h", alert, [slow, ticket])]),
        # 0.02% errors (0.4x): within budget, nothing fires.
        _case(_requests(9998, "0+2x240"), [("30m", alert, []), ("3h", alert, [])]),
        # A 5-minute burst of 50% errors that stopped: the 14.4x page fires during it and resets once
        # the 5m window is clean, though the 1h window still holds the burst; the 6x page stays on.
        _case(
            _requests(1000, "0x55 500+500x4 2500x200"),
            [("50m", alert, []), ("60m", alert, [fast, slow, ticket]), ("75m", alert, [slow, ticket])],
        ),
    ]
    out = _run_rule_tests(promtool, tmp_path, rules, cases)
    assert "SUCCESS" in out


def test_latency_burn_rate_and_contract_latency_alert(
    promtool: str, tmp_path: Path, ranker: WorkloadContract
) -> None:
    # p99 < 75ms: 1% of requests may be slower; 14.4x = 14.4% slower than 75ms.
    rules = obs.rule_groups(ranker, obs.MetricNames.knative_queue_proxy(), namespace=NS)
    burn = "SignoffLatencyBudgetBurn"
    fast, slow, ticket = (_firing(_rule(rules, burn, burn_rate=b)) for b in ("14.4", "6", "1"))
    p99 = _firing(_rule(rules, "SignoffLatencyP99"))
    unmeasured = "SignoffLatencySloUnmeasured"
    missing = _firing(_rule(rules, unmeasured))
    cases = [
        # 20% slower than 75ms: every latency burn alert; p99 ~194ms > 75ms held for 10m pages too.
        _case(
            _latency(100, 80),
            [
                ("30m", burn, [fast, slow, ticket]),
                ("30m", "SignoffLatencyP99", [p99]),
                ("8m", "SignoffLatencyP99", []),
                ("30m", "SignoffLatencySloUnmeasured", []),
            ],
        ),
        # The same with Prometheus 3's normalised bucket label le="75.0".
        _case(_latency(100, 80, le="75.0"), [("30m", burn, [fast, slow, ticket])]),
        # 8% slower (8x): the 6x page and the ticket only.
        _case(_latency(100, 92), [("30m", burn, [slow, ticket])]),
        # No bucket at 75ms (only 100ms): the latency ratio cannot be computed, so instead of silence
        # a ticket fires once that has held for an hour; the burn-rate alerts cannot fire.
        _case(
            _latency(100, 80, le="100"),
            [("30m", unmeasured, []), ("90m", unmeasured, [missing]), ("90m", burn, [])],
        ),
        # 0.5% slower: within the SLO; p99 stays under 75ms; nothing fires.
        _case(_latency(1000, 995), [("30m", burn, []), ("30m", "SignoffLatencyP99", [])]),
    ]
    assert "SUCCESS" in _run_rule_tests(promtool, tmp_path, rules, cases)


def test_drift_and_gpu_oom_alerts(promtool: str, tmp_path: Path, ranker: WorkloadContract) -> None:
    rules = obs.rule_groups(ranker, obs.MetricNames.knative_queue_proxy(), namespace=NS)
    drift = _firing(_rule(rules, "SignoffAccuracyDrift"))
    oom = _firing(_rule(rules, "SignoffGpuOom"))
    pod = {"namespace": NS, "container": "kserve-container"}

    def ksm(metric: str, values: str, **labels: str) -> dict[str, str]:
        body = ", ".join(f"{k}={obs._q(v)}" for k, v in labels.items())
        return {"series": f"{metric}{{{body}}}", "values": values}

    ours = "recsys-ranker-v2"
    cases = [
        _case(
            [_series("signoff_model_accuracy_drift_ratio", "0.05x30")],
            [("5m", "SignoffAccuracyDrift", [drift])],
        ),
        _case(
            [_series("signoff_model_accuracy_drift_ratio", "0.01x30")], [("5m", "SignoffAccuracyDrift", [])]
        ),
        _case(
            [
                ksm("kube_pod_labels", "1x40", namespace=NS, pod="ours-1", label_signoff_dev_workload=ours),
                ksm(
                    "kube_pod_labels", "1x40", namespace=NS, pod="other-1", label_signoff_dev_workload="other"
                ),
                ksm(
                    "kube_pod_container_status_last_terminated_reason",
                    "1x40",
                    pod="ours-1",
                    reason="OOMKilled",
                    **pod,
                ),
                ksm(
                    "kube_pod_container_status_last_terminated_reason",
                    "1x40",
                    pod="other-1",
                    reason="OOMKilled",
                    **pod,
                ),
                ksm("kube_pod_container_status_restarts_total", "0x10 1x30", pod="ours-1", **pod),
                # Another workload's pod restarting after an OOM must not page this workload's owner.
                ksm(
                    "kube_pod_container_status_restarts_total",
                    "0x24 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
                    pod="other-1",
                    **pod,
                ),
            ],
            # ours-1 restarted at 11m: fires while the restart is within 10 minutes, then clears.
            [("5m", "SignoffGpuOom", []), ("15m", "SignoffGpuOom", [oom]), ("30m", "SignoffGpuOom", [])],
        ),
        _case(
            [
                ksm("kube_pod_labels", "1x20", namespace=NS, pod="ours-1", label_signoff_dev_workload=ours),
                ksm("DCGM_FI_DEV_FB_USED", "50000x5 80000x15", namespace=NS, pod="ours-1", gpu="0"),
                ksm("DCGM_FI_DEV_FB_FREE", "31000x5 1000x15", namespace=NS, pod="ours-1", gpu="0"),
            ],
            # Framebuffer 62% used: quiet; 98.8% used: fires.
            [("3m", "SignoffGpuOom", []), ("10m", "SignoffGpuOom", [oom])],
        ),
        # dcgm-exporter scraped as its Helm chart and the GPU Operator do (honorLabels: false): the
        # target's namespace/pod are the exporter's own, the GPU pod's are exported_namespace/pod.
        _case(
            [
                ksm("kube_pod_labels", "1x20", namespace=NS, pod="ours-1", label_signoff_dev_workload=ours),
                ksm(
                    "kube_pod_labels", "1x20", namespace=NS, pod="other-1", label_signoff_dev_workload="other"
                ),
                *(
                    ksm(
                        metric,
                        values,
                        namespace="gpu-operator",
                        pod="nvidia-dcgm-exporter-7xk2p",
                        exported_namespace=NS,
                        exported_pod=gpu_pod,
                        exported_container="kserve-container",
                        gpu=gpu,
                    )
                    for gpu_pod, gpu, used, free in [
                        ("ours-1", "0", "50000x5 80000x15", "31000x5 1000x15"),
                        # another workload's full GPU must not page this workload's owner
                        ("other-1", "1", "80000x20", "1000x20"),
                    ]
                    for metric, values in [("DCGM_FI_DEV_FB_USED", used), ("DCGM_FI_DEV_FB_FREE", free)]
                ),
            ],
            [("3m", "SignoffGpuOom", []), ("10m", "SignoffGpuOom", [oom])],
        ),
        # The exporter in the workload's own namespace, default scrape: still read from exported_*.
        _case(
            [
                ksm("kube_pod_labels", "1x20", namespace=NS, pod="ours-1", label_signoff_dev_workload=ours),
                ksm(
                    "DCGM_FI_DEV_FB_USED",
                    "80000x20",
                    namespace=NS,
                    pod="dcgm-1",
                    exported_namespace=NS,
                    exported_pod="ours-1",
                    gpu="0",
                ),
                ksm(
                    "DCGM_FI_DEV_FB_FREE",
                    "1000x20",
                    namespace=NS,
                    pod="dcgm-1",
                    exported_namespace=NS,
                    exported_pod="ours-1",
                    gpu="0",
                ),
            ],
            [("10m", "SignoffGpuOom", [oom])],
        ),
    ]
    assert "SUCCESS" in _run_rule_tests(promtool, tmp_path, rules, cases)


def test_mlserver_preset_reads_its_seconds_histogram_and_exact_status_codes(
    promtool: str, tmp_path: Path, ranker: WorkloadContract
) -> None:
    # MLServer's rest_server_request_duration_seconds: the 75ms SLO is the bucket le="0.075";
    # errors are status_code=~"5.." (the exact code); only inference paths count.
    rules = obs.rule_groups(ranker, obs.MetricNames.mlserver(), namespace=NS)
    burn = "SignoffLatencyBudgetBurn"
    fast, slow, ticket = (_firing(_rule(rules, burn, burn_rate=b)) for b in ("14.4", "6", "1"))
    avail = "SignoffAvailabilityBudgetBurn"
    afast, aslow, aticket = (_firing(_rule(rules, avail, burn_rate=b)) for b in ("14.4", "6", "1"))
    metric, total = "rest_server_request_duration_seconds_bucket", "rest_server_requests_total"
    infer, ready = "/v2/models/{model_name}/infer", "/v2/models/{model_name}/ready"
    cases = [
        _case(
            [
                _series(metric, "0+80x240", le="0.075", path=infer),
                _series(metric, "0+100x240", le="+Inf", path=infer),
                _series(total, "0+990x240", status_code="200", path=infer),
                _series(total, "0+10x240", status_code="503", path=infer),
            ],
            [("30m", burn, [fast, slow, ticket]), ("30m", avail, [afast, aslow, aticket])],
        ),
        _case(
            [
                _series(metric, "0+999x240", le="0.075", path=infer),
                _series(metric, "0+1000x240", le="+Inf", path=infer),
                _series(total, "0+1000x240", status_code="200", path=infer),
                _series(total, "0+1x240", status_code="404", path=infer),  # a client error is not a failure
                # readiness GETs that fail are not inference: they burn no budget
                _series(total, "0+50x240", status_code="503", path=ready),
                _series(metric, "0+50x240", le="+Inf", path=ready),
            ],
            [("30m", burn, []), ("30m", avail, [])],
        ),
    ]
    assert "SUCCESS" in _run_rule_tests(promtool, tmp_path, rules, cases)


def test_every_other_contract_alert_fires_and_stays_quiet(promtool: str, tmp_path: Path) -> None:
    # support-llm-70b: error rate > 0.5% over 10m, availability < 99.9% over 30m, cold start > 15m,
    # GPU utilisation > 95% for 30m (MLServer metrics, as both serving modes run MLServer).
    llm = load_contract(ROOT / "contracts" / "examples" / "support-llm-70b.yaml")
    rules = obs.rule_groups(llm, obs.MetricNames.mlserver(), namespace=NS)
    w = {"workload": llm.name}
    err, avail, cold, util = (
        _firing(_rule(rules, a))
        for a in ("SignoffErrorRate", "SignoffAvailability", "SignoffColdStart", "SignoffGpuUtilization")
    )
    total, infer = "rest_server_requests_total", "/v2/models/{model_name}/infer"

    def traffic(errors_per_min: int) -> list[dict[str, str]]:
        return [
            _series(total, "0+994x60", status_code="200", path=infer, **w),
            _series(total, f"0+{errors_per_min}x60", status_code="500", path=infer, **w),
        ]

    def pod(metric: str, values: str, name: str = "llm-1", **labels: str) -> dict[str, str]:
        body = ", ".join(f"{k}={obs._q(v)}" for k, v in {"namespace": NS, "pod": name, **labels}.items())
        return {"series": f"{metric}{{{body}}}", "values": values}

    labels = pod("kube_pod_labels", "1x60", label_signoff_dev_workload=llm.name)
    cases = [
        # 6 of 1000 failing (0.6%): above the 0.5% error rate, availability 99.4% < 99.9%.
        _case(traffic(6), [("20m", "SignoffErrorRate", [err]), ("40m", "SignoffAvailability", [avail])]),
        # 0.05% failing: both quiet.
        _case(
            [
                _series(total, "0+9995x60", status_code="200", path=infer, **w),
                _series(total, "0+5x60", status_code="500", path=infer, **w),
            ],
            [("20m", "SignoffErrorRate", []), ("40m", "SignoffAvailability", [])],
        ),
        # A pod ready 20 minutes after it started pages platform; 5 minutes does not.
        _case(
            [labels, pod("kube_pod_start_time", "1000x60"), pod("kube_pod_status_ready_time", "2200x60")],
            [("5m", "SignoffColdStart", [cold])],
        ),
        _case(
            [labels, pod("kube_pod_start_time", "1000x60"), pod("kube_pod_status_ready_time", "1300x60")],
            [("5m", "SignoffColdStart", [])],
        ),
        # GPUs at 98% for 40 minutes page (after the 30m for:); at 98% for 20 minutes, or 80%, they do not.
        _case(
            [labels, pod("DCGM_FI_DEV_GPU_UTIL", "98x60", name="llm-1", gpu="0")],
            [("20m", "SignoffGpuUtilization", []), ("45m", "SignoffGpuUtilization", [util])],
        ),
        _case(
            [labels, pod("DCGM_FI_DEV_GPU_UTIL", "80x60", name="llm-1", gpu="0")],
            [("45m", "SignoffGpuUtilization", [])],
        ),
    ]
    assert "SUCCESS" in _run_rule_tests(promtool, tmp_path, rules, cases)

    fraud = load_contract(ROOT / "contracts" / "examples" / "fraud-scorer.yaml")
    rules = obs.rule_groups(fraud, obs.MetricNames.mlserver(), namespace=NS)
    data = _firing(_rule(rules, "SignoffDataDrift"))
    f = {"workload": fraud.name}
    cases = [
        _case(
            [_series("signoff_model_data_drift_ratio", "0.15x30", **f)], [("5m", "SignoffDataDrift", [data])]
        ),
        _case([_series("signoff_model_data_drift_ratio", "0.05x30", **f)], [("5m", "SignoffDataDrift", [])]),
        # another workload's drift is not this workload's
        _case([_series("signoff_model_data_drift_ratio", "0.5x30")], [("5m", "SignoffDataDrift", [])]),
    ]
    assert "SUCCESS" in _run_rule_tests(promtool, tmp_path, rules, cases)


FIRE_TESTED = {
    "SignoffAccuracyDrift",
    "SignoffAvailability",
    "SignoffAvailabilityBudgetBurn",
    "SignoffColdStart",
    "SignoffDataDrift",
    "SignoffErrorRate",
    "SignoffGpuOom",
    "SignoffGpuUtilization",
    "SignoffLatencyBudgetBurn",
    "SignoffLatencyP99",
    "SignoffLatencySloUnmeasured",
}
"""Every alert the examples render has a firing and a quiet promtool case in this file."""


def test_no_rendered_alert_lacks_a_firing_case() -> None:
    rendered = {
        r["alert"]
        for path in _contracts()
        for mode in ServingMode
        for g in obs.rule_groups(load_contract(path), obs.MetricNames.for_mode(mode), namespace=NS)["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    assert rendered - FIRE_TESTED == set(), "add firing and quiet cases for these alerts, then list them"
