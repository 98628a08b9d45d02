"""The cluster policy: the platform team's paved road for GPU serving.

GPU products with their memory, node selector and taints; the staging and production namespaces
with their GPU quotas; allowed image registries; priority classes; the serving mode (KServe or a
plain Deployment) and, for KServe, its deployment mode, serving runtime and (for Knative) the
feature flags the cluster enables; and what the ML gate does with unsafe serialization formats.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts._units import ByteSize, Percent
from contracts.workload import DNS1123_LABEL, canonical_json

_LABEL_KEY = r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
_LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class ServingMode(enum.StrEnum):
    KSERVE = "kserve"
    """A KServe InferenceService (serving.kserve.io/v1beta1)."""
    DEPLOYMENT = "deployment"
    """A plain Deployment, Service and HorizontalPodAutoscaler, for clusters without KServe."""


class KServeDeploymentMode(enum.StrEnum):
    """The value of KServe's ``serving.kserve.io/deploymentMode`` annotation.

    KServe >= 0.16 calls the raw-Deployment mode ``Standard`` and the Knative one ``Knative`` and
    still reads the older ``RawDeployment`` / ``Serverless`` (``constants.ParseDeploymentMode``);
    KServe < 0.16 reads only the older two.
    """

    STANDARD = "Standard"
    """Deployment + Service + HPA made by KServe (no Knative). KServe >= 0.16."""
    RAW_DEPLOYMENT = "RawDeployment"
    """The same as ``Standard``, in the spelling every KServe version reads."""
    KNATIVE = "Knative"
    """A Knative Service (scale to zero, queue-proxy sidecar). KServe >= 0.16."""
    SERVERLESS = "Serverless"
    """The same as ``Knative``, in the spelling every KServe version reads."""

    @property
    def knative(self) -> bool:
        """Whether pods run under Knative Serving (its validation and feature flags apply)."""
        return self in (KServeDeploymentMode.KNATIVE, KServeDeploymentMode.SERVERLESS)


KNATIVE_PODSPEC_FLAGS: tuple[str, ...] = (
    "kubernetes.podspec-nodeselector",
    "kubernetes.podspec-tolerations",
    "kubernetes.podspec-priorityclassname",
    "kubernetes.podspec-securitycontext",
)
"""Knative ``config-features`` flags serving pods need (all ``disabled`` in Knative's defaults)."""

_DIGEST_IMAGE = (
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"@sha256:[0-9a-f]{64}$"
)


class KnativePolicy(_Frozen):
    """What the cluster's Knative Serving offers (only read in a Knative deployment mode)."""

    version: Annotated[str, Field(pattern=r"^1\.[0-9]{1,3}$", examples=["1.19"])]
    """Knative Serving minor version, e.g. ``1.19`` (``startupProbe`` needs >= 1.15)."""
    features: tuple[Annotated[str, Field(pattern=r"^[a-z0-9.-]{1,80}$")], ...] = ()
    """``config-features`` flags set to ``enabled`` (``infra/knative`` enables the four serving
    pods need: ``kubernetes.podspec-nodeselector``, ``-tolerations``, ``-priorityclassname``,
    ``-securitycontext``)."""

    def minor(self) -> int:
        """The minor version as a number (``1.19`` -> 19)."""
        return int(self.version.split(".")[1])


class KServePolicy(_Frozen):
    """How KServe serves MLflow models on this cluster (``serving: kserve``)."""

    deployment_mode: KServeDeploymentMode = KServeDeploymentMode.STANDARD
    """Rendered as the ``serving.kserve.io/deploymentMode`` annotation on every InferenceService."""
    runtime: Annotated[str, Field(pattern=DNS1123_LABEL)] = "kserve-mlserver"
    """The (Cluster)ServingRuntime serving ``modelFormat: mlflow`` over protocol v2 (KServe ships
    ``kserve-mlserver``: MLServer with ``mlserver_mlflow.MLflowRuntime``)."""
    storage_initializer_image: Annotated[str | None, Field(pattern=_DIGEST_IMAGE)] = None
    """KServe's storage-initializer image, pinned by digest: ``infra/kserve`` configures KServe
    with it, and a plain Deployment (``serving: deployment``) runs it as its model-download init
    container (required there)."""
    verifying_storage_initializer_image: Annotated[str | None, Field(pattern=_DIGEST_IMAGE)] = None
    """KServe's storage initializer with signoff's digest check after the download
    (``infra/docker/storage-initializer``), pinned by digest: the image infra/kserve's
    ClusterStorageContainer runs in every InferenceService pod, so the pod refuses to start unless
    its model folder digests to the signed model."""
    knative: KnativePolicy | None = None
    """The cluster's Knative Serving; required with a Knative deployment mode."""

    @model_validator(mode="after")
    def _knative_declared(self) -> KServePolicy:
        if self.deployment_mode.knative and self.knative is None:
            raise ValueError(
                f"deployment_mode {self.deployment_mode.value} runs under Knative: declare knative "
                "(version and the enabled config-features flags)"
            )
        return self


class Toleration(_Frozen):
    """A Kubernetes toleration the GPU nodes' taint needs."""

    key: Annotated[str, Field(pattern=_LABEL_KEY)]
    operator: Literal["Exists", "Equal"] = "Exists"
    value: Annotated[str | None, Field(pattern=_LABEL_VALUE)] = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"

    @model_validator(mode="after")
    def _value_matches_operator(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("a toleration with operator Exists takes no value")
        if self.operator == "Equal" and self.value is None:
            raise ValueError("a toleration with operator Equal needs a value")
        return self


class GpuProduct(_Frozen):
    """One GPU product the cluster offers."""

    product: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", examples=["H100"])]
    """Product name as contracts write it, e.g. ``H100``."""
    memory: ByteSize
    """Memory of one GPU of this product."""
    node_selector: Annotated[
        dict[Annotated[str, Field(pattern=_LABEL_KEY)], Annotated[str, Field(pattern=_LABEL_VALUE)]],
        Field(min_length=1),
    ]
    """Node labels that select this product, e.g. ``nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3``."""
    tolerations: tuple[Toleration, ...] = ()
    """Tolerations for the taints on these nodes."""
    max_per_replica: Annotated[int, Field(ge=1, le=64)] = 8
    """Most GPUs of this product one replica may ask for (GPUs per node)."""
    resource_name: Annotated[str, Field(pattern=_LABEL_KEY)] = "nvidia.com/gpu"
    """Extended resource name of the device plugin."""


class Namespace(_Frozen):
    """A namespace serving workloads land in."""

    name: Annotated[str, Field(pattern=DNS1123_LABEL)]
    gpu_quota: Annotated[int, Field(ge=0)]
    """``requests.nvidia.com/gpu`` quota of the namespace."""


class Namespaces(_Frozen):
    staging: Namespace
    production: Namespace


class PriorityClasses(_Frozen):
    default: Annotated[str, Field(pattern=DNS1123_LABEL)]
    """Priority class rendered into serving pods."""
    allowed: Annotated[tuple[Annotated[str, Field(pattern=DNS1123_LABEL)], ...], Field(min_length=1)]
    """Priority classes serving pods may use."""

    @model_validator(mode="after")
    def _default_allowed(self) -> PriorityClasses:
        if self.default not in self.allowed:
            raise ValueError(
                f"default priority class {self.default!r} is not in allowed {list(self.allowed)}"
            )
        return self


class SerializationPolicy(enum.StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    DENY = "deny"


class ModelPolicy(_Frozen):
    """What the ML-artifact gate accepts."""

    pickle: SerializationPolicy = SerializationPolicy.WARN
    """Pickle-based formats (cloudpickle, joblib, pickle) run code on load: allow, warn or deny."""
    size_tolerance: Percent = Percent.parse("50%")
    """How far the declared model size may be from the artifact's size on disk."""


class MonitoringPolicy(_Frozen):
    """How the cluster's Prometheus Operator finds the rendered monitors and rules."""

    labels: dict[Annotated[str, Field(pattern=_LABEL_KEY)], Annotated[str, Field(pattern=_LABEL_VALUE)]] = {}
    """Labels put on every PodMonitor/ServiceMonitor and PrometheusRule, for the operator's
    selectors: kube-prometheus-stack selects by its Helm release, e.g. ``{release: kube-prometheus-stack}``
    (its ``ruleSelector``/``podMonitorSelector`` when ``*SelectorNilUsesHelmValues`` is true)."""


_EXTENDED_RESOURCE = (
    r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?|\*)$"
)
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class GpuRoutes(_Frozen):
    """Every way a pod can get a GPU, for the admission policy (``gates.admission`` renders it).

    A pod that uses any of these counts as a GPU workload at the cluster's door, whatever the route:
    a vendor's extended resource, a DRA device class, a GPU runtime class, or an environment variable
    that a vendor's container runtime hook reads to expose devices.
    """

    extended_resources: Annotated[
        tuple[Annotated[str, Field(pattern=_EXTENDED_RESOURCE)], ...], Field(min_length=1)
    ] = ("nvidia.com/*", "amd.com/gpu", "gpu.intel.com/*")
    """Extended resource names of GPU device plugins; ``vendor/*`` means every resource of the vendor
    (MIG slices, shared GPUs)."""
    device_classes: tuple[Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")], ...] = (
        "gpu.nvidia.com",
        "mig.nvidia.com",
        "gpu.amd.com",
        "gpu.intel.com",
    )
    """DRA DeviceClass names that hand out GPUs (ResourceClaims and ResourceClaimTemplates naming
    them are GPU objects; a pod with any resourceClaims counts as GPU whatever the class)."""
    runtime_classes: tuple[Annotated[str, Field(pattern=DNS1123_LABEL)], ...] = ("nvidia", "nvidia-cdi")
    """RuntimeClass names whose handler exposes GPUs to every container of the pod."""
    device_env: tuple[Annotated[str, Field(pattern=_ENV_NAME)], ...] = (
        "NVIDIA_VISIBLE_DEVICES",
        "AMD_VISIBLE_DEVICES",
    )
    """Environment variables a GPU runtime hook reads to expose devices (where the vendor runtime is
    the node's default, such a variable alone gives a container GPUs)."""
    cpu_runtimes: tuple[Annotated[str, Field(pattern=DNS1123_LABEL)], ...] = ()
    """KServe (Cluster)ServingRuntimes the platform vouches put no GPU into pods. An InferenceService
    whose predictor model leaves the runtime to KServe, or names one not listed here, counts as GPU:
    the runtime's containers are merged into its pods."""


class ClusterPolicySpec(_Frozen):
    serving: ServingMode = ServingMode.KSERVE
    kserve: KServePolicy = Field(default_factory=KServePolicy)
    """KServe's deployment mode, serving runtime, storage initializer and Knative features."""
    step_image: Annotated[str | None, Field(pattern=_DIGEST_IMAGE)] = None
    """The signoff step image (``infra/docker/Dockerfile``), pinned by digest. When set, a plain
    Deployment's pods run ``signoff verify-model`` from it as an init container after the storage
    initializer: the pod does not start unless the downloaded files digest to the signed model."""
    gpus: tuple[GpuProduct, ...]
    """GPU products the cluster offers; a contract's product must be one of them."""
    memory_headroom: Percent = Percent.parse("10%")
    """Share of GPU memory kept free for activations, KV cache and the runtime."""
    namespaces: Namespaces
    allowed_registries: Annotated[
        tuple[Annotated[str, Field(pattern=r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._/-]*)?$")], ...],
        Field(min_length=1),
    ]
    """Image prefixes serving images may come from, e.g. ``registry.example.com/ml/``."""
    require_digest: bool = True
    """Images must be pinned by ``@sha256:`` digest."""
    priority_classes: PriorityClasses
    model: ModelPolicy = Field(default_factory=ModelPolicy)
    gpu_routes: GpuRoutes = Field(default_factory=GpuRoutes)
    """Every route to a GPU the admission policy treats as one (vendor resources, DRA, runtimes)."""
    cpu_default: Annotated[float, Field(gt=0)] = 1.0
    """CPU cores per replica when the contract declares none."""
    memory_default: ByteSize = ByteSize.parse("4GiB")
    """Host memory per replica when the contract declares none."""
    monitoring: MonitoringPolicy = Field(default_factory=MonitoringPolicy)
    """The labels the cluster's Prometheus Operator selects monitors and rules by."""

    @model_validator(mode="after")
    def _unique_products(self) -> ClusterPolicySpec:
        names = [g.product for g in self.gpus]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"gpus: product {', '.join(dup)} listed more than once")
        return self

    def gpu(self, product: str) -> GpuProduct | None:
        for g in self.gpus:
            if g.product.lower() == product.lower():
                return g
        return None


class PolicyMetadata(_Frozen):
    name: Annotated[str, Field(pattern=DNS1123_LABEL)]


class ClusterPolicy(_Frozen):
    """The platform team's cluster policy document."""

    apiVersion: Literal["signoff.dev/v1alpha1"] = "signoff.dev/v1alpha1"
    kind: Literal["ClusterPolicy"] = "ClusterPolicy"
    metadata: PolicyMetadata
    spec: ClusterPolicySpec

    def digest(self) -> str:
        import hashlib

        return "sha256:" + hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()
