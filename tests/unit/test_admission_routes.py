"""Every GPU route of the cluster policy, built as an attack and refused with its message.

The routes come from ``contracts/examples/cluster-policy.yaml`` (``spec.gpu_routes``), the same
source the policy's variables are rendered from, so a vendor, device class, runtime class or device
variable added there is attacked here too. Each attack is an admission request through the CEL tier
(test_admission_policy's harness) in the production namespace, and each test asserts the refusal
message names the route.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from test_admission_policy import DEPLOYER, POLICIES, evaluate

from contracts import loader

ROOT = Path(__file__).resolve().parents[2]
ROUTES = loader.load_cluster_policy(ROOT / "contracts" / "examples" / "cluster-policy.yaml").spec.gpu_routes
IMAGE = "registry.example.com/ml/serving@sha256:" + "0123456789abcdef" * 4
NAMESPACE = {"name": "ml-prod", "labels": {"signoff.dev/environment": "production"}}
PERSON = "alice@example.com"
RS_CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"
PROMOTION = {
    "signoff.dev/model": "recsys-ranker",
    "signoff.dev/model-version": "7",
    "signoff.dev/model-digest": "sha256:" + "9" * 64,
    "signoff.dev/promotion-record": "sha256:" + "7" * 64,
}


def _resource_names() -> list[str]:
    """Concrete resource names for every listed pattern (``vendor/*`` gets two of the vendor's)."""
    names: list[str] = []
    for pattern in ROUTES.extended_resources:
        if pattern.endswith("/*"):
            names += [pattern[:-1] + "gpu", pattern[:-1] + "mig-1g.10gb"]
        else:
            names.append(pattern)
    return names


def _ask(obj: dict[str, Any], user: str, old: dict[str, Any] | None = None, sub: str = "") -> list[str]:
    request: dict[str, Any] = {"operation": "UPDATE" if old else "CREATE", "userInfo": {"username": user}}
    if sub:
        request["subResource"] = sub
    case: dict[str, Any] = {"request": request, "namespace": NAMESPACE, "object": obj}
    if old is not None:
        case["oldObject"] = old
    decision = evaluate(POLICIES / "require-promotion", case)
    assert not any("error" in m.split(":")[0] for m in decision.messages), decision.messages
    return decision.messages


def _pod(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "ml-prod"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _container(name: str = "main", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": IMAGE, **fields}


@pytest.mark.parametrize("where", ["containers", "initContainers"])
@pytest.mark.parametrize("section", ["limits", "requests"])
@pytest.mark.parametrize("resource", _resource_names())
def test_every_vendor_resource_is_a_gpu(resource: str, section: str, where: str) -> None:
    spec: dict[str, Any] = {"containers": [_container("cpu")]}
    spec.setdefault(where, []).append(_container("g", resources={section: {resource: 1}}))
    messages = _ask(_pod(spec), RS_CONTROLLER)
    assert any(
        "container 'g' asks for GPUs but annotation 'signoff.dev/model' is missing" in m for m in messages
    )


@pytest.mark.parametrize("resource", _resource_names())
def test_vendor_resource_in_an_ephemeral_container_is_a_gpu(resource: str) -> None:
    old = _pod({"containers": [_container()]}, PROMOTION)
    new = _pod(
        {
            "containers": [_container()],
            "ephemeralContainers": [_container("dbg", resources={"limits": {resource: 1}})],
        },
        PROMOTION,
    )
    messages = _ask(new, PERSON, old=old, sub="ephemeralcontainers")
    assert any("container 'dbg' asks for GPUs and only " + DEPLOYER in m for m in messages)


@pytest.mark.parametrize("variable", ROUTES.device_env)
def test_every_device_env_variable_is_a_gpu(variable: str) -> None:
    spec = {"containers": [_container(env=[{"name": variable, "value": "all"}])]}
    messages = _ask(_pod(spec, PROMOTION), PERSON)
    assert any("container 'main' asks for GPUs and only" in m for m in messages)


@pytest.mark.parametrize("runtime_class", ROUTES.runtime_classes)
def test_every_gpu_runtime_class_is_a_gpu(runtime_class: str) -> None:
    messages = _ask(_pod({"containers": [_container()], "runtimeClassName": runtime_class}), RS_CONTROLLER)
    assert any("pod runs under a GPU runtimeClassName but annotation" in m for m in messages)


@pytest.mark.parametrize("kind", ["ResourceClaim", "ResourceClaimTemplate"])
@pytest.mark.parametrize("device_class", ROUTES.device_classes)
def test_every_gpu_device_class_is_deployer_only(device_class: str, kind: str) -> None:
    devices = {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": device_class}}]}}
    spec = devices if kind == "ResourceClaim" else {"spec": devices}
    obj = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": "c", "namespace": "ml-prod"},
    }
    messages = _ask(dict(obj, spec=spec), PERSON)
    assert any(f"{kind} c: it requests a GPU device class, so only {DEPLOYER}" in m for m in messages)
    assert _ask(dict(obj, spec=spec), DEPLOYER) == []


@pytest.mark.parametrize("field", ["default", "defaultRequest", "max", "min", "maxLimitRequestRatio"])
@pytest.mark.parametrize("resource", _resource_names())
def test_gpu_in_any_limit_range_field_is_deployer_only(resource: str, field: str) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "l", "namespace": "ml-prod"},
        "spec": {"limits": [{"type": "Container", field: {resource: "1"}}]},
    }
    messages = _ask(obj, PERSON)
    assert any("LimitRange l: its defaults or bounds name a GPU resource" in m for m in messages)


def test_runtimes_not_vouched_cpu_only_make_an_inference_service_gpu() -> None:
    def isvc(runtime: str | None) -> dict[str, Any]:
        model: dict[str, Any] = {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/1"}
        if runtime:
            model["runtime"] = runtime
        return {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "i", "namespace": "ml-prod", "annotations": PROMOTION},
            "spec": {"predictor": {"model": model}},
        }

    for runtime in (None, "some-gpu-runtime"):
        messages = _ask(isvc(runtime), PERSON)
        assert any("predictor model takes its runtime from KServe" in m for m in messages), runtime
    for runtime in ROUTES.cpu_runtimes:
        assert _ask(isvc(runtime), PERSON) == []


_BLANKS = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()] + [
    "\u180e",
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
]


@pytest.mark.parametrize("blank", _BLANKS, ids=lambda c: f"U+{ord(c):04X}")
def test_unicode_whitespace_annotation_counts_as_empty(blank: str) -> None:
    annotations = dict(PROMOTION, **{"signoff.dev/model-version": blank * 2})
    spec = {"containers": [_container(resources={"limits": {"nvidia.com/gpu": 1}})]}
    messages = _ask(_pod(spec, annotations), DEPLOYER)
    assert any("annotation 'signoff.dev/model-version' is missing or empty" in m for m in messages)


def test_garbage_collector_edits_of_legacy_gpu_pods_are_not_wedged() -> None:
    legacy = _pod(
        {
            "containers": [
                {
                    "name": "old",
                    "image": "registry.example.com/ml/old:1",
                    "resources": {"limits": {"nvidia.com/gpu": 1}},
                }
            ]
        }
    )
    owned = dict(
        legacy,
        metadata=dict(
            legacy["metadata"],
            ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "u"}],
        ),
    )
    assert _ask(legacy, "system:serviceaccount:kube-system:generic-garbage-collector", old=owned) == []
    # ...but the same object as a CREATE, or an UPDATE that changes the spec, is judged.
    assert _ask(legacy, RS_CONTROLLER)
    changed = dict(legacy, spec=dict(legacy["spec"], activeDeadlineSeconds=60))
    assert _ask(changed, "system:serviceaccount:kube-system:generic-garbage-collector", old=owned)
