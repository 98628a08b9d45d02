"""The workload contract: one per model in production, owned jointly by ML, Platform and SRE.

Each section is one frozen pydantic model with ``extra="forbid"``; the field docs become the
descriptions of the exported JSON Schema. The YAML spelling is::

    apiVersion: signoff.dev/v1alpha1
    kind: WorkloadContract
    metadata: {name: recsys-ranker-v2, model: recsys-ranker}
    spec: {owners: ..., slos: ..., resources: ..., alerts: [...], rollback: ..., quality: [...],
           promotion: ...}

and the Markdown spelling is the interface document of ``DESIGN.md`` (see ``contracts.markdown``).
"""

from __future__ import annotations

import enum
import hashlib
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts._units import ByteSize, Duration, Percent, _show
from contracts.canonical import API_VERSION, canonical_json
from contracts.model_uri import MODEL_NAME

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
"""A Kubernetes DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters."""

_TEAM = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"
_MODEL_NAME = f"^{MODEL_NAME}$"
_HANDLE = r"^[^\s<>](?:[^\r\n\t<>]*[^\s<>])?$"
"""A pager or chat handle: one line, no surrounding spaces, no '<' or '>' (so it renders as Markdown)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)


class Role(enum.StrEnum):
    """The three owner roles of a contract."""

    ML = "ml"
    PLATFORM = "platform"
    SRE = "sre"


# --------------------------------------------------------------------------------------------- metadata


class Metadata(_Frozen):
    """Who the workload is."""

    name: Annotated[str, Field(pattern=DNS1123_LABEL, examples=["recsys-ranker-v2"])]
    """Workload name: a DNS-1123 label (lower case, digits, '-', at most 63 characters). Names
    the serving objects in the cluster."""
    model: Annotated[str, Field(pattern=_MODEL_NAME, examples=["recsys-ranker"])]
    """The MLflow registered model name this contract governs."""


# ----------------------------------------------------------------------------------------------- owners


class Owner(_Frozen):
    """A team and how to reach it."""

    team: Annotated[str, Field(pattern=_TEAM, examples=["ranking-squad"])]
    """Team name as it appears in the trust policy (letters, digits, '.', '_', '-')."""
    pager: Annotated[str | None, Field(pattern=_HANDLE, max_length=200)] = None
    """Pager handle or escalation policy (e.g. a PagerDuty service)."""
    chat: Annotated[str | None, Field(pattern=_HANDLE, max_length=200)] = None
    """Chat channel, e.g. ``#ranking-squad``."""
    runbook: Annotated[str | None, Field(pattern=r"^https?://\S+$", max_length=2000)] = None
    """Runbook URL linked from this team's alerts."""


class Owners(_Frozen):
    """The three owners. Each handoff gate is signed by one of them."""

    ml: Owner
    """ML team: owns the model artifact and its promotion."""
    platform: Owner
    """Platform contact: owns the deployment template and cluster policy."""
    sre: Owner
    """SRE contact: owns production readiness, SLOs and paging."""

    def of(self, role: Role) -> Owner:
        return {Role.ML: self.ml, Role.PLATFORM: self.platform, Role.SRE: self.sre}[role]

    @model_validator(mode="after")
    def _distinct_teams(self) -> Owners:
        teams = [self.ml.team, self.platform.team, self.sre.team]
        if len(set(teams)) != 3:
            raise ValueError(
                f"the three owners must be three distinct teams (got {', '.join(teams)}): "
                "separation of duties needs each handoff signed by a different team"
            )
        return self


# ------------------------------------------------------------------------------------------------- SLOs


class Slos(_Frozen):
    """Service level objectives the staging probe and the production alerts measure."""

    p99_latency: Duration
    """P99 inference latency, e.g. ``80ms``."""
    availability: Percent
    """Availability objective over the SLO window, e.g. ``99.95%``."""
    max_cold_start: Duration
    """Longest time from pod start to first ready, e.g. ``90s``."""
    p50_latency: Duration | None = None
    """Optional P50 inference latency."""
    error_rate: Percent | None = None
    """Optional error-rate budget; defaults to 100% minus availability."""
    throughput_per_replica: Annotated[float | None, Field(gt=0, le=1_000_000)] = None
    """Expected sustained requests per second per replica; the probe's default rate."""

    @model_validator(mode="after")
    def _consistent(self) -> Slos:
        if self.p50_latency is not None and self.p50_latency > self.p99_latency:
            raise ValueError(f"p50_latency {self.p50_latency} is above p99_latency {self.p99_latency}")
        if self.availability.percent <= 0:
            raise ValueError("availability must be above 0%")
        return self

    @property
    def error_budget(self) -> float:
        """Allowed error fraction: the explicit budget, or 1 - availability."""
        if self.error_rate is not None:
            return self.error_rate.fraction
        return 1.0 - self.availability.fraction


# -------------------------------------------------------------------------------------------- resources


class Gpu(_Frozen):
    """GPUs each replica needs."""

    count: Annotated[int, Field(ge=1, le=64)]
    """GPUs per replica."""
    product: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", examples=["H100", "A100"])]
    """GPU product as named in the cluster policy, e.g. ``H100``."""
    memory: ByteSize
    """Memory of one GPU, e.g. ``80GB``."""


class Replicas(_Frozen):
    """Autoscaling bounds."""

    min: Annotated[int, Field(ge=0, le=10_000)]
    """Fewest replicas (0 allows scale to zero)."""
    max: Annotated[int, Field(ge=1, le=10_000)]
    """Most replicas."""

    @model_validator(mode="after")
    def _ordered(self) -> Replicas:
        if self.min > self.max:
            raise ValueError(f"min replicas ({self.min}) is greater than max replicas ({self.max})")
        return self


class Resources(_Frozen):
    """What one replica needs."""

    gpu: Gpu | None
    """GPUs per replica, or null for a CPU-only model."""
    replicas: Replicas
    model_size: ByteSize
    """Memory the loaded model takes (in GPU memory for GPU models), e.g. ``30GB``."""
    cpu: Annotated[float | None, Field(gt=0, le=1024)] = None
    """CPU cores per replica (requests = limits)."""
    memory: ByteSize | None = None
    """Host memory per replica (requests = limits)."""


# ----------------------------------------------------------------------------------------------- alerts


class Signal(enum.StrEnum):
    """Kinds of signal an alert watches; each kind pages the owner the contract names."""

    LATENCY = "latency"
    AVAILABILITY = "availability"
    ERROR_RATE = "error_rate"
    ACCURACY_DRIFT = "accuracy_drift"
    DATA_DRIFT = "data_drift"
    GPU_OOM = "gpu_oom"
    GPU_UTILIZATION = "gpu_utilization"
    COLD_START = "cold_start"
    THROUGHPUT = "throughput"


class Comparison(enum.StrEnum):
    ABOVE = ">"
    BELOW = "<"


Threshold = Duration | Percent | float
"""An alert threshold: a duration (latency, cold start), a percentage, or a plain number."""

_THRESHOLD_KIND: dict[Signal, type | None] = {
    Signal.LATENCY: Duration,
    Signal.COLD_START: Duration,
    Signal.AVAILABILITY: Percent,
    Signal.ERROR_RATE: Percent,
    Signal.ACCURACY_DRIFT: Percent,
    Signal.DATA_DRIFT: Percent,
    Signal.GPU_UTILIZATION: Percent,
    Signal.GPU_OOM: None,
    Signal.THROUGHPUT: float,
}


class Alert(_Frozen):
    """One alert: a signal crossing a threshold over a window pages one owner."""

    signal: Signal
    pages: Role
    """Which owner gets paged: ``ml``, ``platform`` or ``sre``."""
    comparison: Comparison = Comparison.ABOVE
    """Fires when the signal is above (``>``) or below (``<``) the threshold."""
    threshold: Threshold | None = None
    """A duration for latency and cold start, a percentage for availability, errors, drift and
    utilization, requests/s for throughput; none for GPU OOM (any occurrence fires)."""
    percentile: Annotated[int | None, Field(ge=1, le=100)] = None
    """For latency: which percentile, e.g. 99."""
    window: Duration | None = None
    """How long the condition must hold, e.g. ``10m``."""

    @field_validator("threshold", mode="before")
    @classmethod
    def _parse_threshold(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.endswith("%"):
                return Percent.parse(text)
            try:
                return Duration.parse(text)
            except ValueError:
                pass
            try:
                return float(text)
            except ValueError:
                raise ValueError(
                    f"{_show(value)} is not a threshold; write a duration ('80ms'), a percentage ('3%') or a "
                    f"number"
                ) from None
        return value

    @model_validator(mode="after")
    def _threshold_fits_signal(self) -> Alert:
        kind = _THRESHOLD_KIND[self.signal]
        if kind is None:
            if (
                self.threshold is not None
                or self.comparison is not Comparison.ABOVE
                or self.percentile is not None
            ):
                raise ValueError(
                    f"a {self.signal.value} alert takes no threshold, comparison or percentile (any "
                    f"occurrence fires)"
                )
            return self
        if self.threshold is None:
            raise ValueError(f"a {self.signal.value} alert needs a threshold")
        got = type(self.threshold)
        if kind is float and got is int:
            return self
        if got is not kind:
            want = {Duration: "a duration such as '80ms'", Percent: "a percentage such as '3%'",
                    float: "a number of requests/s"}[kind]  # fmt: skip
            raise ValueError(
                f"a {self.signal.value} alert's threshold must be {want}, not '{self.threshold}'"
            )
        if self.percentile is not None and self.signal is not Signal.LATENCY:
            raise ValueError("percentile applies only to latency alerts")
        return self

    @property
    def id(self) -> str:
        """A stable name for the alert (``latency-p99``, ``gpu-oom``)."""
        base = self.signal.value.replace("_", "-")
        return f"{base}-p{self.percentile}" if self.percentile else base


# --------------------------------------------------------------------------------------------- rollback


class RollbackAction(enum.StrEnum):
    REVERT_TO_PREVIOUS = "revert_to_previous"
    """Move the production alias back to the rollback target."""


class AutomatedRollback(_Frozen):
    """Roll back without a human when this signal fires."""

    signal: Signal
    action: RollbackAction = RollbackAction.REVERT_TO_PREVIOUS


class ProblemKind(enum.StrEnum):
    """Kinds of problem a manual rollback is for."""

    QUALITY = "quality"
    AVAILABILITY = "availability"
    LATENCY = "latency"
    COST = "cost"
    SECURITY = "security"


class ManualRollback(_Frozen):
    """Who decides a manual rollback for which kind of problem."""

    problem: ProblemKind
    decides: Role


class Rollback(_Frozen):
    """How the workload goes back to its previous version."""

    automated: tuple[AutomatedRollback, ...] = ()
    manual: tuple[ManualRollback, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Rollback:
        problems = [m.problem for m in self.manual]
        dup = {p.value for p in problems if problems.count(p) > 1}
        if dup:
            raise ValueError(
                f"manual rollback names {', '.join(sorted(dup))} more than once; one team decides each"
            )
        return self

    def decider(self, problem: ProblemKind) -> Role | None:
        for m in self.manual:
            if m.problem is problem:
                return m.decides
        return None


# ---------------------------------------------------------------------------------------------- quality


class QualityThreshold(_Frozen):
    """A metric the ML-artifact gate checks on the model version's run."""

    metric: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9_./-](?:[A-Za-z0-9_.\-/ ]{0,248}[A-Za-z0-9_./-])?$",
            examples=["accuracy", "ndcg_at_10"],
        ),
    ]
    """Metric name as logged to MLflow."""
    min: float | None = None
    """Lowest acceptable value (inclusive)."""
    max: float | None = None
    """Highest acceptable value (inclusive)."""

    @model_validator(mode="after")
    def _bounded(self) -> QualityThreshold:
        if self.min is None and self.max is None:
            raise ValueError(f"quality metric {self.metric!r} needs a min or a max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"quality metric {self.metric!r}: min {self.min} is greater than max {self.max}")
        return self


# -------------------------------------------------------------------------------------------- promotion


class Approval(enum.StrEnum):
    AUTOMATIC = "automatic"
    """Promote as soon as every gate's signed verdict verifies."""
    MANUAL = "manual"
    """Also require an approval signed by the ML team (``signoff approve``)."""


class Promotion(_Frozen):
    """How the promotion gate decides."""

    approval: Approval = Approval.AUTOMATIC
    verdict_ttl: Duration = Duration.parse("7d")
    """How long a gate's verdict stays valid for promotion."""


# ------------------------------------------------------------------------------------------------- spec


class Spec(_Frozen):
    """The body of the contract."""

    owners: Owners
    slos: Slos
    resources: Resources
    alerts: tuple[Alert, ...] = ()
    rollback: Rollback = Field(default_factory=Rollback)
    quality: tuple[QualityThreshold, ...] = ()
    promotion: Promotion = Field(default_factory=Promotion)

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        ids = [a.id for a in self.alerts]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"alerts: {', '.join(dup)} declared more than once")
        metrics = [q.metric for q in self.quality]
        dupm = sorted({m for m in metrics if metrics.count(m) > 1})
        if dupm:
            raise ValueError(f"quality: metric {', '.join(dupm)} declared more than once")
        return self


class WorkloadContract(_Frozen):
    """The workload contract ("interface document") of one model in production."""

    apiVersion: Literal["signoff.dev/v1alpha1"] = API_VERSION  # Kubernetes spelling
    kind: Literal["WorkloadContract"] = "WorkloadContract"
    metadata: Metadata
    spec: Spec

    @property
    def name(self) -> str:
        return self.metadata.name

    def canonical_json(self) -> bytes:
        """The contract as canonical JSON (sorted keys, no spaces): what its digest covers."""
        return canonical_json(self.model_dump(mode="json"))

    def digest(self) -> str:
        """``sha256:<hex>`` of :meth:`canonical_json`; the same for the YAML and Markdown spellings."""
        return "sha256:" + hashlib.sha256(self.canonical_json()).hexdigest()


def is_dns1123_label(value: str) -> bool:
    return re.fullmatch(DNS1123_LABEL, value) is not None
