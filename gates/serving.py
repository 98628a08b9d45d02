"""What a serving object, as the API server hands it back, says: whether it is ready, whether it
serves exactly one model version, whether it carries the promotion record, and its pods' cold start.

Pure: the objects come in as the JSON the API server answered (:mod:`components.kube` fetches
them); nothing here sends a request or reads a clock.

* :func:`is_ready`: an InferenceService (KServe v1beta1) is ready when its ``Ready`` condition is
  ``True`` and its status describes the current spec (``status.observedGeneration >=
  metadata.generation`` when both are set, so the previous version's Ready does not count); a
  Deployment when ``status.observedGeneration >= metadata.generation`` and ``updatedReplicas`` and
  ``readyReplicas`` are both ``>= spec.replicas`` (what ``kubectl rollout status`` waits for).
* :func:`serving_problems`: the object's version and digest annotations, and the storage URI its
  pods fetch, must all be this version's (the annotations alone could be copied).
* :func:`promotion_problems`: the object and its pod template carry ``signoff.dev/promotion-record``
  (``sha256:<64 hex>``), which a production apply requires.
* :func:`pods_cold_start`: from a pod list, the slowest pod's creation-to-Ready seconds.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from gates.render import ANNOTATION_DIGEST, ANNOTATION_PROMOTION, ANNOTATION_VERSION

__all__ = ["SERVING_KINDS", "is_ready", "pods_cold_start", "promotion_problems", "serving_problems"]

SERVING_KINDS = ("InferenceService", "Deployment")
"""The kinds that serve a model (and carry the promotion record in production)."""
_RECORD = re.compile(r"^sha256:[0-9a-f]{64}$")


def promotion_problems(obj: dict[str, Any]) -> list[str]:
    """Why a serving object or its pod template lacks the promotion record (empty: both carry it)."""
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


def _condition(status: dict[str, Any], kind: str) -> str | None:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return str(cond.get("status"))
    return None


def _current(obj: dict[str, Any]) -> bool:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return not (isinstance(generation, int) and isinstance(observed, int) and observed < generation)


def _kind_ready(kind: str, obj: dict[str, Any]) -> bool:
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


def is_ready(obj: dict[str, Any], kind: str | None = None) -> bool:
    """Whether a serving object, as one ``GET`` returned it, is ready (what ``components.kube.wait_ready``
    waits for); ``kind`` is the kind asked for, by default the object's own."""
    return _kind_ready(str(obj.get("kind")) if kind is None else kind, obj)


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


def pods_cold_start(pods: dict[str, Any]) -> float | None:
    """Seconds from a pod's creation to its Ready condition, the slowest of the pods in a pod list
    (``GET .../pods``); None while none is Ready. Both times are the API server's."""
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
