"""The admission policy with the real controller chain behind it, in the production namespace.

The policy (infra/policies/require-promotion) judges a Deployment at the door by who sends it and
by its pod template's promotion annotations, and judges every Pod again when the ReplicaSet
controller creates it (the controller's identity is trusted, the annotations are checked again).
Here kube-controller-manager really makes the ReplicaSet and the pods, the scheduler really places
them, and kwok plays the kubelet:

* recsys-ranker (2 H100 per replica) rendered for production and promoted, applied as
  ``signoff-deployer`` (impersonated), runs: every replica is admitted, scheduled on the GPU node and
  Running/Ready;
* the same Deployment sent by a person with edit rights in ml-prod is refused with the policy's
  message naming the deployer;
* a CPU-only Deployment in a production namespace whose LimitRange defaults give every container a
  GPU is admitted (it asks for no GPU), but LimitRanger writes the GPU into each pod the ReplicaSet
  controller creates, and the policy refuses those pods: the ReplicaSet reports FailedCreate with the
  policy's message and no pod exists.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _admission
import _serving
import pytest
import yaml
from _controlplane import GPU_NODE, ClusterError, ControlPlane
from _infra import ROOT

pytestmark = pytest.mark.cluster

PROD = "ml-prod"
CONTRACT = "recsys-ranker"
WORKLOAD = "recsys-ranker-v2"  # the contract's metadata.name
USER = "pat@example.com"  # not test_rbac's ordinary user: its tables must not see this binding


def _prod_quota(cluster: ControlPlane, overlay: str) -> None:
    """Apply ml-prod's GPU ResourceQuota as ``infra/overlays/<overlay>`` renders it."""
    rendered = yaml.safe_load_all(
        cluster.kubectl("kustomize", str(ROOT / "infra" / "overlays" / overlay)).stdout
    )
    (quota,) = [
        o for o in rendered
        if o and o["kind"] == "ResourceQuota" and o["metadata"].get("namespace") == PROD
    ]  # fmt: skip
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(quota))


@pytest.fixture(scope="module")
def promoted_in_prod(
    cluster: ControlPlane, infra_applied: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """recsys-ranker's promoted production manifests, applied server-side as the deployer.

    infra_applied applies both overlays to this one cluster, the staging one last, so ml-prod has
    the staging cluster's GPU quota (4); 3 replicas of 2 H100 need 6. For this module ml-prod gets
    the production cluster's quota (infra/overlays/production: 64), and the staging one back after.
    """
    assert infra_applied["base"] == "", infra_applied["base"]
    _prod_quota(cluster, "production")
    manifests = _serving.manifests(CONTRACT)
    path = _serving.write(tmp_path_factory.mktemp("chain") / "deployable-manifests.yaml", manifests)
    cluster.kubectl("apply", "--server-side", "-f", str(path), as_user=_serving.DEPLOYER)
    try:
        yield next(o for o in manifests.objects if o["kind"] == "Deployment")
    finally:  # leave ml-prod as infra/ made it for the other modules (RBAC tables, golden dry runs)
        cluster.kubectl("delete", "-f", str(path), "--ignore-not-found", "--wait=false")
        cluster.kubectl("delete", "rolebinding", "pat-edit", "-n", PROD, "--ignore-not-found")
        _prod_quota(cluster, "staging")


def test_promoted_gpu_deployment_by_the_deployer_runs_on_the_gpu_node(
    cluster: ControlPlane, promoted_in_prod: dict[str, Any]
) -> None:
    replicas = promoted_in_prod["spec"]["replicas"]
    selector = f"signoff.dev/workload={WORKLOAD}"

    def ready() -> bool:
        status = _serving.get(cluster, "deployment", WORKLOAD, namespace=PROD).get("status", {})
        return status.get("readyReplicas") == replicas and status.get("updatedReplicas") == replicas

    try:
        cluster.wait_for(f"Deployment {PROD}/{WORKLOAD} to be ready", ready, deadline_s=120)
    except ClusterError as exc:
        raise AssertionError(f"{exc}\n{_serving.diagnostics(cluster, PROD)}") from None

    # kube-controller-manager made the ReplicaSet, owned by the Deployment, with the template's
    # promotion annotations
    sets = _serving.get(cluster, "replicasets", "-l", selector, namespace=PROD)["items"]
    assert len(sets) == 1
    owner = sets[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("Deployment", WORKLOAD)
    pods = _serving.pods_of(cluster, PROD, selector)
    assert len(pods) == replicas, _serving.diagnostics(cluster, PROD)
    for pod in pods:
        name = pod["metadata"]["name"]
        assert pod["spec"]["nodeName"] == GPU_NODE, name  # the scheduler placed it on the H100 node
        assert pod["status"]["phase"] == "Running", name  # kwok started it
        assert pod["metadata"]["annotations"]["signoff.dev/promotion-record"] == _serving.RECORD
        gpus = pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
        assert gpus == "2", name
        assert pod["metadata"]["ownerReferences"][0]["name"] == sets[0]["metadata"]["name"]
    # who created the pods: the ReplicaSet controller's own service account (the policy trusts it)
    shown = _serving.get(cluster, "pods", "-l", selector, "--show-managed-fields", namespace=PROD)["items"]
    managers = {m["manager"] for p in shown for m in p["metadata"]["managedFields"]}
    assert "kube-controller-manager" in managers, managers


def _edit_rights(cluster: ControlPlane, namespace: str, user: str) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "pat-edit", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
    }
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(binding))


def test_the_same_deployment_sent_by_a_person_is_refused_by_the_policy(
    cluster: ControlPlane, promoted_in_prod: dict[str, Any], tmp_path: Path
) -> None:
    _edit_rights(cluster, PROD, USER)
    copy_of = copy.deepcopy(promoted_in_prod)
    copy_of["metadata"]["name"] = f"{WORKLOAD}-by-hand"
    path = tmp_path / "deployment.yaml"
    path.write_text(json.dumps(copy_of), encoding="utf-8")
    # RBAC lets her (edit); the RoleBinding reaches the authorizer asynchronously: retry a refusal
    # that is RBAC's, never the policy's
    deadline = time.monotonic() + 30
    while True:
        done = cluster.kubectl("apply", "--server-side", "-f", str(path), as_user=USER, check=False)
        if "cannot patch resource" not in done.stderr or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert done.returncode != 0
    assert "ValidatingAdmissionPolicy 'signoff-require-promotion'" in done.stderr, done.stderr
    assert (
        f"Deployment {WORKLOAD}-by-hand: container 'kserve-container' asks for GPUs and only "
        f"{_serving.DEPLOYER} may create or change production GPU workloads; "
        f"this request came from '{USER}'"
    ) in done.stderr, done.stderr
    gone = cluster.kubectl("get", "deployment", f"{WORKLOAD}-by-hand", "-n", PROD, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    # nor change what the deployer's Deployment runs (another image, pinned by digest)
    other = "registry.example.com/ml/mlserver@sha256:" + "c" * 64
    changed = cluster.kubectl(
        "set", "image", f"deployment/{WORKLOAD}", f"kserve-container={other}", "-n", PROD,
        as_user=USER, check=False,
    )  # fmt: skip
    assert changed.returncode != 0, changed.stdout
    assert f"this request came from '{USER}'" in changed.stderr, changed.stderr
    stored = _serving.get(cluster, "deployment", WORKLOAD, namespace=PROD)
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == _serving.IMAGE


def _cpu_deployment(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": _serving.IMAGE}]},
            },
        },
    }


def test_limitrange_gpu_defaults_cannot_turn_a_cpu_deployment_into_running_gpu_pods(
    cluster: ControlPlane, policies: list[dict[str, object]]
) -> None:
    ns, name = "limits-prod", "cpu-looking"
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": ns, "labels": {"signoff.dev/environment": "production"}}}  # fmt: skip
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(namespace))
    _admission.wait_judged(cluster, ns, namespace["metadata"]["labels"])
    limit_range = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "gpu-by-default", "namespace": ns},
        "spec": {"limits": [{"type": "Container", "default": {"nvidia.com/gpu": "1"}}]},
    }
    # a cluster administrator (system:masters) may write it; nobody else but the deployer
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(limit_range))
    done = cluster.kubectl(
        "apply", "--server-side", "-f", "-", input=json.dumps(_cpu_deployment(ns, name))
    )  # admitted: the Deployment itself asks for no GPU
    assert "serverside-applied" in done.stdout

    expected = "asks for GPUs but annotation 'signoff.dev/model' is missing or empty"
    found: list[str] = []

    def failed_create() -> bool:
        sets = _serving.get(cluster, "replicasets", "-l", f"app={name}", namespace=ns)["items"]
        for rs in sets:
            for event in _serving.events_for(cluster, ns, "ReplicaSet", rs["metadata"]["name"]):
                if event["reason"] == "FailedCreate" and expected in event["message"]:
                    found.append(event["message"])
        return bool(found)

    try:
        cluster.wait_for("the ReplicaSet's FailedCreate event from the policy", failed_create, deadline_s=90)
    except ClusterError as exc:
        raise AssertionError(f"{exc}\n{_serving.diagnostics(cluster, ns)}") from None
    assert "ValidatingAdmissionPolicy 'signoff-require-promotion'" in found[0], found[0]
    assert "container 'main' asks for GPUs" in found[0], found[0]
    # LimitRanger did write the GPU: the controller's pod was refused, so no pod exists at all
    assert _serving.pods_of(cluster, ns, f"app={name}") == [], _serving.diagnostics(cluster, ns)
    rs = _serving.get(cluster, "replicasets", "-l", f"app={name}", namespace=ns)["items"][0]
    failure = [c for c in rs["status"].get("conditions", []) if c["type"] == "ReplicaFailure"]
    assert failure and failure[0]["reason"] == "FailedCreate" and expected in failure[0]["message"]
