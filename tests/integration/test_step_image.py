"""The ML-artifact step where it is deployed: a venv holding exactly what the step image installs.

``infra/docker/Dockerfile`` installs ``signoff[kfp,argo,mlflow]`` (mlflow-skinny: no numpy, no
scikit-learn, no flavour library) and nothing else. This test builds a venv the same way (a wheel of
this tree, not an editable install), checks it is the image's environment (the Dockerfile's smoke
import works; numpy and sklearn are absent), and runs the ML step's process entry in it against the
session's real MLflow server, with the demo's kind of model (an sklearn model with a signature and
input example). The gate must pass on what it can check there (MLmodel, signature, stored example,
metrics, sizes, file digests) and say that the example prediction is deferred to the sre-readiness
probe of the staging endpoint, where the model's own runtime serves it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import keys
from pipelines import demo

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "contracts" / "examples" / "cluster-policy.yaml"
EXTRAS = "kfp,argo,mlflow"  # the Dockerfile's `pip wheel ".[kfp,argo,mlflow]"`


def _dockerfile_extras() -> str:
    text = (ROOT / "infra" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert f'pip wheel --wheel-dir /wheels ".[{EXTRAS}]"' in text, "the Dockerfile installs other extras"
    assert f'"signoff[{EXTRAS}]"' in text
    return EXTRAS


@pytest.fixture(scope="module")
def step_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with ``signoff[kfp,argo,mlflow]`` installed from a wheel of this tree."""
    root = tmp_path_factory.mktemp("step-image")
    src = root / "src"
    # The Dockerfile's COPY lines: only these enter the image.
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in ("contracts", "gates", "components", "pipelines"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"{src}[{_dockerfile_extras()}]",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return python


def _run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300, cwd="/")


def test_the_venv_is_the_step_images_environment(step_python: Path) -> None:
    smoke = _run(step_python, "import kfp.dsl.executor_main, hera.workflows, components.steps")
    assert smoke.returncode == 0, smoke.stderr
    for absent in ("numpy", "sklearn", "pandas"):
        done = _run(step_python, f"import {absent}")
        assert done.returncode != 0 and "No module named" in done.stderr, f"{absent} is in the step venv"
    where = _run(step_python, "import components, sys; print(components.__file__)")
    assert str(ROOT / "components") not in where.stdout  # the wheel's copy, not this checkout


def test_ml_step_passes_in_the_step_image_and_defers_the_prediction(
    step_python: Path,
    mlflow_server: Any,
    register_sklearn_model: Callable[..., str],
    tmp_path: Path,
) -> None:
    import mlflow

    # The demo's model (an sklearn classifier with signature and input example) and its contract,
    # with the model's real size declared.
    version = register_sklearn_model(demo.MODEL_NAME)
    mlflow.set_tracking_uri(mlflow_server.url)
    local = Path(
        mlflow.artifacts.download_artifacts(
            f"models:/{demo.MODEL_NAME}/{version}", dst_path=str(tmp_path / "dl")
        )
    )
    size = sum(f.stat().st_size for f in local.rglob("*") if f.is_file())
    contract = yaml.safe_dump(demo._contract(None, size))
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    private, _public = keys.generate(demo.TEAMS["ml"], tmp_path)
    shutil.copy(private, keys_dir / "ml.pem")
    out = tmp_path / "out"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SIGNOFF_KEYS_DIR": str(keys_dir),
        "LANG": "C.UTF-8",
    }
    done = subprocess.run(
        [
            str(step_python),
            "-m",
            "components.steps",
            "ml-artifact",
            "--model-name",
            demo.MODEL_NAME,
            "--model-version",
            version,
            "--contract",
            contract,
            "--cluster-policy",
            POLICY.read_text(encoding="utf-8"),
            "--mlflow-tracking-uri",
            mlflow_server.url,
            "--out-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["gate"] == "ml-artifact" and verdict["passed"] is True, verdict
    checks = {c["id"]: c for c in verdict["checks"]}
    prediction = checks["prediction.example"]
    assert prediction["outcome"] == "warn", prediction
    assert prediction["figures"]["prediction_ran_in"] == "deferred to sre-readiness"
    assert prediction["figures"]["rows_in"] == 3  # the stored example was read without numpy
    assert "No module named" in prediction["figures"]["deferred_reason"], prediction
    # What the image can check, it checked and passed: metadata, signature, metrics, sizes, digests.
    for cid in (
        "model.signature",
        "quality.accuracy",
        "size.plausible",
        "manifest.digest",
        "manifest.complete",
    ):
        assert checks.get(cid, {}).get("outcome") == "pass", (cid, sorted(checks))
    assert (out / "envelope.json").is_file()


def test_sre_step_with_local_staging_in_the_step_image_is_a_clear_refusal(
    step_python: Path, tmp_path: Path
) -> None:
    """'local' would start `mlflow models serve` in the step pod, which mlflow-skinny cannot: the step
    says so before doing anything, and what to pass instead (KFP has no default for staging-url)."""
    upstream = tmp_path / "upstream.json"  # the upstream files the engine hands over (never read)
    upstream.write_text("{}", encoding="utf-8")
    done = subprocess.run(
        [
            str(step_python), "-m", "components.steps", "sre-readiness",
            "--contract", "x", "--cluster-policy", "x", "--trust-policy", "x", "--image", "x",
            "--staging-url", "local", "--out-dir", str(tmp_path / "out"),
            "--input", f"platform_envelope={upstream}", "--input", f"model_ref={upstream}",
        ],
        capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "staging-url 'local' serves the model version with `mlflow models serve`" in done.stderr
    assert "numpy" in done.stderr and "kserve://NAMESPACE/NAME" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
