"""Pod Security admission on the real API server: the serving pods pass their namespace's level.

For every example contract, rendered for staging and production, two pods are sent with a
server-side dry run (``kubectl create --dry-run=server``: admission runs, nothing is stored):

* Deployment mode: the pod of the rendered Deployment's template, as the ReplicaSet controller
  creates it;
* KServe mode: the pod as KServe builds it from the InferenceService's predictor: the predictor's
  pod fields, the ``kserve-container`` from ``spec.predictor.model``, and the storage initializer
  init container that KServe's pod webhook injects
  (``pkg/webhook/admission/pod/storage_initializer_injector.go``: ``CreateInitContainerWithConfig``
  builds it from inferenceservice-config's ``storageInitializer`` entry (name, image, args
  ``[storageUri, /mnt/models]``, resources, FallbackToLogsOnError; no securityContext), then
  ``MergeContainerWithPatch`` merges the container of the first ClusterStorageContainer whose
  ``supportedUriFormats`` match the URI over it, and ``AddModelMount`` adds the
  ``kserve-provision-location`` emptyDir at /mnt/models, read-write in the init container and
  read-only in ``kserve-container``). Both configurations are infra/kserve's.

The namespace each pod is sent to carries exactly the ``pod-security.kubernetes.io/*`` labels of
the real namespace (read from the cluster after infra/ was applied: ml-staging or ml-prod), and
not ``signoff.dev/environment``, so the promotion policy (tested in test_controller_chain.py, where
real pods of a promoted Deployment run in ml-prod) does not stand in front of Pod Security here.
A pod passes when the server admits it and sends no warning (the namespaces warn at ``restricted``
``latest``, so a warning would mean a newer Pod Security version refuses it).

The storage initializer as inferenceservice-config alone would build it (no ClusterStorageContainer)
is refused by ``restricted``: that is why infra/kserve ships the ClusterStorageContainer.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import _serving
import pytest
import yaml
from _controlplane import ControlPlane
from _infra import ROOT

from contracts.cluster import ServingMode
from gates.render import CONTAINER_NAME, MODEL_DIR, STORAGE_INITIALIZER

pytestmark = pytest.mark.cluster

KSERVE = ROOT / "infra" / "kserve"
ENVIRONMENTS = {"staging": "ml-staging", "production": "ml-prod"}
PROVISION_VOLUME = "kserve-provision-location"  # KServe's constants.StorageInitializerVolumeName
_MODEL_ONLY = ("modelFormat", "protocolVersion", "runtime", "storageUri")
_PREDICTOR_ONLY = ("model", "labels", "annotations", "minReplicas", "maxReplicas")


def _storage_initializer_config() -> dict[str, Any]:
    config = yaml.safe_load((KSERVE / "inferenceservice-config.yaml").read_text(encoding="utf-8"))
    return dict(json.loads(config["data"]["storageInitializer"]))


def _storage_container(uri: str) -> dict[str, Any] | None:
    """The container of infra/kserve's ClusterStorageContainer if it supports ``uri`` (KServe's
    ``IsStorageUriSupported``: a prefix, or a regular expression that matches)."""
    csc = yaml.safe_load((KSERVE / "cluster-storage-container.yaml").read_text(encoding="utf-8"))
    for fmt in csc["spec"]["supportedUriFormats"]:
        if ("prefix" in fmt and uri.startswith(fmt["prefix"])) or (
            "regex" in fmt and re.match(fmt["regex"], uri)
        ):
            return dict(csc["spec"]["container"])
    return None


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Strategic merge of two containers for the fields a ClusterStorageContainer sets: maps are
    merged key by key, everything else is replaced (``name`` and ``args`` stay the base's when the
    patch has none)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def storage_initializer(uri: str, *, with_storage_container: bool = True) -> dict[str, Any]:
    """The init container KServe injects for ``uri`` with infra/kserve's configuration."""
    config = _storage_initializer_config()
    init: dict[str, Any] = {
        "name": STORAGE_INITIALIZER,
        "image": config["image"],
        "args": [uri, MODEL_DIR],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "resources": {
            "limits": {"cpu": config["cpuLimit"], "memory": config["memoryLimit"]},
            "requests": {"cpu": config["cpuRequest"], "memory": config["memoryRequest"]},
        },
    }
    container = _storage_container(uri) if with_storage_container else None
    if container is not None:
        init = _merge(init, container)
    init["volumeMounts"] = [{"name": PROVISION_VOLUME, "mountPath": MODEL_DIR}]
    return init


def kserve_pod(isvc: dict[str, Any], *, with_storage_container: bool = True) -> dict[str, Any]:
    """The predictor pod KServe builds from the rendered InferenceService (see the module doc)."""
    predictor = isvc["spec"]["predictor"]
    model = predictor["model"]
    server = {k: copy.deepcopy(v) for k, v in model.items() if k not in _MODEL_ONLY}
    server["name"] = CONTAINER_NAME
    server["volumeMounts"] = [
        *server.get("volumeMounts", []),
        {"name": PROVISION_VOLUME, "mountPath": MODEL_DIR, "readOnly": True},
    ]
    spec = {k: copy.deepcopy(v) for k, v in predictor.items() if k not in _PREDICTOR_ONLY}
    spec["containers"] = [server]
    spec["initContainers"] = [
        storage_initializer(model["storageUri"], with_storage_container=with_storage_container)
    ]
    spec["volumes"] = [*spec.get("volumes", []), {"name": PROVISION_VOLUME, "emptyDir": {}}]
    meta = {
        "name": f"{isvc['metadata']['name']}-predictor-0",
        "labels": dict(predictor.get("labels", {})),
        "annotations": dict(predictor.get("annotations", {})),
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def deployment_pod(deployment: dict[str, Any]) -> dict[str, Any]:
    tpl = deployment["spec"]["template"]
    meta = {**copy.deepcopy(tpl["metadata"]), "name": f"{deployment['metadata']['name']}-0"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(tpl["spec"])}


@pytest.fixture(scope="module")
def pss_namespaces(cluster: ControlPlane, infra_applied: dict[str, str]) -> dict[str, dict[str, str]]:
    """environment -> the Pod Security labels of its real namespace, copied onto ``pss-<env>``."""
    assert infra_applied["base"] == "", infra_applied["base"]
    out = {}
    for env, real in ENVIRONMENTS.items():
        labels = _serving.get(cluster, "namespace", real, namespace="default")["metadata"]["labels"]
        pss = {k: v for k, v in labels.items() if k.startswith("pod-security.kubernetes.io/")}
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"pss-{env}", "labels": pss}}
        cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(ns))
        out[env] = pss
    return out


def _dry_run_pod(cluster: ControlPlane, namespace: str, pod: dict[str, Any]) -> tuple[int, str]:
    account = pod["spec"].get("serviceAccountName", "default")
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": namespace}}
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(sa))
    pod = {**pod, "metadata": {**pod["metadata"], "namespace": namespace}}
    done = cluster.kubectl("create", "--dry-run=server", "-f", "-", "-o", "name", input=json.dumps(pod),
                           check=False)  # fmt: skip
    return done.returncode, done.stderr


CASES = [
    (contract, env, mode)
    for contract in _serving.CONTRACTS
    for env in ENVIRONMENTS
    for mode in (ServingMode.DEPLOYMENT, ServingMode.KSERVE)
]


@pytest.mark.parametrize(("contract", "env", "mode"), CASES, ids=[f"{c}-{e}-{m.value}" for c, e, m in CASES])
def test_serving_pod_passes_the_namespaces_pod_security_level(
    cluster: ControlPlane,
    pss_namespaces: dict[str, dict[str, str]],
    contract: str,
    env: str,
    mode: ServingMode,
) -> None:
    assert pss_namespaces[env]["pod-security.kubernetes.io/enforce"] == "restricted"
    manifests = _serving.manifests(contract, environment=env, mode=mode, promoted=env == "production")
    if mode is ServingMode.KSERVE:
        pod = kserve_pod(manifests.by_kind("InferenceService")[0])
        init = pod["spec"]["initContainers"][0]
        # the ClusterStorageContainer matched the model's URI: its pinned image and securityContext
        assert init["image"].startswith("registry.example.com/ml/signoff-storage-initializer@sha256:")
        assert init["securityContext"]["allowPrivilegeEscalation"] is False
    else:
        pod = deployment_pod(manifests.by_kind("Deployment")[0])
    rc, stderr = _dry_run_pod(cluster, f"pss-{env}", pod)
    assert rc == 0, stderr
    assert "Warning" not in stderr, stderr  # warn=restricted at the latest version: no warning either


def test_storage_initializer_without_the_cluster_storage_container_is_refused_by_restricted(
    cluster: ControlPlane, pss_namespaces: dict[str, dict[str, str]]
) -> None:
    """inferenceservice-config has no securityContext for the init container: restricted refuses it."""
    manifests = _serving.manifests("fraud-scorer", environment="production", mode=ServingMode.KSERVE)
    pod = kserve_pod(manifests.by_kind("InferenceService")[0], with_storage_container=False)
    rc, stderr = _dry_run_pod(cluster, "pss-production", pod)
    assert rc != 0
    assert 'violates PodSecurity "restricted:v1.30"' in stderr, stderr
    assert f'"{STORAGE_INITIALIZER}" must set securityContext.allowPrivilegeEscalation=false' in stderr
