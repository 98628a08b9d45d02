"""``signoff verify-model``: the serving pod's digest check at start, and where rendering puts it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _render_kit import IMAGE, changed, contract, model_for, policy

from components.digest import digest_folder
from contracts.cluster import ServingMode
from gates import render


def _model(folder: Path) -> Path:
    """A small MLflow-like model folder (real files)."""
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "MLmodel").write_text("flavors:\n  python_function: {}\n", encoding="utf-8")
    (folder / "model" / "model.pkl").write_bytes(bytes(range(256)) * 4096)
    (folder / "model" / "requirements.txt").write_text("scikit-learn==1.5.2\n", encoding="utf-8")
    return folder / "model"


def _run(exe: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, "verify-model", *args], capture_output=True, text=True, timeout=60)


def test_the_signed_folder_starts(signoff_exe: str, tmp_path: Path) -> None:
    folder = _model(tmp_path)
    signed = digest_folder(folder).digest  # what the ML gate signed
    proc = _run(signoff_exe, str(folder), "--digest", signed)
    assert proc.returncode == 0, proc.stderr
    assert f"{signed} is the signed digest (3 files" in proc.stderr


@pytest.mark.parametrize("tamper", ["one-byte", "added-file", "removed-file", "renamed-file"])
def test_a_tampered_folder_refuses_to_start(signoff_exe: str, tmp_path: Path, tamper: str) -> None:
    folder = _model(tmp_path)
    signed = digest_folder(folder).digest
    weights = folder / "model.pkl"
    if tamper == "one-byte":
        data = bytearray(weights.read_bytes())
        data[1000] ^= 1
        weights.write_bytes(bytes(data))
    elif tamper == "added-file":
        (folder / "extra.py").write_text("import os\n", encoding="utf-8")
    elif tamper == "removed-file":
        (folder / "requirements.txt").unlink()
    else:
        weights.rename(folder / "model2.pkl")
    proc = _run(signoff_exe, str(folder), "--digest", signed)
    assert proc.returncode == 1, proc.stderr
    assert f"not the signed {signed}" in proc.stderr and "the pod does not start" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--digest", "sha256:abc"], "not 'sha256:' and 64 lower-case hex digits"),
        (["--digest", "sha256:" + "A" * 64], "not 'sha256:' and 64 lower-case hex digits"),
    ],
)
def test_bad_digest_is_bad_input(signoff_exe: str, tmp_path: Path, args: list[str], message: str) -> None:
    proc = _run(signoff_exe, str(_model(tmp_path)), *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_or_symlinked_folder_is_bad_input(signoff_exe: str, tmp_path: Path) -> None:
    digest = "sha256:" + "0" * 64
    proc = _run(signoff_exe, str(tmp_path / "nowhere"), "--digest", digest)
    assert proc.returncode == 2 and "not a folder" in proc.stderr
    folder = _model(tmp_path)
    (folder / "link").symlink_to(folder / "MLmodel")
    proc = _run(signoff_exe, str(folder), "--digest", digest)
    assert proc.returncode == 2 and "symlink" in proc.stderr and "Traceback" not in proc.stderr


def test_deployment_pods_verify_after_the_download() -> None:
    c = contract("recsys-ranker")
    model = model_for(c)
    (dep,) = render.render(c, policy(), model, IMAGE, mode=ServingMode.DEPLOYMENT).by_kind("Deployment")
    pod = dep["spec"]["template"]["spec"]
    download, verify = pod["initContainers"]
    assert download["name"] == render.STORAGE_INITIALIZER and verify["name"] == render.VERIFY_MODEL
    assert verify["image"] == policy().spec.step_image
    assert verify["command"] == ["signoff"]
    assert verify["args"] == ["verify-model", "/mnt/models", "--digest", model.digest]
    # the same volume the download wrote and the server reads, read-only here
    assert {"name": "model", "mountPath": "/mnt/models"} in download["volumeMounts"]
    assert verify["volumeMounts"] == [{"name": "model", "mountPath": "/mnt/models", "readOnly": True}]
    ctx = verify["securityContext"]
    assert ctx["runAsNonRoot"] and ctx["readOnlyRootFilesystem"] and not ctx["allowPrivilegeEscalation"]
    assert ctx["capabilities"] == {"drop": ["ALL"]} and ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert verify["resources"]["requests"] == verify["resources"]["limits"]


def test_without_a_step_image_nothing_is_added_and_inference_services_are_left_to_kserve() -> None:
    c = contract("recsys-ranker")
    bare = changed(policy(), {"spec.step_image": None})
    (dep,) = render.render(c, bare, model_for(c), IMAGE, mode=ServingMode.DEPLOYMENT).by_kind("Deployment")
    assert [i["name"] for i in dep["spec"]["template"]["spec"]["initContainers"]] == [
        render.STORAGE_INITIALIZER
    ]
    # KServe appends its storage initializer after the predictor's init containers: one rendered
    # there would run before the download, so an InferenceService gets none (gates/render.py).
    (isvc,) = render.render(c, policy(), model_for(c), IMAGE).by_kind("InferenceService")
    assert "initContainers" not in isvc["spec"]["predictor"]
