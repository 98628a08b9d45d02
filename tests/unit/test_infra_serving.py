"""infra/kserve and infra/knative: what KServe and Knative need so signoff's serving pods run.

KServe's storage initializer (the init container KServe injects to download the model) is pinned by
the cluster policy's digest and passes Pod Security "restricted"; Knative gets the feature flags
the rendered pods need and its autoscaler may scrape the queue-proxy.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from _render_kit import policy

from contracts.cluster import KNATIVE_PODSPEC_FLAGS
from gates.platform import restricted_violations
from gates.render import ModelRef

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from cluster_tools import tool  # noqa: E402
from crd_schema import validate_core_object, validate_crd_object  # noqa: E402

CSC_CRD = ROOT / "tests" / "fixtures" / "crds" / "kserve-v0.20.0-clusterstoragecontainers.crd.yaml"


def _render(entry: str) -> list[dict[str, Any]]:
    """``kubectl kustomize`` with the kubectl tools/cluster/build built (never one on PATH; a missing
    build fails the test with the command that makes it)."""
    out = subprocess.run(
        [tool("kubectl"), "kustomize", str(ROOT / "infra" / entry)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def _one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    return found


def test_storage_initializer_is_pinned_restricted_and_fetches_what_render_accepts() -> None:
    objects = _render("kserve")
    csc = _one(objects, "ClusterStorageContainer")
    assert validate_crd_object(CSC_CRD, csc) == []
    # Replaces KServe's own "default" (the first one listed that supports a URI wins).
    assert csc["metadata"]["name"] == "default" and csc["spec"]["workloadType"] == "initContainer"
    container = csc["spec"]["container"]
    # KServe's initializer with signoff's digest check after the download, told the signed digest by
    # the pod's own annotation (infra/docker/storage-initializer/initialize-and-verify)
    assert container["image"] == policy().spec.kserve.verifying_storage_initializer_image
    (env,) = container["env"]
    assert env == {
        "name": "SIGNOFF_MODEL_DIGEST",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['signoff.dev/model-digest']"}},
    }
    # The init container inside a pod spec the way KServe injects it, with the pod fields render sets.
    pod = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
           "initContainers": [container], "containers": []}  # fmt: skip
    assert restricted_violations(pod) == []
    assert restricted_violations(
        {"initContainers": [{**container, "securityContext": {}}]}
    )  # the check bites
    formats = csc["spec"]["supportedUriFormats"]
    for uri in ("s3://b/m/1", "gs://b/m/1", "https://objects.example.com/m/1"):
        ModelRef(name="m", version="1", storage_uri=uri, digest="sha256:" + "0" * 64)
        assert any(
            uri.startswith(f.get("prefix", "\0")) or re.fullmatch(f.get("regex", "$^"), uri) for f in formats
        )


def test_inferenceservice_config_pins_the_same_image() -> None:
    cm = _one(_render("kserve"), "ConfigMap", "inferenceservice-config")
    assert cm["metadata"]["namespace"] == "kserve"
    assert set(cm["data"]) == {"storageInitializer"}  # one key merged into KServe's ConfigMap
    config = json.loads(cm["data"]["storageInitializer"])
    assert config["image"] == policy().spec.kserve.storage_initializer_image
    assert config["cpuRequest"] == config["cpuLimit"] and config["memoryRequest"] == config["memoryLimit"]
    assert validate_core_object(cm, "1.30") == []


def test_knative_gets_exactly_the_podspec_flags_and_the_autoscaler_scrape() -> None:
    objects = _render("knative")
    features = _one(objects, "ConfigMap", "config-features")
    assert features["metadata"]["namespace"] == "knative-serving"
    assert features["data"] == {flag: "enabled" for flag in KNATIVE_PODSPEC_FLAGS}
    nps = [o for o in objects if o["kind"] == "NetworkPolicy"]
    namespaces = policy().spec.namespaces
    assert sorted(n["metadata"]["namespace"] for n in nps) == sorted(
        [namespaces.production.name, namespaces.staging.name]
    )
    for np_ in nps:
        (rule,) = np_["spec"]["ingress"]
        assert [p["port"] for p in rule["ports"]] == [9090]
        (source,) = rule["from"]
        assert source["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "knative-serving"
        }
        assert source["podSelector"] == {"matchLabels": {"app": "autoscaler"}}
