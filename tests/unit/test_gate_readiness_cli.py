"""``signoff check readiness``: prints every check with its figures; exit 0 / 1 / 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from contracts.cluster import ServingMode
from contracts.loader import load_cluster_policy, load_contract
from gates import observability as obs
from gates.render import ModelRef, render
from pipelines._cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
DIGEST = "sha256:" + "c" * 64
PROBE = {
    "url": "http://127.0.0.1:8080", "protocol": "mlflow", "cold_start_s": 20.0, "target_rate": 200.0,
    "achieved_rate": 199.0, "duration_s": 30.0, "requests": 5970, "errors": 0,
    "p50_ms": 9.0, "p95_ms": 30.0, "p99_ms": 55.0, "max_ms": 70.0,
    "prediction_checked": True, "prediction_rows_in": 3, "prediction_rows_out": 3,
}  # fmt: skip


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    contract = load_contract(EXAMPLES / "recsys-ranker.yaml")
    policy = load_cluster_policy(EXAMPLES / "cluster-policy.yaml")
    model = ModelRef(
        name="recsys-ranker", version="4", storage_uri="s3://models/recsys-ranker/4", digest=DIGEST
    )
    manifests = render(contract, policy, model, "registry.example.com/ml/server@sha256:" + "d" * 64)
    (tmp_path / "manifests.yaml").write_text(manifests.to_yaml(), encoding="utf-8")
    (tmp_path / "probe.json").write_text(json.dumps(PROBE), encoding="utf-8")
    (tmp_path / "slow.json").write_text(json.dumps({**PROBE, "p99_ms": 380.0}), encoding="utf-8")
    return {
        "manifests": tmp_path / "manifests.yaml",
        "probe": tmp_path / "probe.json",
        "slow": tmp_path / "slow.json",
    }


def _run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    argv = ["check", "readiness", *args]
    monkeypatch.setattr(sys, "argv", ["signoff", *argv])  # the check dispatcher reads sys.argv
    return main(argv)


def _args(files: dict[str, Path], *extra: str) -> list[str]:
    return [
        "--contract", str(EXAMPLES / "recsys-ranker.yaml"), "--policy", str(EXAMPLES / "cluster-policy.yaml"),
        "--manifests", str(files["manifests"]), "--model", "recsys-ranker", "--version", "4",
        "--model-digest", DIGEST, *extra,
    ]  # fmt: skip


def test_passes_with_probe_and_rollback_target(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, Path],
    tmp_path: Path,
) -> None:
    verdict = tmp_path / "verdict.json"
    code = _run(monkeypatch, *_args(files, "--probe-result", str(files["probe"]), "--rollback-target", "3",
                                    "--verdict", str(verdict)))  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASSED" in out and "sre-ai-oncall signs" in out
    assert "p99 55ms; SLO 75ms" in out
    assert "[p99_ms=55.0, slo_ms=75.0]" in out
    data = json.loads(verdict.read_text(encoding="utf-8"))
    assert data["gate"] == "sre-readiness" and data["passed"] is True
    assert data["subject"] == {"model": "recsys-ranker", "version": "4", "digest": DIGEST}


def test_refuses_a_slow_endpoint_with_the_figure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    code = _run(monkeypatch, *_args(files, "--probe-result", str(files["slow"]), "--first-release"))
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  probe.p99-latency" in out and "p99 380ms; SLO 75ms" in out
    assert "WARN  rollback.target" in out
    assert "REFUSED: 1 check(s) failed: probe.p99-latency" in out


def test_without_probe_the_static_checks_still_print(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    code = _run(monkeypatch, *_args(files, "--rollback-target", "3"))
    out = capsys.readouterr().out
    assert code == 1
    assert "PASS  alert.gpu-oom" in out and "FAIL  probe.present" in out


def test_judges_given_observability_and_alertmanager_files(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, Path],
    tmp_path: Path,
) -> None:
    contract = load_contract(EXAMPLES / "recsys-ranker.yaml")
    config = obs.alertmanager_config(contract)
    config["route"]["routes"] = []  # every alert falls to the default receiver
    (tmp_path / "am.yaml").write_text(obs.to_yaml(config), encoding="utf-8")
    objects = obs.render_observability(contract, namespace="ml-prod", mode=ServingMode.KSERVE)
    (tmp_path / "obs.yaml").write_text("---\n".join(obs.to_yaml(o) for o in objects), encoding="utf-8")
    code = _run(monkeypatch, *_args(files, "--probe-result", str(files["probe"]), "--rollback-target", "3",
                                    "--alertmanager", str(tmp_path / "am.yaml"),
                                    "--observability", str(tmp_path / "obs.yaml")))  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "SignoffGpuOom routes to default, not platform-gpu-team" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--probe-result", "missing.json"], "--probe-result: missing.json is not a file"),
        (["--probe-result", "{bad}"], "is not JSON"),
        (["--probe-result", "{wrong}"], "not probe figures"),
    ],
    ids=["missing", "not-json", "not-figures"],
)
def test_bad_probe_file_is_exit_2_with_a_message(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, Path],
    tmp_path: Path,
    extra: list[str], message: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    Path("{bad}").write_text("{not json", encoding="utf-8")
    Path("{wrong}").write_text(json.dumps({"url": "x"}), encoding="utf-8")
    code = _run(monkeypatch, *_args(files, *extra, "--first-release"))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def test_bad_version_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    args = _args(files, "--first-release")
    args[args.index("--version") + 1] = "latest"
    assert _run(monkeypatch, *args) == 2
    assert "--version:" in capsys.readouterr().err
