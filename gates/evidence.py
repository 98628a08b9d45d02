"""Evidence: the facts components gather from the outside world and hand to the gates.

Plain data, gathered by ``components`` (MLflow, the HTTP probe) and judged by ``gates``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gates.verdict import DIGEST


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class FileEntry(_Frozen):
    """One file of a model folder."""

    path: Annotated[str, Field(min_length=1)]
    """Path relative to the model folder, '/'-separated."""
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class FileManifest(_Frozen):
    """Per-file sha256 digests of a model folder, and the digest over them."""

    files: tuple[FileEntry, ...]
    """Sorted by path."""
    digest: Annotated[str, Field(pattern=DIGEST)]
    """sha256 over the canonical JSON of ``files``: the model's identity in every verdict."""

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


class PredictionCheck(_Frozen):
    """The result of predicting on the model's stored input example."""

    ran: bool
    """Whether a prediction was attempted (false when no input example is stored)."""
    ok: bool
    error: str | None = None
    output_shape: tuple[int, ...] | None = None
    rows_in: int | None = None
    """Rows of the stored input example (counted without loading the model)."""
    ran_in: str | None = None
    """Where the prediction ran, e.g. ``"ml-artifact step"`` (the gate's own process loaded the
    model); none when it did not run here."""
    deferred_to: str | None = None
    """When the model's runtime is not where the gate runs: the step that runs the prediction
    instead (``"sre-readiness"``: its probe sends the stored example to the staging endpoint and
    signs that the answer has one row per input row)."""
    deferred_reason: str | None = None
    """Why the prediction could not run in the gate's process (a missing library, the model's size)."""


class MlEvidence(_Frozen):
    """Everything the ML-artifact gate looks at, gathered from one MLflow model version."""

    model: str
    version: str
    status: str
    """MLflow model version status (``READY``, ``PENDING_REGISTRATION``, ``FAILED_REGISTRATION``)."""
    source: str
    """The version's artifact source URI (immutable: a run or logged-model URI, never an alias)."""
    run_id: str | None = None
    flavors: tuple[str, ...]
    """MLmodel flavors, e.g. ``("python_function", "sklearn")``."""
    signature_inputs: str | None = None
    """The MLmodel signature's input schema (JSON text), or none."""
    signature_outputs: str | None = None
    has_input_example: bool = False
    example_error: str | None = None
    """Why the stored input example cannot be read (not JSON, no rows); none when it reads."""
    prediction: PredictionCheck
    metrics: dict[str, float] = {}
    """Quality metrics of the version's run or logged model."""
    serialization_formats: tuple[str, ...] = ()
    """How the model is stored, e.g. ``("cloudpickle",)`` or ``("skops",)``.

    Pickle-based formats run code when loaded."""
    artifact_size: Annotated[int, Field(ge=0)]
    """Bytes of the downloaded artifact folder."""
    manifest: FileManifest


class ProbeResult(_Frozen):
    """Figures of a live probe of a staging endpoint (``components.probe``)."""

    url: str
    protocol: str
    """``mlflow`` (``/invocations``), ``kserve-v1`` or ``kserve-v2``."""
    cold_start_s: float | None = None
    """Seconds from launch to the first successful readiness check; none when not measured."""
    cold_start_deadline_s: float | None = None
    ready: bool = True
    """False when the endpoint never became ready before the deadline."""
    target_rate: float = 0.0
    """Requested arrivals per second (open loop)."""
    achieved_rate: float = 0.0
    duration_s: float = 0.0
    requests: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    timeout_s: float | None = None
    """Per-request timeout; a request slower than this counts as an error."""
    error_kinds: dict[str, int] = {}
    """Errors by kind, e.g. ``{"HTTP 503": 12, "timeout": 3, "ConnectionRefusedError": 1}``."""
    first_error: str | None = None
    """The first error seen, with a short excerpt of the response body (helps fix a wrong request)."""
    server_exit: str | None = None
    """When the server launched for this probe exited before it was ready: its exit code, how long
    after launch, where its log is kept and the log's last lines."""
    send_lag_p99_ms: float | None = None
    """P99 of how late the prober itself sent requests after their intended time: when this is large
    the prober, not the server, was the bottleneck (latencies still count from the intended time)."""
    latency_histogram: tuple[tuple[float | None, int], ...] = ()
    """Requests per latency bucket: ``(upper bound in ms, count)``, not cumulative, ascending; the
    last bound is None (above every bound). Failed requests count at the time they failed. Empty
    when no load ran (or a probe from before signoff kept one)."""
    prediction_checked: bool = False
    """Whether the probe sent the stored input example once and checked the answer's shape."""
    prediction_rows_in: int | None = None
    """Rows of the input example sent."""
    prediction_rows_out: int | None = None
    """Rows of the prediction the endpoint answered (none when the answer had no readable rows)."""
    prediction_error: str | None = None
    """Why the answer is not a well-formed prediction (HTTP status, body excerpt, shape)."""

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


HISTOGRAM_BOUNDS_MS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 40, 60, 80, 100, 150, 200, 300, 500, 1000, 2000, 5000, 10000, 30000,
)  # fmt: skip
"""Default upper bounds (ms) of the probe's latency histogram; the contract's latency SLOs are added."""


def latency_histogram(
    latencies_ms: Sequence[float], extra_bounds_ms: Sequence[float] = ()
) -> tuple[tuple[float | None, int], ...]:
    """Bucket latencies: ``(upper bound ms, count)`` per bucket (a value equal to a bound is in it),
    then ``(None, count)`` above the last bound. ``extra_bounds_ms`` (the SLOs) become bucket edges."""
    bounds = sorted({float(b) for b in (*HISTOGRAM_BOUNDS_MS, *extra_bounds_ms) if b > 0})
    counts = [0] * (len(bounds) + 1)
    for value in latencies_ms:
        counts[bisect.bisect_left(bounds, value)] += 1
    return (*((b, c) for b, c in zip(bounds, counts, strict=False)), (None, counts[-1]))


def histogram_text(histogram: Sequence[tuple[float | None, int]]) -> str:
    """The compact spelling kept as a verdict figure: ``"1:0 2:4 5:120 ... +Inf:0"``."""
    return " ".join(f"{'+Inf' if b is None else f'{b:g}'}:{c}" for b, c in histogram)


def parse_histogram_text(text: str) -> tuple[tuple[float | None, int], ...]:
    """The inverse of :func:`histogram_text`.

    Raises:
        ValueError: not that spelling (bounds ascending, counts whole and not negative, +Inf last).
    """
    out: list[tuple[float | None, int]] = []
    for part in text.split():
        bound, sep, count = part.partition(":")
        if not sep or not count.isdigit():
            raise ValueError(f"histogram bucket {part!r} is not BOUND:COUNT")
        b = None if bound == "+Inf" else float(bound)
        if out and (out[-1][0] is None or (b is not None and b <= (out[-1][0] or 0))):
            raise ValueError("histogram bounds must ascend with +Inf last")
        out.append((b, int(count)))
    if not out or out[-1][0] is not None:
        raise ValueError("histogram must end with a +Inf bucket")
    return tuple(out)
