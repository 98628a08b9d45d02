"""Sending the admission cases of infra/policies/*/cases through the real API server.

A case (format: infra/policies/require-promotion/cases/README.md) becomes real requests:

1. its own namespace ``case-<n>-<name>``, created WITHOUT the case's labels, and a RoleBinding that
   lets the case's user do anything in it (RBAC is not what the cases test: a request RBAC refuses
   would never reach the policy). For a Namespace case, a ClusterRoleBinding for namespaces instead,
   deleted after the case;
2. UPDATE: ``oldObject`` created as the admin while the namespace is still unlabelled, so no binding
   applies yet (bindings select namespaces by label); owner references are left out (the garbage
   collector would delete an object whose owner does not exist) and an old object with a
   ``deletionTimestamp`` is created with its finalizers and then deleted, so it is being deleted;
3. the namespace then gets the case's labels (adding ``signoff.dev/environment`` is allowed), and
   for a production namespace the test waits until the binding selects it (:func:`wait_judged`);
4. the object is sent as the case's user (``Impersonate-User`` / ``Impersonate-Group``) with
   ``dryRun=All``: POST for CREATE, PUT (carrying the stored resourceVersion) for UPDATE, on the
   subresource where the case names one. A ``scale`` case's objects are Scales: its ``parent`` (the
   workload) is created instead of ``oldObject``, and the Scale the server reads back is changed.

The answer is ``Answer(allowed, message)``; a refusal that did not come from a
ValidatingAdmissionPolicy (schema, Pod Security, RBAC) is kept with ``by_policy=False`` so a test can
tell "denied for the right reason" from "rejected by something else".
"""

from __future__ import annotations

import copy
import http.client
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from _controlplane import ClusterError, ControlPlane

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "infra" / "policies"

# (API group, kind) -> resource, for the kinds the cases use
RESOURCES = {
    ("", "Pod"): "pods",
    ("", "ReplicationController"): "replicationcontrollers",
    ("", "Namespace"): "namespaces",
    ("apps", "Deployment"): "deployments",
    ("apps", "StatefulSet"): "statefulsets",
    ("apps", "ReplicaSet"): "replicasets",
    ("apps", "DaemonSet"): "daemonsets",
    ("batch", "Job"): "jobs",
    ("batch", "CronJob"): "cronjobs",
    ("serving.kserve.io", "InferenceService"): "inferenceservices",
    ("serving.knative.dev", "Service"): "services",
    ("serving.knative.dev", "Configuration"): "configurations",
    ("serving.knative.dev", "Revision"): "revisions",
    ("", "LimitRange"): "limitranges",
    ("serving.kserve.io", "InferenceGraph"): "inferencegraphs",
    ("serving.kserve.io", "ServingRuntime"): "servingruntimes",
    ("serving.kserve.io", "ClusterServingRuntime"): "clusterservingruntimes",
    ("serving.kserve.io", "LLMInferenceService"): "llminferenceservices",
    ("serving.kserve.io", "LLMInferenceServiceConfig"): "llminferenceserviceconfigs",
    ("resource.k8s.io", "ResourceClaim"): "resourceclaims",
    ("resource.k8s.io", "ResourceClaimTemplate"): "resourceclaimtemplates",
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): "leaderworkersets",
    ("autoscaling", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
}
_UPDATE_NAMESPACES = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "update", "patch"]}
# Cluster-scoped kinds other than Namespace: sent without a namespace, CREATE only.
_CLUSTER_SCOPED = {"ClusterServingRuntime"}
_NS_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Answer:
    """What the API server answered: admitted or not, its message, and whether the refusal came from a
    ValidatingAdmissionPolicy."""

    allowed: bool
    message: str
    status: int
    by_policy: bool


def cases() -> list[tuple[Path, str, Path]]:
    """(policy folder, "admit"|"deny", case file) for every case, sorted."""
    return [
        (folder, verdict, path)
        for folder in sorted(p for p in POLICIES.iterdir() if (p / "cases").is_dir())
        for verdict in ("admit", "deny")
        for path in sorted((folder / "cases" / verdict).glob("*.yaml"))
    ]


def case_id(folder: Path, verdict: str, path: Path) -> str:
    return f"{folder.name}/{verdict}/{path.stem}"


def api_path(obj: dict[str, Any], namespace: str | None, name: str | None = None) -> str:
    """The REST path of ``obj``'s collection (or of ``name`` in it)."""
    group, _, version = obj["apiVersion"].rpartition("/")
    resource = RESOURCES[(group, obj["kind"])]
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"{prefix}{ns}/{resource}" + (f"/{name}" if name else "")


def ensure_namespace(cluster: ControlPlane, name: str, labels: dict[str, str] | None = None) -> None:
    """Create namespace ``name`` (409 is fine) and set ``labels`` on it, as the admin."""
    status, body = cluster.request(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    if status not in (201, 409):
        raise ClusterError(f"creating namespace {name} failed ({status}): {body.get('message')}")
    if labels:
        label_namespace(cluster, name, labels)


def label_namespace(cluster: ControlPlane, name: str, labels: dict[str, str]) -> None:
    patch = {"metadata": {"labels": {k: v for k, v in labels.items() if k != _NS_LABEL}}}
    status, body = cluster.request(
        "PATCH", f"/api/v1/namespaces/{name}", patch, content_type="application/merge-patch+json"
    )
    if status != 200:
        raise ClusterError(f"labelling namespace {name} failed ({status}): {body.get('message')}")


def wait_judged(cluster: ControlPlane, namespace: str, labels: dict[str, str]) -> None:
    """After labelling a namespace production, wait until the require-promotion binding selects it.

    The API server matches a binding's namespaceSelector against its namespace informer, which sees
    a label change a moment after the PATCH returns: a request sent at once can slip through
    unjudged (seen under load: a deny case admitted with 201). A dry-run unpromoted GPU Deployment
    in the namespace is refused by the policy once the binding applies."""
    if labels.get("signoff.dev/environment") != "production":
        return
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments?dryRun=All"
    probe = gpu_deployment(namespace, "judged-probe")

    def judged() -> bool:
        status, body = cluster.request("POST", path, probe)
        return status == 403 and "signoff-require-promotion" in str(body.get("message"))

    cluster.wait_for(f"the require-promotion binding to select namespace {namespace}", judged, deadline_s=30)


def gpu_deployment(namespace: str, name: str) -> dict[str, Any]:
    """A minimal unpromoted GPU Deployment (the policy denies it in a production namespace)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "registry.example.com/ml/x:1",
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                        }
                    ]
                },
            },
        },
    }


def _answer(status: int, body: dict[str, Any]) -> Answer:
    message = str(body.get("message", ""))
    return Answer(
        allowed=200 <= status < 300,
        message=message,
        status=status,
        by_policy="ValidatingAdmissionPolicy" in message,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def _grant(
    cluster: ControlPlane,
    namespace: str | None,
    user: str,
    case_name: str,
    rules: list[dict[str, Any]] | None = None,
) -> str | None:
    """Let ``user`` do anything in ``namespace`` (or, cluster-wide, what ``rules`` say: by default
    update namespaces, for a Namespace case); returns the ClusterRoleBinding to delete afterwards, if
    one was made."""
    subject = {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}
    if namespace:
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "case-user", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [subject],
        }
        status, body = cluster.request(
            "POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings", binding
        )
        if status not in (201, 409):
            raise ClusterError(f"RoleBinding in {namespace} failed ({status}): {body.get('message')}")
        return None
    name = f"case-{case_name}"[:63]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules or [_UPDATE_NAMESPACES],
    }
    crb = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [subject],
    }
    for path, obj in (
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles", role),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", crb),
    ):
        status, body = cluster.request("POST", path, obj)
        if status not in (201, 409):
            raise ClusterError(f"{obj['kind']} {name} failed ({status}): {body.get('message')}")
    return name


def _revoke(cluster: ControlPlane, name: str) -> None:
    cluster.request("DELETE", f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}")
    cluster.request("DELETE", f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}")


def _stored(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as the admin creates it: no owner references, no server-set metadata."""
    old = copy.deepcopy(obj)
    meta = old["metadata"]
    for key in ("ownerReferences", "deletionTimestamp", "resourceVersion", "uid", "creationTimestamp"):
        meta.pop(key, None)
    return old


def _service_accounts(cluster: ControlPlane, namespace: str, obj: dict[str, Any]) -> None:
    """A Pod is admitted only if its service account exists (ServiceAccount admission plugin)."""
    if obj["kind"] != "Pod":
        return
    for name in {obj["spec"].get("serviceAccountName") or "default", "default"}:
        status, body = cluster.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts",
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
        )
        if status not in (201, 409):
            raise ClusterError(f"ServiceAccount {namespace}/{name} failed ({status}): {body.get('message')}")


def _send(
    cluster: ControlPlane,
    method: str,
    path: str,
    obj: dict[str, Any],
    user: dict[str, Any],
) -> Answer:
    """Send ``obj`` as ``user``; an RBAC refusal is retried for a while, because a RoleBinding made
    a moment ago reaches the authorizer's cache asynchronously."""
    headers = {"Impersonate-User": user["username"]}
    groups = [g for g in user.get("groups", []) if g != "system:authenticated"]
    deadline = time.monotonic() + 30
    while True:
        answer = _answer(*_request_with_groups(cluster, method, path, obj, headers, groups))
        rbac = answer.status == 403 and not answer.by_policy and "cannot " in answer.message
        if not rbac or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def _request_with_groups(
    cluster: ControlPlane,
    method: str,
    path: str,
    obj: dict[str, Any],
    headers: dict[str, str],
    groups: list[str],
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPSConnection(
        "127.0.0.1", cluster.api_port, context=cluster.ssl_context(), timeout=30
    )
    try:
        conn.putrequest(method, path)
        data = json.dumps(obj).encode()
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Accept", "application/json")
        conn.putheader("Content-Length", str(len(data)))
        for key, value in headers.items():
            conn.putheader(key, value)
        for group in groups:
            conn.putheader("Impersonate-Group", group)
        conn.endheaders(data)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else {})
    finally:
        conn.close()


def send_case(cluster: ControlPlane, index: int, path: Path) -> Answer:
    """Send one case file as real requests (see the module doc) and return the API server's answer."""
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    request = case["request"]
    user = request["userInfo"]
    obj = copy.deepcopy(case["object"])
    old = copy.deepcopy(case.get("oldObject")) if case.get("oldObject") else None
    labels = dict((case.get("namespace") or {}).get("labels") or {})
    name = f"case-{index}-{_slug(path.stem)}"[:63].rstrip("-")
    subresource = request.get("subResource", "")

    if obj["kind"] == "Namespace":
        return _send_namespace_case(cluster, name, request, user, obj, old)
    if obj["kind"] in _CLUSTER_SCOPED:
        assert request["operation"] == "CREATE", f"{path}: cluster-scoped cases are CREATEs"
        group = obj["apiVersion"].rpartition("/")[0]
        rule = {"apiGroups": [group], "resources": [RESOURCES[(group, obj["kind"])]], "verbs": ["create"]}
        binding = _grant(cluster, None, user["username"], name, rules=[rule])
        try:
            return _send(cluster, "POST", api_path(obj, None) + "?dryRun=All", obj, user)
        finally:
            if binding:
                _revoke(cluster, binding)

    obj["metadata"]["namespace"] = name
    if old:
        old["metadata"]["namespace"] = name
    ensure_namespace(cluster, name)
    _grant(cluster, name, user["username"], name)
    _service_accounts(cluster, name, obj)

    if request["operation"] == "CREATE":
        label_namespace(cluster, name, labels)
        wait_judged(cluster, name, labels)
        return _send(cluster, "POST", api_path(obj, name) + "?dryRun=All", obj, user)

    assert old is not None, f"{path}: an UPDATE case needs oldObject"
    if subresource == "scale":  # the object is a Scale; the workload it scales is the case's parent
        parent = copy.deepcopy(case["parent"])
        parent["metadata"]["namespace"] = name
        status, body = cluster.request("POST", api_path(parent, name), _stored(parent))
        if status != 201:
            raise ClusterError(f"{path.name}: creating the parent failed ({status}): {body.get('message')}")
        label_namespace(cluster, name, labels)
        wait_judged(cluster, name, labels)
        target = api_path(parent, name, parent["metadata"]["name"]) + "/scale"
        for _ in range(10):  # the deployment controller writes the parent's status meanwhile: 409, retry
            status, current = cluster.request("GET", target)
            if status != 200:
                raise ClusterError(f"{path.name}: reading the Scale failed ({status})")
            answer = _send(
                cluster, "PUT", target + "?dryRun=All", changed(current, _stored(old), _stored(obj)), user
            )
            if answer.status != 409:
                break
        return answer
    deleting = "deletionTimestamp" in (old["metadata"]) or "deletionTimestamp" in obj["metadata"]
    status, body = cluster.request("POST", api_path(old, name), _stored(old))
    if status != 201:
        raise ClusterError(f"{path.name}: creating oldObject failed ({status}): {body.get('message')}")
    obj_name = old["metadata"]["name"]
    if deleting:
        cluster.request("DELETE", api_path(old, name, obj_name))
    label_namespace(cluster, name, labels)
    wait_judged(cluster, name, labels)
    target = api_path(old, name, obj_name) + (f"/{subresource}" if subresource else "")
    # The update is the case's change (oldObject -> object) applied to what the server stored, which it
    # defaulted and mutated (e.g. a pod's service-account token volume). A controller may update the
    # stored object (its status) meanwhile: 409, read again and retry.
    for _ in range(10):
        status, current = cluster.request("GET", api_path(old, name, obj_name))
        if status != 200:
            raise ClusterError(f"{path.name}: reading oldObject back failed ({status})")
        answer = _send(
            cluster, "PUT", target + "?dryRun=All", changed(current, _stored(old), _stored(obj)), user
        )
        if answer.status != 409:
            break
    if deleting:
        cluster.request(
            "PATCH",
            api_path(old, name, obj_name),
            {"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )
    return answer


def changed(current: Any, old: Any, new: Any) -> Any:
    """``current`` with the differences from ``old`` to ``new`` applied: keys added, changed or
    removed; lists of equal length element by element, others replaced whole."""
    if isinstance(current, dict) and isinstance(old, dict) and isinstance(new, dict):
        out = dict(current)
        for key in old.keys() - new.keys():
            out.pop(key, None)
        for key, value in new.items():
            if key not in old or key not in current:
                out[key] = copy.deepcopy(value)
            elif old[key] != value:
                out[key] = changed(current[key], old[key], value)
        return out
    lists = isinstance(current, list) and isinstance(old, list) and isinstance(new, list)
    if lists and len(current) == len(old) == len(new):
        return [changed(c, o, n) for c, o, n in zip(current, old, new, strict=True)]
    return copy.deepcopy(new)


def _send_namespace_case(
    cluster: ControlPlane,
    name: str,
    request: dict[str, Any],
    user: dict[str, Any],
    obj: dict[str, Any],
    old: dict[str, Any] | None,
) -> Answer:
    for o in (obj, old):
        if o:
            o["metadata"]["name"] = name
            o["metadata"].setdefault("labels", {})[_NS_LABEL] = name
    grant = _grant(cluster, None, user["username"], name)
    try:
        if request["operation"] == "CREATE":
            return _send(cluster, "POST", "/api/v1/namespaces?dryRun=All", obj, user)
        assert old is not None
        status, body = cluster.request("POST", "/api/v1/namespaces", _stored(old))
        if status != 201:
            raise ClusterError(f"creating namespace {name} failed ({status}): {body.get('message')}")
        _, current = cluster.request("GET", f"/api/v1/namespaces/{name}")
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return _send(cluster, "PUT", f"/api/v1/namespaces/{name}?dryRun=All", obj, user)
    finally:
        if grant:
            _revoke(cluster, grant)
