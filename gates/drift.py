"""Model drift as Prometheus metrics: the contract between an ML team's drift job and the drift alerts.

Pure: numbers and text from a :class:`~contracts.workload.WorkloadContract`; no I/O, no clock.

The metric contract (what ``signoff drift`` publishes and the rendered ``SignoffAccuracyDrift`` /
``SignoffDataDrift`` rules read; see :mod:`gates.observability`):

* ``signoff_model_accuracy_drift_ratio`` (gauge, a fraction: 0.03 is 3%): how much worse the
  contract's quality metric is on recent labelled traffic than it was when the version was validated,
  relative to that baseline. For a metric with a ``min`` (higher is better):
  ``(baseline - current) / |baseline|``; for a metric with only a ``max`` (lower is better):
  ``(current - baseline) / |baseline|``. A model that got better has drift 0, never negative.
* ``signoff_model_data_drift_ratio`` (gauge, a fraction 0..1): the share of input features whose
  distribution moved, by the ML team's own test (for example a two-sample KS test per feature).
* ``signoff_model_drift_evaluated_timestamp_seconds`` (gauge, Unix seconds): when the job measured,
  so a stale job can be seen.

Every series carries ``namespace`` and ``workload`` (the contract's name), the labels the rules
select by, and ``model_version``; the accuracy series also ``metric``. Pushed to a Pushgateway the
grouping key is ``job="signoff-drift"``, ``namespace``, ``workload``, and Prometheus must scrape the
Pushgateway with ``honor_labels: true`` (as the Pushgateway's README asks), or ``namespace`` would be
the Pushgateway's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from contracts.errors import InputError
from contracts.workload import QualityThreshold, WorkloadContract

__all__ = [
    "ACCURACY_METRIC",
    "DATA_METRIC",
    "JOB",
    "TIMESTAMP_METRIC",
    "DriftReading",
    "accuracy_drift",
    "exposition",
    "grouping_key",
    "quality_metric",
]

ACCURACY_METRIC = "signoff_model_accuracy_drift_ratio"
DATA_METRIC = "signoff_model_data_drift_ratio"
TIMESTAMP_METRIC = "signoff_model_drift_evaluated_timestamp_seconds"
JOB = "signoff-drift"


@dataclass(frozen=True)
class DriftReading:
    """One evaluation of a served model version, ready to publish."""

    namespace: str
    workload: str
    model_version: str
    evaluated_at: float
    """Unix seconds."""
    accuracy: float | None = None
    """Accuracy drift as a fraction, or None when not measured."""
    metric: str | None = None
    """The quality metric the accuracy drift was computed from."""
    data: float | None = None
    """Data drift as a fraction, or None when not measured."""


def quality_metric(contract: WorkloadContract, name: str | None) -> QualityThreshold:
    """The contract's quality threshold called ``name`` (the first one when None)."""
    quality = contract.spec.quality
    if not quality:
        raise InputError(
            f"contract {contract.name!r} declares no quality metric (spec.quality), so accuracy drift "
            "has no baseline metric; pass --accuracy-drift RATIO measured by your own job instead"
        )
    if name is None:
        return quality[0]
    for q in quality:
        if q.metric == name:
            return q
    known = ", ".join(q.metric for q in quality)
    raise InputError(
        f"--metric {name!r} is not a quality metric of contract {contract.name!r}; it has: {known}"
    )


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise InputError(f"{what} must be a finite number, got {value}")
    return value


def accuracy_drift(threshold: QualityThreshold, baseline: float, current: float) -> float:
    """The relative loss of ``threshold.metric`` from ``baseline`` to ``current``, as a fraction >= 0.

    Higher is better when the contract gives the metric a ``min``, lower is better when it gives only
    a ``max``.
    """
    _finite(baseline, "--baseline")
    _finite(current, "--current")
    if baseline == 0:
        raise InputError(
            f"--baseline of {threshold.metric!r} is 0: drift is relative to the baseline, so it must be "
            "non-zero (pass --accuracy-drift RATIO to publish a figure computed another way)"
        )
    higher_is_better = threshold.min is not None or threshold.max is None
    loss = (baseline - current) if higher_is_better else (current - baseline)
    return max(0.0, loss / abs(baseline))


def ratio(value: float, flag: str) -> float:
    """``value`` checked as a drift fraction (0..1 for data drift; >= 0 for accuracy)."""
    _finite(value, flag)
    if value < 0:
        raise InputError(f"{flag} is a fraction >= 0 (0.03 is 3%), got {value}")
    return value


def grouping_key(reading: DriftReading) -> dict[str, str]:
    """The Pushgateway grouping key of ``reading``: one group per job, namespace and workload."""
    return {"job": JOB, "namespace": reading.namespace, "workload": reading.workload}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _value(value: float) -> str:
    return repr(float(value))


def exposition(reading: DriftReading) -> str:
    """``reading`` in the Prometheus text exposition format (version 0.0.4)."""
    base = {
        "namespace": reading.namespace,
        "workload": reading.workload,
        "model_version": reading.model_version,
    }
    lines: list[str] = []

    def gauge(name: str, help_: str, labels: dict[str, str], value: float) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name}{_labels(labels)} {_value(value)}")

    if reading.accuracy is not None:
        labels = {**base, "metric": reading.metric} if reading.metric else base
        gauge(
            ACCURACY_METRIC,
            "Relative loss of the contract's quality metric against the validated baseline (0.03 is 3%).",
            labels,
            reading.accuracy,
        )
    if reading.data is not None:
        gauge(DATA_METRIC, "Share of input features whose distribution drifted (0..1).", base, reading.data)
    gauge(
        TIMESTAMP_METRIC, "When the drift job evaluated the model (Unix seconds).", base, reading.evaluated_at
    )
    return "\n".join(lines) + "\n"
