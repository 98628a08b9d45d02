"""Property test: the policy's CEL agrees with a plain-Python statement of the rules on generated objects.

Hypothesis builds Pods, Deployments and InferenceServices in a production namespace with GPUs of any
listed vendor (or a device env variable) in any container list and resource section, images pinned
or not, each promotion annotation valid, missing, empty, blank (ASCII or Unicode whitespace) or
malformed, and various requesters. The CEL (run by the ``cel`` engine through the
harness in test_admission_policy.py) must admit exactly what the rules below admit; in particular it
never admits an unpromoted GPU object and never denies a promoted one from the deployer.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_admission_policy import DEPLOYER, POLICIES, evaluate

KEYS = (
    "signoff.dev/model",
    "signoff.dev/model-version",
    "signoff.dev/model-digest",
    "signoff.dev/promotion-record",
)
DIGEST_KEYS = KEYS[2:]
HEX = "0123456789abcdef" * 4
IMAGES = {
    "digest": "registry.example.com/ml/serving@sha256:" + HEX,
    "tag": "registry.example.com/ml/serving:2.4",
    "short-digest": "registry.example.com/ml/serving@sha256:" + HEX[:40],
    "tag-and-digest": "registry.example.com/ml/serving:2.4@sha256:" + HEX,
}
VALUES = {
    "valid": lambda key: "sha256:" + HEX if key in DIGEST_KEYS else "recsys-ranker",
    "empty": lambda key: "",
    "blank": lambda key: " \t",
    "unicode-blank": lambda key: "\u00a0\u3000\u200b\ufeff\u2028",
    "unicode-letters": lambda key: "sha256:" + HEX if key in DIGEST_KEYS else "mod\u00e8le",
    "upper": lambda key: "sha256:" + HEX.upper(),
    "short": lambda key: "sha256:" + HEX[:63],
}
USERS = {
    "deployer": DEPLOYER,
    "person": "alice@example.com",
    "replicaset-controller": "system:serviceaccount:kube-system:replicaset-controller",
    "deployment-controller": "system:serviceaccount:kube-system:deployment-controller",
}
# The rules, in Python: which requesters may create a GPU object of each kind.
ALLOWED_REQUESTERS = {
    "Pod": {"deployer", "replicaset-controller"},
    "Deployment": {"deployer"},
    "InferenceService": {"deployer"},
}

container_st = st.fixed_dictionaries(
    {
        "list": st.sampled_from(["containers", "initContainers"]),
        "gpu": st.sampled_from(["none", "limits", "requests", "both", "env"]),
        "resource": st.sampled_from(
            [
                "nvidia.com/gpu",
                "nvidia.com/mig-1g.10gb",
                "amd.com/gpu",
                "gpu.intel.com/i915",
                "example.com/fpga",
            ]
        ),
        "image": st.sampled_from(sorted(IMAGES)),
    }
)
annotation_st = st.fixed_dictionaries({k: st.sampled_from(["missing", *sorted(VALUES)]) for k in KEYS})


def _build(kind: str, containers: list[dict[str, str]], annotations: dict[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": []}
    for i, c in enumerate(containers):
        resources: dict[str, Any] = {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}
        for section in ("limits", "requests"):
            if c["gpu"] in (section, "both"):
                resources[section][c["resource"]] = 1
        container: dict[str, Any] = {"name": f"c{i}", "image": IMAGES[c["image"]], "resources": resources}
        if c["gpu"] == "env":
            container["env"] = [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]
        spec.setdefault(c["list"], []).append(container)
    if not spec["containers"]:
        spec["containers"].append({"name": "main", "image": IMAGES["digest"]})
    ann = {k: VALUES[state](k) for k, state in annotations.items() if state != "missing"}
    meta: dict[str, Any] = {"name": "w", "namespace": "ml-prod", "annotations": ann}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    if kind == "Deployment":
        template = {"metadata": {"labels": {"app": "w"}, "annotations": ann}, "spec": spec}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "w", "namespace": "ml-prod"},
            "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": template},
        }
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": kind,
        "metadata": meta,
        "spec": {"predictor": spec},
    }


# What counts as a GPU resource and as blank, in Python (the policy's lists come from the cluster
# policy's gpu_routes: nvidia.com/*, amd.com/gpu, gpu.intel.com/*).
GPU_PREFIXES = ("nvidia.com/", "gpu.intel.com/")
GPU_NAMES = ("amd.com/gpu",)
ZERO_WIDTH = "\u180e\u200b\u200c\u200d\u2060\ufeff"


def _is_gpu(c: dict[str, str]) -> bool:
    if c["gpu"] == "env":
        return True
    resource = c["resource"]
    return c["gpu"] != "none" and (resource in GPU_NAMES or resource.startswith(GPU_PREFIXES))


def _blank(value: str) -> bool:
    return all(ch.isspace() or ch in ZERO_WIDTH for ch in value)


def _expected(kind: str, containers: list[dict[str, str]], annotations: dict[str, str], user: str) -> bool:
    """The rules of infra/policies/require-promotion, written out in Python."""
    if any(not re.search(r"@sha256:[0-9a-f]{64}$", IMAGES[c["image"]]) for c in containers):
        return False
    if not any(_is_gpu(c) for c in containers):
        return True
    values = {k: VALUES[s](k) for k, s in annotations.items() if s != "missing"}
    if any(_blank(values.get(k, "")) for k in KEYS):
        return False
    if any(not re.fullmatch(r"sha256:[0-9a-f]{64}", values[k]) for k in DIGEST_KEYS):
        return False
    return user in ALLOWED_REQUESTERS[kind]


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(sorted(ALLOWED_REQUESTERS)),
    containers=st.lists(container_st, min_size=1, max_size=3),
    annotations=annotation_st,
    user=st.sampled_from(sorted(USERS)),
)
def test_cel_agrees_with_the_rules(
    kind: str, containers: list[dict[str, str]], annotations: dict[str, str], user: str
) -> None:
    case = {
        "request": {"operation": "CREATE", "userInfo": {"username": USERS[user]}},
        "namespace": {"name": "ml-prod", "labels": {"signoff.dev/environment": "production"}},
        "object": _build(kind, containers, annotations),
    }
    decision = evaluate(POLICIES / "require-promotion", case)
    assert not any("error" in m.split(":")[0] for m in decision.messages), decision.messages
    assert decision.allowed is _expected(kind, containers, annotations, user), decision.messages


@pytest.mark.parametrize("kind", sorted(ALLOWED_REQUESTERS))
def test_promoted_gpu_object_from_the_deployer_is_admitted(kind: str) -> None:
    """The property's generators can reach "admitted" for GPU objects (the test is not vacuous)."""
    gpu = [{"list": "containers", "gpu": "limits", "resource": "nvidia.com/gpu", "image": "digest"}]
    case = {
        "request": {"operation": "CREATE", "userInfo": {"username": DEPLOYER}},
        "namespace": {"name": "ml-prod", "labels": {"signoff.dev/environment": "production"}},
        "object": _build(kind, gpu, dict.fromkeys(KEYS, "valid")),
    }
    assert evaluate(POLICIES / "require-promotion", case).allowed
    assert _expected(kind, gpu, dict.fromkeys(KEYS, "valid"), "deployer")
