"""End-to-end local runs of the KFP pipeline (``kfp.local``) against the session's real MLflow server.

The passing path promotes; a refusal at each of the three handoff gates (made to fail through its
inputs, never a mock) stops the run before promotion with the production alias untouched and the
refusing gate's reason in the output.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.trust import Gate
from gates.verdict import digest_bytes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "contracts" / "examples" / "cluster-policy.yaml"
TEAMS = {"ml": "iris-ml", "platform": "iris-platform", "sre": "iris-sre"}
GATES = {
    "ml": ["ml-artifact", "approval", "promotion", "rollback"],
    "platform": ["platform"],
    "sre": ["sre-readiness"],
}

CONTRACT: dict[str, Any] = {
    "apiVersion": "signoff.dev/v1alpha1",
    "kind": "WorkloadContract",
    "metadata": {"name": "iris-classifier", "model": "REPLACED"},
    "spec": {
        "owners": {
            "ml": {"team": TEAMS["ml"], "runbook": "https://runbooks.example.com/ml"},
            "platform": {"team": TEAMS["platform"], "runbook": "https://runbooks.example.com/platform"},
            "sre": {"team": TEAMS["sre"], "pager": "pd-sre", "runbook": "https://runbooks.example.com/sre"},
        },
        "slos": {
            "p99_latency": "2.5s",
            "availability": "99%",
            "max_cold_start": "90s",
            "throughput_per_replica": 5,
        },
        "resources": {
            "gpu": None,
            "replicas": {"min": 2, "max": 4},
            "model_size": "16KB",
            "cpu": 1,
            "memory": "1GiB",
        },
        "alerts": [
            {"signal": "latency", "percentile": 99, "threshold": "2.5s", "window": "5m", "pages": "sre"},
            {"signal": "error_rate", "threshold": "1%", "window": "5m", "pages": "sre"},
            {"signal": "accuracy_drift", "threshold": "3%", "pages": "ml"},
        ],
        "rollback": {
            "automated": [{"signal": "accuracy_drift"}],
            "manual": [
                {"problem": "quality", "decides": "ml"},
                {"problem": "availability", "decides": "sre"},
            ],
        },
        "quality": [{"metric": "accuracy", "min": 0.9}],
    },
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Owner keys (``<role>.pem``) and a trust policy listing their public halves."""
    from components import keys

    root = tmp_path_factory.mktemp("pipeline-local")
    keys_dir = root / "keys"
    teams = []
    for role, team in TEAMS.items():
        private, public = keys.generate(team, root / "generated")
        keys_dir.mkdir(exist_ok=True)
        (keys_dir / f"{role}.pem").write_bytes(private.read_bytes())
        (keys_dir / f"{role}.pem").chmod(0o600)
        entry = keys.trusted_key_entry(public.read_text(encoding="utf-8"))
        teams.append({"name": team, "gates": GATES[role], "keys": [entry.model_dump(mode="json")]})
    trust = root / "trust.yaml"
    trust.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "signoff.dev/v1alpha1",
                "kind": "TrustPolicy",
                "metadata": {"name": "iris-trust"},
                "spec": {"teams": teams},
            }
        ),
        encoding="utf-8",
    )
    return {"root": root, "keys": keys_dir, "trust": trust}


def _contract(tmp_path: Path, model: str, **spec: Any) -> Path:
    doc = copy.deepcopy(CONTRACT)
    doc["metadata"]["model"] = model
    for key, value in spec.items():
        doc["spec"][key] = value
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _aliases(server: Any, model: str) -> dict[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    return dict(client.get_registered_model(model).aliases)


def _run(
    setup: dict[str, Path], server: Any, contract: Path, model: str, version: str, tmp_path: Path, **kw: Any
) -> Any:
    from pipelines import local

    return local.run_local(
        contract,
        f"models:/{model}/{version}",
        POLICY,
        setup["trust"],
        setup["keys"],
        tracking_uri=server.url,
        out_dir=tmp_path / "run",
        probe_seconds=3,
        **kw,
    )


def test_passing_path_promotes_with_every_owner_signature(
    setup: dict[str, Path], mlflow_server: Any, register_sklearn_model: Callable[..., str], tmp_path: Path
) -> None:
    from components import mlflow_registry

    model = "iris-pipeline-pass"
    version = register_sklearn_model(model)
    lines: list[str] = []
    result = _run(
        setup, mlflow_server, _contract(tmp_path, model), model, version, tmp_path,
        progress=lines.append, first_release=True,
    )  # fmt: skip
    assert result.passed, result.table() + "\n" + "\n".join(r for g in result.gates for r in g.reasons)
    assert [g.team for g in result.gates] == [TEAMS["ml"], TEAMS["platform"], TEAMS["sre"], TEAMS["ml"]]
    assert _aliases(mlflow_server, model).get("production") == version
    stored = mlflow_registry.Registry(mlflow_server.url).envelopes(model, version)
    assert {Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS} <= set(stored)
    sre = result.gates[2]
    assert sre.figures.get("passed") == 1.0
    assert any("sre-readiness: passed" in line for line in lines)
    deployable = (result.run_dir / "promotion" / "deployable_manifests").read_text(encoding="utf-8")
    envelope_digest = digest_bytes(result.gates[3].envelope_path.read_bytes())
    assert f"signoff.dev/promotion-record: {envelope_digest}" in deployable
    # kept with the version too: what a rollback to it re-applies
    kept = mlflow_registry.Registry(mlflow_server.url).promoted_manifests(model, version)
    assert kept == deployable
    assert not (result.run_dir / "deploy").exists(), "a local run never deploys"
    # What the deploy step applies beside the manifests (--observability) is what the SRE team signed.
    from contracts.loader import load_trust_policy
    from contracts.workload import canonical_json
    from gates import signing

    monitors = [
        d for d in yaml.safe_load_all((result.run_dir / "sre-readiness" / "observability").read_text()) if d
    ]
    assert sorted(o["kind"] for o in monitors) in (
        ["PodMonitor", "PrometheusRule"],
        ["PrometheusRule", "ServiceMonitor"],
    )
    signed = signing.verify_envelope(
        sre.envelope_path.read_bytes(), load_trust_policy(setup["trust"])
    ).verdict
    assert signed.artifacts["observability"] == digest_bytes(canonical_json(monitors))
    routes = yaml.safe_load((result.run_dir / "sre-readiness" / "alertmanager").read_text(encoding="utf-8"))
    assert signed.artifacts["alertmanager"] == digest_bytes(canonical_json(routes))
    assert (result.run_dir / "sre-readiness" / "passed").read_text(encoding="utf-8") == "true"
    # The local server's log is kept in the run's folder, as the SRE task's server_log artifact.
    served = (result.run_dir / "sre-readiness" / "server_log" / "mlflow-models-serve.log").read_text("utf-8")
    assert "Uvicorn running" in served or "Listening at" in served or "Started server" in served, served[
        -2000:
    ]
    summary = next(result.run_dir.glob("run-summary/report"), None)
    assert summary is not None and "promotion | " + TEAMS["ml"] in summary.read_text(encoding="utf-8")


def _assert_stopped_at(result: Any, gate: Gate, reason: str, server: Any, model: str) -> None:
    outcomes = {g.gate: g for g in result.gates}
    assert not result.passed
    assert result.failed is not None and result.failed.gate is gate, result.table()
    assert any(reason in r for r in result.failed.reasons), result.failed.reasons
    order = [Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS, Gate.PROMOTION]
    for later in order[order.index(gate) + 1 :]:
        assert not outcomes[later].ran, f"{later.value} ran after {gate.value} refused"
    assert "production" not in _aliases(server, model), "the registry's production alias moved"


def test_ml_gate_refusal_through_signoff_run_exits_1_with_the_reason(
    setup: dict[str, Path], mlflow_server: Any, register_sklearn_model: Callable[..., str], tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    model = "iris-pipeline-ml-refused"
    version = register_sklearn_model(model)
    contract = _contract(tmp_path, model, quality=[{"metric": "accuracy", "min": 0.9999}])
    argv = [
        sys.executable,
        "-m",
        "pipelines._cli.main",
        "run",
        str(contract),
        "--model",
        f"models:/{model}/{version}",
        "--policy",
        str(POLICY),
        "--trust",
        str(setup["trust"]),
        "--keys-dir",
        str(setup["keys"]),
        "--probe-seconds",
        "3",
        "--out",
        str(tmp_path / "run"),
    ]
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"ml-artifact refused (signed by {TEAMS['ml']})" in done.stderr
    assert "quality.accuracy" in done.stderr or "accuracy" in done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert "REFUSED" in rows["ml-artifact"]
    assert all("not run" in rows[g] for g in ("platform", "sre-readiness", "promotion"))
    assert "production" not in _aliases(mlflow_server, model), "the registry's production alias moved"
    assert "Traceback" not in done.stderr


def test_platform_gate_refusal_stops_before_promotion(
    setup: dict[str, Path], mlflow_server: Any, register_sklearn_model: Callable[..., str], tmp_path: Path
) -> None:
    model = "iris-pipeline-platform-refused"
    version = register_sklearn_model(model)
    contract = _contract(tmp_path, model)
    # A serving image from a registry the cluster policy does not allow, not pinned by digest.
    result = _run(
        setup, mlflow_server, contract, model, version, tmp_path, image="docker.io/library/nginx:latest"
    )
    _assert_stopped_at(result, Gate.PLATFORM, "registr", mlflow_server, model)
    # What the real KFP backend needs to show the refusal in its UI: the refused gate's task
    # SUCCEEDED (the backend uploads output artifacts only of tasks that succeed) with its report,
    # envelope and passed=false as outputs; the gate-refused task failed the run; promotion never ran.
    platform = result.run_dir / "platform"
    assert (platform / "passed").read_text(encoding="utf-8") == "false"
    report = (platform / "report").read_text(encoding="utf-8")
    assert "platform: REFUSED" in report and "image.registry" in report, report
    assert (platform / "envelope").is_file()
    log = re.sub(r"\x1b\[[0-9;]*m", "", result.log_path.read_text(encoding="utf-8"))
    assert "Task 'platform' finished with status SUCCESS" in log
    assert re.search(r"Task 'gate-refused(-\d+)?' finished with status FAILURE", log), log[-3000:]
    assert "Task 'promotion'" not in log and not (result.run_dir / "promotion").exists()
    summary = (result.run_dir / "run-summary" / "report").read_text(encoding="utf-8")
    assert "FAILED" in summary, summary


def test_sre_gate_refusal_stops_before_promotion(
    setup: dict[str, Path], mlflow_server: Any, register_sklearn_model: Callable[..., str], tmp_path: Path
) -> None:
    model = "iris-pipeline-sre-refused"
    version = register_sklearn_model(model)
    slos = {**CONTRACT["spec"]["slos"], "p99_latency": "1ms"}
    alerts = [
        {**a, "threshold": "1ms"} if a["signal"] == "latency" else a for a in CONTRACT["spec"]["alerts"]
    ]
    contract = _contract(tmp_path, model, slos=slos, alerts=alerts)
    result = _run(setup, mlflow_server, contract, model, version, tmp_path)
    _assert_stopped_at(result, Gate.SRE_READINESS, "p99", mlflow_server, model)
    # No production version and no first-release flag: no rollback target, which refuses by itself.
    assert any(r.startswith("rollback.target: no rollback target") for r in result.failed.reasons)


def test_sre_step_endpoint_notices_a_crashed_local_server_before_the_cold_start_deadline(
    mlflow_server: Any, tmp_path: Path
) -> None:
    import time

    from components import probe
    from components.steps import sre_readiness
    from contracts.loader import load_contract

    # A version that does not exist: `mlflow models serve` exits at start, as a crashed server would.
    slos = {**CONTRACT["spec"]["slos"], "max_cold_start": "10m"}
    contract = load_contract(_contract(tmp_path, "iris-pipeline-missing", slos=slos))
    missing = "models:/iris-pipeline-missing/1"
    with sre_readiness._endpoint("local", missing, mlflow_server.url, deadline_s=600, log_dir=tmp_path) as (
        url,
        at,
        alive,
        exit_reason,
    ):
        assert alive is not None
        started = time.monotonic()
        result = probe.probe(
            url, contract, example=[[5.1, 3.5, 1.4, 0.2]], protocol="mlflow", model_name="iris",
            launched_at=at, alive=alive, duration_s=1,
        )  # fmt: skip
        waited = time.monotonic() - started
        assert not alive()
        reason = exit_reason()
    assert not result.ready
    assert reason is not None and reason.startswith("mlflow models serve exited with code ")
    assert f"its log: {tmp_path / 'mlflow-models-serve.log'}" in reason
    assert waited < 120, f"waited {waited:.0f}s for a dead server (deadline 600s)"
    with sre_readiness._endpoint("http://127.0.0.1:9", "models:/m/1", mlflow_server.url, deadline_s=600) as (
        url,
        at,
        alive,
        exit_reason,
    ):
        assert (url, at, alive, exit_reason()) == ("http://127.0.0.1:9", None, None, None)
