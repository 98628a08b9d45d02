"""What the rendered production cluster layout promises: least-privilege RBAC, default-deny networks,
restricted pods, and agreement with the platform's cluster policy.

Works on ``kubectl kustomize infra/overlays/production``, with the kubectl tools/cluster/build built.
"""

from __future__ import annotations

import functools
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SYSTEM = "signoff-system"
DEPLOYER = f"{SYSTEM}:signoff-deployer"
# What "creating serving objects" means: the kinds the renderer writes into a serving namespace.
SERVING = {
    ("serving.kserve.io", "inferenceservices"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("apps", "daemonsets"),
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("policy", "poddisruptionbudgets"),
    ("networking.k8s.io", "networkpolicies"),
}
WRITE = {"create", "update", "patch", "delete", "deletecollection"}


def _kubectl() -> str:
    """The kubectl built by tools/cluster/build (tests/cluster_tools.py); never one on PATH."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    return str(importlib.import_module("cluster_tools").tool("kubectl"))


@functools.cache
def _objects(overlay: str = "production") -> tuple[dict[str, Any], ...]:
    out = subprocess.run(
        [_kubectl(), "kustomize", str(INFRA / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def _of(kind: str) -> list[dict[str, Any]]:
    return [o for o in _objects() if o["kind"] == kind]


class Grant(NamedTuple):
    subject: str  # "namespace:serviceaccount"
    scope: str  # a namespace, or "*" for a ClusterRoleBinding
    group: str
    resource: str
    verb: str
    name: str  # a resourceName, or "*" when the rule names none


def _grants() -> set[Grant]:
    """Every (subject, scope, group, resource, verb, name) the bindings hand out."""
    roles = {(o["metadata"].get("namespace", "*"), o["kind"], o["metadata"]["name"]): o for o in _objects()}
    grants: set[Grant] = set()
    for binding in _of("RoleBinding") + _of("ClusterRoleBinding"):
        scope = binding["metadata"].get("namespace", "*")
        ref = binding["roleRef"]
        role = roles[(scope if ref["kind"] == "Role" else "*", ref["kind"], ref["name"])]
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount", subject
            who = f"{subject['namespace']}:{subject['name']}"
            for rule in role["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            for name in rule.get("resourceNames") or ["*"]:
                                grants.add(Grant(who, scope, group, resource, verb, name))
    return grants


def test_no_wildcards_in_any_role() -> None:
    for role in _of("Role") + _of("ClusterRole"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], (role["metadata"]["name"], field)


def test_only_the_deployer_writes_serving_objects_in_production() -> None:
    writers = {
        g.subject
        for g in _grants()
        if g.scope in ("ml-prod", "*") and (g.group, g.resource) in SERVING and g.verb in WRITE
    }
    assert writers == {DEPLOYER}
    deployer = {
        (g.group, g.resource, g.verb) for g in _grants() if g.subject == DEPLOYER and g.scope == "ml-prod"
    }
    for kind in (
        "inferenceservices",
        "deployments",
        "services",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
    ):
        assert any(r == kind and v == "create" for _, r, v in deployer), kind
    assert not any(v.startswith("delete") for _, _, v in deployer)


def test_the_deployer_may_write_exactly_the_kinds_signoff_deploy_applies() -> None:
    """In each serving namespace, the deployer's grants are get/create/update/patch on the kinds
    ``components.kube`` applies (the serving manifests, and the observability objects of
    ``signoff deploy --observability``), and nothing else: no other monitoring kind, no delete."""
    from components import kube
    from pipelines._cli import deploy

    wanted = {
        (version.rpartition("/")[0], plural, verb)
        for version, plural in kube.KINDS.values()
        for verb in ("get", "create", "update", "patch")
    }
    for namespace in ("ml-staging", "ml-prod"):
        got = {
            (g.group, g.resource, g.verb) for g in _grants() if g.subject == DEPLOYER and g.scope == namespace
        }
        assert got == wanted, (namespace, sorted(got ^ wanted))
    monitoring = {
        plural for version, plural in kube.KINDS.values() if version.startswith("monitoring.coreos.com/")
    }
    assert monitoring == {kube.KINDS[k][1] for k in deploy.OBSERVABILITY_KINDS}
    # Elsewhere (signoff-system: Argo's executor records) it writes no monitoring object at all.
    elsewhere = {g for g in _grants() if g.subject == DEPLOYER and g.scope not in ("ml-staging", "ml-prod")}
    assert not any(g.group == "monitoring.coreos.com" for g in elsewhere), elsewhere


def test_nobody_can_create_pods_or_read_secrets_by_listing() -> None:
    """Pod creation in signoff-system would mount any key Secret; list/watch would read them all."""
    for g in _grants():
        assert not (g.resource == "pods" and g.verb in WRITE), g
        if g.resource == "secrets":
            assert g.verb == "get" and g.name != "*", g


def test_each_account_reads_only_its_own_key() -> None:
    keys: dict[str, set[str]] = {}
    for g in _grants():
        if g.resource == "secrets":
            keys.setdefault(g.subject, set()).add(g.name)
            assert g.scope == SYSTEM, g
    assert keys == {
        f"{SYSTEM}:signoff-ml-step": {"signoff-key-ml"},
        f"{SYSTEM}:signoff-platform-step": {"signoff-key-platform"},
        f"{SYSTEM}:signoff-sre-step": {"signoff-key-sre"},
        f"{SYSTEM}:signoff-promoter": {"signoff-key-ml"},
    }


def test_step_accounts_have_exactly_their_grants() -> None:
    def of(account: str) -> set[tuple[str, str, str, str, str]]:
        return {
            (g.scope, g.group, g.resource, g.verb, g.name)
            for g in _grants()
            if g.subject == f"{SYSTEM}:{account}"
        }

    argo = {(SYSTEM, "argoproj.io", "workflowtaskresults", v, "*") for v in ("create", "patch")}
    assert of("signoff-ml-step") == {(SYSTEM, "", "secrets", "get", "signoff-key-ml")} | argo
    assert of("signoff-promoter") == {(SYSTEM, "", "secrets", "get", "signoff-key-ml")} | argo
    sre = of("signoff-sre-step") - argo
    assert {v for _, _, _, v, _ in sre} == {"get", "list", "watch"}
    assert {s for s, *_ in sre} == {SYSTEM, "ml-staging"}
    assert {(gr, r) for s, gr, r, *_ in sre if s == "ml-staging"} == {
        ("serving.kserve.io", "inferenceservices"),
        ("apps", "deployments"),
        ("", "pods"),
    }
    platform = of("signoff-platform-step") - argo
    assert {v for _, _, _, v, _ in platform} == {"get", "list", "watch"}
    assert {r for _, _, r, _, _ in platform} == {"secrets", "namespaces", "priorityclasses", "resourcequotas"}


def test_every_namespace_denies_by_default_and_every_allow_is_narrow() -> None:
    namespaces = {o["metadata"]["name"] for o in _of("Namespace")}
    denied = {
        p["metadata"]["namespace"]
        for p in _of("NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and sorted(p["spec"]["policyTypes"]) == ["Egress", "Ingress"]
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    }
    assert denied == namespaces
    for p in _of("NetworkPolicy"):
        for rule in p["spec"].get("ingress", []):
            assert rule.get("from") and rule.get("ports"), p["metadata"]
        for rule in p["spec"].get("egress", []):
            assert rule.get("to") and rule.get("ports"), p["metadata"]


def test_namespaces_match_the_cluster_policy() -> None:
    cluster = yaml.safe_load((ROOT / "contracts" / "examples" / "cluster-policy.yaml").read_text())["spec"]
    labels = {o["metadata"]["name"]: o["metadata"]["labels"] for o in _of("Namespace")}
    for environment, ns in cluster["namespaces"].items():
        assert labels[ns["name"]]["signoff.dev/environment"] == environment
        assert labels[ns["name"]]["pod-security.kubernetes.io/enforce"] == "restricted"
    classes = {o["metadata"]["name"] for o in _of("PriorityClass")}
    assert classes == set(cluster["priority_classes"]["allowed"])
    assert cluster["priority_classes"]["default"] in classes
    assert not any(o.get("globalDefault") for o in _of("PriorityClass"))


def test_infra_pods_are_restricted_and_pinned() -> None:
    """The pods infra/ itself runs (MLflow) meet Pod Security "restricted" and pin their images."""
    for dep in _of("Deployment"):
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod.get("automountServiceAccountToken") is False
        for c in pod["containers"] + pod.get("initContainers", []):
            ctx = c["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"]["drop"] == ["ALL"], c[
                "name"
            ]
            assert "@sha256:" in c["image"], c["image"]
            assert c["resources"]["limits"] and c["resources"]["requests"], c["name"]
