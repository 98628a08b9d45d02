"""Every kustomize entry point under infra/ renders, and every object it renders is valid.

``kubectl kustomize`` renders each ``kustomization.yaml`` found under infra/ (a glob, so entry points
added by other parts of the project are covered too). Core objects are validated strictly (unknown
fields refused) with kubernetes-validate's schemas for Kubernetes 1.30 and for the newest version it
ships. Custom resources have no schema there; each such kind is listed in ``_CRD_KINDS`` with where
it is validated instead, and an unlisted kind fails the test.
"""

from __future__ import annotations

import functools
import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ENTRY_POINTS = sorted(p.parent for p in INFRA.rglob("kustomization.yaml"))
IDS = [str(p.relative_to(INFRA)) for p in ENTRY_POINTS]

# (apiVersion, kind) of custom resources kubernetes-validate has no schema for -> where they are checked.
_CRD_KINDS = {
    ("argoproj.io/v1alpha1", "WorkflowTemplate"): "Argo JSON Schema, in the pipelines tests",
    ("serving.kserve.io/v1alpha1", "ClusterStorageContainer"): "KServe's CRD, in test_infra_serving.py",
}


def _kubectl() -> str:
    """The kubectl built by tools/cluster/build (tests/cluster_tools.py); never one on PATH."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    return str(importlib.import_module("cluster_tools").tool("kubectl"))


@functools.cache
def render(entry_point: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize`` renders for one entry point."""
    out = subprocess.run(
        [_kubectl(), "kustomize", str(entry_point)], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, f"kubectl kustomize {entry_point} failed:\n{out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def _validator() -> Any:
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    return importlib.import_module("crd_schema").validate_core_object


def test_entry_points_found() -> None:
    """The glob sees the base, both overlays and each policy (a moved folder would skip silently)."""
    names = set(IDS)
    assert {"base", "overlays/staging", "overlays/production", "policies/require-promotion"} <= names


@pytest.mark.parametrize("entry_point", ENTRY_POINTS, ids=IDS)
@pytest.mark.parametrize("k8s_version", ["1.30", "latest"])
def test_renders_and_validates(entry_point: Path, k8s_version: str) -> None:
    kv = pytest.importorskip("kubernetes_validate")
    version = kv.latest_version() if k8s_version == "latest" else k8s_version
    validate = _validator()
    objects = render(entry_point)
    assert objects, f"{entry_point} renders nothing"
    errors: list[str] = []
    for obj in objects:
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if (obj["apiVersion"], obj["kind"]) in _CRD_KINDS:
            continue
        errors += [f"{where}: {e}" for e in validate(obj, version)]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("entry_point", ENTRY_POINTS, ids=IDS)
def test_unknown_kinds_are_listed(entry_point: Path) -> None:
    """A kind without a kubernetes-validate schema must be named in _CRD_KINDS, not skipped quietly."""
    kv = pytest.importorskip("kubernetes_validate")
    validate = _validator()
    for obj in render(entry_point):
        messages = validate(obj, kv.latest_version())
        unknown = any("no " in m and " schema for " in m for m in messages)
        if unknown:
            assert (obj["apiVersion"], obj["kind"]) in _CRD_KINDS, f"{obj['apiVersion']} {obj['kind']}"


def test_a_misspelled_field_is_caught(tmp_path: Path) -> None:
    """The validation is strict: an overlay patch with a typo (``replica``) fails the test."""
    shutil.copytree(INFRA / "base" / "mlflow", tmp_path / "mlflow")  # kustomize refuses absolute paths
    overlay = tmp_path / "typo"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": ["../mlflow"],
                "patches": [
                    {
                        "target": {"kind": "Deployment", "name": "mlflow"},
                        "patch": "- {op: add, path: /spec/replica, value: 2}",
                    }
                ],
            }
        )
    )
    (mlflow,) = [o for o in render(overlay) if o["kind"] == "Deployment"]
    errors = _validator()(mlflow, "1.30")
    assert any("replica" in e for e in errors), errors


@pytest.mark.parametrize("overlay", ["staging", "production"])
def test_overlays_are_thin(overlay: Path) -> None:
    """An overlay changes values, not the layout: same objects as the base plus the Argo template."""

    def keys(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects}

    base = keys(render(INFRA / "base"))
    argo = keys(render(INFRA / "argo")) if (INFRA / "argo" / "kustomization.yaml").is_file() else set()
    rendered = keys(render(INFRA / "overlays" / overlay))
    argo_in_ns = {(k, "signoff-system", n) for k, _, n in argo}
    assert rendered == base | argo_in_ns


def test_production_overlay_values() -> None:
    """Production: the cluster policy's GPU quotas, two MLflow replicas, MLflow pinned by digest."""
    objects = render(INFRA / "overlays" / "production")
    cluster = yaml.safe_load((ROOT / "contracts" / "examples" / "cluster-policy.yaml").read_text())
    quotas = {
        o["metadata"]["namespace"]: o["spec"]["hard"]["requests.nvidia.com/gpu"]
        for o in objects
        if o["kind"] == "ResourceQuota"
    }
    assert quotas == {ns["name"]: str(ns["gpu_quota"]) for ns in cluster["spec"]["namespaces"].values()}
    (mlflow,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "mlflow"]
    assert mlflow["spec"]["replicas"] == 2
    (image,) = [c["image"] for c in mlflow["spec"]["template"]["spec"]["containers"]]
    assert "@sha256:" in image and ":" not in image.split("@")[0].rsplit("/", 1)[-1], image


EXAMPLE_POLICY = ROOT / "contracts" / "examples" / "cluster-policy.yaml"


def _policy_of(entry_point: Path) -> Path:
    """The cluster policy the platform gate checks against for the cluster an entry point sets up:
    the entry point's own ``cluster-policy.yaml`` (the staging overlay: a smaller GPU fleet), else
    the example policy (the production overlay and the base)."""
    own = entry_point / "cluster-policy.yaml"
    return own if own.is_file() else EXAMPLE_POLICY


@pytest.mark.parametrize("entry_point", ENTRY_POINTS, ids=IDS)
def test_gpu_quotas_are_the_cluster_policys(entry_point: Path) -> None:
    """A contract the platform gate passes (it checks the policy's ``gpu_quota``) fits the quota the
    cluster really enforces: every GPU ResourceQuota an entry point renders is its policy's figure."""
    from contracts.loader import load_cluster_policy

    quotas = {
        o["metadata"]["namespace"]: o["spec"]["hard"]["requests.nvidia.com/gpu"]
        for o in render(entry_point)
        if o["kind"] == "ResourceQuota" and "requests.nvidia.com/gpu" in o["spec"].get("hard", {})
    }
    if not quotas:
        assert not (entry_point / "cluster-policy.yaml").is_file(), f"{entry_point}: a policy but no quota"
        return
    namespaces = load_cluster_policy(_policy_of(entry_point)).spec.namespaces
    wanted = {ns.name: str(ns.gpu_quota) for ns in (namespaces.staging, namespaces.production)}
    assert quotas == wanted, (
        f"{entry_point.relative_to(INFRA)}: quotas {quotas}, {_policy_of(entry_point)}: {wanted}"
    )


def test_the_staging_clusters_policy_is_the_example_but_for_its_gpu_quotas() -> None:
    """The staging overlay's own policy differs from the example only in its name and GPU quotas, so
    the two cannot drift apart in what else the platform gate checks."""
    example = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    staging = yaml.safe_load(
        (INFRA / "overlays" / "staging" / "cluster-policy.yaml").read_text(encoding="utf-8")
    )
    for doc in (example, staging):
        doc["metadata"].pop("name")
        for ns in doc["spec"]["namespaces"].values():
            ns.pop("gpu_quota")
    assert staging == example


KFP_PROFILE = INFRA / "overlays" / "kfp-profile"
KFP_GOLDEN = ROOT / "tests" / "golden" / "infra" / "kfp-profile.yaml"
READ = {"get", "list", "watch"}


def test_kfp_profile_overlay_renders_its_golden(request: pytest.FixtureRequest) -> None:
    """What ``kubectl apply -k infra/overlays/kfp-profile`` applies, reviewed as a diff when it changes
    (regenerate with ``--update-goldens``, never in CI)."""
    import os

    text = yaml.safe_dump_all(render(KFP_PROFILE), sort_keys=False)
    if request.config.getoption("--update-goldens"):
        if os.environ.get("CI"):
            pytest.fail("--update-goldens is not allowed in CI")
        KFP_GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        KFP_GOLDEN.write_text(text, encoding="utf-8")
    assert KFP_GOLDEN.is_file(), "missing tests/golden/infra/kfp-profile.yaml: run with --update-goldens"
    assert text == KFP_GOLDEN.read_text(encoding="utf-8"), "kfp-profile renders differently: --update-goldens"


def test_kfp_profile_overlay_binds_the_run_account_to_reads_only_and_opens_mlflow_and_staging(
    tmp_path: Path,
) -> None:
    """In a profile namespace: the namespace and account set in kfp-namespace.yaml reach every binding
    and policy (nothing left at a placeholder, the local config not applied); the roles bound are
    infra/base's, and read only; the network doors are MLflow's port and the staging pods for the
    SRE task's label only."""
    overlay = tmp_path / "kfp-profile"
    shutil.copytree(KFP_PROFILE, overlay)
    config = yaml.safe_load((overlay / "kfp-namespace.yaml").read_text(encoding="utf-8"))
    config["data"] = {"namespace": "kubeflow-user-example-com", "serviceAccount": "default-editor"}
    (overlay / "kfp-namespace.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    objects = render(overlay)
    assert "KFP-" not in yaml.safe_dump_all(objects) and not any(o["kind"] == "ConfigMap" for o in objects)
    base = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
        for o in render(INFRA / "base")
    }
    bindings = [o for o in objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert bindings
    for b in bindings:
        assert b["subjects"] == [
            {"kind": "ServiceAccount", "name": "default-editor", "namespace": "kubeflow-user-example-com"}
        ]
        ref = b["roleRef"]
        role = base[
            (ref["kind"], b["metadata"].get("namespace", "") if ref["kind"] == "Role" else "", ref["name"])
        ]
        verbs = {v for rule in role["rules"] for v in rule["verbs"]}
        assert verbs <= READ and not any(
            r == "secrets" for rule in role["rules"] for r in rule["resources"]
        ), ref
    bound = {(b["metadata"].get("namespace", "*"), b["roleRef"]["name"]) for b in bindings}
    assert bound == {
        ("*", "signoff-platform-step-cluster-read"),
        ("ml-staging", "signoff-platform-step-quota-read"),
        ("ml-prod", "signoff-platform-step-quota-read"),
        ("ml-staging", "signoff-sre-step-observe"),
    }
    policies = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o["spec"]
        for o in objects
        if o["kind"] == "NetworkPolicy"
    }
    mlflow = policies["signoff-system", "mlflow-from-kfp-tasks"]
    assert mlflow["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}
    assert mlflow["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "kubeflow-user-example-com"}
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": 5000}],
        }
    ]
    (peer,) = policies["ml-staging", "allow-kfp-sre-task-probe"]["ingress"][0]["from"]
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kubeflow-user-example-com"}},
        "podSelector": {"matchLabels": {"signoff.dev/step": "sre"}},
    }
    # the label the pipeline gives the SRE task's pods, and only those
    from components.steps import spec

    assert peer["podSelector"]["matchLabels"] == spec.step("sre-readiness").labels
