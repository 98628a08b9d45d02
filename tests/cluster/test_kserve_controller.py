"""The rendered InferenceServices served by KServe's real controller-manager on the kwok control plane.

The controller is built by ``tools/kserve/build`` from the KServe module pinned in tools/kserve/go.mod
(its CRDs, its manager ClusterRole, its webhook configurations, its default inferenceservice-config and
its MLServer ClusterServingRuntime come from the same module version). It is installed here as KServe's
kustomize installs it, with three loopback differences: the manager runs as a process (with a token the
API server issued to ``kserve/kserve-controller-manager``, so RBAC judges the real identity), its
webhook server listens on a free loopback port with a certificate made here, and the webhook
configurations' ``clientConfig`` names that URL and CA instead of the in-cluster Service. Then
``infra/kserve`` is applied over KServe's configuration, as an operator does after installing KServe.

What is shown, with nothing played by the test (kwok marks the pods Running, as a kubelet would):

* ``signoff deploy`` as ``signoff-deployer`` applies a rendered, promoted InferenceService (KServe's
  defaulting and validating webhooks run on it), KServe's reconciler creates its Deployment, Service
  and HorizontalPodAutoscaler in Standard mode, the ReplicaSet controller creates the pods, KServe's pod
  webhook injects the storage initializer infra/kserve configures (pinned by digest, restricted
  securityContext, told the signed digest by the pod's own annotation so that it verifies what it
  downloaded: tests/integration/test_storage_initializer.py), Pod Security ``restricted`` and the
  admission policy admit every pod, and KServe reports the InferenceService Ready, which is what
  ``--wait`` waits for;
* the same InferenceService applied by a person with every RBAC right in ``ml-prod`` is denied by
  the admission policy;
* the SRE step's account reads a staging InferenceService as its ``kserve://`` path does: Ready, the
  cluster-local address KServe writes, exactly this version served, the pods' cold start;
* without infra/kserve's ClusterStorageContainer, KServe's default storage initializer has no
  securityContext, and ``restricted`` refuses every serving pod (the ReplicaSet's FailedCreate): that
  is why infra/kserve ships it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _serving
import engine_tools
import pytest
import yaml
from _controlplane import GPU_NODE, ClusterError, ControlPlane, _free_port

from components import kube
from contracts.cluster import ServingMode
from gates import serving
from pipelines._cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
import _door_kit as door  # noqa: E402

pytestmark = pytest.mark.cluster

KSERVE_NS = "kserve"
ACCOUNT = "kserve-controller-manager"
PROD, STAGING = "ml-prod", "ml-staging"
USER = "kserve-user@example.com"
INFRA = ROOT / "infra" / "kserve"
RUNTIME_IMAGE = "registry.example.com/ml/mlserver@sha256:" + "c" * 64
"""The MLServer runtime's image, pinned (KServe's kustomize sets it from a tag; never pulled here)."""
DEADLINE_S = 120.0
POD_SECURITY = 'violates PodSecurity "restricted:'
POLICY_DENIED = "ValidatingAdmissionPolicy 'signoff-require-promotion'"


@dataclass
class Manager:
    """The running KServe controller-manager."""

    cluster: ControlPlane
    proc: subprocess.Popen[bytes]
    log: Path
    bin_dir: Path

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise ClusterError(f"kserve-controller-manager exited ({self.proc.returncode}):\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

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
                pytest.fail(f"timed out after {deadline_s:.0f} s waiting for {what}; KServe log {self.log}:\n"
                            f"{self.tail()}\n{_serving.diagnostics(self.cluster, PROD)}")  # fmt: skip
            time.sleep(0.5)


def _apply(cluster: ControlPlane, docs: list[dict[str, Any]], *, manager: str = "kserve-install") -> None:
    text = yaml.safe_dump_all(docs)
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", f"--field-manager={manager}", "-f", "-", input=text
    )


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _install_rbac(cluster: ControlPlane, bin_dir: Path) -> None:
    """KServe's manager ClusterRole, bound to its service account in ``kserve`` (config/rbac)."""
    (role,) = _load_all(bin_dir / "config" / "rbac-role.yaml")
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "kserve-manager-rolebinding"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role["metadata"]["name"],
        },
        "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": KSERVE_NS}],
    }
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": ACCOUNT, "namespace": KSERVE_NS},
    }
    _apply(cluster, [account, role, binding])


def _runtime(bin_dir: Path) -> dict[str, Any]:
    """KServe's MLServer ClusterServingRuntime, its image pinned as the platform's kustomize would."""
    (runtime,) = _load_all(bin_dir / "config" / "kserve-mlserver.yaml")
    for container in runtime["spec"]["containers"]:
        container["image"] = RUNTIME_IMAGE
    return runtime


def _webhook_configs(bin_dir: Path, url: str, ca: Path) -> list[dict[str, Any]]:
    """KServe's webhook configurations, each clientConfig pointed at the loopback server."""
    docs = _load_all(bin_dir / "config" / "webhook-manifests.yaml")
    bundle = base64.b64encode(ca.read_bytes()).decode()
    for doc in docs:
        doc["metadata"].pop("creationTimestamp", None)
        for hook in doc["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {"url": f"{url}{path}", "caBundle": bundle}
    return docs


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def kserve(
    cluster: ControlPlane,
    crds: list[str],
    infra_applied: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Manager]:
    """KServe installed (CRDs, RBAC, config, MLServer runtime, webhooks) and its manager running."""
    bin_dir = engine_tools.bin_dir("kserve")
    exe = engine_tools.tool("kserve", "kserve-controller-manager")
    assert infra_applied["kserve"] == "", infra_applied["kserve"]
    # Earlier tests of the tier left InferenceServices that no controller ran for (the admission
    # cases' stored objects, test_deploy's, whose status it wrote itself). KServe would start serving
    # them, on the one GPU node: they go first (nothing reconciled them, so no finalizer holds them).
    cluster.kubectl(
        "delete", "inferenceservices", "--all", "--all-namespaces", "--wait=true", "--timeout=60s"
    )
    for path in sorted((bin_dir / "crds").glob("*.yaml")):
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    names = [f"crd/{d['metadata']['name']}" for p in (bin_dir / "crds").glob("*.yaml") for d in _load_all(p)]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    # KServe's install first, then infra/kserve over it (its keys win: it is applied last)
    _apply(cluster, _load_all(bin_dir / "config" / "inferenceservice-config.yaml"))
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(INFRA))
    _install_rbac(cluster, bin_dir)

    folder = tmp_path_factory.mktemp("kserve")
    # controller-runtime reads its serving certificate from $TMPDIR/k8s-webhook-server/serving-certs
    ca, _crt, _key = door.tls_files(folder / "k8s-webhook-server" / "serving-certs")
    kubeconfig = _serving.token_kubeconfig(cluster, KSERVE_NS, ACCOUNT, folder / "kubeconfig")
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE") and k.lower() not in proxies}
    env.update(HOME=str(folder), TMPDIR=str(folder), KUBECONFIG=str(kubeconfig), POD_NAMESPACE=KSERVE_NS)
    webhook_port, health_port = _free_port(), _free_port()
    log = cluster.workdir / "kserve-controller-manager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [exe, "--metrics-addr=0", f"--health-probe-addr=127.0.0.1:{health_port}",
             f"--webhook-port={webhook_port}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    manager = Manager(cluster, proc, log, bin_dir)
    configs = _webhook_configs(bin_dir, f"https://127.0.0.1:{webhook_port}", ca)
    try:
        manager.wait("the KServe manager's webhook server", lambda: _healthy(health_port), deadline_s=90)
        _apply(cluster, configs)
        # The runtime: KServe's validating webhook judges it, and the admission policy lets only the
        # deployer write ClusterServingRuntimes (infra/base grants it that), so it is installed as
        # the deployer, as the platform does.
        runtime = [_runtime(bin_dir)]
        manager.wait(
            "the MLServer runtime applied as the deployer",
            lambda: _try_apply(cluster, runtime, as_user=_serving.DEPLOYER),
            deadline_s=30,
        )
        yield manager
    finally:
        # KServe removes its finalizer from what this module created before it stops
        everything = ("inferenceservices", "--all", "--all-namespaces")
        cluster.kubectl("delete", *everything, "--wait=true", "--timeout=90s", check=False)
        for doc in configs:
            cluster.kubectl(
                "delete", doc["kind"].lower(), doc["metadata"]["name"], "--ignore-not-found", check=False
            )
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _try_apply(cluster: ControlPlane, docs: list[dict[str, Any]], *, as_user: str) -> bool:
    text = yaml.safe_dump_all(docs)
    args = ("apply", "--server-side", "--force-conflicts", "--field-manager=signoff", "-f", "-")
    groups = ("system:serviceaccounts", "system:serviceaccounts:signoff-system", "system:authenticated")
    return cluster.kubectl(*args, input=text, check=False, as_user=as_user, as_groups=groups).returncode == 0


def _get(cluster: ControlPlane, kind: str, name: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("get", kind, name, "-n", PROD, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def _pods(cluster: ControlPlane, isvc: str) -> list[dict[str, Any]]:
    return _serving.pods_of(cluster, PROD, f"serving.kserve.io/inferenceservice={isvc}")


def _delete(cluster: ControlPlane, path: Path, isvc: str, manager: Manager) -> None:
    """Remove the InferenceService and wait until KServe's children are gone (garbage collection)."""
    cluster.kubectl("delete", "-f", str(path), "--ignore-not-found", "--wait=false")
    manager.wait(f"{isvc}'s pods to be deleted", lambda: not _pods(cluster, isvc), deadline_s=90)


def _owned_by(obj: dict[str, Any], isvc: dict[str, Any]) -> bool:
    refs = obj["metadata"].get("ownerReferences") or []
    return any(r["kind"] == "InferenceService" and r["uid"] == isvc["metadata"]["uid"] for r in refs)


def _gpu_quota(cluster: ControlPlane, overlay: str) -> dict[str, Any]:
    """The ml-prod GPU ResourceQuota as ``infra/overlays/<overlay>`` renders it."""
    out = cluster.kubectl("kustomize", str(ROOT / "infra" / "overlays" / overlay)).stdout
    (quota,) = [
        d for d in yaml.safe_load_all(out)
        if d and d["kind"] == "ResourceQuota" and d["metadata"]["namespace"] == PROD
    ]  # fmt: skip
    return dict(quota)


def _gpus_of(pod: dict[str, Any]) -> int:
    return sum(
        int((c.get("resources") or {}).get("limits", {}).get("nvidia.com/gpu", 0))
        for c in pod["spec"].get("containers") or []
    )


def _wait_for_gpus(cluster: ControlPlane, kserve: Manager, isvc: dict[str, Any]) -> None:
    """Wait until the GPU node has room for the InferenceService's minReplicas: pods of earlier tests
    on the one 8-GPU kwok node are still being garbage collected after their owners were deleted."""
    predictor = isvc["spec"]["predictor"]
    limits = predictor["model"]["resources"].get("limits", {})
    wanted = int(limits.get("nvidia.com/gpu", 0)) * int(predictor["minReplicas"])
    if not wanted:
        return
    node = json.loads(cluster.kubectl("get", "node", GPU_NODE, "-o", "json").stdout)
    capacity = int(node["status"]["allocatable"]["nvidia.com/gpu"])

    def room() -> bool:
        pods = json.loads(
            cluster.kubectl(
                "get", "pods", "-A", f"--field-selector=spec.nodeName={GPU_NODE}", "-o", "json"
            ).stdout
        )["items"]
        used = sum(_gpus_of(p) for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed"))
        return capacity - used >= wanted

    kserve.wait(f"{wanted} free GPUs on {GPU_NODE}", room, deadline_s=120)


@pytest.fixture
def production_quota(cluster: ControlPlane, infra_applied: dict[str, str]) -> Iterator[None]:
    """ml-prod's GPU quota as the production overlay sets it (the tier applies the staging overlay
    last, whose 4 GPUs do not fit recsys-ranker's 3 replicas of 2); the staging one restored after."""
    _apply(cluster, [_gpu_quota(cluster, "production")], manager="kubectl")
    try:
        yield
    finally:
        _apply(cluster, [_gpu_quota(cluster, "staging")], manager="kubectl")


@pytest.mark.usefixtures("production_quota")
@pytest.mark.parametrize("contract", ["fraud-scorer", "recsys-ranker"])
def test_signoff_deploy_of_a_rendered_inferenceservice_is_served_by_kserve(
    cluster: ControlPlane,
    kserve: Manager,
    deployer: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    contract: str,
) -> None:
    manifests = _serving.manifests(contract, mode=ServingMode.KSERVE)
    (rendered,) = manifests.by_kind("InferenceService")
    name = rendered["metadata"]["name"]
    path = _serving.write(tmp_path / "deployable-manifests.yaml", manifests)
    _wait_for_gpus(cluster, kserve, rendered)
    try:
        rc = cli.main(["deploy", str(path), "-n", PROD, "--kubeconfig", str(deployer), "--wait",
                       "--deadline", f"{DEADLINE_S:.0f}s", "--poll", "0.5"])  # fmt: skip
        out, err = capsys.readouterr()
        assert rc == 0, f"{out}\n{err}\nKServe log:\n{kserve.tail()}\n{_serving.diagnostics(cluster, PROD)}"
        assert f"ready     InferenceService/{name} after" in out

        isvc = _get(cluster, "inferenceservice", name)
        assert isvc is not None
        ready = {c["type"]: c["status"] for c in isvc["status"]["conditions"]}
        assert ready.get("Ready") == "True" and ready.get("PredictorReady") == "True", ready
        # KServe's children in Standard mode, owned by the InferenceService
        predictor = f"{name}-predictor"
        deployment = _get(cluster, "deployment", predictor)
        hpa = _get(cluster, "horizontalpodautoscaler", predictor)
        service = _get(cluster, "service", predictor)
        assert deployment and hpa and service, (deployment, hpa, service)
        for child in (deployment, hpa, service):
            assert _owned_by(child, isvc), child["metadata"].get("ownerReferences")
        spec = rendered["spec"]["predictor"]
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
            spec["minReplicas"],
            spec["maxReplicas"],
        )

        # KServe creates the Deployment with one replica and reports Ready once it is available;
        # the HorizontalPodAutoscaler (the controller-manager's) then scales it to minReplicas
        def at_min_replicas() -> list[dict[str, Any]]:
            pods = _pods(cluster, name)
            running = [p for p in pods if p["status"].get("phase") == "Running"]
            return running if len(running) == spec["minReplicas"] == len(pods) else []

        pods = kserve.wait(f"{spec['minReplicas']} running pods of {name}", at_min_replicas, deadline_s=90)
        csc = yaml.safe_load((INFRA / "cluster-storage-container.yaml").read_text(encoding="utf-8"))
        for pod in pods:
            assert pod["status"]["phase"] == "Running"
            # the storage initializer KServe's pod webhook injected, as infra/kserve configures it
            (init,) = [c for c in pod["spec"]["initContainers"] if c["name"] == "storage-initializer"]
            assert init["image"] == csc["spec"]["container"]["image"]
            # it verifies what it downloaded against the pod's own signed-digest annotation
            assert init["args"][-1] == "/mnt/models"
            assert {
                "name": "SIGNOFF_MODEL_DIGEST",
                "valueFrom": {
                    "fieldRef": {
                        "apiVersion": "v1",
                        "fieldPath": "metadata.annotations['signoff.dev/model-digest']",
                    }
                },
            } in init["env"], init.get("env")
            assert init["securityContext"]["runAsNonRoot"] is True
            assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert rendered["spec"]["predictor"]["model"]["storageUri"] in init["args"]
            (server,) = [c for c in pod["spec"]["containers"] if c["name"] == "kserve-container"]
            assert server["image"] == spec["model"]["image"]
            # the promotion the policy admitted the pod by, carried down from the InferenceService
            annotations = pod["metadata"]["annotations"]
            assert annotations["signoff.dev/promotion-record"] == _serving.RECORD
            assert (
                annotations["signoff.dev/model-digest"]
                == rendered["metadata"]["annotations"]["signoff.dev/model-digest"]
            )
            gpus = server["resources"].get("limits", {}).get("nvidia.com/gpu")
            assert (pod["spec"]["nodeName"] == GPU_NODE) == bool(gpus), pod["spec"]["nodeName"]
    finally:
        _delete(cluster, path, name, kserve)


def _grant_edit(cluster: ControlPlane) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "kserve-test-user-edit", "namespace": PROD},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": USER}],
    }
    _apply(cluster, [binding], manager="kserve-test")


def test_the_same_inferenceservice_applied_by_a_user_is_denied(
    cluster: ControlPlane, kserve: Manager, tmp_path: Path
) -> None:
    manifests = _serving.manifests("recsys-ranker", mode=ServingMode.KSERVE)
    (isvc,) = manifests.by_kind("InferenceService")
    _grant_edit(cluster)
    text = yaml.safe_dump(isvc)

    def refused() -> str:
        proc = cluster.kubectl("apply", "--server-side", "-f", "-", input=text, check=False, as_user=USER)
        assert proc.returncode != 0, f"a user created {isvc['metadata']['name']} in {PROD}"
        return proc.stderr if "is forbidden: User" not in proc.stderr else ""  # RBAC cache: wait

    err = kserve.wait("the user's apply to be judged", refused, deadline_s=30)
    assert POLICY_DENIED in err, err
    assert "signoff-deployer" in err, err
    assert _get(cluster, "inferenceservice", isvc["metadata"]["name"]) is None
    assert not _pods(cluster, isvc["metadata"]["name"])


def test_without_the_cluster_storage_container_restricted_refuses_every_serving_pod(
    cluster: ControlPlane, kserve: Manager, deployer: Path, tmp_path: Path
) -> None:
    """KServe's own storage initializer (inferenceservice-config has no securityContext field) is
    refused by Pod Security ``restricted``: the ReplicaSet reports FailedCreate and no pod exists."""
    manifests = _serving.manifests("fraud-scorer", mode=ServingMode.KSERVE)
    (isvc,) = manifests.by_kind("InferenceService")
    name = isvc["metadata"]["name"]
    path = _serving.write(tmp_path / "deployable-manifests.yaml", manifests)
    csc = INFRA / "cluster-storage-container.yaml"
    cluster.kubectl("delete", "-f", str(csc))
    try:
        rc = cli.main(["deploy", str(path), "-n", PROD, "--kubeconfig", str(deployer)])
        assert rc == 0

        def refused() -> str:
            for rs in json.loads(cluster.kubectl("get", "rs", "-n", PROD, "-o", "json").stdout)["items"]:
                if rs["metadata"]["name"].startswith(f"{name}-predictor-"):
                    for event in _serving.events_for(cluster, PROD, "ReplicaSet", rs["metadata"]["name"]):
                        if event["reason"] == "FailedCreate" and POD_SECURITY in event["message"]:
                            return str(event["message"])
            return ""

        message = kserve.wait("the ReplicaSet's FailedCreate", refused)
        assert "storage-initializer" in message, message
        assert not _pods(cluster, name)
    finally:
        cluster.kubectl("delete", "-f", str(path), "--ignore-not-found", "--wait=false")
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(csc))


def test_the_sre_step_reads_the_staging_version_from_what_kserve_reports(
    cluster: ControlPlane,
    kserve: Manager,
    deployer: Path,
    sre_step: Path,
    tmp_path: Path,
) -> None:
    """The SRE step's view of a staging InferenceService KServe serves (its own account, the calls
    its ``kserve://ml-staging/NAME`` path makes): Ready, the cluster-local address KServe writes, the
    object serving exactly this version (another digest is refused naming both), and a cold start
    read from the pods' own creation and Ready times."""
    manifests = _serving.manifests(
        "fraud-scorer", environment="staging", mode=ServingMode.KSERVE, promoted=False
    )
    (isvc,) = manifests.by_kind("InferenceService")
    name, model = (
        isvc["metadata"]["name"],
        _serving.model_ref(isvc["metadata"]["annotations"]["signoff.dev/model"]),
    )
    path = _serving.write(tmp_path / "staging-manifests.yaml", manifests)
    assert cli.main(["deploy", str(path), "-n", STAGING, "--kubeconfig", str(deployer)]) == 0
    try:
        client = kube.load_client(str(sre_step))
        ready = kube.wait_ready(
            "InferenceService",
            name,
            STAGING,
            deadline_s=DEADLINE_S,
            launched_at=time.monotonic(),
            poll_s=0.5,
            client=client,
        )
        assert ready is not None, f"{kserve.tail()}\n{_serving.diagnostics(cluster, STAGING)}"
        url = kube.staging_url("InferenceService", name, STAGING, client=client)
        assert url == f"http://{name}-predictor.{STAGING}.svc.cluster.local", url
        served = kube.get_serving("InferenceService", name, STAGING, client=client)
        assert serving.serving_problems(served, version=model.version, digest=model.digest,
                                     storage_uri=model.storage_uri) == []  # fmt: skip
        other = "sha256:" + "9" * 64
        problems = serving.serving_problems(
            served, version=model.version, digest=other, storage_uri=model.storage_uri
        )
        assert problems and model.digest in problems[0] and other in problems[0], problems
        seconds = kube.pods_cold_start(name, model.version, STAGING, client=client)
        assert seconds is not None and 0.0 <= seconds < DEADLINE_S, seconds
    finally:
        cluster.kubectl("delete", "-f", str(path), "--ignore-not-found", "--wait=false")
