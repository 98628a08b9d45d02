"""The gated-promotion WorkflowTemplate through Argo's real validator.

``argo-lint`` is built by ``tools/argo/build`` from the Argo Workflows module pinned in
tools/argo/go.mod: the code path of ``argo lint --offline --strict`` (the offline API client, which
resolves ``workflowTemplateRef`` from the files given, and ``cmd/argo/lint``, which calls
``workflow/validate`` as the workflow-controller does on submission). Schema checks only say the
file is well-formed; this says Argo accepts it, and the Workflow ``signoff submit --engine argo``
creates from it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import engine_tools
import pytest
import yaml

from pipelines import argo_workflow

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "argo" / "gated-promotion.argo-workflowtemplate.yaml"
COMPILED = ROOT / "pipelines" / "compiled"
NS = "signoff-system"


def _lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    exe = engine_tools.tool("argo", "argo-lint")
    return subprocess.run([exe, *map(str, paths)], capture_output=True, text=True, timeout=120, check=False)


def _submitted(tmp_path: Path) -> Path:
    """The Workflow ``signoff submit --engine argo --host ...`` creates, as a file."""
    params = {
        "model-name": "fraud-detector",
        "model-version": "3",
        "contract": "apiVersion: signoff.dev/v1\n",
        "cluster-policy": "apiVersion: signoff.dev/v1\n",
        "trust-policy": "apiVersion: signoff.dev/v1\n",
        "mlflow-tracking-uri": "http://mlflow.signoff-system.svc:5000",
        "image": "registry.example/serving@sha256:" + "1" * 64,
        "staging-url": "kserve://ml-staging/fraud-detector",
        "artifact-store": "",
        "probe-seconds": "10.0",
        "first-release": "false",
    }
    wf = argo_workflow.submitted_workflow(params)
    # lint wants a name, not generateName; both in signoff-system, where the overlays install the template
    wf["metadata"] = {"name": "signoff-gated-promotion-lint", "namespace": NS}
    path = tmp_path / "submitted.yaml"
    path.write_text(yaml.safe_dump(wf), encoding="utf-8")
    return path


def _installed_template(tmp_path: Path) -> Path:
    doc = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    doc["metadata"]["namespace"] = NS
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "path",
    [
        TEMPLATE,
        COMPILED / "gated-promotion.argo-workflowtemplate.yaml",
        COMPILED / "gated-promotion.argo-workflow.yaml",
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_argo_lint_accepts(path: Path) -> None:
    out = _lint(path)
    assert out.returncode == 0, f"argo lint refused {path.relative_to(ROOT)}:\n{out.stdout}{out.stderr}"
    assert "no linting errors found" in out.stdout


def test_argo_lint_accepts_the_submitted_workflow(tmp_path: Path) -> None:
    """The Workflow submit creates names the template by reference; the offline client resolves it
    from the template file, and validation runs with the submitted parameter values."""
    out = _lint(_submitted(tmp_path), _installed_template(tmp_path))
    assert out.returncode == 0, f"argo lint refused the submitted Workflow:\n{out.stdout}{out.stderr}"
    assert "no linting errors found" in out.stdout


def _broken(tmp_path: Path, change: Any) -> Path:
    doc = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _dag(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return next(t for t in doc["spec"]["templates"] if "dag" in t)["dag"]["tasks"]


def test_argo_lint_refuses_a_dependency_on_no_task(tmp_path: Path) -> None:
    """The validator is live: a gate edge to a task that does not exist is refused, by name."""

    def change(doc: dict[str, Any]) -> None:
        _dag(doc)[1]["depends"] = "ml-artefact.Succeeded"

    out = _lint(_broken(tmp_path, change))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "ml-artefact" in out.stdout


def test_argo_lint_refuses_an_input_from_a_missing_output(tmp_path: Path) -> None:
    """An artifact passed from an output the upstream template does not declare is refused."""

    def change(doc: dict[str, Any]) -> None:
        _dag(doc)[1]["arguments"]["artifacts"][0]["from"] = "{{tasks.ml-artifact.outputs.artifacts.nope}}"

    out = _lint(_broken(tmp_path, change))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "nope" in out.stdout
