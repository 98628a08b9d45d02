"""The gated-promotion Workflow run by Argo's real workflow-controller on the kwok control plane.

The controller is built by ``tools/argo/build`` from the Argo Workflows module pinned in
tools/argo/go.mod, with Argo's own CRDs of that version (the minimal ones of its install.yaml). It
watches ``signoff-system``, where ``infra/`` (overlays/staging: base + argo) put the service accounts,
the executor's RBAC, the WorkflowTemplate and the artifact repository it names. A Workflow is created
from the template exactly as ``signoff submit --engine argo`` builds it.

kwok plays the kubelet: step pods become Running, and end Succeeded (main exit 0) or Failed (exit 1)
when the test annotates them ``signoff.test/exit-code`` (tests/cluster/kwok/signoff-step-exit.yaml).
STAND-IN FOR THE EXECUTOR: no container runs under kwok, so Argo's ``wait`` sidecar, which reports a
step's outputs as a WorkflowTaskResult, is played by the test: it creates that object as the step's
own service account (so the executor RBAC of infra/base is exercised), the way
workflow/executor/taskresult.go does: named after the node ID, labelled with the workflow and
``report-outputs-completed``, owned by the Workflow, with the output artifact's S3 key.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engine_tools
import pytest
import yaml
from _controlplane import ClusterError, ControlPlane

from components.steps import spec
from pipelines import argo_workflow

pytestmark = pytest.mark.cluster

NS = "signoff-system"
KEY_PREFIX = "/var/run/signoff/keys"
EXECUTOR_IMAGE = "quay.io/argoproj/argoexec@sha256:" + "0" * 64  # never pulled: kwok runs no container
STEP_ACCOUNTS = {s.name: (s.service_account, s.key_secret) for s in spec.STEPS}
"""Each template's service account and the one key Secret it may mount (None: no key), as the step
spec declares them (promotion writes the registry as the ML team: its key)."""
DEADLINE_S = 90.0
ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "argo" / "gated-promotion.argo-workflowtemplate.yaml"
_TEMPLATE = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
_WITH_OUTPUTS = {t["name"] for t in _TEMPLATE["spec"]["templates"] if t.get("outputs", {}).get("artifacts")}
"""The templates whose steps report an output artifact (the executor stand-in reports one for them)."""


class Controller:
    def __init__(self, cluster: ControlPlane, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.cluster = cluster
        self.proc = proc
        self.log = log

    def check(self) -> None:
        if self.proc.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-25:])
            raise ClusterError(
                f"workflow-controller exited ({self.proc.returncode}); log {self.log}:\n{tail}"
            )

    def wait(self, what: str, probe: Any, deadline_s: float = DEADLINE_S) -> Any:
        """Poll ``probe`` until it returns something truthy; fail naming ``what`` and the log."""
        end = time.monotonic() + deadline_s
        while True:
            self.check()
            self.cluster.check()
            found = probe()
            if found:
                return found
            if time.monotonic() > end:
                pytest.fail(
                    f"timed out after {deadline_s:.0f} s waiting for {what} (controller log: {self.log})"
                )
            time.sleep(0.3)


@pytest.fixture(scope="module")
def argo(cluster: ControlPlane, crds: list[str], infra_applied: dict[str, str]) -> Iterator[Controller]:
    """Argo's CRDs installed, infra/ applied, and the workflow-controller running for signoff-system."""
    bin_dir = engine_tools.bin_dir("argo")
    exe = engine_tools.tool("argo", "workflow-controller")
    assert infra_applied["overlays/staging"] == "", infra_applied["overlays/staging"]
    for path in sorted((bin_dir / "crds").glob("*.yaml")):
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/workflows.argoproj.io",
                    "crd/workflowtaskresults.argoproj.io", "crd/workflowtemplates.argoproj.io")  # fmt: skip
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "workflow-controller-configmap", "namespace": NS},
        "data": {
            "metricsConfig": "enabled: false\n",
            "telemetryConfig": "enabled: false\n",
        },
    }
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(config))
    log = cluster.workdir / "workflow-controller.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env.update(HOME=str(cluster.workdir), LEADER_ELECTION_DISABLE="true")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [exe, "--kubeconfig", str(cluster.kubeconfig), "--namespace", NS, "--namespaced",
             "--managed-namespace", NS, "--executor-image", EXECUTOR_IMAGE, "--loglevel", "info"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    controller = Controller(cluster, proc, log)
    try:
        yield controller
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _params() -> dict[str, str]:
    return {
        "model-name": "fraud-detector",
        "model-version": "3",
        "contract": "apiVersion: signoff.dev/v1\n",
        "cluster-policy": "apiVersion: signoff.dev/v1\n",
        "trust-policy": "apiVersion: signoff.dev/v1\n",
        "mlflow-tracking-uri": "http://mlflow.signoff-system.svc:5000",
        "image": "registry.example/serving@sha256:" + "1" * 64,
        "staging-url": "kserve://ml-staging/fraud-detector",
        "probe-seconds": "10.0",
        "first-release": "true",
    }


def _submit(cluster: ControlPlane) -> dict[str, Any]:
    """Create the Workflow ``signoff submit --engine argo`` sends; returns the stored object."""
    doc = argo_workflow.submitted_workflow(_params())
    out = cluster.kubectl("create", "-n", NS, "-f", "-", "-o", "json", input=json.dumps(doc)).stdout
    return dict(json.loads(out))


def _get(cluster: ControlPlane, kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", "-n", NS, kind, name, "-o", "json").stdout))


def _pods(cluster: ControlPlane, workflow: str) -> list[dict[str, Any]]:
    out = cluster.kubectl(
        "get", "pods", "-n", NS, "-l", f"workflows.argoproj.io/workflow={workflow}", "-o", "json"
    ).stdout
    return list(json.loads(out)["items"])


def _task(pod: dict[str, Any]) -> str:
    """The DAG task (or onExit template) a pod runs: from its node name ``WF.TASK(N)`` / ``WF.onExit``."""
    name = pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"]
    task = re.sub(r"\(\d+\)$", "", name.split(".", 1)[1])
    return "run-summary" if task == "onExit" else task


def _pod_of(controller: Controller, workflow: str, task: str) -> dict[str, Any]:
    def running() -> dict[str, Any] | None:
        for pod in _pods(controller.cluster, workflow):
            if _task(pod) == task and pod.get("status", {}).get("phase") == "Running":
                return pod
        return None

    return dict(controller.wait(f"the {task} pod of {workflow} to run", running))


def _end(controller: Controller, workflow: dict[str, Any], pod: dict[str, Any], *, ok: bool) -> None:
    """End a step: report its outputs as the executor would (as the step's service account), then let
    kwok end the pod with the main container's exit code."""
    cluster = controller.cluster
    meta = pod["metadata"]
    node_id = meta["annotations"]["workflows.argoproj.io/node-id"]
    wf_name = workflow["metadata"]["name"]
    outputs: dict[str, Any] = {}
    if ok and _task(pod) in _WITH_OUTPUTS:
        key = f"signoff/{wf_name}/{meta['name']}/out.tgz"
        outputs = {"artifacts": [{"name": "out", "path": "/tmp/signoff/out", "s3": {"key": key}}]}
    result = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTaskResult",
        "metadata": {
            "name": node_id,
            "namespace": NS,
            "labels": {
                "workflows.argoproj.io/workflow": wf_name,
                "workflows.argoproj.io/report-outputs-completed": "true",
            },
            "ownerReferences": [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Workflow",
                    "name": wf_name,
                    "uid": workflow["metadata"]["uid"],
                }
            ],
        },
        "outputs": outputs,
    }
    account = pod["spec"]["serviceAccountName"]
    cluster.kubectl(
        "create", "-f", "-", input=json.dumps(result), as_user=f"system:serviceaccount:{NS}:{account}"
    )
    cluster.kubectl("annotate", "-n", NS, "pod", meta["name"], f"signoff.test/exit-code={0 if ok else 1}")


def _assert_owner_only(pod: dict[str, Any]) -> None:
    """The pod runs as its template's service account and mounts that owner's key Secret only."""
    task = _task(pod)
    account, secret = STEP_ACCOUNTS[task]
    spec = pod["spec"]
    assert spec["serviceAccountName"] == account, (task, spec["serviceAccountName"])
    secrets = sorted(v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v)
    keys = [s for s in secrets if s.startswith("signoff-key-")]
    assert keys == ([secret] if secret else []), (task, secrets)
    main = next(c for c in spec["containers"] if c["name"] == "main")
    mounts = [m["mountPath"] for m in main.get("volumeMounts", []) if m["mountPath"].startswith(KEY_PREFIX)]
    role = secret.removeprefix("signoff-key-") if secret else None
    assert mounts == ([f"{KEY_PREFIX}/{role}"] if role else []), (task, mounts)


def _phase(controller: Controller, name: str) -> str:
    def done() -> str | None:
        phase = _get(controller.cluster, "workflow", name).get("status", {}).get("phase")
        return phase if phase in ("Succeeded", "Failed", "Error") else None

    return str(controller.wait(f"workflow {name} to finish", done))


def test_a_failed_gate_stops_its_dependants(argo: Controller) -> None:
    """ml-artifact succeeds, platform fails: SRE readiness, promotion, rollback check and deploy are
    never created; the run summary (onExit) runs; the Workflow fails."""
    wf = _submit(argo.cluster)
    name = wf["metadata"]["name"]
    ml = _pod_of(argo, name, "ml-artifact")
    _assert_owner_only(ml)
    _end(argo, wf, ml, ok=True)
    platform = _pod_of(argo, name, "platform")
    _assert_owner_only(platform)
    _end(argo, wf, platform, ok=False)
    summary = _pod_of(argo, name, "run-summary")
    _assert_owner_only(summary)
    _end(argo, wf, summary, ok=True)
    assert _phase(argo, name) == "Failed"
    tasks = sorted(_task(p) for p in _pods(argo.cluster, name))
    assert tasks == ["ml-artifact", "platform", "run-summary"], tasks
    nodes = _get(argo.cluster, "workflow", name)["status"]["nodes"].values()
    ran = {n["displayName"]: n["phase"] for n in nodes if n["type"] == "Pod"}
    assert not {"sre-readiness", "promotion", "rollback-check", "deploy"} & {
        re.sub(r"\(\d+\)$", "", k) for k in ran
    }, ran


def test_every_gate_passing_promotes_and_skips_deploy(argo: Controller) -> None:
    """Every gate succeeds in order, each pod as its owner; promotion and the rollback check run;
    deploy (deploy=false by default) is skipped, never created."""
    wf = _submit(argo.cluster)
    name = wf["metadata"]["name"]
    for task in ("ml-artifact", "platform", "sre-readiness", "promotion", "rollback-check", "run-summary"):
        pod = _pod_of(argo, name, task)
        _assert_owner_only(pod)
        _end(argo, wf, pod, ok=True)
    assert _phase(argo, name) == "Succeeded"
    tasks = sorted(_task(p) for p in _pods(argo.cluster, name))
    assert "deploy" not in tasks, tasks
    stored = _get(argo.cluster, "workflow", name)
    deploy = [n for n in stored["status"]["nodes"].values() if n["displayName"] == "deploy"]
    assert [n["phase"] for n in deploy] == ["Skipped"], deploy
    # the artifact repository came from infra/ (the ConfigMap the template names)
    ref = stored["status"]["artifactRepositoryRef"]
    assert (ref["configMap"], ref["key"]) == argo_workflow.ARTIFACT_REPOSITORY, ref


def test_a_namespace_without_the_artifact_repository_fails_the_workflow_at_start(
    argo: Controller,
) -> None:
    """The template names its artifact repository: where the ConfigMap is missing, the Workflow fails
    at once, naming it, instead of every step failing later to save its outputs."""
    cluster = argo.cluster
    cm = _get(cluster, "configmap", argo_workflow.ARTIFACT_REPOSITORY[0])
    cluster.kubectl("delete", "-n", NS, "configmap", argo_workflow.ARTIFACT_REPOSITORY[0])
    try:
        wf = _submit(cluster)
        name = wf["metadata"]["name"]
        assert _phase(argo, name) in ("Failed", "Error")
        message = _get(cluster, "workflow", name)["status"].get("message", "")
        assert argo_workflow.ARTIFACT_REPOSITORY[0] in message, message
        assert _pods(cluster, name) == []
    finally:
        for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            cm["metadata"].pop(key, None)
        cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(cm))


def test_signoff_submit_kube_as_the_mlflow_listener_starts_the_pipeline(
    argo: Controller, signoff_exe: str, tmp_path: Path
) -> None:
    """`signoff submit --engine argo --kube` (what `signoff listen mlflow --kube` runs for a candidate
    version) with a token the API server issued to `signoff-listen-mlflow`: its RBAC (create
    workflows in signoff-system, nothing else) is enough, the Workflow names the installed template
    and this version, and the real workflow-controller starts the gated pipeline's first step as the
    ML step's account. The same account cannot create a Workflow anywhere else."""
    from _serving import token_kubeconfig

    cluster = argo.cluster
    config = token_kubeconfig(cluster, NS, "signoff-listen-mlflow", tmp_path / "listener.kubeconfig")
    examples = Path(__file__).resolve().parents[2] / "contracts" / "examples"
    args = [
        signoff_exe, "submit", "--engine", "argo", "--kube", "--model", "models:/recsys-ranker/11",
        "--contract", str(examples / "recsys-ranker.yaml"), "--policy", str(examples / "cluster-policy.yaml"),
        "--trust", str(examples / "trust-policy.yaml"), "--staging-url", "kserve://ml-staging/recsys-ranker-v2",
        "--image", "registry.example/serving@sha256:" + "1" * 64,
    ]  # fmt: skip
    env = {**os.environ, "KUBECONFIG": str(config)}
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    match = re.fullmatch(r"workflow (signoff-gated-promotion-\w+) submitted in signoff-system\n", done.stdout)
    assert match, done.stdout
    name = match[1]
    stored = _get(cluster, "workflow", name)
    assert stored["spec"]["workflowTemplateRef"] == {"name": argo_workflow.TEMPLATE_NAME}
    given = {p["name"]: p.get("value") for p in stored["spec"]["arguments"]["parameters"]}
    assert (given["model-name"], given["model-version"]) == ("recsys-ranker", "11")
    assert given["contract"] == (examples / "recsys-ranker.yaml").read_text(encoding="utf-8")
    ml = _pod_of(argo, name, "ml-artifact")
    _assert_owner_only(ml)
    assert ml["spec"]["serviceAccountName"] == "signoff-ml-step"
    cluster.kubectl("delete", "-n", NS, "workflow", name, "--wait=false")
    # least privilege holds: the listener's account creates Workflows only in signoff-system
    elsewhere = subprocess.run(
        [*args, "--namespace", "ml-prod"], capture_output=True, text=True, timeout=120, env=env
    )
    assert elsewhere.returncode == 1, elsewhere.stdout + elsewhere.stderr
    assert "signoff-listen-mlflow" in elsewhere.stderr and "Traceback" not in elsewhere.stderr
