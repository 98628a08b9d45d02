"""The thin cluster path: apply promoted manifests, wait until they serve, find their URL.

The ONLY module that talks to the Kubernetes API (and the only importer of ``kubernetes``, always
inside functions, so ``signoff --help`` never loads it). It is deliberately small: four functions,
raw REST paths for the few kinds signoff renders, no discovery, no watches.

What it does, and the API requests it sends (the deployer's Role in ``infra/base/rbac.yaml`` grants
exactly ``get, create, update, patch`` on these kinds, and nothing else):

* :func:`load_client`: credentials. An explicit kubeconfig file wins; else, inside a pod, the pod's
  service-account token (``/var/run/secrets/kubernetes.io/serviceaccount``); else ``$KUBECONFIG`` or
  ``~/.kube/config``. Neither -> :class:`~contracts.errors.InputError` saying what was looked for.
* :func:`apply`: server-side apply of every object, in the manifests' order::

      PATCH /apis/<group>/<version>/namespaces/<ns>/<plural>/<name>
            ?fieldManager=signoff&force=false[&dryRun=All]
      Content-Type: application/apply-patch+yaml

  ``force=false``: when another field manager (a person's ``kubectl edit``, a controller) owns a
  field we set, the server answers 409 and we stop with a :class:`~contracts.errors.ConflictError`
  naming it, instead of silently taking the field over. Before any request to a production
  namespace (``ml-prod``, or any the caller names), every serving object (InferenceService,
  Deployment; the object and its pod template) must carry the ``signoff.dev/promotion-record``
  annotation (``sha256:<64 hex>``, what the promotion step writes into
  ``deployable-manifests.yaml`` with :func:`gates.render.with_promotion`) or nothing is sent:
  defence in depth beside the admission policy ``infra/policies/require-promotion``, which is what
  actually holds the line.
* :func:`wait_ready`: polls ``GET`` of the InferenceService or Deployment (the deployer has no
  ``watch``/``list``; a GET every ``poll_s`` is as cheap and keeps each request bounded) until
  ready, and returns the seconds from launch: the cold-start figure the SRE gate compares with the
  contract's ``max_cold_start``. Ready means:

  - InferenceService (KServe v1beta1): ``status.conditions[type=Ready].status == "True"`` and the
    status describes the current spec (``status.observedGeneration >= metadata.generation`` when
    both are set, so the previous version's Ready does not count);
  - Deployment: ``status.observedGeneration >= metadata.generation``, and ``updatedReplicas`` and
    ``readyReplicas`` both ``>= spec.replicas`` (what ``kubectl rollout status`` waits for).

  Never hangs: each request has a timeout cut to the time left, and at the deadline it returns
  ``None``. Transient failures (5xx, 429, connection refused, timeouts) are tolerated until the
  deadline, since an API server restart during a rollout is not the model's fault; 401/403 and 404
  stop at once.
* :func:`staging_url`: the InferenceService's ``status.url`` (else ``status.address.url``); for a
  Deployment the in-cluster URL of its Service (same name, port named ``http``, from a GET of the
  Service), e.g. ``http://ranker.ml-staging.svc.cluster.local`` (the rendered Service listens on 80).

Errors (the tree in :mod:`contracts.errors`): 401/403 -> ``PermanentError`` naming the identity in
use (the service account, read from its token, or the kubeconfig user) and the missing
verb/resource/namespace, or, when the 403 is an admission policy's refusal, the policy's message;
404 -> ``InputError`` (a missing namespace is named as such); 400/422 -> ``InputError`` with the
server's reason; 409 -> ``ConflictError``; 5xx, 429 and connection failures -> ``TemporaryError``
(exit 3, which the KFP/Argo retry policies retry).

Tests: ``tests/cluster/test_deploy.py`` and ``tests/cluster/test_sre_staging.py`` run these
functions against a real kube-apiserver with kube-controller-manager, kube-scheduler and kwok on
loopback (the Go build in ``tools/cluster``), as the deployer's and the SRE step's service accounts
with tokens the server issued. ``tests/integration/test_kube_api.py`` keeps a loopback stand-in
only for the faults a real server cannot be made to produce on demand: an answer that stalls, a
closed port, a 500. On a real cluster, ``signoff deploy --dry-run`` is the safe first try: the
server validates and admits (or refuses) every object without persisting anything.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from contracts.errors import (
    ConflictError,
    InputError,
    PermanentError,
    SignoffError,
    TemporaryError,
)
from gates.render import (
    ANNOTATION_DIGEST,
    ANNOTATION_PROMOTION,
    ANNOTATION_VERSION,
    LABEL_WORKLOAD,
    Manifests,
)

__all__ = [
    "APPLY_CONTENT_TYPE",
    "KINDS",
    "PRODUCTION_NAMESPACES",
    "KubeClient",
    "apply",
    "create_workflow",
    "get_serving",
    "is_ready",
    "load_client",
    "pods_cold_start",
    "serving_problems",
    "staging_url",
    "wait_ready",
]

_log = logging.getLogger(__name__)

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

# kind -> (apiVersion, plural): the kinds `signoff render` writes. No discovery: an unknown kind is
# refused with the list, rather than guessed.
KINDS: dict[str, tuple[str, str]] = {
    "ServiceAccount": ("v1", "serviceaccounts"),
    "Service": ("v1", "services"),
    "Deployment": ("apps/v1", "deployments"),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "horizontalpodautoscalers"),
    "PodDisruptionBudget": ("policy/v1", "poddisruptionbudgets"),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies"),
    "InferenceService": ("serving.kserve.io/v1beta1", "inferenceservices"),
    "ServiceMonitor": ("monitoring.coreos.com/v1", "servicemonitors"),
    "PodMonitor": ("monitoring.coreos.com/v1", "podmonitors"),
    "PrometheusRule": ("monitoring.coreos.com/v1", "prometheusrules"),
}

PRODUCTION_NAMESPACES: frozenset[str] = frozenset({"ml-prod"})
"""Namespaces always treated as production (the name in ``infra/base``); callers may add others."""

_SERVING_KINDS = ("InferenceService", "Deployment")
_SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_RECORD = re.compile(r"^sha256:[0-9a-f]{64}$")
_CONNECT_TIMEOUT_S = 5.0
_READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class KubeClient:
    """An API client and who it acts as (for error messages)."""

    api: Any
    """``kubernetes.client.ApiClient`` with its own ``Configuration`` (the global default is untouched)."""
    identity: str
    """Who the requests act as, e.g. ``service account signoff-system/signoff-deployer``."""
    host: str
    """API server URL."""


# ---------------------------------------------------------------------------------------- credentials


def _token_identity(token_file: Path) -> str:
    """``service account NS/NAME`` from the token's ``sub`` claim (read, not verified: for messages)."""
    try:
        payload = token_file.read_text(encoding="utf-8").strip().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        sub = str(claims["sub"])
    except (OSError, IndexError, KeyError, ValueError, binascii.Error):
        return "the pod's service account"
    parts = sub.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return f"service account {parts[2]}/{parts[3]}"
    return sub


def _kubeconfig_files() -> list[Path]:
    env = os.environ.get("KUBECONFIG")
    paths = env.split(os.pathsep) if env else ["~/.kube/config"]
    return [Path(p).expanduser() for p in paths if p]


def load_client(kubeconfig: str | None = None, context: str | None = None) -> KubeClient:
    """A client for the cluster: in-cluster service account inside a pod, else a kubeconfig.

    Args:
        kubeconfig: kubeconfig file to use; wins over everything else when given.
        context: kubeconfig context (default: the file's current context).

    Returns:
        The client and the identity it acts as.

    Raises:
        InputError: no credentials found (the message says where it looked), or the kubeconfig
            is unreadable or lacks the context.
    """
    from kubernetes import client, config

    cfg = client.Configuration()
    in_pod = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (_SA_DIR / "token").is_file()
    if kubeconfig is None and context is None and in_pod:
        try:
            config.incluster_config.InClusterConfigLoader(
                token_filename=str(_SA_DIR / "token"), cert_filename=str(_SA_DIR / "ca.crt")
            ).load_and_set(cfg)
        except config.ConfigException as exc:
            raise InputError(f"in-cluster credentials at {_SA_DIR} are unusable: {exc}") from None
        identity = _token_identity(_SA_DIR / "token")
    else:
        files = [Path(kubeconfig)] if kubeconfig else _kubeconfig_files()
        existing = [f for f in files if f.is_file()]
        if not existing:
            where = ", ".join(str(f) for f in files)
            raise InputError(
                f"no Kubernetes credentials: not running in a pod (no KUBERNETES_SERVICE_HOST and "
                f"service-account token at {_SA_DIR / 'token'}) and no kubeconfig at {where}; pass "
                "--kubeconfig FILE or set KUBECONFIG"
            )
        path = os.pathsep.join(str(f) for f in existing)
        try:
            config.load_kube_config(
                config_file=path, context=context, client_configuration=cfg, persist_config=False
            )
            contexts, current = config.list_kube_config_contexts(config_file=path)
        except (config.ConfigException, yaml.YAMLError, OSError, ValueError, TypeError, KeyError) as exc:
            raise InputError(f"kubeconfig {path}: {exc}") from None
        active = next((c for c in contexts if c.get("name") == context), current) if context else current
        user = ((active or {}).get("context") or {}).get("user", "?")
        identity = f"kubeconfig user {user!r} (context {(active or {}).get('name', '?')!r})"
    cfg.retries = 0  # our own loops retry, within their deadlines
    return KubeClient(api=client.ApiClient(configuration=cfg), identity=identity, host=str(cfg.host))


# ---------------------------------------------------------------------------------------- requests


def _path(kind: str, namespace: str, name: str, api_version: str | None = None) -> str:
    if kind not in KINDS:
        raise InputError(f"kind {kind!r} is not one signoff deploys; known kinds: {', '.join(sorted(KINDS))}")
    version, plural = KINDS[kind]
    if api_version is not None and api_version != version:
        raise InputError(f"{kind}/{name}: apiVersion {api_version!r} is not {version!r}")
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise InputError(f"namespace {namespace!r} is not a DNS-1123 label")
    if not isinstance(name, str) or not _OBJECT_NAME.fullmatch(name):
        raise InputError(f"{kind} name {name!r} is not a DNS-1123 name")
    base = "/api/v1" if version == "v1" else f"/apis/{version}"
    return f"{base}/namespaces/{namespace}/{plural}/{name}"


def create_workflow(workflow: dict[str, Any], namespace: str, *, client: KubeClient | None = None) -> str:
    """Create an Argo ``Workflow`` (``generateName``) in ``namespace`` through the Kubernetes API, as
    ``argo submit`` does through the Argo Server; the workflow-controller runs it. Needs only RBAC
    ``create workflows.argoproj.io`` there (the ``signoff-listen-mlflow`` account's one write).

    Returns:
        The created workflow's name.
    """
    if workflow.get("apiVersion") != "argoproj.io/v1alpha1" or workflow.get("kind") != "Workflow":
        raise InputError("create_workflow takes an argoproj.io/v1alpha1 Workflow")
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise InputError(f"namespace {namespace!r} is not a DNS-1123 label")
    client = client or load_client()
    name = str(workflow.get("metadata", {}).get("generateName", "workflow"))
    version, plural = _OTHER_KINDS["Workflow"]
    created = _call(
        client,
        "POST",
        f"/apis/{version}/namespaces/{namespace}/{plural}",
        verb="create",
        kind="Workflow",
        name=name,
        namespace=namespace,
        body={**workflow, "metadata": {**workflow.get("metadata", {}), "namespace": namespace}},
    )
    return str(created.get("metadata", {}).get("name", ""))


_OTHER_KINDS: dict[str, tuple[str, str]] = {"Workflow": ("argoproj.io/v1alpha1", "workflows")}
"""Kinds signoff creates but never deploys (:func:`create_workflow`), for error messages only."""


def _resource(kind: str) -> str:
    version, plural = KINDS.get(kind) or _OTHER_KINDS[kind]
    group = version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


def _server_message(body: Any) -> str:
    try:
        return str(json.loads(body).get("message", "")).strip()
    except (TypeError, ValueError, AttributeError):
        return ""


def _api_error(
    status: int, body: Any, *, client: KubeClient, verb: str, kind: str, name: str, namespace: str
) -> SignoffError:
    said = _server_message(body)
    said = f": {said}" if said else ""
    resource = _resource(kind)
    if status == 401:
        return PermanentError(
            f"the API server at {client.host} did not accept the credentials of {client.identity} "
            f"(401 Unauthorized{said}); the token or certificate is expired or wrong"
        )
    if status == 403 and "ValidatingAdmissionPolicy" in said:
        return PermanentError(
            f"the cluster's admission policy refused {kind}/{name} in {namespace!r} (403 Forbidden{said}); "
            "RBAC allowed the request, the object itself is not admitted (infra/policies)"
        )
    if status == 403:
        return PermanentError(
            f"{client.identity} may not {verb!r} {resource} in namespace {namespace!r} "
            f"(403 Forbidden{said}); grant verb {verb!r} on {resource} in {namespace!r} to it "
            "(infra/base/rbac.yaml, Role signoff-deployer)"
        )
    if status == 404 and f'namespaces "{namespace}" not found' in said:
        return InputError(
            f"namespace {namespace!r} does not exist (404{said}); create it first (infra/base "
            "creates ml-staging and ml-prod) or pass the namespace the manifests were rendered for"
        )
    if status == 404:
        return InputError(
            f"{kind} {name!r} not found in namespace {namespace!r} (404{said}); check the name and "
            f"namespace, and that the {resource} API is installed in the cluster"
        )
    if status == 409:
        return ConflictError(
            f"applying {kind}/{name} in {namespace!r} conflicts with another field manager "
            f"(409{said}); someone changed these fields by hand: reconcile, then deploy again"
        )
    if status in (400, 422):
        return InputError(f"the API server refused {kind}/{name} in {namespace!r} ({status}{said})")
    if status == 429 or status >= 500:
        return TemporaryError(f"the API server answered {status} to {verb} {kind}/{name}{said}")
    return PermanentError(f"the API server answered {status} to {verb} {kind}/{name}{said}")


def _call(
    client: KubeClient,
    method: str,
    path: str,
    *,
    verb: str,
    kind: str,
    name: str,
    namespace: str,
    query: list[tuple[str, str]] | None = None,
    body: dict[str, Any] | None = None,
    content_type: str = "application/json",
    timeout_s: float = _CONNECT_TIMEOUT_S + _READ_TIMEOUT_S,
) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError, MaxRetryError, SSLError

    # urllib3 takes (connect, read); split the budget so the two together stay within it
    timeout = max(0.1, timeout_s)
    connect = min(_CONNECT_TIMEOUT_S, timeout / 2)
    try:
        data = client.api.call_api(
            path,
            method,
            query_params=query or [],
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _preload_content=True,
            _request_timeout=(connect, timeout - connect),
        )
    except ApiException as exc:
        raise _api_error(
            int(exc.status or 0),
            exc.body,
            client=client,
            verb=verb,
            kind=kind,
            name=name,
            namespace=namespace,
        ) from None
    except (HTTPError, OSError) as exc:
        cause = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
        if isinstance(cause, SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(cause):
            raise PermanentError(
                f"TLS with the API server at {client.host} failed ({verb} {kind}/{name}): {cause}; "
                "check the kubeconfig's certificate-authority data and server address"
            ) from None
        raise TemporaryError(
            f"cannot reach the API server at {client.host} ({verb} {kind}/{name}): {cause}"
        ) from None
    if not isinstance(data, dict):
        raise TemporaryError(f"the API server answered {verb} {kind}/{name} with something not a JSON object")
    return data


# ------------------------------------------------------------------------------------------- apply


def _promotion_problems(obj: dict[str, Any]) -> list[str]:
    kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name", "?")
    places = [("metadata", obj.get("metadata") or {})]
    spec = obj.get("spec") or {}
    if kind == "InferenceService":
        places.append(("spec.predictor", spec.get("predictor") or {}))
    else:
        places.append(("spec.template.metadata", (spec.get("template") or {}).get("metadata") or {}))
    problems = []
    for where, meta in places:
        value = (meta.get("annotations") or {}).get(ANNOTATION_PROMOTION)
        if not isinstance(value, str) or not _RECORD.fullmatch(value):
            problems.append(
                f"{kind}/{name} {where}.annotations[{ANNOTATION_PROMOTION!r}] is {value!r}, "
                "not a promotion record digest 'sha256:<64 hex>'"
            )
    return problems


def _objects(manifests: Manifests | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    objs = list(manifests.objects if isinstance(manifests, Manifests) else manifests)
    for i, obj in enumerate(objs):
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
            raise InputError(f"object {i + 1}: not a Kubernetes object with metadata")
    return objs


def apply(
    manifests: Manifests,
    *,
    namespace: str,
    field_manager: str = "signoff",
    dry_run: bool = False,
    production: bool = False,
    client: KubeClient | None = None,
) -> list[str]:
    """Server-side apply every object, in order; refuse unpromoted serving objects in production.

    Args:
        manifests: the objects (e.g. ``signoff render`` output after promotion).
        namespace: target namespace; an object naming another namespace is refused.
        field_manager: the apply field manager (``fieldManager``).
        dry_run: ask the server to validate and admit without persisting (``dryRun=All``).
        production: treat ``namespace`` as production too; a namespace in
            :data:`PRODUCTION_NAMESPACES` always is (this can add the check, never remove it).
        client: from :func:`load_client`; default: ``load_client()``.

    Returns:
        ``"Kind/name"`` of each object applied, in order.

    Raises:
        PermanentError: production apply of a serving object without a promotion record (nothing
            is sent), 401/403 from the server.
        InputError: unknown kind, bad name, wrong namespace, 404/400/422.
        ConflictError: another field manager owns a field we set (409).
        TemporaryError: 5xx, 429 or the server unreachable.
    """
    objs = _objects(manifests)
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise InputError(f"namespace {namespace!r} is not a DNS-1123 label")
    if not field_manager or len(field_manager) > 128:
        raise InputError(f"field manager {field_manager!r} must be 1 to 128 characters")
    is_production = production or namespace in PRODUCTION_NAMESPACES
    plan: list[tuple[str, str, dict[str, Any]]] = []
    problems: list[str] = []
    for obj in objs:
        kind, meta = str(obj.get("kind")), obj["metadata"]
        name = meta.get("name")
        path = _path(kind, namespace, name, obj.get("apiVersion"))
        if meta.get("namespace", namespace) != namespace:
            raise InputError(f"{kind}/{name} is for namespace {meta['namespace']!r}, not {namespace!r}")
        if is_production and kind in _SERVING_KINDS:
            problems += _promotion_problems(obj)
        body = {**obj, "metadata": {**meta, "namespace": namespace}}
        plan.append((f"{kind}/{name}", path, body))
    if problems:
        raise PermanentError(
            f"refusing to apply to production namespace {namespace!r}: serving objects must carry the "
            f"promotion record: apply the promotion step's deployable-manifests.yaml; " + "; ".join(problems)
        )
    client = client or load_client()
    query = [("fieldManager", field_manager), ("force", "false")]
    if dry_run:
        query.append(("dryRun", "All"))
    applied = []
    for ref, path, body in plan:
        kind, _, name = ref.partition("/")
        _call(client, "PATCH", path, verb="patch", kind=kind, name=name, namespace=namespace,
              query=query, body=body, content_type=APPLY_CONTENT_TYPE)  # fmt: skip
        applied.append(ref)
    return applied


# ------------------------------------------------------------------------------------------- ready


def _condition(status: dict[str, Any], kind: str) -> str | None:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return str(cond.get("status"))
    return None


def _current(obj: dict[str, Any]) -> bool:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return not (isinstance(generation, int) and isinstance(observed, int) and observed < generation)


def _is_ready(kind: str, obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    if kind == "InferenceService":
        return _current(obj) and _condition(status, "Ready") == "True"
    if "observedGeneration" not in status and (obj.get("metadata") or {}).get("generation") is not None:
        return False  # the controller has not looked at this Deployment yet
    want = (obj.get("spec") or {}).get("replicas", 1)
    return (
        _current(obj)
        and int(status.get("updatedReplicas") or 0) >= want
        and int(status.get("readyReplicas") or 0) >= want
    )


def is_ready(obj: dict[str, Any]) -> bool:
    """Whether a serving object, as one ``GET`` returned it, is ready (what :func:`wait_ready` waits for)."""
    return _is_ready(str(obj.get("kind")), obj)


def wait_ready(
    kind: Literal["InferenceService", "Deployment"],
    name: str,
    namespace: str,
    *,
    deadline_s: float,
    launched_at: float,
    poll_s: float = 2.0,
    client: KubeClient | None = None,
) -> float | None:
    """Poll the serving object until it is ready; the cold start, or ``None`` at the deadline.

    Args:
        kind: ``InferenceService`` (Ready condition) or ``Deployment`` (replicas updated and ready).
        name: object name.
        namespace: its namespace.
        deadline_s: give up this many seconds after ``launched_at``.
        launched_at: ``time.monotonic()`` when the apply started.
        poll_s: seconds between GETs.
        client: from :func:`load_client`; default: ``load_client()``.

    Returns:
        Seconds from ``launched_at`` to the first GET that showed it ready, or ``None`` when the
        deadline came first. Returns by the deadline (plus ~0.1 s): each request's timeouts are cut
        to the time left.

    Raises:
        PermanentError: 401/403 (names the identity and the missing ``get``).
        InputError: 404, or a kind other than the two.
    """
    if kind not in _SERVING_KINDS:
        raise InputError(f"kind {kind!r}: wait for an InferenceService or a Deployment")
    path = _path(kind, namespace, name)
    client = client or load_client()
    end = launched_at + deadline_s
    last_error: TemporaryError | None = None
    while True:
        left = end - time.monotonic()
        if left <= 0:
            if last_error is not None:
                _log.warning("%s/%s not ready by the deadline; last error: %s", kind, name, last_error)
            return None
        try:
            obj = _call(client, "GET", path, verb="get", kind=kind, name=name, namespace=namespace,
                        timeout_s=min(_CONNECT_TIMEOUT_S + _READ_TIMEOUT_S, left))  # fmt: skip
        except TemporaryError as exc:
            last_error = exc
        else:
            if _is_ready(kind, obj):
                return time.monotonic() - launched_at
        time.sleep(max(0.0, min(poll_s, end - time.monotonic())))


def get_serving(kind: Literal["InferenceService", "Deployment"], name: str, namespace: str,
                client: KubeClient | None = None) -> dict[str, Any]:  # fmt: skip
    """The serving object as the API server has it (one ``GET``)."""
    if kind not in _SERVING_KINDS:
        raise InputError(f"kind {kind!r}: an InferenceService or a Deployment serves a model")
    client = client or load_client()
    return _call(client, "GET", _path(kind, namespace, name), verb="get", kind=kind, name=name,
                 namespace=namespace)  # fmt: skip


def _storage_uris(obj: dict[str, Any]) -> list[str]:
    """Every storage URI the object makes its pods fetch: the predictor's ``storageUri``, or the
    storage initializer's arguments in a Deployment's pod template."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "InferenceService":
        predictor = spec.get("predictor") or {}
        model = predictor.get("model") or {}
        uris = [model.get("storageUri"), predictor.get("storageUri")]
        return [u for u in uris if isinstance(u, str)]
    pod = ((spec.get("template") or {}).get("spec")) or {}
    found = []
    for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        for arg in (c.get("args") or []) + (c.get("command") or []):
            if isinstance(arg, str) and "://" in arg:
                found.append(arg)
    return found


def serving_problems(obj: dict[str, Any], *, version: str, digest: str, storage_uri: str) -> list[str]:
    """Why the staging object does not serve exactly this model version (empty: it does).

    The object's ``signoff.dev/model-version`` and ``signoff.dev/model-digest`` annotations (the
    render writes them on the object and its pod template) must name this version and digest, and
    the storage URI its pods fetch must be this version's: the annotations alone could be copied.
    """
    meta = obj.get("metadata") or {}
    notes = meta.get("annotations") or {}
    kind, name = obj.get("kind", "object"), meta.get("name", "?")
    problems = []
    if notes.get(ANNOTATION_DIGEST) != digest:
        problems.append(
            f"{kind} {name} serves model digest {notes.get(ANNOTATION_DIGEST) or '(none)'}, not this "
            f"version's {digest}"
        )
    if notes.get(ANNOTATION_VERSION) != version:
        problems.append(
            f"{kind} {name} serves model version {notes.get(ANNOTATION_VERSION) or '(none)'}, not {version}"
        )
    uris = _storage_uris(obj)
    if storage_uri not in uris:
        problems.append(f"{kind} {name} fetches {', '.join(uris) or '(no storage URI)'}, not {storage_uri}")
    return problems


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def pods_cold_start(
    workload: str, version: str, namespace: str, client: KubeClient | None = None
) -> float | None:
    """Seconds from a serving pod's creation to its Ready condition, the slowest of this version's
    pods (``signoff.dev/workload`` and ``signoff.dev/model-version`` labels); None while none is Ready.

    One ``GET .../pods?labelSelector=...`` (the SRE step's Role grants ``list`` on pods in staging).
    Both times are the API server's, so the figure does not depend on when this step started.
    """
    client = client or load_client()
    selector = f"{LABEL_WORKLOAD}={workload},{ANNOTATION_VERSION}={version}"
    if not _NAMESPACE.fullmatch(namespace):
        raise InputError(f"namespace {namespace!r} is not a DNS-1123 label")
    pods = _call(client, "GET", f"/api/v1/namespaces/{namespace}/pods", verb="list", kind="Pod", name="",
                 namespace=namespace, query=[("labelSelector", selector)])  # fmt: skip
    seconds = []
    for pod in pods.get("items") or []:
        created = _time((pod.get("metadata") or {}).get("creationTimestamp"))
        ready = next(
            (c for c in (pod.get("status") or {}).get("conditions") or []
             if c.get("type") == "Ready" and c.get("status") == "True"),
            None,
        )  # fmt: skip
        at = _time(ready.get("lastTransitionTime")) if ready else None
        if created is not None and at is not None:
            seconds.append(max(0.0, (at - created).total_seconds()))
    return max(seconds) if seconds else None


def staging_url(
    kind: Literal["InferenceService", "Deployment"],
    name: str,
    namespace: str,
    client: KubeClient | None = None,
) -> str:
    """The URL to probe, cluster-local: the InferenceService's ``status.address.url``, or the
    Deployment's Service URL.

    ``status.address.url`` is the in-cluster address (``http://<name>-predictor.<ns>.svc.cluster.local``
    in Standard mode) that the staging NetworkPolicy lets the SRE step reach; ``status.url`` is the
    external host through the ingress gateway, used only when there is no address.

    Args:
        kind: ``InferenceService`` or ``Deployment``.
        name: object name (for a Deployment, the Service of the same name).
        namespace: its namespace.
        client: from :func:`load_client`; default: ``load_client()``.

    Returns:
        ``status.address.url`` (else ``status.url``) of the InferenceService, or
        ``http://<name>.<namespace>.svc.cluster.local[:port]`` with the Service's ``http`` port.

    Raises:
        TemporaryError: the InferenceService has no URL yet (not ready); 5xx.
        PermanentError / InputError: as for :func:`wait_ready`.
    """
    if kind not in _SERVING_KINDS:
        raise InputError(f"kind {kind!r}: an InferenceService or a Deployment has a URL")
    client = client or load_client()
    if kind == "InferenceService":
        obj = _call(client, "GET", _path(kind, namespace, name), verb="get", kind=kind, name=name,
                    namespace=namespace)  # fmt: skip
        status = obj.get("status") or {}
        url = (status.get("address") or {}).get("url") or status.get("url")
        if not isinstance(url, str) or not url:
            raise TemporaryError(
                f"InferenceService {name!r} in {namespace!r} has no status.url yet; is it Ready?"
            )
        return url
    svc = _call(client, "GET", _path("Service", namespace, name), verb="get", kind="Service", name=name,
                namespace=namespace)  # fmt: skip
    ports = (svc.get("spec") or {}).get("ports") or []
    port = next((p.get("port") for p in ports if p.get("name") == "http"), None)
    if port is None and ports:
        port = ports[0].get("port")
    if not isinstance(port, int):
        raise InputError(f"Service {name!r} in {namespace!r} has no port to reach the model on")
    host = f"http://{name}.{namespace}.svc.cluster.local"
    return host if port == 80 else f"{host}:{port}"
