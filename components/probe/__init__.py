"""The HTTP prober: readiness, cold start and open-loop load against a model-serving endpoint.

The only part of signoff that probes a serving endpoint; its requests go out through
:mod:`components.http_client`, straight to the endpoint. Its public surface, in four modules:

* :mod:`._protocols`: the three request shapes (``mlflow``, ``kserve-v1``, ``kserve-v2``), all built
  from the model's stored input example, and the shape of the prediction each answers.
* :mod:`._load`: open-loop load, every latency counted from the request's intended send time, so a
  stalled server cannot hide the queue behind the stall (coordinated omission). Figures come back
  as :class:`LoadFigures`.
* :mod:`._endpoint`: :func:`probe` waits for readiness (the cold start), checks one prediction,
  loads the endpoint and returns the :class:`gates.evidence.ProbeResult` the readiness gate judges.
* :mod:`._report`: :func:`slo_rows` and :func:`report_markdown` compare a result with the
  contract's SLOs for people, by the readiness gate's own checks.
"""

from __future__ import annotations

from components.probe._endpoint import check_prediction, probe, request_timeout, wait_ready
from components.probe._load import LoadFigures, percentile, run_load
from components.probe._protocols import (
    PROTOCOLS,
    Protocol,
    build_request,
    default_ready_path,
    example_rows,
    load_example,
    prediction_rows,
)
from components.probe._report import SloRow, passed, report_markdown, slo_rows

__all__ = [
    "PROTOCOLS",
    "LoadFigures",
    "Protocol",
    "SloRow",
    "build_request",
    "check_prediction",
    "default_ready_path",
    "example_rows",
    "load_example",
    "passed",
    "percentile",
    "prediction_rows",
    "probe",
    "report_markdown",
    "request_timeout",
    "run_load",
    "slo_rows",
    "wait_ready",
]
