"""``signoff render`` and ``signoff check platform`` as a user runs them (in-process, real files)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from _render_kit import DIGEST, EXAMPLES, IMAGE, POLICY_FILE

from gates.render import ANNOTATION_PROMOTION
from pipelines._cli.main import main

CONTRACT = EXAMPLES / "recsys-ranker.yaml"


def _check_platform(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    # ``signoff check`` picks the gate module from sys.argv (pipelines/_cli/check.py), as the
    # console script would see it.
    full = ["check", "platform", *argv]
    monkeypatch.setattr(sys, "argv", ["signoff", *full])
    return main(full)


def _args(*extra: str, contract: Path = CONTRACT, image: str = IMAGE) -> list[str]:
    return [
        str(contract),
        "--policy",
        str(POLICY_FILE),
        "--model",
        "models:/recsys-ranker/7",
        "--image",
        image,
        "--storage-uri",
        "s3://models/recsys-ranker/7/artifacts",
        "--model-digest",
        DIGEST,
        *extra,
    ]


@pytest.mark.parametrize("mode", ["kserve", "deployment"])
def test_render_writes_manifests_and_prints_a_summary(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["render", *_args("--out", str(out), "--mode", mode)]) == 0
    docs = list(yaml.safe_load_all((out / "manifests.yaml").read_text(encoding="utf-8")))
    kinds = {d["kind"] for d in docs}
    assert ("InferenceService" in kinds) == (mode == "kserve") and ("Deployment" in kinds) == (
        mode == "deployment"
    )
    assert ANNOTATION_PROMOTION not in (out / "manifests.yaml").read_text(encoding="utf-8")
    printed = capsys.readouterr().out
    assert f"({mode})" in printed and "digest:    sha256:" in printed and "ml-prod" in printed
    try:
        import gates.observability  # noqa: F401
    except ImportError:  # the SRE renderer is not in this checkout
        return
    observability = list(yaml.safe_load_all((out / "observability.yaml").read_text(encoding="utf-8")))
    assert "PrometheusRule" in {d["kind"] for d in observability}
    assert "route" in yaml.safe_load((out / "alertmanager.yaml").read_text(encoding="utf-8"))


def test_render_staging_uses_the_staging_namespace(tmp_path: Path) -> None:
    assert main(["render", *_args("--out", str(tmp_path), "--environment", "staging")]) == 0
    docs = list(yaml.safe_load_all((tmp_path / "manifests.yaml").read_text(encoding="utf-8")))
    assert {d["metadata"]["namespace"] for d in docs} == {"ml-staging"}


@pytest.mark.parametrize(
    ("argv_change", "needle"),
    [
        (("--model", "models:/recsys-ranker@production"), "--model: 'models:/recsys-ranker@production'"),
        (("--storage-uri", "models:/recsys-ranker/7"), "--storage-uri"),
        (("--storage-uri", "s3://models/recsys-ranker/latest"), "latest"),
        (("--model-digest", "sha256:abc"), "--model-digest"),
        (("--image", "Not An Image"), "image: 'Not An Image'"),
        (("--policy", "missing.yaml"), "--policy: missing.yaml is not a file"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    argv_change: tuple[str, str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _args("--out", str(tmp_path))
    flag, value = argv_change
    argv[argv.index(flag) + 1] = value
    assert main(["render", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_without_storage_uri_the_registry_is_asked_and_its_absence_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    argv = _args("--out", str(tmp_path))
    i = argv.index("--storage-uri")
    del argv[i : i + 2]
    assert main(["render", *argv]) == 2
    err = capsys.readouterr().err
    assert ("MLFLOW_TRACKING_URI" in err or "--storage-uri" in err) and "Traceback" not in err
    assert not (tmp_path / "manifests.yaml").exists()


def test_contract_with_shell_characters_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    data["metadata"]["name"] = "ranker'; kubectl delete ns ml-prod; echo '"
    evil = tmp_path / "evil.yaml"
    evil.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["render", *_args("--out", str(tmp_path / "out"), contract=evil)]) == 2
    err = capsys.readouterr().err
    assert "evil.yaml" in err and "metadata.name" in err
    assert not (tmp_path / "out").exists()


def test_check_platform_passes_and_prints_figures(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verdict_file = tmp_path / "verdict.json"
    assert _check_platform(_args("--verdict", str(verdict_file)), monkeypatch) == 0
    out = capsys.readouterr().out
    assert "PASS  gpu.memory-fits" in out and "capacity_gb=144.0" in out and "PASSED" in out
    assert '"gate": "platform"' in verdict_file.read_text(encoding="utf-8")


def test_check_platform_refuses_a_tag_with_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _check_platform(_args(image="registry.example.com/ml/serving-runtime:1.4.2"), monkeypatch)
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  image.digest" in out and "REFUSED: 1 check(s) failed: image.digest" in out


def test_check_platform_on_an_edited_manifests_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["render", *_args("--out", str(tmp_path))]) == 0
    path = tmp_path / "manifests.yaml"
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    for d in docs:
        if d["kind"] == "InferenceService":
            d["spec"]["predictor"]["priorityClassName"] = "system-node-critical"
    path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    capsys.readouterr()
    assert _check_platform(_args("--manifests", str(path)), monkeypatch) == 1
    assert "FAIL  priority-class.allowed" in capsys.readouterr().out


def test_check_platform_prints_the_figures_of_each_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    policy["spec"]["gpus"] = [g for g in policy["spec"]["gpus"] if g["product"] == "H100"]
    policy["spec"]["namespaces"]["production"]["gpu_quota"] = 10
    policy_file = tmp_path / "h100-only.yaml"
    policy_file.write_text(yaml.safe_dump(policy), encoding="utf-8")
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    data["spec"]["resources"].update(
        gpu={"count": 2, "product": "A100", "memory": "40GB"},
        model_size="50GB",
        replicas={"min": 2, "max": 6},
    )
    contract_file = tmp_path / "a100.yaml"
    contract_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    argv = _args(contract=contract_file, image="docker.io/someone/server:1.0")
    argv[argv.index("--policy") + 1] = str(policy_file)
    assert _check_platform(argv, monkeypatch) == 1
    out = capsys.readouterr().out
    assert "FAIL  gpu.product-allowed" in out and "product=A100, offered=H100" in out
    assert "FAIL  gpu.quota" in out and "gpus_total=12, quota=10" in out
    assert "FAIL  image.registry" in out and "FAIL  image.digest" in out
    assert "REFUSED:" in out
