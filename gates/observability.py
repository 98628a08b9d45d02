"""Observability from the contract: what Prometheus scrapes, records and alerts on, and who gets paged.

Pure: builds plain dicts from a :class:`~contracts.workload.WorkloadContract`; no I/O.

Why it is one module of more than 500 lines: the scrape objects, the rule file and the Alertmanager
routing tree are built from one set of metric expressions (:class:`MetricNames`, ``_Exprs``) and one
rule of who each alert pages, and each reads the others' names (the routing tree matches the labels
the rules put on their alerts; the rules read the labels the monitors relabel). They change
together, and the readiness gate and promtool/amtool test them together.

* :func:`render_observability` returns the objects for the cluster: a ``PodMonitor`` (KServe mode)
  or ``ServiceMonitor`` (Deployment mode) selecting the serving pods by the label
  ``signoff.dev/workload: <name>`` and relabelling it to the target label ``workload``; and a
  ``PrometheusRule`` holding :func:`rule_groups`.
* :func:`rule_groups` is the plain Prometheus rule file (``promtool check rules`` reads it):

  - SLO recording rules, ``signoff:request_errors:ratio_rate<w>`` and
    ``signoff:request_latency_slo_violations:ratio_rate<w>`` for w in 5m, 30m, 1h, 6h, 3d, and
    ``signoff:pod_cold_start_seconds:max``;
  - ``SignoffLatencySloUnmeasured`` (ticket): the latency histogram has traffic but no bucket at
    the SLO threshold, so the latency ratio, and its burn-rate alerts, would be silently empty;
  - multi-window, multi-burn-rate alerts (Google SRE workbook, chapter 5, table 5-8) for
    availability (``SignoffAvailabilityBudgetBurn``) and latency (``SignoffLatencyBudgetBurn``):
    page at 14.4x the budget over 1h and 5m, page at 6x over 6h and 30m, ticket at 1x over 3d;
  - one alert per contract alert (``Signoff<Id>``, e.g. ``SignoffLatencyP99``, ``SignoffGpuOom``).

  Every alert carries the labels ``signal``, ``severity`` (``page`` or ``ticket``), ``team``,
  ``owner`` (``ml``, ``platform``, ``sre``), ``workload`` and ``namespace``, and the annotations
  ``summary``, ``description`` and ``runbook_url`` (the owner's runbook; left out when the contract
  names none, which the readiness gate refuses for paging alerts).
* :func:`alertmanager_config` is the Alertmanager routing tree: alerts of this workload go to the
  receiver named after the team in their ``team``/``owner`` labels (``<team>-tickets`` for
  ``severity: ticket``); anything else falls to the ``default`` receiver.

Who owns which alert is what the contract says: a contract alert pages ``alert.pages``; the
availability and latency burn-rate alerts page the owner of the contract's alert on that signal,
else the team that decides manual rollbacks for that problem, else SRE.

Metric names (see :class:`MetricNames`; both presets are documented there):

* requests and latency: Knative queue-proxy metrics in KServe mode, ``http_requests_total`` /
  ``http_request_duration_seconds`` in Deployment mode;
* accuracy and data drift: gauges ``signoff_model_accuracy_drift_ratio`` and
  ``signoff_model_data_drift_ratio`` (a fraction; 0.03 is 3%), labelled ``namespace`` and
  ``workload``, published by the ML team's drift job (e.g. through a Pushgateway);
* GPU: NVIDIA DCGM exporter's ``DCGM_FI_DEV_GPU_UTIL`` (0-100) and ``DCGM_FI_DEV_FB_USED`` /
  ``DCGM_FI_DEV_FB_FREE`` (MiB). dcgm-exporter's Kubernetes mapping labels each GPU's series with
  ``namespace``, ``pod`` and ``container`` of the pod using it. Scraped as its Helm chart and the GPU
  Operator install it (``honorLabels: false``), Prometheus keeps its own target labels and renames
  the exporter's to ``exported_namespace`` / ``exported_pod``; with ``honorLabels: true`` they stay
  ``namespace`` / ``pod``. The rules read both layouts (:meth:`_Exprs.dcgm`), so neither leaves the
  GPU alerts silently empty;
* pods: kube-state-metrics' ``kube_pod_container_status_last_terminated_reason``,
  ``kube_pod_container_status_restarts_total``, ``kube_pod_start_time``,
  ``kube_pod_status_ready_time`` and ``kube_pod_labels`` (kube-state-metrics must allow the
  ``signoff.dev/workload`` label: ``--metric-labels-allowlist=pods=[signoff.dev/workload]``).

A GPU OOM is a serving container killed with ``OOMKilled`` (host memory) that restarted in the last
10 minutes, or GPU framebuffer memory above 98% in use (a CUDA out-of-memory is an exception in the
server, invisible to Kubernetes; a full framebuffer is the signal that precedes it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from contracts._units import Duration, Percent
from contracts.cluster import ClusterPolicy, ServingMode
from contracts.errors import InputError
from contracts.workload import Alert, Comparison, Owner, ProblemKind, Role, Signal, WorkloadContract

__all__ = [
    "BURN_RATE_WINDOWS",
    "DEFAULT_RECEIVER",
    "MLSERVER_BUCKETS_S",
    "SLO_WINDOWS",
    "WORKLOAD_LABEL",
    "BurnWindow",
    "MetricNames",
    "alert_name",
    "alertmanager_config",
    "burn_owner",
    "render_observability",
    "route_receivers",
    "rule_groups",
    "to_yaml",
]

WORKLOAD_LABEL = "signoff.dev/workload"
"""The pod (and Service) label that names the workload; monitors select on it."""

DEFAULT_RECEIVER = "default"
"""The Alertmanager receiver of alerts no team route matches."""

MLSERVER_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
"""prometheus_client's default histogram buckets (seconds), which MLServer's request histogram has."""

SLO_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "6h", "3d")
"""Windows of the SLO recording rules."""

_METRIC = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
_LABEL = r"^[a-zA-Z_][a-zA-Z0-9_]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """One multi-window burn-rate alert: fires when both windows burn faster than ``factor``.

    A constant table, not input: a dataclass, so importing this module builds no pydantic validator.
    """

    factor: float
    """Burn rate: multiples of the error budget spent per unit of SLO period."""
    long: str
    """Long window (the budget share the alert reacts to)."""
    short: str
    """Short window (the alert resets quickly once the problem stops)."""
    severity: str
    """``page`` or ``ticket``."""


BURN_RATE_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow(factor=14.4, long="1h", short="5m", severity="page"),
    BurnWindow(factor=6.0, long="6h", short="30m", severity="page"),
    BurnWindow(factor=1.0, long="3d", short="6h", severity="ticket"),
)
"""The SRE workbook's windows: 2% of a 30-day budget in 1h, 5% in 6h (page), 10% in 3d (ticket)."""


class MetricNames(_Frozen):
    """Which metrics measure requests and latency of the serving pods, and where they are scraped.

    The presets, chosen from the cluster policy by :meth:`for_policy`:

    * :meth:`mlserver`: MLServer's own REST metrics, what KServe's ``kserve-mlserver`` runtime and
      signoff's plain Deployment both run. MLServer (``mlserver/rest/app.py``) adds starlette-exporter's
      ``PrometheusMiddleware(app_name="mlserver", prefix="rest_server")`` and serves the registry on
      its metrics port 8082 (``/metrics``): the counter ``rest_server_requests_total`` and the histogram
      ``rest_server_request_duration_seconds`` (seconds), both labelled ``method``, ``path``,
      ``status_code`` (the exact code: ``"500"``, never ``"5xx"``) and ``app_name``. The histogram has
      prometheus_client's default buckets (:data:`MLSERVER_BUCKETS_S`): 5, 10, 25, 50, 75, 100, 250,
      500, 750 ms, 1, 2.5, 5, 7.5, 10 s, so a latency SLO must be one of those to be measurable.
      Health paths are not counted (``skip_paths``).
    * :meth:`knative_queue_proxy`: the Knative queue-proxy sidecar's ``revision_request_count``
      (label ``response_code_class``: ``5xx``) and ``revision_request_latencies`` (milliseconds) on
      port ``http-usermetric``: the OpenCensus names of Knative Serving < 1.19 only (1.19 moved to
      OpenTelemetry and renamed them), used for Knative deployment modes on those versions.

    The latency SLO is measured as the share of requests slower than the contract's p99 latency, read
    from the bucket whose upper bound is that latency: the histogram must have a bucket boundary at
    the SLO threshold (``le`` matches both ``0.25`` and ``0.250``... and ``1`` / ``1.0``, Prometheus 3's
    normalised spelling).
    """

    requests_total: Annotated[str, Field(pattern=_METRIC)]
    """Counter of requests served."""
    error_label: Annotated[str, Field(pattern=_LABEL)]
    """Label of ``requests_total`` that tells a failed request."""
    error_regex: Annotated[str, Field(min_length=1, max_length=200)]
    """Regular expression (PromQL ``=~``) on ``error_label`` selecting failed requests."""
    latency_bucket: Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*_bucket$")]
    """Bucket series of the request latency histogram (name ends in ``_bucket``)."""
    latency_unit_seconds: Annotated[float, Field(gt=0)]
    """Seconds per unit of the histogram (0.001 for milliseconds)."""
    port: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")]
    """Name of the container (PodMonitor) or Service (ServiceMonitor) port to scrape."""
    path: Annotated[str, Field(pattern=r"^/\S*$")] = "/metrics"
    """HTTP path of the metrics endpoint."""
    workload_label: Annotated[str, Field(pattern=_LABEL)] = "workload"
    """Target label the monitor writes the workload name into (from the pod label)."""
    namespace_label: Annotated[str, Field(pattern=_LABEL)] = "namespace"
    """Target label holding the pod's namespace (Prometheus Operator sets ``namespace``)."""
    latency_buckets_s: tuple[float, ...] | None = None
    """The histogram's bucket bounds in seconds, when the server fixes them (None: unknown)."""
    request_matcher: Annotated[
        str, Field(pattern=r'^([a-zA-Z_][a-zA-Z0-9_]*(=~|!~|!=|=)"[^"\\]{0,160}")?$')
    ] = ""
    """Extra PromQL label matcher selecting inference requests only (e.g. MLServer counts the model
    readiness GETs too: ``path=~".*/infer"``); empty: every request."""

    @classmethod
    def mlserver(cls) -> MetricNames:
        """MLServer's REST metrics on its metrics port (KServe ``kserve-mlserver``, plain Deployment)."""
        return cls(
            requests_total="rest_server_requests_total",
            error_label="status_code",
            error_regex="5..",
            latency_bucket="rest_server_request_duration_seconds_bucket",
            latency_unit_seconds=1.0,
            port="metrics",
            latency_buckets_s=MLSERVER_BUCKETS_S,
            # The route template, e.g. /v2/models/{model_name}/infer; readiness GETs are not inference.
            request_matcher='path=~".*/infer"',
        )

    @classmethod
    def knative_queue_proxy(cls) -> MetricNames:
        """Knative queue-proxy metrics (OpenCensus names, Knative Serving < 1.19)."""
        return cls(
            requests_total="revision_request_count",
            error_label="response_code_class",
            error_regex="5xx",
            latency_bucket="revision_request_latencies_bucket",
            latency_unit_seconds=0.001,
            port="http-usermetric",
        )

    @classmethod
    def for_mode(cls, mode: ServingMode) -> MetricNames:
        """The preset of a serving mode on the default policy (KServe Standard or a Deployment:
        both run MLServer)."""
        return cls.mlserver()

    @classmethod
    def for_policy(cls, policy: ClusterPolicy, mode: ServingMode | None = None) -> MetricNames:
        """The preset for what the cluster policy serves with.

        Raises:
            InputError: a runtime or Knative version whose metric names signoff does not know.
        """
        mode = mode or policy.spec.serving
        if mode is ServingMode.DEPLOYMENT:
            return cls.mlserver()
        kserve = policy.spec.kserve
        if kserve.deployment_mode.knative:
            minor = kserve.knative.minor() if kserve.knative is not None else 0
            if minor >= 19:
                raise InputError(
                    f"kserve.knative.version {kserve.knative.version if kserve.knative else '?'}: "
                    "Knative Serving >= 1.19 exports OpenTelemetry metrics under new names that "
                    "signoff's alert rules do not read yet; use deployment_mode Standard (MLServer's "
                    "own metrics) so no availability alert is silently dead"
                )
            return cls.knative_queue_proxy()
        if kserve.runtime != "kserve-mlserver":
            raise InputError(
                f"kserve.runtime {kserve.runtime!r}: signoff knows the metrics of kserve-mlserver only; "
                "serve MLflow models with kserve-mlserver so the alert rules read real series"
            )
        return cls.mlserver()


# ------------------------------------------------------------------------------------------- helpers


def _q(value: str) -> str:
    """A PromQL string literal (double-quoted, escaped: JSON's escaping is a subset PromQL reads)."""
    return json.dumps(value)


def _num(value: float) -> str:
    """A number for PromQL or a label value: shortest round-trip, no float noise (0.0005, 14.4, 80)."""
    text = f"{value:.12g}"
    return text


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", text) if part)


def alert_name(alert: Alert) -> str:
    """The Prometheus alert name of a contract alert, e.g. ``SignoffLatencyP99``, ``SignoffGpuOom``."""
    return "Signoff" + _camel(alert.id)


def _owner_role_for(contract: WorkloadContract, signal: Signal, problem: ProblemKind) -> Role:
    for alert in contract.spec.alerts:
        if alert.signal is signal:
            return alert.pages
    return contract.spec.rollback.decider(problem) or Role.SRE


def burn_owner(contract: WorkloadContract, slo: str) -> Role:
    """Who the ``availability`` or ``latency`` burn-rate alerts page, as the contract says.

    The owner of the contract's alert on that signal; else the team that decides manual rollbacks
    for that kind of problem; else SRE.
    """
    if slo == "latency":
        return _owner_role_for(contract, Signal.LATENCY, ProblemKind.LATENCY)
    if slo == "availability":
        return _owner_role_for(contract, Signal.AVAILABILITY, ProblemKind.AVAILABILITY)
    raise ValueError(f"unknown SLO {slo!r}; expected 'availability' or 'latency'")


def _latency_objective(contract: WorkloadContract) -> tuple[float, float]:
    """(threshold seconds, allowed slow fraction) of the latency SLO: p99 < X means 1% may be slower."""
    return contract.spec.slos.p99_latency.seconds, 0.01


def _le_matcher(seconds: float, metrics: MetricNames) -> str:
    value = _num(seconds / metrics.latency_unit_seconds)
    pattern = re.escape(value) + (r"(\.0)?" if "." not in value and "e" not in value else "")
    return f"le=~{_q(pattern)}"


class _Exprs:
    """PromQL for one workload; every user value enters through :func:`_q` or :func:`_num`."""

    def __init__(self, contract: WorkloadContract, namespace: str, metrics: MetricNames) -> None:
        self.contract = contract
        self.m = metrics
        self.ns = namespace
        self.name = contract.name
        self.by = f"{metrics.namespace_label}, {metrics.workload_label}"
        self.sel = f"{metrics.namespace_label}={_q(namespace)}, {metrics.workload_label}={_q(self.name)}"
        if metrics.request_matcher:
            self.sel += f", {metrics.request_matcher}"
        self.ws = f"namespace={_q(namespace)}, workload={_q(self.name)}"
        """Selector on the recorded series and on the signoff_* gauges."""

    # ---- requests

    def error_ratio(self, window: str) -> str:
        m, by, sel = self.m, self.by, self.sel
        failed = f"{m.error_label}=~{_q(m.error_regex)}"
        errors = f"sum by ({by}) (rate({m.requests_total}{{{sel}, {failed}}}[{window}]))"
        total = f"sum by ({by}) (rate({m.requests_total}{{{sel}}}[{window}]))"
        # "or total * 0": an error ratio of 0, not an empty result, while no request has failed yet.
        return f"({errors} or {total} * 0)\n/\n{total}"

    def latency_violation_ratio(self, window: str) -> str:
        m, by, sel = self.m, self.by, self.sel
        seconds, _ = _latency_objective(self.contract)
        fast = f"sum by ({by}) (rate({m.latency_bucket}{{{sel}, {_le_matcher(seconds, m)}}}[{window}]))"
        total = f'sum by ({by}) (rate({m.latency_bucket}{{{sel}, le="+Inf"}}[{window}]))'
        return f"1 - (\n  {fast}\n/\n  {total}\n)"

    def latency_bucket_missing(self) -> str:
        m, by, sel = self.m, self.by, self.sel
        seconds, _ = _latency_objective(self.contract)
        total = f'sum by ({by}) (rate({m.latency_bucket}{{{sel}, le="+Inf"}}[30m])) > 0'
        at_slo = f"sum by ({by}) (rate({m.latency_bucket}{{{sel}, {_le_matcher(seconds, m)}}}[30m]))"
        return f"{total}\nunless\n{at_slo}"

    def request_rate(self, window: str) -> str:
        return f"sum by ({self.by}) (rate({self.m.requests_total}{{{self.sel}}}[{window}]))"

    def latency_quantile(self, quantile: float, window: str) -> str:
        m = self.m
        return (
            f"histogram_quantile({_num(quantile)}, sum by ({self.by}, le) "
            f"(rate({m.latency_bucket}{{{self.sel}}}[{window}])))"
        )

    # ---- pods (kube-state-metrics, DCGM), joined to the workload through kube_pod_labels

    def pods(self) -> str:
        label = "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", WORKLOAD_LABEL)
        return (
            f"max by (namespace, pod, workload) (label_replace(kube_pod_labels{{namespace={_q(self.ns)}, "
            f'{label}={_q(self.name)}}}, "workload", "$1", {_q(label)}, "(.+)"))'
        )

    def per_pod(self, expr: str, agg: str = "max") -> str:
        join = f"* on (namespace, pod) group_left (workload) {self.pods()}"
        return f"{agg} by (namespace, workload) (\n  ({expr})\n  {join}\n)"

    def cold_start_seconds(self) -> str:
        ns = _q(self.ns)
        ready, start = (
            f"kube_pod_status_ready_time{{namespace={ns}}}",
            f"kube_pod_start_time{{namespace={ns}}}",
        )
        return self.per_pod(f"{ready} - on (namespace, pod) {start}")

    def gpu_oom(self) -> str:
        ns = _q(self.ns)
        killed = (
            f'kube_pod_container_status_last_terminated_reason{{namespace={ns}, reason="OOMKilled"}} == 1\n'
            f"  and on (namespace, pod, container) "
            f"increase(kube_pod_container_status_restarts_total{{namespace={ns}}}[10m]) > 0"
        )
        used, free = self.dcgm("DCGM_FI_DEV_FB_USED"), self.dcgm("DCGM_FI_DEV_FB_FREE")
        framebuffer = f"{used}\n  / ({used} + {free})"
        return f"(\n{self.per_pod(killed)}\n) or (\n{self.per_pod(framebuffer)} > 0.98\n)"

    def gpu_utilization_percent(self) -> str:
        return self.per_pod(self.dcgm("DCGM_FI_DEV_GPU_UTIL"), agg="avg")

    def dcgm(self, metric: str) -> str:
        """``metric`` from dcgm-exporter for the GPUs of this namespace's pods, labelled ``namespace``
        and ``pod`` of the pod using the GPU, whichever way the exporter is scraped.

        ``honorLabels: true`` keeps the exporter's ``namespace``/``pod``; the default (``false``)
        moves them to ``exported_namespace``/``exported_pod`` and sets ``namespace``/``pod`` to the
        exporter's own. The first operand takes the honoured layout (no ``exported_namespace``), the
        second copies the exported labels back; one series never matches both.
        """
        ns = _q(self.ns)
        honoured = f'{metric}{{namespace={ns}, exported_namespace=""}}'
        exported = (
            f'label_replace(label_replace({metric}{{exported_namespace={ns}}}, "namespace", "$1", '
            f'"exported_namespace", "(.+)"), "pod", "$1", "exported_pod", "(.+)")'
        )
        return f"({honoured} or {exported})"


# ------------------------------------------------------------------------------------------- rules


def _labels(
    contract: WorkloadContract, namespace: str, role: Role, signal: str, severity: str
) -> dict[str, str]:
    return {
        "signal": signal,
        "severity": severity,
        "team": contract.spec.owners.of(role).team,
        "owner": role.value,
        "workload": contract.name,
        "namespace": namespace,
    }


def _annotations(owner: Owner, summary: str, description: str) -> dict[str, str]:
    out = {"summary": summary, "description": description}
    if owner.runbook:
        # Prometheus expands annotations as Go templates: a URL's braces are percent-encoded, so a
        # contract cannot smuggle a template ({{ query ... }}) into the rule.
        out["runbook_url"] = owner.runbook.replace("{", "%7B").replace("}", "%7D")
    return out


def _window(alert: Alert, default: str = "5m") -> str:
    return alert.window.promql() if alert.window is not None else default


def _contract_alert_rule(
    contract: WorkloadContract, namespace: str, alert: Alert, x: _Exprs
) -> dict[str, Any]:
    op = alert.comparison.value
    word = "above" if alert.comparison is Comparison.ABOVE else "below"
    th = alert.threshold
    name = contract.name
    expr: str
    unit_value: str
    for_: str | None = alert.window.promql() if alert.window is not None else None
    if alert.signal is Signal.LATENCY:
        assert isinstance(th, Duration)
        q = (alert.percentile or 99) / 100
        expr = f"{x.latency_quantile(q, '5m')}\n{op} {_num(th.seconds / x.m.latency_unit_seconds)}"
        summary = f"{name}: p{alert.percentile or 99} latency {word} {th}"
        unit_value = "{{ $value | humanize }}" + (" ms" if x.m.latency_unit_seconds == 0.001 else " s")
    elif alert.signal is Signal.AVAILABILITY:
        assert isinstance(th, Percent)
        expr = f"1 - (\n{x.error_ratio(_window(alert))}\n)\n{op} {_num(th.fraction)}"
        summary = f"{name}: availability {word} {th}"
        unit_value = "{{ $value | humanizePercentage }}"
        for_ = None
    elif alert.signal is Signal.ERROR_RATE:
        assert isinstance(th, Percent)
        expr = f"(\n{x.error_ratio(_window(alert))}\n)\n{op} {_num(th.fraction)}"
        summary = f"{name}: error rate {word} {th}"
        unit_value = "{{ $value | humanizePercentage }}"
        for_ = None
    elif alert.signal in (Signal.ACCURACY_DRIFT, Signal.DATA_DRIFT):
        assert isinstance(th, Percent)
        metric = f"signoff_model_{alert.signal.value}_ratio"
        expr = f"max by (namespace, workload) ({metric}{{{x.ws}}})\n{op} {_num(th.fraction)}"
        summary = f"{name}: {alert.signal.value.replace('_', ' ')} {word} {th}"
        unit_value = "{{ $value | humanizePercentage }}"
    elif alert.signal is Signal.GPU_OOM:
        expr = x.gpu_oom()
        summary = f"{name}: a serving container ran out of memory (OOMKilled or GPU memory full)"
        unit_value = "{{ $value }}"
    elif alert.signal is Signal.GPU_UTILIZATION:
        assert isinstance(th, Percent)
        expr = f"{x.gpu_utilization_percent()}\n{op} {_num(th.percent)}"
        summary = f"{name}: GPU utilization {word} {th}"
        unit_value = "{{ $value | humanize }}%"
    elif alert.signal is Signal.COLD_START:
        assert isinstance(th, Duration)
        expr = f"{x.cold_start_seconds()}\n{op} {_num(th.seconds)}"
        summary = f"{name}: pod cold start {word} {th}"
        unit_value = "{{ $value | humanizeDuration }}"
    elif alert.signal is Signal.THROUGHPUT:
        assert isinstance(th, int | float)
        expr = f"{x.request_rate(_window(alert))}\n{op} {_num(float(th))}"
        summary = f"{name}: request rate {word} {_num(float(th))}/s"
        unit_value = "{{ $value | humanize }}/s"
        for_ = None
    else:  # pragma: no cover - every Signal is handled above
        raise ValueError(f"no rule for signal {alert.signal.value}")
    owner = contract.spec.owners.of(alert.pages)
    rule: dict[str, Any] = {"alert": alert_name(alert), "expr": expr}
    if for_ is not None:
        rule["for"] = for_
    rule["labels"] = _labels(contract, namespace, alert.pages, alert.signal.value, "page")
    rule["annotations"] = _annotations(
        owner,
        summary,
        f"Contract alert {alert.id} of workload {name} in {namespace}: value "
        + unit_value
        + f". Pages {owner.team} ({alert.pages.value}).",
    )
    return rule


def _slo_rules(contract: WorkloadContract, namespace: str, x: _Exprs) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for w in SLO_WINDOWS:
        rules.append({"record": f"signoff:request_errors:ratio_rate{w}", "expr": x.error_ratio(w)})
    for w in SLO_WINDOWS:
        rules.append(
            {
                "record": f"signoff:request_latency_slo_violations:ratio_rate{w}",
                "expr": x.latency_violation_ratio(w),
            }
        )
    rules.append({"record": "signoff:pod_cold_start_seconds:max", "expr": x.cold_start_seconds()})
    slos = contract.spec.slos
    latency_s, latency_budget = _latency_objective(contract)
    objectives = (
        ("availability", "Availability", "request_errors", slos.error_budget,
         f"availability {slos.availability}", "of requests failing"),
        ("latency", "Latency", "request_latency_slo_violations", latency_budget,
         f"p99 latency {slos.p99_latency}", f"of requests slower than {slos.p99_latency}"),
    )  # fmt: skip
    for slo, title, record, budget, objective, what in objectives:
        role = burn_owner(contract, slo)
        owner = contract.spec.owners.of(role)
        for bw in BURN_RATE_WINDOWS:
            limit = f"({_num(bw.factor)} * {_num(budget)})"
            expr = (
                f"signoff:{record}:ratio_rate{bw.long}{{{x.ws}}} > {limit}\n"
                f"and\nsignoff:{record}:ratio_rate{bw.short}{{{x.ws}}} > {limit}"
            )
            labels = _labels(contract, namespace, role, slo, bw.severity)
            labels |= {
                "slo": slo,
                "burn_rate": _num(bw.factor),
                "long_window": bw.long,
                "short_window": bw.short,
            }
            rules.append({
                "alert": f"Signoff{title}BudgetBurn",
                "expr": expr,
                "labels": labels,
                "annotations": _annotations(
                    owner,
                    f"{contract.name}: burning the {slo} error budget at {_num(bw.factor)}x "
                    f"({bw.long}/{bw.short})",
                    f"{{{{ $value | humanizePercentage }}}} {what} over {bw.long} and {bw.short} "
                    f"(objective {objective}; budget {_num(budget)}, alert at {_num(bw.factor)}x). "
                    f"Pages {owner.team} ({role.value}).",
                ),
            })  # fmt: skip
    # Without a bucket boundary at the SLO threshold the latency ratio is empty and its burn-rate
    # alerts can never fire: say so (a ticket to the latency owner) instead of staying silent.
    role = burn_owner(contract, "latency")
    owner = contract.spec.owners.of(role)
    labels = _labels(contract, namespace, role, "latency", "ticket") | {"slo": "latency"}
    rules.append({
        "alert": "SignoffLatencySloUnmeasured",
        "expr": x.latency_bucket_missing(),
        "for": "1h",
        "labels": labels,
        "annotations": _annotations(
            owner,
            f"{contract.name}: the latency SLO cannot be measured",
            f"{x.m.latency_bucket} has traffic but no bucket with upper bound {slos.p99_latency} (le="
            f"{_num(latency_s / x.m.latency_unit_seconds)}), so the latency burn-rate alerts cannot fire. "
            "Add that bucket boundary to the serving histogram.",
        ),
    })  # fmt: skip
    return rules


def rule_groups(
    contract: WorkloadContract, metrics: MetricNames, *, namespace: str = "default"
) -> dict[str, Any]:
    """The Prometheus rule file of a workload (``{"groups": [...]}``), as ``promtool check rules`` reads it.

    Args:
        contract: the workload contract.
        metrics: which request/latency metrics the serving pods export.
        namespace: the namespace of the serving pods (rules select on it).

    Returns:
        Two groups: ``signoff.<name>.slo`` (recording rules, then the burn-rate alerts that read them)
        and ``signoff.<name>.alerts`` (one alert per contract alert, in contract order).
    """
    x = _Exprs(contract, namespace, metrics)
    groups: list[dict[str, Any]] = [
        {"name": f"signoff.{contract.name}.slo", "rules": _slo_rules(contract, namespace, x)}
    ]
    alerts = [_contract_alert_rule(contract, namespace, a, x) for a in contract.spec.alerts]
    if alerts:
        groups.append({"name": f"signoff.{contract.name}.alerts", "rules": alerts})
    return {"groups": groups}


def _common_labels(contract: WorkloadContract) -> dict[str, str]:
    return {WORKLOAD_LABEL: contract.name, "app.kubernetes.io/managed-by": "signoff"}


def render_observability(
    contract: WorkloadContract,
    *,
    namespace: str,
    mode: ServingMode,
    metrics: MetricNames | None = None,
    policy: ClusterPolicy | None = None,
) -> list[dict[str, Any]]:
    """The monitoring objects of a workload: a PodMonitor or ServiceMonitor, and a PrometheusRule.

    Args:
        contract: the workload contract.
        namespace: the namespace the serving pods run in (and the objects go to).
        mode: ``kserve`` renders a PodMonitor (an InferenceService's pods carry no Service of ours);
            ``deployment`` a ServiceMonitor selecting the workload's Service.
        metrics: metric names; when not given, the preset of ``policy`` (:meth:`MetricNames.for_policy`),
            else of ``mode``.
        policy: the cluster policy: its ``monitoring.labels`` go on both objects, for the Prometheus
            Operator's selectors (e.g. ``release``).

    Returns:
        ``[monitor, prometheus_rule]`` as plain dicts (monitoring.coreos.com/v1).

    Raises:
        InputError: the policy serves with metrics signoff does not know (see ``for_policy``).
    """
    if metrics is None:
        metrics = MetricNames.for_policy(policy, mode) if policy is not None else MetricNames.for_mode(mode)
    labels = {**(policy.spec.monitoring.labels if policy is not None else {}), **_common_labels(contract)}
    relabel = [{
        "action": "replace",
        "sourceLabels": ["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", WORKLOAD_LABEL)],
        "targetLabel": metrics.workload_label,
    }]  # fmt: skip
    endpoint: dict[str, Any] = {
        "port": metrics.port,
        "path": metrics.path,
        "interval": "30s",
        "relabelings": relabel,
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {WORKLOAD_LABEL: contract.name}},
        "namespaceSelector": {"matchNames": [namespace]},
    }
    if mode is ServingMode.KSERVE:
        monitor = {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": {"name": contract.name, "namespace": namespace, "labels": labels},
            "spec": {**spec, "podMetricsEndpoints": [endpoint]},
        }
    else:
        monitor = {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": contract.name, "namespace": namespace, "labels": labels},
            "spec": {**spec, "endpoints": [endpoint]},
        }
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": f"{contract.name}-slo", "namespace": namespace, "labels": labels},
        "spec": rule_groups(contract, metrics, namespace=namespace),
    }
    return [monitor, rule]


# ------------------------------------------------------------------------------------- alertmanager


def _template_literal(text: str) -> str:
    """``text`` as Alertmanager's Go templates print it: each ``{{`` becomes the action ``{{ "{{" }}``."""
    return text.replace("{{", '{{ "{{" }}')


def _secret_file(team: str, what: str) -> str:
    return f"/etc/alertmanager/secrets/signoff/{team}/{what}"


def _receivers(owner: Owner) -> list[dict[str, Any]]:
    team = owner.team
    chat: list[dict[str, Any]] = []
    if owner.chat:
        chat = [
            {
                "api_url_file": _secret_file(team, "slack-webhook-url"),
                "channel": _template_literal(owner.chat),
                "send_resolved": True,
            }
        ]
    # A placeholder (.invalid never resolves) marks where the team's own integration goes.
    hook = [{"url": f"https://alerts.invalid/signoff/{team}", "send_resolved": True}]
    page: dict[str, Any] = {"name": team}
    if owner.pager:
        page["pagerduty_configs"] = [{
            "routing_key_file": _secret_file(team, "pagerduty-routing-key"),
            "description": "{{ .CommonAnnotations.summary }}",
            "details": {
                "pager": _template_literal(owner.pager),
                "runbook_url": "{{ .CommonAnnotations.runbook_url }}",
            },
        }]  # fmt: skip
    if chat:
        page["slack_configs"] = chat
    if not owner.pager and not chat:
        page["webhook_configs"] = hook
    ticket: dict[str, Any] = {"name": f"{team}-tickets"}
    if chat:
        ticket["slack_configs"] = chat
    else:
        ticket["webhook_configs"] = hook
    return [page, ticket]


def alertmanager_config(contract: WorkloadContract) -> dict[str, Any]:
    """The Alertmanager configuration routing this workload's alerts to the owning teams.

    Alerts with ``workload: <name>`` are routed by their ``team`` and ``owner`` labels to the
    receiver named after the team (``severity: ticket`` alerts to ``<team>-tickets``); anything
    unmatched reaches the ``default`` receiver. Receivers hold placeholders only: PagerDuty routing
    keys and Slack webhook URLs are read from files under ``/etc/alertmanager/secrets/signoff/``.

    Args:
        contract: the workload contract.

    Returns:
        The configuration as a dict (``route``, ``receivers``); ``amtool check-config`` accepts it.
    """
    owners = contract.spec.owners
    team_routes = []
    receivers: list[dict[str, Any]] = [{"name": DEFAULT_RECEIVER}]
    for role in (Role.SRE, Role.ML, Role.PLATFORM):
        owner = owners.of(role)
        team_routes.append({
            "receiver": owner.team,
            "matchers": [f"team={_q(owner.team)}", f"owner={_q(role.value)}"],
            "routes": [{"receiver": f"{owner.team}-tickets", "matchers": ['severity="ticket"']}],
        })  # fmt: skip
        receivers.extend(_receivers(owner))
    return {
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", "workload"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [{"matchers": [f"workload={_q(contract.name)}"], "routes": team_routes}],
        },
        "receivers": receivers,
    }


# -------------------------------------------------------------------------------- routing tree walk

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"\s]*)\s*$')


def _matcher(text: str) -> tuple[str, str, str]:
    m = _MATCHER.match(text)
    if m is None:
        raise ValueError(
            f"Alertmanager matcher {text!r} is not NAME=VALUE, NAME!=VALUE, NAME=~RE or NAME!~RE"
        )
    name, op, raw = m.groups()
    value = json.loads(raw) if raw.startswith('"') else raw
    return name, op, value


def _matches(route: dict[str, Any], labels: dict[str, str]) -> bool:
    tests: list[tuple[str, str, str]] = [_matcher(t) for t in route.get("matchers") or ()]
    tests += [(k, "=", str(v)) for k, v in (route.get("match") or {}).items()]
    tests += [(k, "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    for name, op, value in tests:
        got = labels.get(name, "")
        if op == "=":
            ok = got == value
        elif op == "!=":
            ok = got != value
        else:
            ok = re.fullmatch(value, got) is not None
            ok = ok if op == "=~" else not ok
        if not ok:
            return False
    return True


def _walk(route: dict[str, Any], labels: dict[str, str], inherited: str) -> list[str]:
    receiver = str(route.get("receiver") or inherited)
    found: list[str] = []
    for child in route.get("routes") or ():
        if not _matches(child, labels):
            continue
        found += _walk(child, labels, receiver)
        if not child.get("continue", False):
            break
    return found or [receiver]


def route_receivers(config: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """The receivers an alert with ``labels`` reaches, walking the routing tree as Alertmanager does.

    The root route matches every alert; children are tried in order; the first match ends the walk
    at that level unless it sets ``continue``; a route with no matching child delivers to its own
    receiver (inherited from its parent when unset). ``matchers`` (``=``, ``!=``, ``=~``, ``!~``;
    regular expressions anchored) and the older ``match``/``match_re`` maps are understood.

    Args:
        config: an Alertmanager configuration (a dict with ``route``).
        labels: the alert's labels, including ``alertname``.

    Returns:
        Receiver names, in routing order (empty when the configuration has no route).
    """
    root = config.get("route")
    if not isinstance(root, dict):
        return []
    return _walk(root, labels, "")


# --------------------------------------------------------------------------------------------- YAML


class _BlockDumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` writing multi-line strings (PromQL) as ``|`` blocks, so rules stay readable."""


def _str_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_block)


def to_yaml(data: Any) -> str:
    """YAML text of rendered data (safe dumper; key order kept; PromQL as ``|`` blocks)."""
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=200)
