"""The admission policies under infra/policies/, evaluated with a real CEL engine against their cases.

Each policy folder holds the ValidatingAdmissionPolicy and its binding, and ``cases/admit/*.yaml`` /
``cases/deny/*.yaml``. A case is one admission request::

    description: what the case is about (the way round the rule it tries, if any)
    expect: "fragment of the denial message"      # deny cases only
    request:
      operation: CREATE | UPDATE
      subResource: ephemeralcontainers             # optional
      userInfo: {username: ..., groups: [...]}
    namespace: {name: ml-prod, labels: {...}}      # the namespace object's labels
    object: {...}                                  # the object as the API server sees it
    oldObject: {...}                               # UPDATE only

What is real: every CEL expression of the policy (matchConditions, variables, validations,
messageExpressions) is compiled and run by the ``cel`` package (a CEL implementation independent of
the API server's cel-go). What this file emulates, and only that, is the API server's part around the
CEL: which requests a policy sees (matchConstraints.resourceRules by group/resource/operation, the
policy's and the binding's namespaceSelector), failurePolicy for evaluation errors, and
validationActions. Two deliberate differences, both stricter than the API server:

* variables are evaluated eagerly, in order (the API server evaluates them lazily), so a variable
  that errors on any case fails here even if no validation happens to reference it;
* a messageExpression that errors fails the test (the API server would fall back to a generic
  message, hiding the container name the policy promises to report).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

cel = pytest.importorskip("cel", reason="the CEL engine (common-expression-language) is not installed")

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "infra" / "policies"
DEPLOYER = "system:serviceaccount:signoff-system:signoff-deployer"

# The API server's discovery for the kinds the cases use: (API group, kind) -> resource (plural).
_RESOURCES = {
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
_CLUSTER_SCOPED = {"Namespace", "ClusterServingRuntime"}


# --- loading -------------------------------------------------------------------------------------


@functools.cache
def _docs(folder: Path) -> list[dict[str, Any]]:
    """Every YAML document of the policy folder itself (not its cases)."""
    docs: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def _policy_dirs() -> list[Path]:
    return sorted(p for p in POLICIES.iterdir() if p.is_dir() and (p / "cases").is_dir())


def _cases() -> list[tuple[Path, str, Path]]:
    return [
        (folder, verdict, case)
        for folder in _policy_dirs()
        for verdict in ("admit", "deny")
        for case in sorted((folder / "cases" / verdict).glob("*.yaml"))
    ]


# --- the emulated API server matching --------------------------------------------------------------


def _selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics; an absent selector matches everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _rule_matches(rule: dict[str, Any], group: str, version: str, resource: str, operation: str) -> bool:
    def has(values: list[str], value: str) -> bool:
        return "*" in values or value in values

    resources = rule.get("resources") or []
    return (
        has(rule.get("apiGroups") or [], group)
        and has(rule.get("apiVersions") or [], version)
        and has(rule.get("operations") or [], operation)
        and ("*" in resources or resource in resources)
    )


def _matches(resources: dict[str, Any] | None, request: dict[str, Any], ns_labels: dict[str, str]) -> bool:
    """matchConstraints / matchResources: resource rules (if given) and namespace selector."""
    resources = resources or {}
    # Rules match the resource requested (a scale request's kind is autoscaling/v1 Scale, its
    # resource apps/v1 deployments), as the API server matches them.
    group, version = request["resource"]["group"], request["resource"]["version"]
    resource = request["resource"]["resource"]
    if request.get("subResource"):
        resource += "/" + request["subResource"]
    rules = resources.get("resourceRules")
    if rules is not None and not any(
        _rule_matches(r, group, version, resource, request["operation"]) for r in rules
    ):
        return False
    if request["kind"]["kind"] not in _CLUSTER_SCOPED:
        return _selector_matches(resources.get("namespaceSelector"), ns_labels)
    return True


@dataclasses.dataclass
class Decision:
    """The outcome of one admission request against the policies."""

    allowed: bool
    messages: list[str]
    matched: list[str]


@functools.cache
def _program(expression: str) -> Any:
    return cel.compile(expression)


def _run(expression: str, activation: dict[str, Any]) -> Any:
    return _program(expression).execute(activation)


def _request(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    obj = case["object"]
    group, _, version = obj["apiVersion"].rpartition("/")
    req = case["request"]
    # A subresource's object (a Scale) is of another kind than the workload it belongs to: the case
    # names that workload as ``parent``, and the request is for the parent's resource.
    parent = case.get("parent") or obj
    pgroup, _, pversion = parent["apiVersion"].rpartition("/")
    resource = _RESOURCES[(pgroup, parent["kind"])]
    request = {
        "operation": req["operation"],
        "subResource": req.get("subResource", ""),
        "userInfo": req["userInfo"],
        "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "resource": {"group": pgroup, "version": pversion, "resource": resource},
        "name": obj["metadata"].get("name", ""),
        "namespace": case.get("namespace", {}).get("name", ""),
        "dryRun": False,
    }
    ns = case.get("namespace") or {}
    metadata: dict[str, Any] = {"name": ns.get("name", "")}
    if ns.get("labels"):
        metadata["labels"] = ns["labels"]
    namespace_object = {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
    return request, namespace_object


def _params(docs: list[dict[str, Any]], binding: dict[str, Any]) -> dict[str, Any] | None:
    """The object the binding's ``paramRef`` names among the folder's documents (None: no such object)."""
    ref = binding["spec"]["paramRef"]
    for doc in docs:
        meta = doc["metadata"]
        if (
            doc["kind"] == "ConfigMap"
            and meta["name"] == ref["name"]
            and meta.get("namespace") == ref["namespace"]
        ):
            return doc
    return None


def evaluate(folder: Path, case: dict[str, Any], *, params: dict[str, Any] | None = None) -> Decision:
    """Admit or deny one case against every policy and binding in ``folder``; ``params`` replaces
    the parameter object the binding names (as a patched ConfigMap in the cluster would)."""
    docs = _docs(folder)
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"}
    bindings = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    request, namespace_object = _request(case)
    ns_labels = namespace_object["metadata"].get("labels", {})
    messages: list[str] = []
    matched: list[str] = []
    for binding in bindings:
        policy = policies[binding["spec"]["policyName"]]
        spec = policy["spec"]
        if not _matches(spec.get("matchConstraints"), request, ns_labels):
            continue
        if not _matches(binding["spec"].get("matchResources"), request, ns_labels):
            continue
        deny_on_error = spec.get("failurePolicy", "Fail") == "Fail"
        param_object = None
        if "paramKind" in spec:
            param_object = params if params is not None else _params(docs, binding)
            if param_object is None:  # parameterNotFoundAction: Deny
                assert binding["spec"]["paramRef"]["parameterNotFoundAction"] == "Deny"
                messages.append(f"no params found for policy binding {binding['metadata']['name']}")
                continue
        activation: dict[str, Any] = {
            "object": case["object"],
            "oldObject": case.get("oldObject"),
            "request": request,
            "namespaceObject": namespace_object if request["kind"]["kind"] not in _CLUSTER_SCOPED else None,
            "params": param_object,
        }
        try:
            if not all(_run(c["expression"], activation) is True for c in spec.get("matchConditions", [])):
                continue
        except Exception as exc:
            if deny_on_error:
                messages.append(f"matchConditions error: {exc}")
            continue
        matched.append(policy["metadata"]["name"])
        try:
            variables: dict[str, Any] = {}
            activation["variables"] = variables
            for var in spec.get("variables", []):
                variables[var["name"]] = _run(var["expression"], activation)
            failed = [v for v in spec["validations"] if _run(v["expression"], activation) is not True]
        except Exception as exc:
            if deny_on_error:
                messages.append(f"evaluation error: {type(exc).__name__}: {exc}")
            continue
        if "Deny" not in binding["spec"]["validationActions"]:
            continue
        for validation in failed:
            if "messageExpression" in validation:
                # Not caught: an erroring messageExpression fails the test (see module docstring).
                messages.append(str(_run(validation["messageExpression"], activation)))
            else:
                messages.append(validation.get("message", f"failed expression: {validation['expression']}"))
    return Decision(allowed=not messages, messages=messages, matched=matched)


# --- the cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "verdict", "path"),
    _cases(),
    ids=[f"{f.name}/{v}/{p.stem}" for f, v, p in _cases()],
)
def test_case(folder: Path, verdict: str, path: Path) -> None:
    """Every admit case is admitted; every deny case is denied with its expected message."""
    case = yaml.safe_load(path.read_text())
    assert case.get("description"), f"{path}: say what the case is about in 'description'"
    decision = evaluate(folder, case)
    if verdict == "admit":
        assert "expect" not in case, f"{path}: admit cases have no expected message"
        assert decision.allowed, f"{path} denied: {decision.messages}"
    else:
        assert case.get("expect"), f"{path}: a deny case names a fragment of its message in 'expect'"
        assert not decision.allowed, f"{path} was admitted (matched: {decision.matched})"
        assert not any("error" in m.split(":")[0] for m in decision.messages), decision.messages
        assert not any("\n" in m for m in decision.messages), "the API server drops multi-line messages"
        assert any(case["expect"] in m for m in decision.messages), (
            f"{path}: no message contains {case['expect']!r}: {decision.messages}"
        )


def test_require_promotion_has_enough_cases() -> None:
    folder = POLICIES / "require-promotion"
    admit = list((folder / "cases" / "admit").glob("*.yaml"))
    deny = list((folder / "cases" / "deny").glob("*.yaml"))
    assert len(admit) >= 25 and len(deny) >= 65 and len(admit) + len(deny) >= 90, (len(admit), len(deny))


def test_case_objects_are_valid_kubernetes_objects() -> None:
    """A misspelled field in a case (``initContainer``) would make it pass for the wrong reason."""
    helper = _crd_schema_module()
    kv = pytest.importorskip("kubernetes_validate")
    crd_file = ROOT.parent / "shared" / "schemas" / "kserve-v0.20.0-inferenceservices.crd.yaml"
    errors: list[str] = []
    for _, _, path in _cases():
        case = yaml.safe_load(path.read_text())
        for key in ("object", "oldObject", "parent"):
            obj = case.get(key)
            if (
                obj is None
                or obj["kind"] in _NO_SCHEMA_HERE
                or obj["apiVersion"].startswith("serving.knative.dev/")
            ):
                continue  # no schema here (see _NO_SCHEMA_HERE); the real API server tier checks them
            if obj["kind"] == "InferenceService":
                if crd_file.is_file():
                    errors += [f"{path.name} {key}: {e}" for e in helper.validate_crd_object(crd_file, obj)]
                continue
            if obj["kind"] in _FIXTURE_CRDS:
                crd = ROOT / "tests" / "fixtures" / "crds" / _FIXTURE_CRDS[obj["kind"]]
                errors += [f"{path.name} {key}: {e}" for e in helper.validate_crd_object(crd, obj)]
                continue
            # The newest schema: cases are requests as today's API server sees them (DRA's
            # resourceClaimTemplateName moved out of ``source`` in 1.31).
            errors += [
                f"{path.name} {key}: {e}" for e in helper.validate_core_object(obj, kv.latest_version())
            ]
    assert not errors, "\n".join(errors)


# KServe CRDs committed under tests/fixtures/crds (copied unchanged from KServe v0.20.0).
_FIXTURE_CRDS = {
    "ServingRuntime": "kserve-v0.20.0-servingruntimes.crd.yaml",
    "ClusterServingRuntime": "kserve-v0.20.0-clusterservingruntimes.crd.yaml",
    "InferenceGraph": "kserve-v0.20.0-inferencegraphs.crd.yaml",
}
# Kinds whose schemas are not kept here: Knative's, KServe's LLMInferenceService(Config) (2 MB CRDs
# each) and LeaderWorkerSet. Their cases are written against the upstream CRDs and go through the
# real API server with those CRDs installed.
_NO_SCHEMA_HERE = {"LLMInferenceService", "LLMInferenceServiceConfig", "LeaderWorkerSet"}


def _crd_schema_module() -> Any:
    """tests/crd_schema.py (strict CRD and cached core-object validation), shared with other tests."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    return importlib.import_module("crd_schema")


# --- the policy objects themselves ---------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.30", "latest"])
def test_policy_objects_validate(version: str) -> None:
    kv = pytest.importorskip("kubernetes_validate")
    wanted = kv.latest_version() if version == "latest" else version
    for folder in _policy_dirs():
        for doc in _docs(folder):
            kv.validate(doc, wanted, strict=True)


def test_policies_fail_closed_and_deny() -> None:
    """failurePolicy Fail (an unreachable CEL verdict denies), Deny actions, a message per rule."""
    for folder in _policy_dirs():
        docs = _docs(folder)
        for doc in docs:
            if doc["kind"] == "ValidatingAdmissionPolicy":
                assert doc["spec"]["failurePolicy"] == "Fail", folder
                assert all("messageExpression" in v for v in doc["spec"]["validations"]), folder
            elif doc["kind"] == "ValidatingAdmissionPolicyBinding":
                assert doc["spec"]["validationActions"] == ["Deny"], folder


def test_binding_selects_production_namespaces_by_label() -> None:
    """The binding's scope is the environment label, and only the production namespace carries it.

    A namespace without the label is out of scope (the admit case ``unlabelled-namespace`` shows it):
    the label on ml-prod is what switches the policy on, so it must be there and nowhere else.
    """
    (binding,) = [
        d for d in _docs(POLICIES / "require-promotion") if d["kind"] == "ValidatingAdmissionPolicyBinding"
    ]
    selector = binding["spec"]["matchResources"]["namespaceSelector"]
    assert selector == {"matchLabels": {"signoff.dev/environment": "production"}}
    namespaces = {
        d["metadata"]["name"]: d["metadata"].get("labels", {})
        for d in yaml.safe_load_all((ROOT / "infra" / "base" / "namespaces.yaml").read_text())
        if d and d["kind"] == "Namespace"
    }
    cluster = yaml.safe_load((ROOT / "contracts" / "examples" / "cluster-policy.yaml").read_text())
    prod = cluster["spec"]["namespaces"]["production"]["name"]
    staging = cluster["spec"]["namespaces"]["staging"]["name"]
    assert _selector_matches(selector, namespaces[prod])
    assert not _selector_matches(selector, namespaces[staging])
    assert [n for n, labels in namespaces.items() if _selector_matches(selector, labels)] == [prod]


def test_same_request_is_admitted_outside_production_only() -> None:
    """One unpromoted GPU pod: denied in ml-prod, admitted in ml-staging and an unlabelled namespace."""
    case = yaml.safe_load(
        (POLICIES / "require-promotion" / "cases" / "deny" / "pod-direct-by-user.yaml").read_text()
    )
    folder = POLICIES / "require-promotion"
    assert not evaluate(folder, case).allowed
    for labels in ({"signoff.dev/environment": "staging"}, {}):
        other = dict(case, namespace={"name": "elsewhere", "labels": labels})
        decision = evaluate(folder, other)
        assert decision.allowed and decision.matched == [], decision


def _trusted_controllers(**data: str) -> dict[str, Any]:
    """The shipped trusted-controllers ConfigMap with ``data`` changed (keys with ``_`` for ``-``)."""
    doc = yaml.safe_load((POLICIES / "require-promotion" / "trusted-controllers.yaml").read_text())
    doc["data"].update({k.replace("_", "-"): v for k, v in data.items()})
    return dict(doc)


def _as(case: dict[str, Any], username: str) -> dict[str, Any]:
    namespace = username.split(":")[2]
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]
    return dict(case, request=dict(case["request"], userInfo={"username": username, "groups": groups}))


def test_the_kserve_controller_is_trusted_where_the_configuration_says_it_runs() -> None:
    """KServe in ``kubeflow`` (as Kubeflow's manifests install it): one ConfigMap value, no CEL edit.
    The controller's Deployment is admitted from ``kubeflow``'s account and no longer from ``kserve``'s."""
    folder = POLICIES / "require-promotion"
    case = yaml.safe_load((folder / "cases" / "admit" / "deployment-from-kserve-controller.yaml").read_text())
    in_kserve = "system:serviceaccount:kserve:kserve-controller-manager"
    in_kubeflow = "system:serviceaccount:kubeflow:kserve-controller-manager"
    assert evaluate(folder, _as(case, in_kserve)).allowed
    assert not evaluate(folder, _as(case, in_kubeflow)).allowed
    kubeflow = _trusted_controllers(kserve_namespace="kubeflow")
    assert evaluate(folder, _as(case, in_kubeflow), params=kubeflow).allowed
    denied = evaluate(folder, _as(case, in_kserve), params=kubeflow)
    assert not denied.allowed
    assert any(f"this request came from '{in_kserve}'" in m for m in denied.messages), denied.messages


def test_without_the_trusted_controllers_configuration_the_policy_denies() -> None:
    """The binding's paramRef says Deny when its ConfigMap is missing: closed, never open."""
    (binding,) = [
        d for d in _docs(POLICIES / "require-promotion") if d["kind"] == "ValidatingAdmissionPolicyBinding"
    ]
    assert binding["spec"]["paramRef"]["parameterNotFoundAction"] == "Deny"
    assert _params([], binding) is None
    ref = binding["spec"]["paramRef"]
    shipped = _trusted_controllers()
    assert (shipped["metadata"]["name"], shipped["metadata"]["namespace"]) == (ref["name"], ref["namespace"])


# --- what signoff renders is what the policy admits ----------------------------------------------


def _rendered(path: Path, mode: str, promoted: bool) -> list[dict[str, Any]]:
    """The production manifests signoff renders for an example contract (promoted or not)."""
    render_kit = importlib.import_module("_render_kit")
    from contracts.cluster import ServingMode
    from gates import render as rendering

    contract = render_kit.load_contract(path)
    manifests = rendering.render(
        contract,
        render_kit.policy(),
        render_kit.model_for(contract),
        render_kit.IMAGE,
        environment="production",
        mode=ServingMode(mode),
    )
    if promoted:
        manifests = rendering.with_promotion(manifests, "sha256:" + "3" * 64)
    objects = [dict(o) for o in manifests.objects]
    # The pods the cluster derives from them, as the ReplicaSet controller creates them.
    for where, meta, spec in rendering.pod_specs(manifests):
        pod_meta = {"name": where.split("/")[1].split(" ")[0] + "-7c9d4-abcde", "namespace": "ml-prod"}
        pod_meta.update({k: v for k, v in meta.items() if k in ("labels", "annotations") and v})
        if "model" in spec:  # KServe turns predictor.model into the container kserve-container
            model_only = ("modelFormat", "protocolVersion", "runtime", "storageUri")
            container = {
                "name": "kserve-container",
                **{k: v for k, v in spec["model"].items() if k not in model_only},
            }
            spec = {k: v for k, v in spec.items() if k not in ("model", "minReplicas", "maxReplicas")}
            spec["containers"] = [container]
        objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec})
    return objects


def _admission(obj: dict[str, Any]) -> Decision:
    user = "system:serviceaccount:kube-system:replicaset-controller" if obj["kind"] == "Pod" else DEPLOYER
    namespace = {"name": "ml-prod", "labels": {"signoff.dev/environment": "production"}}
    case = {"request": {"operation": "CREATE", "userInfo": {"username": user}}, "namespace": namespace}
    return evaluate(POLICIES / "require-promotion", dict(case, object=obj))


def _example_contracts() -> list[Path]:
    examples = ROOT / "contracts" / "examples"
    return [
        p
        for p in sorted(examples.glob("*.yaml"))
        if (yaml.safe_load(p.read_text()) or {}).get("kind") == "WorkloadContract"
    ]


@pytest.mark.parametrize("mode", ["kserve", "deployment"])
@pytest.mark.parametrize("path", _example_contracts(), ids=lambda p: p.stem)
def test_rendered_manifests_are_admitted_only_when_promoted(path: Path, mode: str) -> None:
    """The renderer and the policy agree: promoted manifests pass, unpromoted GPU ones do not."""
    promoted = _rendered(path, mode, promoted=True)
    matched = [o for o in promoted if o["kind"] in ("InferenceService", "Deployment", "Pod")]
    assert matched, "nothing the policy would see"
    for obj in matched:
        decision = _admission(obj)
        assert decision.allowed and decision.matched, (obj["kind"], decision.messages)
    for obj in _rendered(path, mode, promoted=False):
        if obj["kind"] not in ("InferenceService", "Deployment", "Pod"):
            continue
        decision = _admission(obj)
        asks_gpu = "nvidia.com/gpu" in yaml.safe_dump(obj)
        assert decision.allowed is not asks_gpu, (obj["kind"], decision.messages)
        if asks_gpu:
            assert any("'signoff.dev/promotion-record' is missing" in m for m in decision.messages)


# Functions and macros of the CEL standard definitions that both the API server (cel-go) and the
# test engine implement. Kubernetes' own libraries (lists, strings ext, quantity, ...) are absent
# from the test engine, so an expression using them would be untested here; keep to these.
_PORTABLE_CEL = {
    "has",
    "size",
    "matches",
    "startsWith",
    "endsWith",
    "contains",
    "exists",
    "all",
    "map",
    "filter",
}


def test_policies_use_only_portable_cel() -> None:
    call = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
    strings = re.compile(r"'[^']*'|\"[^\"]*\"")
    for folder in _policy_dirs():
        for doc in _docs(folder):
            if doc["kind"] != "ValidatingAdmissionPolicy":
                continue
            spec = doc["spec"]
            expressions = [c["expression"] for c in spec.get("matchConditions", [])]
            expressions += [v["expression"] for v in spec.get("variables", [])]
            for v in spec["validations"]:
                expressions += [v["expression"], v.get("messageExpression", "''")]
            used = {name for e in expressions for name in call.findall(strings.sub("''", e))}
            assert used <= _PORTABLE_CEL, (folder.name, used - _PORTABLE_CEL)
