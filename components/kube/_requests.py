"""The requests signoff sends to the Kubernetes API: apply, wait until serving, read the serving
object, its pods and its URL, create an Argo Workflow. What the answers mean is decided in
:mod:`gates.serving`; how a request goes out, in :mod:`components.kube._client`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Literal

from components.kube._client import (
    APPLY_CONTENT_TYPE,
    CONNECT_TIMEOUT_S,
    NAMESPACE,
    OTHER_KINDS,
    READ_TIMEOUT_S,
    KubeClient,
    call,
    load_client,
    object_path,
)
from contracts.errors import InputError, PermanentError, TemporaryError
from gates import serving
from gates.render import ANNOTATION_VERSION, LABEL_WORKLOAD, Manifests

__all__ = [
    "PRODUCTION_NAMESPACES",
    "apply",
    "create_workflow",
    "get_serving",
    "pods_cold_start",
    "staging_url",
    "wait_ready",
]

_log = logging.getLogger("components.kube")

PRODUCTION_NAMESPACES: frozenset[str] = frozenset({"ml-prod"})
"""Namespaces always treated as production (the name in ``infra/base``); callers may add others."""


def create_workflow(workflow: dict[str, Any], namespace: str, *, client: KubeClient | None = None) -> str:
    """Create an Argo ``Workflow`` (``generateName``) in ``namespace`` through the Kubernetes API, as
    ``argo submit`` does through the Argo Server; the workflow-controller runs it. Needs only RBAC
    ``create workflows.argoproj.io`` there (the ``signoff-listen-mlflow`` account's one write).

    Returns:
        The created workflow's name.
    """
    if workflow.get("apiVersion") != "argoproj.io/v1alpha1" or workflow.get("kind") != "Workflow":
        raise InputError("create_workflow takes an argoproj.io/v1alpha1 Workflow")
    if not isinstance(namespace, str) or not NAMESPACE.fullmatch(namespace):
        raise InputError(f"namespace {namespace!r} is not a DNS-1123 label")
    client = client or load_client()
    name = str(workflow.get("metadata", {}).get("generateName", "workflow"))
    version, plural = OTHER_KINDS["Workflow"]
    created = call(
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


# ------------------------------------------------------------------------------------------- apply


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
    if not isinstance(namespace, str) or not NAMESPACE.fullmatch(namespace):
        raise InputError(f"namespace {namespace!r} is not a DNS-1123 label")
    if not field_manager or len(field_manager) > 128:
        raise InputError(f"field manager {field_manager!r} must be 1 to 128 characters")
    is_production = production or namespace in PRODUCTION_NAMESPACES
    plan: list[tuple[str, str, dict[str, Any]]] = []
    problems: list[str] = []
    for obj in objs:
        kind, meta = str(obj.get("kind")), obj["metadata"]
        name = meta.get("name")
        path = object_path(kind, namespace, name, obj.get("apiVersion"))
        if meta.get("namespace", namespace) != namespace:
            raise InputError(f"{kind}/{name} is for namespace {meta['namespace']!r}, not {namespace!r}")
        if is_production and kind in serving.SERVING_KINDS:
            problems += serving.promotion_problems(obj)
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
        call(client, "PATCH", path, verb="patch", kind=kind, name=name, namespace=namespace,
              query=query, body=body, content_type=APPLY_CONTENT_TYPE)  # fmt: skip
        applied.append(ref)
    return applied


# ------------------------------------------------------------------------------------------- ready


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
    if kind not in serving.SERVING_KINDS:
        raise InputError(f"kind {kind!r}: wait for an InferenceService or a Deployment")
    path = object_path(kind, namespace, name)
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
            obj = call(client, "GET", path, verb="get", kind=kind, name=name, namespace=namespace,
                        timeout_s=min(CONNECT_TIMEOUT_S + READ_TIMEOUT_S, left))  # fmt: skip
        except TemporaryError as exc:
            last_error = exc
        else:
            if serving.is_ready(obj, kind):
                return time.monotonic() - launched_at
        time.sleep(max(0.0, min(poll_s, end - time.monotonic())))


def get_serving(kind: Literal["InferenceService", "Deployment"], name: str, namespace: str,
                client: KubeClient | None = None) -> dict[str, Any]:  # fmt: skip
    """The serving object as the API server has it (one ``GET``)."""
    if kind not in serving.SERVING_KINDS:
        raise InputError(f"kind {kind!r}: an InferenceService or a Deployment serves a model")
    client = client or load_client()
    return call(client, "GET", object_path(kind, namespace, name), verb="get", kind=kind, name=name,
                 namespace=namespace)  # fmt: skip


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
    if not NAMESPACE.fullmatch(namespace):
        raise InputError(f"namespace {namespace!r} is not a DNS-1123 label")
    pods = call(client, "GET", f"/api/v1/namespaces/{namespace}/pods", verb="list", kind="Pod", name="",
                 namespace=namespace, query=[("labelSelector", selector)])  # fmt: skip
    return serving.pods_cold_start(pods)


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
    if kind not in serving.SERVING_KINDS:
        raise InputError(f"kind {kind!r}: an InferenceService or a Deployment has a URL")
    client = client or load_client()
    if kind == "InferenceService":
        obj = call(client, "GET", object_path(kind, namespace, name), verb="get", kind=kind, name=name,
                    namespace=namespace)  # fmt: skip
        status = obj.get("status") or {}
        url = (status.get("address") or {}).get("url") or status.get("url")
        if not isinstance(url, str) or not url:
            raise TemporaryError(
                f"InferenceService {name!r} in {namespace!r} has no status.url yet; is it Ready?"
            )
        return url
    svc = call(client, "GET", object_path("Service", namespace, name), verb="get", kind="Service", name=name,
                namespace=namespace)  # fmt: skip
    ports = (svc.get("spec") or {}).get("ports") or []
    port = next((p.get("port") for p in ports if p.get("name") == "http"), None)
    if port is None and ports:
        port = ports[0].get("port")
    if not isinstance(port, int):
        raise InputError(f"Service {name!r} in {namespace!r} has no port to reach the model on")
    host = f"http://{name}.{namespace}.svc.cluster.local"
    return host if port == 80 else f"{host}:{port}"
