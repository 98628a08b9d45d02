"""``signoff render`` resolving the storage URI and digest from a real MLflow registry.

Real ``mlflow server`` (the session fixture), a real registered sklearn model, a real signed
ML-artifact verdict kept with the version.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.mlflow_registry import Registry
from contracts.trust import Gate
from gates.render import ANNOTATION_DIGEST
from gates.verdict import Subject
from pipelines._cli.main import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
import _signoff_kit as kit  # noqa: E402
from _render_kit import EXAMPLES, IMAGE, POLICY_FILE  # noqa: E402

DIGEST = "sha256:" + "ab" * 32


def _argv(name: str, version: str, out: Path, *extra: str) -> list[str]:
    return [
        "render",
        str(EXAMPLES / "recsys-ranker.yaml"),
        "--policy",
        str(POLICY_FILE),
        "--model",
        f"models:/{name}/{version}",
        "--image",
        IMAGE,
        "--out",
        str(out),
        *extra,
    ]


def test_render_takes_the_digest_the_ml_gate_signed(
    mlflow_server: Any,
    register_sklearn_model: Callable[..., str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    name = "render-resolve"
    version = register_sklearn_model(name)

    # No ML verdict kept with the version yet: a clear message, exit 2, nothing written.
    assert main(_argv(name, version, tmp_path / "a")) == 2
    assert "no ML-artifact verdict" in capsys.readouterr().err
    assert not (tmp_path / "a" / "manifests.yaml").exists()

    envelope = kit.envelope(Gate.ML_ARTIFACT, subj=Subject(model=name, version=version, digest=DIGEST))
    Registry(mlflow_server.url).store_envelope(name, version, Gate.ML_ARTIFACT, envelope)

    # The server hands out an mlflow-artifacts: URI, which a serving pod cannot fetch: refused.
    assert main(_argv(name, version, tmp_path / "b")) == 2
    err = capsys.readouterr().err
    assert "--storage-uri" in err and "Traceback" not in err

    # With the artifact location given, the digest comes from the signed ML verdict.
    out = tmp_path / "c"
    assert main(_argv(name, version, out, "--storage-uri", f"s3://mlflow/{name}/{version}/model")) == 0
    docs = list(yaml.safe_load_all((out / "manifests.yaml").read_text(encoding="utf-8")))
    isvc = next(d for d in docs if d["kind"] == "InferenceService")
    assert isvc["metadata"]["annotations"][ANNOTATION_DIGEST] == DIGEST
    assert isvc["metadata"]["annotations"]["signoff.dev/model-version"] == version
