"""The shared step logic and its engine wrappers, without servers: keys, documents, reports, exit codes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components import steps
from components.steps import _common, entry, ml_artifact
from contracts import errors
from contracts.trust import Gate
from gates.verdict import Check, Outcome, Subject, Verdict

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
SUBJECT = Subject(model="recsys-ranker", version="3", digest="sha256:" + "a" * 64)


def _verdict(*checks: Check) -> Verdict:
    return Verdict.decide(
        gate=Gate.PLATFORM,
        team="platform-gpu-team",
        checks=list(checks),
        subject=SUBJECT,
        contract_digest="sha256:" + "b" * 64,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        ttl=timedelta(days=7),
    )


def test_key_path_reads_the_keys_folder_locally_and_the_secret_mount_in_the_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(steps.KEYS_DIR_ENV, raising=False)
    assert steps.key_path("sre") == Path("/var/run/signoff/keys/sre/key.pem")
    monkeypatch.setenv(steps.KEYS_DIR_ENV, str(tmp_path))
    assert steps.key_path("ml") == tmp_path / "ml.pem"
    assert steps.key_path("platform", keys_dir=tmp_path / "other") == tmp_path / "other" / "platform.pem"
    with pytest.raises(ValueError):
        steps.key_path("admin")


def test_each_gate_is_signed_by_its_owner_role() -> None:
    assert steps.GATE_ROLE[Gate.ML_ARTIFACT].value == "ml"
    assert steps.GATE_ROLE[Gate.PLATFORM].value == "platform"
    assert steps.GATE_ROLE[Gate.SRE_READINESS].value == "sre"
    assert steps.GATE_ROLE[Gate.PROMOTION].value == "ml"


def test_report_names_signer_subject_and_every_failing_reason() -> None:
    verdict = _verdict(
        Check(
            id="gpu.product",
            outcome=Outcome.FAIL,
            message="GPU B200 is not offered | by policy",
            figures={"offered": 3},
        ),
        Check(id="image.digest", outcome=Outcome.PASS, message="pinned"),
    )
    text = steps.verdict_markdown(verdict, keyid="f" * 64)
    assert text.startswith("# platform: REFUSED")
    assert "Signed by team **platform-gpu-team** (key `ffffffffffffffff`)" in text
    assert "`models:/recsys-ranker/3`" in text
    assert "GPU B200 is not offered \\| by policy" in text  # a pipe cannot break the table
    assert "## Why it was refused" in text and "- `gpu.product`: GPU B200" in text
    figures = steps.figures(verdict)
    assert figures["passed"] == 0.0 and figures["checks_failed"] == 1.0
    assert figures["gpu.product.offered"] == 3.0


def test_gate_refused_exits_1_and_lists_each_reason() -> None:
    exc = steps.GateRefused(
        Gate.SRE_READINESS, "sre-ai-oncall", ["slo.p99: 120ms above 75ms", "cold-start: 95s"]
    )
    assert exc.exit_code == 1
    assert isinstance(exc, errors.PermanentError)
    assert "gate sre-readiness refused (signed by sre-ai-oncall)" in str(exc)
    assert "  - slo.p99: 120ms above 75ms\n  - cold-start: 95s" in str(exc)


def test_document_parameters_are_parsed_with_the_file_loaders_and_named_in_errors() -> None:
    contract = _common._contract((EXAMPLES / "recsys-ranker.yaml").read_text(encoding="utf-8"))
    assert contract.metadata.model == "recsys-ranker"
    with pytest.raises(errors.DocumentError) as bad:
        _common._contract("apiVersion: signoff.dev/v1alpha1\nkind: WorkloadContract\nmetadata: {name: x}\n")
    assert str(bad.value).startswith("<contract parameter>")
    with pytest.raises(errors.InputError, match="the trust-policy parameter is empty"):
        _common._trust("  \n")


def _step(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "components.steps", *args],
        capture_output=True,
        text=True,
        env=full,
        check=False,
    )


def test_step_process_maps_bad_input_to_exit_2_without_a_traceback(tmp_path: Path) -> None:
    done = _step(
        "ml-artifact",
        "--model-name",
        "m",
        "--model-version",
        "1",
        "--contract",
        "kind: [",
        "--out-dir",
        str(tmp_path),
    )
    assert done.returncode == 2, done.stderr
    assert "<contract parameter>" in done.stderr
    assert "Traceback" not in done.stderr


def test_step_process_without_an_mlflow_uri_says_how_to_give_one(tmp_path: Path) -> None:
    contract = (EXAMPLES / "recsys-ranker.yaml").read_text(encoding="utf-8")
    policy = (EXAMPLES / "cluster-policy.yaml").read_text(encoding="utf-8")
    done = _step(
        "ml-artifact",
        "--model-name",
        "recsys-ranker",
        "--model-version",
        "1",
        "--contract",
        contract,
        "--cluster-policy",
        policy,
        "--out-dir",
        str(tmp_path),
    )
    assert done.returncode == 2, done.stderr
    assert "MLFLOW_TRACKING_URI" in done.stderr and "Traceback" not in done.stderr


def test_storage_uri_maps_mlflow_proxied_artifacts_onto_the_store_the_cluster_reads() -> None:
    class _Registry:  # only the download location matters here; the real registry is integration-tested
        def __init__(self, location: str) -> None:
            self.location = location

        def download_uri(self, name: str, version: str) -> str:
            return self.location

    proxied = _Registry("mlflow-artifacts:/1/models/m-123/artifacts")
    assert (
        ml_artifact._storage_uri(proxied, "m", "1", "s3://mlflow/") == "s3://mlflow/1/models/m-123/artifacts"
    )
    hosted = _Registry("mlflow-artifacts://mlflow:5000/1/models/m-9/artifacts")
    assert ml_artifact._storage_uri(hosted, "m", "1", "gs://bucket") == "gs://bucket/1/models/m-9/artifacts"
    direct = _Registry("s3://store/1/abc/artifacts")
    assert ml_artifact._storage_uri(direct, "m", "1", "gs://other") == "s3://store/1/abc/artifacts"
    with pytest.raises(errors.InputError, match="artifact-store parameter"):
        _common._model_ref(
            {"name": "m", "version": "1", "storage_uri": "mlflow-artifacts:/1/x", "digest": SUBJECT.digest}
        )


def test_storage_uri_goes_through_the_retry_wrapper_so_an_mlflow_outage_is_retryable() -> None:
    import socket

    from components.mlflow_registry import Registry

    with socket.socket() as s:  # a port nothing listens on: MLflow is down (a real refusal)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = Registry(f"http://127.0.0.1:{port}", attempts=2, backoff_s=0.01)
    with pytest.raises(errors.TemporaryError, match="download location") as info:
        ml_artifact._storage_uri(registry, "m", "1", "s3://mlflow")
    assert info.value.exit_code == 3  # the code the Argo retry strategy retries, not 1 ("refused")
    assert registry.calls == 2


def test_kfp_emit_copies_outputs_of_a_refused_gate_and_explains_a_failed_step(tmp_path: Path) -> None:
    from kfp.dsl import Artifact, Markdown, Metrics

    from components import kfp_components

    out = tmp_path / "out"
    verdict = _verdict(Check(id="gpu.product", outcome=Outcome.FAIL, message="not offered"))
    env, rep, met = (
        Artifact(name="envelope", uri=str(tmp_path / "a" / "envelope")),
        Markdown(name="report", uri=str(tmp_path / "a" / "report")),
        Metrics(name="metrics", uri=str(tmp_path / "a" / "metrics")),
    )
    with (
        pytest.raises(steps.GateRefused),
        kfp_components.emit(str(out), envelope=env, report=rep, metrics=met),
    ):
        _common._finish(_common._write_outputs(out, verdict, b'{"payload": "x"}'))
    assert Path(env.path).read_bytes() == b'{"payload": "x"}'
    assert env.metadata == {"gate": "platform", "team": "platform-gpu-team", "passed": False}
    assert "## Why it was refused" in Path(rep.path).read_text(encoding="utf-8")
    assert met.metadata["checks_failed"] == 1.0

    out2 = tmp_path / "out2"
    rep2 = Markdown(name="report", uri=str(tmp_path / "b" / "report"))
    with pytest.raises(errors.VerificationError), kfp_components.emit(str(out2), report=rep2):
        raise errors.VerificationError(["the upstream ml-artifact verdict did not pass"])
    assert "VerificationError: the upstream ml-artifact verdict did not pass" in Path(rep2.path).read_text()


def test_local_run_refuses_bad_inputs_before_any_task_runs(tmp_path: Path) -> None:
    from pipelines import local

    contract, policy, trust = (
        EXAMPLES / "recsys-ranker.yaml",
        EXAMPLES / "cluster-policy.yaml",
        EXAMPLES / "trust-policy.yaml",
    )
    with pytest.raises(errors.InputError, match="models:/NAME/VERSION"):
        local.run_local(contract, "models:/recsys-ranker@production", policy, trust, tmp_path)
    with pytest.raises(
        errors.InputError, match=r"missing ranking-squad\.key \(or ml\.pem\), .*keys generate --contract"
    ):
        local.run_local(contract, "models:/recsys-ranker/3", policy, trust, tmp_path, tracking_uri="http://x")
    with pytest.raises(errors.InputError, match="is not a file"):
        local.run_local(tmp_path / "nope.yaml", "models:/recsys-ranker/3", policy, trust, tmp_path)


def test_signoff_run_reports_bad_input_with_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines._cli.main",
            "run",
            str(EXAMPLES / "recsys-ranker.yaml"),
            "--model",
            "models:/recsys-ranker/latest",
            "--policy",
            str(EXAMPLES / "cluster-policy.yaml"),
            "--trust",
            str(EXAMPLES / "trust-policy.yaml"),
            "--keys-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "models:/NAME/VERSION" in done.stderr and "Traceback" not in done.stderr


def test_argo_submit_line_quotes_values_and_reads_documents_from_files() -> None:
    from pipelines import argo_workflow

    line = argo_workflow.submit_line(
        {"model-name": "ranker", "image": "reg/x@sha256:1; rm -rf /"},
        files={"contract": "my contract.yaml"},
        namespace="ml",
    )
    assert line.startswith("argo submit --from workflowtemplate/signoff-gated-promotion -n ml ")
    assert "-p contract=\"$(cat -- 'my contract.yaml')\"" in line
    assert "-p 'image=reg/x@sha256:1; rm -rf /'" in line


def test_dockerfile_is_pinned_non_root_and_carries_the_kfp_runtime() -> None:
    text = (ROOT / "infra" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert "python:3.11-slim@sha256:" in text
    assert "USER 10001" in text
    assert "signoff[kfp,argo,mlflow]" in text
    assert "kfp.dsl.executor_main" in text  # verified importable at build time


def test_a_markdown_contract_travels_as_the_yaml_of_the_same_contract() -> None:
    from contracts.loader import load_contract
    from pipelines import local

    text = local.contract_text(EXAMPLES / "recsys-ranker.md")
    assert _common._contract(text).digest() == load_contract(EXAMPLES / "recsys-ranker.md").digest()
    assert (
        local.contract_text(EXAMPLES / "recsys-ranker.yaml") == (EXAMPLES / "recsys-ranker.yaml").read_text()
    )


def test_step_process_reads_first_release_as_the_engines_spell_it(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["sre-readiness", "--model-name", "m", "--model-version", "1", "--out-dir", "out"]
    assert entry._parser().parse_args(base).first_release is False  # never assumed
    assert entry._parser().parse_args([*base, "--first-release", "true"]).first_release is True
    assert entry._parser().parse_args([*base, "--first-release", "False"]).first_release is False
    with pytest.raises(SystemExit) as exc:
        entry._parser().parse_args([*base, "--first-release", "yes"])
    assert exc.value.code == 2
    assert "'yes' is not true or false" in capsys.readouterr().err


def test_submit_declares_a_first_release_only_when_asked_typed_for_each_engine() -> None:
    import argparse

    from pipelines import argo_workflow
    from pipelines._cli import submit

    parser = argparse.ArgumentParser()
    submit.configure(parser)
    base = [
        "--engine", "argo", "--contract", str(EXAMPLES / "recsys-ranker.yaml"),
        "--model", "models:/recsys-ranker/3", "--policy", str(EXAMPLES / "cluster-policy.yaml"),
        "--trust", str(EXAMPLES / "trust-policy.yaml"), "--image", "reg/serve@sha256:" + "1" * 64,
        "--staging-url", "http://ranker.ml-staging.svc",
    ]  # fmt: skip
    assert submit._params(parser.parse_args(base))["first-release"] == "false"
    params = submit._params(parser.parse_args([*base, "--first-release"]))
    assert params["first-release"] == "true"
    assert set(params) <= {name for name, _, _ in argo_workflow.PARAMETERS}  # every value has a parameter
    assert submit._kfp_value("first-release", "true") is True
    assert submit._kfp_value("first-release", "false") is False
    assert submit._kfp_value("probe-seconds", "3") == 3.0


def test_argo_submit_defaults_to_the_namespace_infra_installs_the_template_into(signoff_exe: str) -> None:
    """Without --namespace the printed `argo submit` line names signoff-system, where the overlays put
    the WorkflowTemplate (argo's own default namespace would not find it)."""
    args = [
        signoff_exe, "submit", "--engine", "argo", "--model", "models:/recsys-ranker/3",
        "--contract", str(EXAMPLES / "recsys-ranker.yaml"), "--policy", str(EXAMPLES / "cluster-policy.yaml"),
        "--trust", str(EXAMPLES / "trust-policy.yaml"), "--staging-url", "kserve://ml-staging/recsys-ranker-v2",
        "--image", "reg/serve@sha256:" + "1" * 64,
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "argo submit --from workflowtemplate/signoff-gated-promotion -n signoff-system " in done.stdout
    overlay = (ROOT / "infra" / "overlays" / "production" / "kustomization.yaml").read_text(encoding="utf-8")
    assert "value: signoff-system" in overlay
    done = subprocess.run([*args, "--namespace", "ml-pipelines"], capture_output=True, text=True, timeout=120)
    assert " -n ml-pipelines " in done.stdout
