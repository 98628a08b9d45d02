"""Moving serving with the registry: a rollback re-applies the target's promoted manifests.

The promotion step keeps each promoted version's deployable manifests with the version in MLflow
(:meth:`~components.mlflow_registry.Registry.store_manifests`; what platform signed, stamped with
the promotion record). :func:`move_serving` fetches the target version's, server-side applies them
through :mod:`components.kube` (the deployer's path: the production check and the admission policy
see the target's own promotion record), waits until the InferenceService or Deployment is ready,
and records what serving now is (:meth:`~components.mlflow_registry.Registry.record_serving`).
:func:`serving_state` reads the serving object back from the API server, for the audit to put
beside the alias.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import yaml

from components import kube
from contracts import errors
from gates import serving
from gates.render import ANNOTATION_PROMOTION, ANNOTATION_VERSION, Manifests

if TYPE_CHECKING:
    from components.mlflow_registry import Registry

__all__ = ["ServingMove", "ServingState", "move_serving", "serving_state"]

_SERVING = ("InferenceService", "Deployment")


@dataclass(frozen=True)
class ServingMove:
    """What :func:`move_serving` did."""

    model: str
    version: str
    namespace: str
    kind: str
    name: str
    applied: tuple[str, ...]
    ready_after_s: float | None
    """Seconds from the apply to Ready; None when the deadline came first."""

    @property
    def ready(self) -> bool:
        return self.ready_after_s is not None


@dataclass(frozen=True)
class ServingState:
    """The serving object as the API server has it, beside the alias."""

    namespace: str
    kind: str
    name: str
    version: str | None
    """Its ``signoff.dev/model-version`` annotation (None: no such object, or unannotated)."""
    promotion_record: str | None
    ready: bool
    alias_version: str | None

    @property
    def matches(self) -> bool:
        return self.version is not None and self.version == self.alias_version

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace, "kind": self.kind, "name": self.name, "version": self.version,
            "promotion_record": self.promotion_record, "ready": self.ready,
            "alias_version": self.alias_version, "matches": self.matches,
        }  # fmt: skip

    def to_text(self) -> str:
        flag = "ok" if self.matches else "MISMATCH"
        return (
            f"serving   {self.kind}/{self.name} in {self.namespace}: version {self.version or '(none)'}"
            f" ({'ready' if self.ready else 'NOT ready'}); production alias: "
            f"{self.alias_version or '(none)'}  [{flag}]"
        )


def _objects(text: str, where: str) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as exc:
        raise errors.PermanentError(f"the manifests kept with {where} are not valid YAML: {exc}") from None
    if not all(isinstance(d, dict) for d in docs) or not docs:
        raise errors.PermanentError(f"the manifests kept with {where} are not Kubernetes objects")
    return docs


def _target(objects: list[dict[str, Any]]) -> dict[str, Any]:
    serving = [o for o in objects if o.get("kind") in _SERVING]
    if not serving:
        raise errors.PermanentError("the promoted manifests hold no InferenceService or Deployment")
    return next((o for o in serving if o["kind"] == "InferenceService"), serving[0])


def move_serving(
    registry: Registry,
    name: str,
    version: str,
    *,
    namespace: str,
    client: kube.KubeClient,
    deadline_s: float,
    poll_s: float = 2.0,
    production: bool = True,
    why: str = "rollback",
) -> ServingMove:
    """Re-apply ``version``'s promoted manifests, wait until ready, and record it.

    Raises:
        InputError: the version has no promoted manifests kept (promoted before signoff kept them,
            or never through the promotion step): apply its manifests with ``signoff deploy``.
        PermanentError / ConflictError / TemporaryError: as :func:`components.kube.apply`.
    """
    text = registry.promoted_manifests(name, version)
    where = f"{name} version {version}"
    if text is None:
        raise errors.InputError(
            f"{where} has no promoted manifests kept with it (the promotion step keeps them); "
            "serving was not moved: apply that version's deployable-manifests.yaml with `signoff deploy`"
        )
    objects = _objects(text, where)
    target = _target(objects)
    kind, obj_name = str(target["kind"]), str(target["metadata"]["name"])
    launched = time.monotonic()
    applied = kube.apply(
        Manifests(objects=tuple(objects)), namespace=namespace, production=production, client=client
    )
    seconds = kube.wait_ready(
        kind, obj_name, namespace, deadline_s=deadline_s, launched_at=launched, poll_s=poll_s,  # type: ignore[arg-type]
        client=client,
    )  # fmt: skip
    notes = (target.get("metadata") or {}).get("annotations") or {}
    registry.record_serving(
        name,
        {
            "version": str(version), "namespace": namespace, "kind": kind, "name": obj_name,
            "promotion_record": notes.get(ANNOTATION_PROMOTION), "why": why,
            "state": "ready" if seconds is not None else "not-ready",
            "ready_after_s": None if seconds is None else round(seconds, 3),
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        },
    )  # fmt: skip
    return ServingMove(name, str(version), namespace, kind, obj_name, tuple(applied), seconds)


def serving_state(
    registry: Registry,
    name: str,
    *,
    namespace: str,
    client: kube.KubeClient,
    production_alias: str = "production",
) -> ServingState:
    """Which version the serving object in ``namespace`` serves, beside the production alias.

    The object is the one the production version's promoted manifests name (else the one serving
    was last moved to); a missing object serves nothing (``version`` None).
    """
    alias_version = registry.aliases(name).get(production_alias)
    kind = obj_name = None
    if alias_version is not None:
        text = registry.promoted_manifests(name, alias_version)
        if text is not None:
            target = _target(_objects(text, f"{name} version {alias_version}"))
            kind, obj_name = str(target["kind"]), str(target["metadata"]["name"])
    if kind is None:
        rec = registry.serving_record(name) or {}
        kind, obj_name = rec.get("kind"), rec.get("name")
    if kind not in _SERVING or not obj_name:
        raise errors.InputError(
            f"{name}: no promoted manifests and no serving record say which object serves it"
        )
    try:
        obj = kube.get_serving(kind, str(obj_name), namespace, client=client)  # type: ignore[arg-type]
    except errors.InputError:  # 404: nothing serves
        return ServingState(namespace, str(kind), str(obj_name), None, None, False, alias_version)
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    version = notes.get(ANNOTATION_VERSION)
    return ServingState(
        namespace, str(kind), str(obj_name), None if version is None else str(version),
        notes.get(ANNOTATION_PROMOTION), serving.is_ready(obj), alias_version,
    )  # fmt: skip
