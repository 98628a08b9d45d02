"""The Alertmanager routing tree, checked by the real ``amtool``: it loads, and every alert of the
contract reaches its owner team's receiver (``amtool config routes test``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.loader import load_contract
from contracts.workload import Role
from gates import observability as obs

ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> list[Path]:
    paths = sorted((ROOT / "contracts" / "examples").glob("*.yaml"))
    return [
        p
        for p in paths
        if (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("kind") == "WorkloadContract"
    ]


@pytest.fixture(scope="module")
def amtool() -> str:
    exe = shutil.which("amtool")
    if exe is None:
        pytest.skip("amtool not installed (Debian package 'prometheus-alertmanager'; .ci/run installs it)")
    return exe


def _write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(obs.to_yaml(config), encoding="utf-8")
    return path


def _route(amtool: str, config: Path, labels: dict[str, str]) -> str:
    args = [f"{k}={v}" for k, v in sorted(labels.items())]
    done = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={config}", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("path", _contracts(), ids=lambda p: p.stem)
def test_config_passes_amtool_check_config(amtool: str, tmp_path: Path, path: Path) -> None:
    config = _write(tmp_path, obs.alertmanager_config(load_contract(path)))
    done = subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize("path", _contracts(), ids=lambda p: p.stem)
def test_every_alert_reaches_its_owner_team(amtool: str, tmp_path: Path, path: Path) -> None:
    contract = load_contract(path)
    config = _write(tmp_path, obs.alertmanager_config(contract))
    rules = obs.rule_groups(contract, obs.MetricNames.knative_queue_proxy(), namespace="ml-prod")
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert len(alerts) == 7 + len(contract.spec.alerts)
    for rule in alerts:
        labels = {**rule["labels"], "alertname": rule["alert"]}
        team = labels["team"]
        want = team if labels["severity"] == "page" else f"{team}-tickets"
        assert _route(amtool, config, labels) == want, labels
    # And each contract alert pages the team of the role the contract names.
    for alert in contract.spec.alerts:
        rule = next(r for r in alerts if r["alert"] == obs.alert_name(alert))
        labels = {**rule["labels"], "alertname": rule["alert"]}
        assert _route(amtool, config, labels) == contract.spec.owners.of(alert.pages).team


def test_example_routes_by_signal_as_the_contract_says(amtool: str, tmp_path: Path) -> None:
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    config = _write(tmp_path, obs.alertmanager_config(contract))
    base = {"workload": "recsys-ranker-v2", "severity": "page"}
    # latency -> SRE, accuracy drift -> ML team, GPU OOM -> platform (the interface document's alerts).
    assert (
        _route(
            amtool,
            config,
            {**base, "alertname": "SignoffLatencyP99", "team": "sre-ai-oncall", "owner": "sre"},
        )
        == "sre-ai-oncall"
    )
    assert (
        _route(
            amtool,
            config,
            {**base, "alertname": "SignoffAccuracyDrift", "team": "ranking-squad", "owner": "ml"},
        )
        == "ranking-squad"
    )
    assert (
        _route(
            amtool,
            config,
            {**base, "alertname": "SignoffGpuOom", "team": "platform-gpu-team", "owner": "platform"},
        )
        == "platform-gpu-team"
    )
    # A label set that names no owner (or another workload) falls to the default receiver.
    assert (
        _route(amtool, config, {**base, "alertname": "X", "team": "ranking-squad", "owner": "sre"})
        == obs.DEFAULT_RECEIVER
    )
    assert (
        _route(amtool, config, {"workload": "other", "team": "sre-ai-oncall", "owner": "sre"})
        == obs.DEFAULT_RECEIVER
    )


def test_burn_rate_alerts_page_the_team_the_contract_names() -> None:
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    # The latency alert pages SRE; availability has no alert, so the manual-rollback decider (SRE).
    assert obs.burn_owner(contract, "latency") is Role.SRE
    assert obs.burn_owner(contract, "availability") is Role.SRE
    data = contract.model_dump(mode="json")
    data["spec"]["alerts"][0]["pages"] = "platform"
    data["spec"]["rollback"]["manual"][1]["decides"] = "ml"
    moved = type(contract).model_validate(data)
    assert obs.burn_owner(moved, "latency") is Role.PLATFORM
    assert obs.burn_owner(moved, "availability") is Role.ML
    rules = obs.rule_groups(moved, obs.MetricNames.knative_queue_proxy())
    burn = {
        r["alert"]: r["labels"]["team"]
        for g in rules["groups"]
        for r in g["rules"]
        if "BudgetBurn" in r.get("alert", "")
    }
    assert burn == {
        "SignoffAvailabilityBudgetBurn": "ranking-squad",
        "SignoffLatencyBudgetBurn": "platform-gpu-team",
    }


def test_receivers_hold_no_secrets() -> None:
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    config = obs.alertmanager_config(contract)
    text = obs.to_yaml(config)
    assert "routing_key:" not in text and "service_key:" not in text and "api_url:" not in text
    names = [r["name"] for r in config["receivers"]]
    teams = ["sre-ai-oncall", "ranking-squad", "platform-gpu-team"]
    assert names == ["default", *(n for t in teams for n in (t, f"{t}-tickets"))]
    assert config["route"]["group_by"] == ["alertname", "workload"]


def test_route_walk_agrees_with_amtool(amtool: str, tmp_path: Path) -> None:
    # The readiness gate walks the tree in Python; amtool is the reference. Include continue, regex,
    # negative and legacy match/match_re routes so every branch of the walk is compared.
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    config = obs.alertmanager_config(contract)
    config["route"]["routes"].insert(
        0, {"receiver": "audit", "matchers": ['severity=~"page|critical"'], "continue": True}
    )
    config["route"]["routes"].append(
        {"receiver": "legacy", "match": {"team": "old"}, "match_re": {"alertname": "Old.*"}}
    )
    config["route"]["routes"].append(
        {"receiver": "not-sre", "matchers": ['team!="sre-ai-oncall"', 'owner!~"ml|sre"']}
    )
    config["receivers"] += [{"name": "audit"}, {"name": "legacy"}, {"name": "not-sre"}]
    path = _write(tmp_path, config)
    cases = [
        {"workload": "recsys-ranker-v2", "team": "sre-ai-oncall", "owner": "sre", "severity": "page"},
        {"workload": "recsys-ranker-v2", "team": "sre-ai-oncall", "owner": "sre", "severity": "ticket"},
        {"workload": "recsys-ranker-v2", "team": "ranking-squad", "owner": "ml", "severity": "page"},
        {
            "workload": "recsys-ranker-v2",
            "team": "platform-gpu-team",
            "owner": "platform",
            "severity": "ticket",
        },
        {"workload": "recsys-ranker-v2", "team": "platform-gpu-team", "owner": "ml", "severity": "page"},
        {"workload": "other", "team": "old", "alertname": "OldThing"},
        {"workload": "other", "team": "old", "alertname": "NewThing"},
        {"workload": "other", "team": "x", "owner": "platform"},
        {"workload": "other", "team": "sre-ai-oncall", "owner": "platform"},
        {"severity": "critical"},
        {"alertname": "Nothing"},
    ]
    for labels in cases:
        ours = obs.route_receivers(config, labels)
        assert ",".join(ours) == _route(amtool, path, labels), labels


_TEAMS = ["sre-ai-oncall", "ranking-squad", "platform-gpu-team", "sre", "ml", "platform"]
_VALUES = st.sampled_from(
    ["", *_TEAMS, "page", "ticket", "critical", "recsys-ranker-v2", "other", "OldThing"]
)
_LABELS = st.dictionaries(
    st.sampled_from(["workload", "team", "owner", "severity", "alertname"]), _VALUES, max_size=5
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=_LABELS)
def test_route_walk_agrees_with_amtool_on_any_labels(
    amtool: str, tmp_path: Path, labels: dict[str, str]
) -> None:
    path = tmp_path / "alertmanager.yml"
    if not path.exists():
        contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
        config = obs.alertmanager_config(contract)
        config["route"]["routes"].insert(
            0, {"receiver": "audit", "matchers": ['severity=~"page|critical"'], "continue": True}
        )
        config["receivers"].append({"name": "audit"})
        path.write_text(obs.to_yaml(config), encoding="utf-8")
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    labels = {k: v for k, v in labels.items() if v}  # amtool reads an empty value as an absent label
    assert ",".join(obs.route_receivers(config, labels)) == _route(amtool, path, labels), labels


def test_contract_text_cannot_inject_templates(amtool: str, tmp_path: Path) -> None:
    # Alertmanager and Prometheus expand Go templates in these fields; contract text stays literal.
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    data = contract.model_dump(mode="json")
    data["spec"]["owners"]["ml"]["chat"] = '#ml {{ template "x" . }}'
    data["spec"]["owners"]["ml"]["pager"] = "{{ .CommonLabels }}"
    data["spec"]["owners"]["ml"]["runbook"] = 'https://runbooks.example.com/{{query"up"}}'
    sneaky = type(contract).model_validate(data)
    config = obs.alertmanager_config(sneaky)
    ml = next(r for r in config["receivers"] if r["name"] == "ranking-squad")
    assert ml["slack_configs"][0]["channel"] == '#ml {{ "{{" }} template "x" . }}'
    assert ml["pagerduty_configs"][0]["details"]["pager"] == '{{ "{{" }} .CommonLabels }}'
    path = _write(tmp_path, config)
    done = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rules = obs.rule_groups(sneaky, obs.MetricNames.knative_queue_proxy())
    drift = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "SignoffAccuracyDrift")
    assert drift["annotations"]["runbook_url"] == 'https://runbooks.example.com/%7B%7Bquery"up"%7D%7D'
