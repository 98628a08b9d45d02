"""``signoff deploy``: apply promoted manifests to a cluster and, with ``--wait``, wait until they serve.

::

    signoff deploy MANIFESTS.yaml --namespace NS [--observability OBSERVABILITY.yaml --kubeconfig F
                   --context C --dry-run --wait --deadline 10m --production --model models:/NAME/VERSION]

What the ``signoff-deployer`` service account runs in the cluster after promotion (it alone may
write serving objects in production; ``infra/base/rbac.yaml``). Reads a multi-document YAML of
Kubernetes objects (the promotion step's ``deployable-manifests.yaml``: what platform signed, with
the promotion record's digest added; or ``signoff render``'s ``manifests.yaml`` for staging),
server-side applies each one in order (field manager ``signoff``, no forced takeover of fields
someone else owns) and prints ``Kind/name`` per object. In a production namespace (``ml-prod``, or
any namespace with ``--production``) every InferenceService/Deployment must carry the
``signoff.dev/promotion-record`` annotation, or nothing is sent. ``--dry-run`` asks the API server
to validate and admit everything without persisting it. ``--wait`` polls the InferenceService (or
the Deployment) until ready, prints the seconds it took and the URL to probe, and exits 1 when the
deadline passes first.

``--observability`` adds the SRE step's ``observability.yaml`` (the PodMonitor or ServiceMonitor and
the PrometheusRule its verdict covers, labelled for the cluster's Prometheus Operator): applied
first, so the alerts watch the rollout from its first pod, and only those kinds. The Alertmanager
routes (``alertmanager.yaml``) belong to the cluster's Alertmanager configuration and are never
applied here.

Credentials: ``--kubeconfig``/``--context`` when given; else the pod's service account inside a
cluster; else ``$KUBECONFIG`` or ``~/.kube/config``.
Exit codes: 0 applied (and ready); 1 refused (unpromoted object in production, RBAC, not ready by
the deadline); 2 bad input; 3 the API server failed in a way retrying may fix.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from components import kube
from components.mlflow_registry import Registry
from contracts import errors
from contracts._units import Duration
from contracts.model_uri import parse_model_uri
from gates.render import ANNOTATION_PROMOTION, Manifests


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the deploy command's arguments."""
    parser.description = __doc__.split("::")[0].strip() if __doc__ else None
    parser.add_argument(
        "manifests", metavar="MANIFESTS.yaml", help="multi-document YAML of Kubernetes objects"
    )
    parser.add_argument("--namespace", "-n", required=True, metavar="NS", help="namespace to apply into")
    parser.add_argument(
        "--observability",
        metavar="OBSERVABILITY.yaml",
        help="the SRE step's monitors and rules (PodMonitor/ServiceMonitor, PrometheusRule): applied first",
    )
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig file (default: in-cluster, then ~/.kube)"
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")
    parser.add_argument("--dry-run", action="store_true", help="server-side dry run: validate and admit only")
    parser.add_argument(
        "--production",
        action="store_true",
        help="treat NS as production (ml-prod always is): require the promotion record on serving objects",
    )
    parser.add_argument("--wait", action="store_true", help="wait until the serving object is ready")
    parser.add_argument(
        "--deadline",
        default="10m",
        metavar="DURATION",
        help="how long --wait waits: 90s, 10m (default)",
    )
    parser.add_argument("--poll", type=float, default=2.0, metavar="SECONDS", help=argparse.SUPPRESS)
    parser.add_argument(
        "--model",
        metavar="models:/NAME/VERSION",
        help="the promoted version these manifests serve: once ready, keep them with it in MLflow (what "
        "`signoff rollback --namespace` re-applies) and record serving",
    )
    parser.add_argument(
        "--tracking-uri", metavar="URI", help="MLflow for --model; default: $MLFLOW_TRACKING_URI"
    )
    parser.set_defaults(func=run)


def _read(path: str, what: str = "MANIFESTS.yaml") -> list[dict[str, Any]]:
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise errors.InputError(f"{path}: no such file ({what})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.InputError(f"{path}: cannot read: {exc}") from None
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise errors.InputError(f"{path}: not valid YAML: {exc}") from None
    objects = []
    for i, doc in enumerate(docs, start=1):
        if doc is None:  # an empty document (a trailing '---')
            continue
        if not isinstance(doc, dict):
            raise errors.InputError(
                f"{path}: document {i} is a {type(doc).__name__}, not a Kubernetes object "
                "(a mapping with apiVersion, kind and metadata.name)"
            )
        missing = [k for k in ("apiVersion", "kind", "metadata") if k not in doc]
        if missing or not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
            raise errors.InputError(
                f"{path}: document {i} ({doc.get('kind', '?')}) lacks "
                f"{', '.join(missing) or 'metadata.name'}; each document must be a Kubernetes object"
            )
        objects.append(doc)
    if not objects:
        raise errors.InputError(f"{path}: no Kubernetes objects in the file")
    return objects


OBSERVABILITY_KINDS = ("PodMonitor", "ServiceMonitor", "PrometheusRule")
"""What ``--observability`` applies (monitoring.coreos.com/v1); the deployer's Role grants these and
no other monitoring kind."""


def _observability(path: str) -> list[dict[str, Any]]:
    objects = _read(path, "--observability")
    for i, obj in enumerate(objects, start=1):
        if obj.get("kind") not in OBSERVABILITY_KINDS:
            raise errors.InputError(
                f"{path}: document {i} is a {obj.get('kind')!r}; --observability applies only "
                f"{', '.join(OBSERVABILITY_KINDS)} (the SRE step's observability.yaml)"
            )
    return objects


def run(ns: argparse.Namespace) -> int:
    """Apply, then optionally wait; returns the exit code."""

    try:
        deadline = Duration.parse(ns.deadline).seconds
    except ValueError as exc:
        raise errors.InputError(f"--deadline: {exc}") from None
    if ns.poll <= 0:
        raise errors.InputError("--poll: must be a positive number of seconds")
    objects = _read(ns.manifests)
    monitors = _observability(ns.observability) if ns.observability else []
    if ns.model:
        parse_model_uri(ns.model)  # before anything is applied
        if not ns.wait or ns.dry_run:
            raise errors.InputError(
                "--model: keeps the manifests of a deployment that became ready: add --wait"
            )
    serving = [o for o in objects if o.get("kind") in ("InferenceService", "Deployment")]
    if ns.wait and not serving:
        raise errors.InputError(
            f"{ns.manifests}: --wait needs an InferenceService or a Deployment in the file"
        )

    manifests = Manifests(objects=(*monitors, *objects))
    client = kube.load_client(ns.kubeconfig, ns.context)
    launched_at = time.monotonic()
    applied = kube.apply(
        manifests, namespace=ns.namespace, dry_run=ns.dry_run, production=ns.production,
        client=client,
    )  # fmt: skip
    note = " (dry run: nothing persisted)" if ns.dry_run else ""
    for ref in applied:
        print(f"applied {ref} in {ns.namespace}{note}")
    if not ns.wait:
        return 0
    if ns.dry_run:
        print("--wait skipped: a dry run creates nothing to wait for", file=sys.stderr)
        return 0
    target = next((o for o in serving if o["kind"] == "InferenceService"), serving[0])
    kind, name = target["kind"], target["metadata"]["name"]
    seconds = kube.wait_ready(
        kind, name, ns.namespace, deadline_s=deadline, launched_at=launched_at, poll_s=ns.poll, client=client
    )
    if seconds is None:
        print(f"signoff: refused: {kind}/{name} was not ready within {ns.deadline}", file=sys.stderr)
        return 1
    print(f"ready     {kind}/{name} after {seconds:.1f}s")
    print(f"url       {kube.staging_url(kind, name, ns.namespace, client=client)}")
    if ns.model:
        _keep(ns, objects, kind, name, seconds)
    return 0


def _keep(
    ns: argparse.Namespace, objects: list[dict[str, Any]], kind: str, name: str, seconds: float
) -> None:
    """Keep the applied manifests with the promoted version and record what serves."""
    import yaml

    ref = parse_model_uri(ns.model)
    model, version = ref.name, str(ref.version)
    target = next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)
    registry = Registry(ns.tracking_uri)
    registry.store_manifests(model, str(version), yaml.safe_dump_all(objects, sort_keys=False))
    registry.record_serving(
        model,
        {
            "version": str(version),
            "namespace": ns.namespace,
            "kind": kind,
            "name": name,
            "promotion_record": (target["metadata"].get("annotations") or {}).get(ANNOTATION_PROMOTION),
            "why": "deploy",
            "state": "ready",
            "ready_after_s": round(seconds, 3),
        },
    )
    print(f"kept      the manifests with {model} version {version} (a rollback to it re-applies them)")
