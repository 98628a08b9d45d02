"""Render the serving manifests of one model version from its contract and the cluster policy.

Pure: data in, data out. Every object is built as a ``dict`` and dumped with a safe YAML dumper;
every name and label value taken from a contract, policy or model reference is checked first
(DNS-1123 / DNS-1035 names, 63-character label values), so no field can inject keys or text.

Why it is one module of more than 500 lines: the objects refer to each other by name, label and
port (the Service, PodDisruptionBudget and NetworkPolicy select the serving pods; the HPA targets
the Deployment; the NetworkPolicy admits the ports the containers declare; the probes name those
ports), all from one set of names validated once. This is the one place those references are made,
so they cannot drift apart; the goldens of the rendered manifests hold its output as a whole.

What is rendered (namespace from ``policy.spec.namespaces.<environment>``):

* ``ServiceAccount <workload>-serving`` with ``automountServiceAccountToken: false``;
* KServe mode: an ``InferenceService`` (serving.kserve.io/v1beta1) whose ``spec.predictor.model``
  is ``modelFormat: {name: mlflow}``, ``protocolVersion: v2`` on the policy's runtime (KServe's
  ``kserve-mlserver``: MLServer with ``mlserver_mlflow.MLflowRuntime``), ``storageUri`` the version's
  artifacts (KServe's storage initializer, configured by ``infra/kserve``, downloads them to
  ``/mnt/models``) and ``image`` the digest-pinned serving image the platform gate checks (it
  overrides the runtime's tag). KServe names the model after the InferenceService, so the v2
  endpoints are ``/v2/models/<workload>/ready`` and ``/infer``. The annotation
  ``serving.kserve.io/deploymentMode`` is the policy's ``spec.kserve.deployment_mode``. Labels and
  annotations are set on the InferenceService *and* on ``spec.predictor.labels/annotations`` so
  KServe puts them on the pods;
* Deployment mode: ``Deployment`` + ``Service`` + ``HorizontalPodAutoscaler`` (autoscaling/v2) doing
  what KServe would: KServe's storage initializer (``spec.kserve.storage_initializer_image``) as the
  init container downloading the version to ``/mnt/models``, MLServer serving it under the workload's
  name. The init container fetches with the pod's identity (workload identity / IRSA on the serving
  account); KServe's credential injection does not happen here;
* always a ``PodDisruptionBudget`` and a ``NetworkPolicy``.

Model digest at start (Deployment mode, when the policy sets ``spec.step_image``): a second init
container, ``verify-model``, runs ``signoff verify-model /mnt/models --digest <signed digest>`` from
the step image after the storage initializer, on the same volume mounted read-only; the pod does
not start unless the downloaded files are the signed model's. Not rendered into an
InferenceService: KServe's pod webhook *appends* its storage initializer after the predictor's
init containers (``pkg/webhook/admission/pod/storage_initializer_injector.go``,
``CommonStorageInitialization``), so an init container there would run before the download.

MLServer listens on 8080 (``http``; health ``/v2/health/ready`` and ``/v2/health/live``; probes
name the port by number, as Knative requires) and serves Prometheus metrics on 8082 (``metrics``).

Knative (``deployment_mode`` ``Knative``/``Serverless``): Knative admits nodeSelector, tolerations,
priorityClassName and the pod securityContext only behind its ``kubernetes.podspec-*`` feature
flags, so rendering refuses a policy whose ``spec.kserve.knative.features`` lacks one the pods need
(``infra/knative`` enables them); the container declares the one port Knative allows; the
``startupProbe`` is rendered only for Knative >= 1.15 (knative/serving#15309); and
``serving.knative.dev/progress-deadline`` is the contract's max cold start plus 60 s, so Knative does
not fail a revision that is still within its cold start. The NetworkPolicy admits the serving port
(8080, or the queue-proxy's 8012 under Knative) from the ingress/KServe/Knative system namespaces,
the metrics ports (8082, and the queue-proxy's 9091 under Knative) from ``monitoring``, and under
Knative the queue-proxy's 9090 from ``knative-serving`` (the autoscaler's scrape).

Immutable storage URIs: :class:`ModelRef` accepts ``s3://``, ``gs://``, ``pvc://`` and ``https://``
URIs of the version's artifacts (what KServe's storage initializer can fetch) and refuses registry
URIs (``models:/``, ``runs:/``, ``mlflow-artifacts:``: the cluster cannot resolve them, and
``models:/NAME@alias`` moves), anything with an ``@`` alias, and any ``latest`` path segment.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts import _yaml
from contracts.cluster import KNATIVE_PODSPEC_FLAGS, ClusterPolicy, GpuProduct, ServingMode
from contracts.errors import InputError
from contracts.model_uri import MODEL_NAME, VERSION
from contracts.workload import WorkloadContract, canonical_json

__all__ = [
    "ANNOTATION_BUNDLE",
    "ANNOTATION_DEPLOYMENT_MODE",
    "ANNOTATION_DIGEST",
    "ANNOTATION_MODEL",
    "ANNOTATION_PROMOTION",
    "ANNOTATION_VERSION",
    "CONTAINER_NAME",
    "HTTP_PORT",
    "KNATIVE_PROGRESS_DEADLINE",
    "METRICS_PORT",
    "MODEL_FORMAT",
    "PROTOCOL",
    "STORAGE_INITIALIZER",
    "STORAGE_SCHEMES",
    "VERIFY_MODEL",
    "Manifests",
    "ModelRef",
    "containers",
    "pod_specs",
    "progress_deadline_seconds",
    "render",
    "serving_account",
    "with_promotion",
    "without_promotion",
]

ANNOTATION_MODEL = "signoff.dev/model"
ANNOTATION_VERSION = "signoff.dev/model-version"
ANNOTATION_DIGEST = "signoff.dev/model-digest"
ANNOTATION_PROMOTION = "signoff.dev/promotion-record"
ANNOTATION_BUNDLE = "signoff.dev/promotion-bundle"
"""The signed promotion and what it rests on, for the admission webhook (``gates.admission_review``)."""
LABEL_WORKLOAD = "signoff.dev/workload"
ANNOTATION_DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
KNATIVE_PROGRESS_DEADLINE = "serving.knative.dev/progress-deadline"
CONTAINER_NAME = "kserve-container"
STORAGE_INITIALIZER = "storage-initializer"
VERIFY_MODEL = "verify-model"
"""The init container that refuses to start a pod whose model files are not the signed ones."""
MODEL_FORMAT = "mlflow"
PROTOCOL = "v2"
MLFLOW_RUNTIME_CLASS = "mlserver_mlflow.MLflowRuntime"
MODEL_DIR = "/mnt/models"
HTTP_PORT = 8080
GRPC_PORT = 9000
METRICS_PORT = 8082
STARTUP_PERIOD_SECONDS = 5
KNATIVE_STARTUP_PROBE_MINOR = 15
"""Knative Serving accepts ``startupProbe`` from 1.15 (knative/serving#15309)."""
PROGRESS_DEADLINE_MARGIN_SECONDS = 60
"""How far Knative's progress deadline lies beyond the contract's max cold start."""

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_IMAGE = re.compile(
    r"^(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
# What KServe's storage initializer fetches: the only storage URIs a rendered manifest may name.
STORAGE_SCHEMES: tuple[str, ...] = ("s3://", "gs://", "pvc://", "https://")
# Namespaces whose pods may reach the serving port: ingress gateways and the KServe/Knative system.
_INGRESS_NAMESPACES = ("istio-system", "knative-serving", "kserve", "ingress-nginx")
_QUEUE_PROXY_PORT = 8012
_QUEUE_PROXY_AUTOSCALER_PORT = 9090
_QUEUE_PROXY_METRICS_PORT = 9091
_KNATIVE_NAMESPACE = "knative-serving"
# Namespace whose Prometheus may scrape the metrics port.
_MONITORING_NAMESPACE = "monitoring"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class ModelRef(_Frozen):
    """The exact model version to serve: registry name and version, immutable artifacts, digest."""

    name: Annotated[str, Field(pattern=f"^{MODEL_NAME}$")]
    """MLflow registered model name."""
    version: Annotated[str, Field(pattern=f"^{VERSION}$")]
    """MLflow model version number."""
    storage_uri: Annotated[str, Field(min_length=6, max_length=2048)]
    """Where the version's artifacts are, immutably: ``s3://``, ``gs://``, ``pvc://`` or ``https://``;
    never an alias (``@``), ``latest`` or a registry URI."""
    digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    """Digest over the manifest of the model's files (``sha256:...``)."""

    @field_validator("storage_uri")
    @classmethod
    def _immutable(cls, value: str) -> str:
        if any(ch.isspace() or ord(ch) < 0x20 or ch in "\"'`$\\;|&<>{}" for ch in value):
            raise ValueError(f"storage URI {value!r} holds whitespace, quotes or shell characters")
        if not value.startswith(STORAGE_SCHEMES):
            raise ValueError(
                f"storage URI {value!r} is not one KServe's storage initializer fetches; write the "
                f"version's artifact location ({', '.join(STORAGE_SCHEMES)}), not a registry URI "
                "(models:/, runs:/, mlflow-artifacts:)"
            )
        if "@" in value:
            raise ValueError(
                f"storage URI {value!r} names an alias ('@'); aliases move, use the artifact path"
            )
        if any(seg.lower() == "latest" for seg in re.split(r"[/?#:=]", value)):
            raise ValueError(f"storage URI {value!r} names 'latest'; use the version's own artifact path")
        return value


class Manifests(_Frozen):
    """Rendered Kubernetes objects, in apply order."""

    objects: tuple[dict[str, Any], ...]
    """The objects (plain data)."""

    def digest(self) -> str:
        """``sha256:<hex>`` over the canonical JSON of :attr:`objects` (what the platform verdict signs)."""
        return "sha256:" + hashlib.sha256(canonical_json(list(self.objects))).hexdigest()

    def to_yaml(self) -> str:
        """The objects as one multi-document YAML text (safe, block style, in apply order)."""
        return _yaml.dump_block_all(list(self.objects))

    def by_kind(self, kind: str) -> list[dict[str, Any]]:
        """The objects of one kind, e.g. ``"InferenceService"``."""
        return [o for o in self.objects if o.get("kind") == kind]


# ------------------------------------------------------------------------------------------- checks


def _check(field: str, value: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InputError(f"{field}: {value!r} is not {what}")
    return value


def _name(field: str, value: str, *, dns1035: bool = False) -> str:
    if dns1035:
        return _check(
            field, value, _DNS1035_LABEL,
            "a DNS-1035 label (a lower-case letter, then lower-case letters, digits or '-', "
            "at most 63 characters)",
        )  # fmt: skip
    return _check(
        field,
        value,
        _DNS1123_LABEL,
        "a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)",
    )


def _label_value(field: str, value: str) -> str:
    return _check(
        field, value, _LABEL_VALUE,
        "a Kubernetes label value (letters, digits, '-', '_', '.', starting and ending alphanumeric, "
        "at most 63 characters)",
    )  # fmt: skip


def _image(value: str) -> str:
    if not isinstance(value, str) or not _IMAGE.fullmatch(value):
        raise InputError(
            f"image: {value!r} is not an image reference such as "
            "'registry.example.com/ml/server@sha256:<64 hex>' "
            "(lower-case registry/path, optional :tag, @sha256 digest)"
        )
    return value


def serving_account(workload: str) -> str:
    """Name of the serving pods' service account: ``<workload>-serving``."""
    return f"{workload}-serving"


# ------------------------------------------------------------------------------------------ helpers


def _cpu(cores: float) -> str:
    milli = round(cores * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def _resources(
    contract: WorkloadContract, policy: ClusterPolicy, product: GpuProduct | None
) -> dict[str, Any]:
    res = contract.spec.resources
    cpu = res.cpu if res.cpu is not None else policy.spec.cpu_default
    memory = res.memory if res.memory is not None else policy.spec.memory_default
    amounts: dict[str, Any] = {"cpu": _cpu(cpu), "memory": memory.kubernetes_quantity()}
    if res.gpu is not None:
        amounts[product.resource_name if product else "nvidia.com/gpu"] = str(res.gpu.count)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _probe(path: str, *, period: int, failures: int, initial: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {"httpGet": {"path": path, "port": HTTP_PORT}, "periodSeconds": period,
                             "timeoutSeconds": 2, "failureThreshold": failures}  # fmt: skip
    if initial:
        probe["initialDelaySeconds"] = initial
    return probe


def _restricted() -> dict[str, Any]:
    """A container securityContext Pod Security "restricted" admits."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _server_fields(
    contract: WorkloadContract, policy: ClusterPolicy, product: GpuProduct | None, *, startup_probe: bool
) -> dict[str, Any]:
    """Resources, probes and securityContext of the MLServer container (any mode)."""
    fields: dict[str, Any] = {"resources": _resources(contract, policy, product)}
    if startup_probe:
        failures = max(1, math.ceil(contract.spec.slos.max_cold_start.seconds / STARTUP_PERIOD_SECONDS))
        fields["startupProbe"] = _probe("/v2/health/live", period=STARTUP_PERIOD_SECONDS, failures=failures)
    fields["readinessProbe"] = _probe("/v2/health/ready", period=5, failures=3)
    fields["livenessProbe"] = _probe("/v2/health/live", period=10, failures=3)
    fields["securityContext"] = _restricted()
    return fields


def _kserve_model(
    contract: WorkloadContract, policy: ClusterPolicy, model: ModelRef, image: str, product: GpuProduct | None
) -> dict[str, Any]:
    """``spec.predictor.model``: KServe's MLflow model format on the MLServer runtime, protocol v2.

    KServe's defaulting adds ``MLSERVER_MODEL_NAME=<InferenceService name>`` and
    ``MLSERVER_MODEL_URI=/mnt/models`` and the label ``modelClass: mlserver_mlflow.MLflowRuntime``;
    its storage initializer downloads ``storageUri`` to ``/mnt/models``. ``image`` overrides the
    runtime's (tag-pinned) image with the digest the platform gate checks.
    """
    kserve = policy.spec.kserve
    knative = kserve.deployment_mode.knative
    startup = not knative or (
        kserve.knative is not None and kserve.knative.minor() >= KNATIVE_STARTUP_PROBE_MINOR
    )
    spec: dict[str, Any] = {
        "modelFormat": {"name": MODEL_FORMAT},
        "protocolVersion": PROTOCOL,
        "runtime": kserve.runtime,
        "storageUri": model.storage_uri,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "MLSERVER_METRICS_DIR", "value": "/tmp/.metrics"}],
    }
    if knative:
        # Knative takes one container port and defaults it to 8080; MLServer's metrics port 8082 is
        # still scraped on the pod IP (a PodMonitor by port number).
        spec["ports"] = [{"containerPort": HTTP_PORT, "protocol": "TCP"}]
    else:
        # KServe's Service sends port 80 to the first port; the rest are exposed as they are.
        spec["ports"] = [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ]
    spec |= _server_fields(contract, policy, product, startup_probe=startup)
    spec["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    return spec


def _deployment_containers(
    contract: WorkloadContract, policy: ClusterPolicy, model: ModelRef, image: str, product: GpuProduct | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(init container, serving container)`` of a plain Deployment: what KServe would inject.

    KServe's storage initializer (``policy spec.kserve.storage_initializer_image``) downloads the
    version to ``/mnt/models`` (its arguments are source and destination, as KServe passes them);
    MLServer serves it with ``mlserver_mlflow.MLflowRuntime`` under the workload's name.
    """
    initializer = policy.spec.kserve.storage_initializer_image
    if initializer is None:
        raise InputError(
            "policy spec.kserve.storage_initializer_image: not set; serving: deployment downloads the "
            "model with KServe's storage initializer, write its image pinned by digest "
            "(e.g. 'registry.example.com/ml/kserve-storage-initializer@sha256:<64 hex>')"
        )
    _image(initializer)
    init = {
        "name": STORAGE_INITIALIZER,
        "image": initializer,
        "imagePullPolicy": "IfNotPresent",
        "args": [model.storage_uri, MODEL_DIR],
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": _restricted(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": "model", "mountPath": MODEL_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    env = {
        "MLSERVER_MODEL_IMPLEMENTATION": MLFLOW_RUNTIME_CLASS,
        "MLSERVER_MODEL_NAME": contract.name,
        "MLSERVER_MODEL_URI": MODEL_DIR,
        "MLSERVER_HTTP_PORT": str(HTTP_PORT),
        "MLSERVER_GRPC_PORT": str(GRPC_PORT),
        "MLSERVER_METRICS_PORT": str(METRICS_PORT),
        "MLSERVER_METRICS_DIR": "/tmp/.metrics",
    }
    server: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        **_server_fields(contract, policy, product, startup_probe=True),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "model", "mountPath": MODEL_DIR, "readOnly": True},
        ],
    }
    return init, server


def _verify_container(policy: ClusterPolicy, model: ModelRef) -> dict[str, Any] | None:
    """The ``verify-model`` init container (after the storage initializer), or none without a step image.

    ``signoff verify-model /mnt/models --digest <signed digest>`` from the policy's step image
    recomputes the folder's digest with the ML gate's code and fails the pod unless it is the signed
    subject's. It mounts the model volume read-only and needs no network and no credentials.
    """
    image = policy.spec.step_image
    if image is None:
        return None
    _image(image)
    return {
        "name": VERIFY_MODEL,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["signoff"],
        "args": ["verify-model", MODEL_DIR, "--digest", model.digest],
        "resources": {"requests": {"cpu": "2", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "256Mi"}},
        "securityContext": _restricted(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": "model", "mountPath": MODEL_DIR, "readOnly": True}],
    }


def _pod_fields(
    contract: WorkloadContract, policy: ClusterPolicy, product: GpuProduct | None, workload: str
) -> dict[str, Any]:
    """Pod-level fields shared by the KServe predictor and the Deployment's pod template."""
    fields: dict[str, Any] = {
        "serviceAccountName": serving_account(workload),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "priorityClassName": policy.spec.priority_classes.default,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if contract.spec.resources.gpu is not None and product is not None:
        fields["nodeSelector"] = dict(sorted(product.node_selector.items()))
        fields["tolerations"] = [t.model_dump(mode="json", exclude_none=True) for t in product.tolerations]
    return fields


def _labels(contract: WorkloadContract, model: ModelRef, workload: str) -> dict[str, str]:
    owners = contract.spec.owners
    return {
        "app.kubernetes.io/name": workload,
        "app.kubernetes.io/part-of": "signoff",
        "app.kubernetes.io/managed-by": "signoff",
        LABEL_WORKLOAD: workload,
        "signoff.dev/owner-ml": _label_value("spec.owners.ml.team", owners.ml.team),
        "signoff.dev/owner-platform": _label_value("spec.owners.platform.team", owners.platform.team),
        "signoff.dev/owner-sre": _label_value("spec.owners.sre.team", owners.sre.team),
        ANNOTATION_MODEL: _label_value("model.name", model.name),
        ANNOTATION_VERSION: _label_value("model.version", model.version),
    }


def _annotations(model: ModelRef) -> dict[str, str]:
    return {ANNOTATION_MODEL: model.name, ANNOTATION_VERSION: model.version, ANNOTATION_DIGEST: model.digest}


def _meta(
    name: str, namespace: str, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _selector(workload: str) -> dict[str, str]:
    return {LABEL_WORKLOAD: workload}


def progress_deadline_seconds(contract: WorkloadContract) -> int:
    """Knative's ``serving.knative.dev/progress-deadline`` for this workload, in whole seconds.

    The contract's max cold start plus :data:`PROGRESS_DEADLINE_MARGIN_SECONDS`: Knative fails a
    revision that is not ready within the deadline (600 s by default), so it must lie beyond the
    cold start the contract allows.
    """
    return math.ceil(contract.spec.slos.max_cold_start.seconds) + PROGRESS_DEADLINE_MARGIN_SECONDS


def _knative_features(policy: ClusterPolicy, *, needs_node_fields: bool) -> None:
    knative = policy.spec.kserve.knative
    enabled = set(knative.features) if knative is not None else set()
    need = [
        f for f in KNATIVE_PODSPEC_FLAGS if needs_node_fields or ("node" not in f and "toleration" not in f)
    ]
    missing = [f for f in need if f not in enabled]
    if missing:
        raise InputError(
            f"policy spec.kserve.knative.features: {', '.join(missing)} not enabled; the serving pods set "
            "nodeSelector, tolerations, priorityClassName and securityContext, which Knative refuses "
            "unless config-features enables them (infra/knative does; list them here once applied)"
        )


# ------------------------------------------------------------------------------------------- render


def render(
    contract: WorkloadContract,
    policy: ClusterPolicy,
    model: ModelRef,
    image: str,
    *,
    environment: Literal["staging", "production"] = "production",
    mode: ServingMode | None = None,
) -> Manifests:
    """Render the serving objects of one model version.

    Args:
        contract: the workload contract (names, owners, resources, replicas, cold start).
        policy: the cluster policy (GPU product scheduling, namespaces, priority class, serving mode).
        model: the model version and its immutable artifacts.
        image: the serving image reference (the platform gate checks registry and digest).
        environment: ``staging`` or ``production``: which policy namespace.
        mode: KServe or plain Deployment; defaults to the policy's ``serving``.

    Returns:
        The manifests, in apply order.

    Raises:
        InputError: a name, label value or image reference is not valid; the message names the field.
    """
    mode = ServingMode(mode or policy.spec.serving)
    if environment not in ("staging", "production"):
        raise InputError(f"environment: {environment!r} is not 'staging' or 'production'")
    workload = _name("metadata.name", contract.metadata.name, dns1035=True)
    _name("metadata.name", serving_account(workload))  # the longest derived name
    namespace = _name(
        f"policy spec.namespaces.{environment}.name", getattr(policy.spec.namespaces, environment).name
    )
    _name("policy spec.priority_classes.default", policy.spec.priority_classes.default)
    _image(image)
    model = ModelRef.model_validate(model.model_dump())  # re-check a model_construct()ed reference
    gpu = contract.spec.resources.gpu
    product = policy.spec.gpu(gpu.product) if gpu is not None else None
    labels = _labels(contract, model, workload)
    annotations = _annotations(model)
    replicas = contract.spec.resources.replicas
    pod = _pod_fields(contract, policy, product, workload)
    tmp_volume = {"name": "tmp", "emptyDir": {}}
    kserve = policy.spec.kserve
    knative = mode is ServingMode.KSERVE and kserve.deployment_mode.knative
    if knative:
        _knative_features(policy, needs_node_fields=contract.spec.resources.gpu is not None)

    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(serving_account(workload), namespace, labels),
            "automountServiceAccountToken": False,
        }
    ]
    if mode is ServingMode.KSERVE:
        pod_annotations = dict(annotations)
        if knative:
            pod_annotations[KNATIVE_PROGRESS_DEADLINE] = f"{progress_deadline_seconds(contract)}s"
        predictor: dict[str, Any] = {
            "labels": dict(labels),
            "annotations": pod_annotations,
            "minReplicas": replicas.min,
            "maxReplicas": replicas.max,
            # Knative refuses a pod-level automountServiceAccountToken; the service account sets it.
            **{k: v for k, v in pod.items() if k != "automountServiceAccountToken"},
            "model": _kserve_model(contract, policy, model, image, product),
            "volumes": [tmp_volume],
        }
        isvc_annotations = {**annotations, ANNOTATION_DEPLOYMENT_MODE: kserve.deployment_mode.value}
        objects.append(
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": _meta(workload, namespace, labels, isvc_annotations),
                "spec": {"predictor": predictor},
            }
        )
    else:
        init, server = _deployment_containers(contract, policy, model, image, product)
        verify = _verify_container(policy, model)
        selector = _selector(workload)
        objects += [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": _meta(workload, namespace, labels, annotations),
                "spec": {
                    "replicas": max(1, replicas.min),
                    "revisionHistoryLimit": 5,
                    "selector": {"matchLabels": selector},
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
                    },
                    "template": {
                        "metadata": {"labels": dict(labels), "annotations": dict(annotations)},
                        "spec": {
                            **pod,
                            "initContainers": [init, *([verify] if verify else [])],
                            "containers": [server],
                            "volumes": [tmp_volume, {"name": "model", "emptyDir": {}}],
                        },
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(workload, namespace, labels),
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector,
                    "ports": [
                        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                        {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
                    ],
                },
            },
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": _meta(workload, namespace, labels),
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload},
                    # A plain Deployment cannot scale to zero: at least one replica.
                    "minReplicas": max(1, replicas.min),
                    "maxReplicas": replicas.max,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 70},
                            },
                        }
                    ],
                },
            },
        ]
    objects.append(_pdb(workload, namespace, labels, replicas.min))
    objects.append(_network_policy(workload, namespace, labels, mode, knative=knative))
    return Manifests(objects=tuple(objects))


def _pdb(workload: str, namespace: str, labels: dict[str, str], min_replicas: int) -> dict[str, Any]:
    # With two or more replicas, evict one at a time (at least min-1 >= 1 stay up); with one, keep it
    # (a node drain waits until a second replica runs).
    budget: dict[str, Any] = {"maxUnavailable": 1} if min_replicas >= 2 else {"minAvailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(workload, namespace, labels),
        "spec": {**budget, "selector": {"matchLabels": _selector(workload)}},
    }


def _network_policy(
    workload: str, namespace: str, labels: dict[str, str], mode: ServingMode, *, knative: bool
) -> dict[str, Any]:
    def ns_in(names: tuple[str, ...]) -> dict[str, Any]:
        expr = {"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(names)}
        return {"namespaceSelector": {"matchExpressions": [expr]}}

    def tcp(ports: tuple[int, ...]) -> list[dict[str, Any]]:
        return [{"protocol": "TCP", "port": port} for port in ports]

    # Under Knative, requests reach the pod on the queue-proxy's port (8012), which forwards to the
    # server on localhost; the Knative autoscaler scrapes the queue-proxy's 9090. Prometheus scrapes
    # MLServer's metrics port (and, under Knative, the queue-proxy's 9091).
    serve = (_QUEUE_PROXY_PORT,) if knative else (HTTP_PORT,)
    scrape = (METRICS_PORT, _QUEUE_PROXY_METRICS_PORT) if knative else (METRICS_PORT,)
    ingress = [
        {"from": [ns_in(_INGRESS_NAMESPACES)], "ports": tcp(serve)},
        {"from": [ns_in((_MONITORING_NAMESPACE,))], "ports": tcp(scrape)},
    ]
    if knative:
        ingress.append(
            {"from": [ns_in((_KNATIVE_NAMESPACE,))], "ports": tcp((_QUEUE_PROXY_AUTOSCALER_PORT,))}
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(f"{workload}-serving", namespace, labels),
        "spec": {
            "podSelector": {"matchLabels": _selector(workload)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def pod_specs(manifests: Manifests) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every pod spec in the manifests as ``(where, pod metadata, pod spec)``.

    For an InferenceService the predictor is the pod spec (KServe's PodSpec is inlined) and its
    ``labels``/``annotations`` are the pod's; its ``model`` (a container spec) is the serving container
    KServe names ``kserve-container`` (see :func:`containers`). For a Deployment it is ``spec.template``.
    """
    out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for obj in manifests.objects:
        name = obj.get("metadata", {}).get("name", "?")
        if obj.get("kind") == "InferenceService":
            pred = obj.get("spec", {}).get("predictor", {})
            meta = {"labels": pred.get("labels", {}), "annotations": pred.get("annotations", {})}
            out.append((f"InferenceService/{name} spec.predictor", meta, pred))
        elif obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
            tpl = obj.get("spec", {}).get("template", {})
            out.append((f"{obj['kind']}/{name} spec.template", tpl.get("metadata", {}), tpl.get("spec", {})))
        elif obj.get("kind") == "Pod":
            out.append((f"Pod/{name}", obj.get("metadata", {}), obj.get("spec", {})))
    return out


def containers(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every container of one pod spec from :func:`pod_specs` as ``(where, container)``.

    ``where`` is ``initContainers[NAME]``, ``containers[NAME]`` or ``ephemeralContainers[NAME]``; an
    InferenceService predictor's ``model`` is ``containers[kserve-container]`` (KServe merges it with
    the runtime's container of that name).
    """
    out: list[tuple[str, dict[str, Any]]] = []
    for c in spec.get("initContainers") or []:
        out.append((f"initContainers[{c.get('name', '?')}]", c))
    if isinstance(spec.get("model"), dict):
        out.append((f"containers[{CONTAINER_NAME}]", spec["model"]))
    for field in ("containers", "ephemeralContainers"):
        for c in spec.get(field) or []:
            out.append((f"{field}[{c.get('name', '?')}]", c))
    return out


def with_promotion(manifests: Manifests, record_digest: str, bundle: str | None = None) -> Manifests:
    """The manifests with the promotion-record annotation on every serving object and its pods.

    Args:
        manifests: rendered manifests.
        record_digest: ``sha256:...`` digest of the signed promotion record.
        bundle: the :data:`ANNOTATION_BUNDLE` value (``gates.admission_review.encode_bundle``): set
            beside the record's digest, in the same places, when given.

    Returns:
        New manifests (the input is not changed).
    """
    if not _DIGEST.fullmatch(record_digest):
        raise InputError(f"record_digest: {record_digest!r} is not 'sha256:' and 64 lower-case hex digits")
    stamp = {ANNOTATION_PROMOTION: record_digest, **({ANNOTATION_BUNDLE: bundle} if bundle else {})}
    objects = [copy.deepcopy(o) for o in manifests.objects]
    for obj in objects:
        kind = obj.get("kind")
        if kind == "InferenceService":
            obj["metadata"].setdefault("annotations", {}).update(stamp)
            obj["spec"]["predictor"].setdefault("annotations", {}).update(stamp)
        elif kind == "Deployment":
            obj["metadata"].setdefault("annotations", {}).update(stamp)
            obj["spec"]["template"]["metadata"].setdefault("annotations", {}).update(stamp)
    return Manifests(objects=tuple(objects))


def without_promotion(manifests: Manifests) -> Manifests:
    """The manifests with every promotion annotation (record digest, bundle) removed (the inverse of
    :func:`with_promotion`).

    The platform gate signs the manifests before promotion; the promotion step then adds the record's
    digest. Removing it again gives back exactly what the platform verdict signed.
    """
    objects = [copy.deepcopy(o) for o in manifests.objects]
    for obj in objects:
        places = [obj.get("metadata") or {}]
        if obj.get("kind") == "InferenceService":
            places.append(obj.get("spec", {}).get("predictor", {}))
        elif obj.get("kind") == "Deployment":
            places.append(obj.get("spec", {}).get("template", {}).get("metadata", {}))
        for place in places:
            annotations = place.get("annotations")
            if isinstance(annotations, dict):
                annotations.pop(ANNOTATION_PROMOTION, None)
                annotations.pop(ANNOTATION_BUNDLE, None)
    return Manifests(objects=tuple(objects))
