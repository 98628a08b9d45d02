"""Probing one endpoint: wait until it is ready, check one prediction, then load it.

:func:`probe` turns the figures into the :class:`gates.evidence.ProbeResult` the readiness gate
judges; the requests go out through :mod:`components.http_client`, straight to the endpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from components import http_client
from components.probe._load import BODY_EXCERPT, run_load
from components.probe._protocols import (
    Protocol,
    build_request,
    default_ready_path,
    example_rows,
    prediction_rows,
)
from contracts import errors
from contracts.workload import WorkloadContract
from gates.evidence import ProbeResult, latency_histogram

__all__ = ["check_prediction", "probe", "request_timeout", "wait_ready"]

_DEFAULT_RATE = 10.0


def _check_once(target: http_client.Target, path: str, timeout: float) -> bool:
    try:
        return http_client.send("GET", target, target.base + path, timeout=timeout).ok
    except http_client.TRANSPORT_ERRORS:
        return False


def wait_ready(
    url: str,
    *,
    ready_path: str,
    deadline_s: float,
    launched_at: float | None,
    alive: Callable[[], bool] | None = None,
) -> float | None:
    """Poll ``url + ready_path`` until it answers 2xx, or until the deadline.

    Args:
        url: The endpoint's base URL.
        ready_path: Path of the readiness check, e.g. ``/ping``.
        deadline_s: Give up this many seconds after ``launched_at`` (or after the call).
        launched_at: ``time.monotonic()`` when the server was launched; none to count from now.
        alive: Optional check called between polls; when it returns false (the server process
            died) waiting stops at once.

    Returns:
        Seconds from ``launched_at`` (or the call) to the first 2xx, or none when the deadline
        passed first. Never blocks longer than the deadline plus one request timeout (at most 2 s).
    """
    target = http_client.Target.parse(url)
    start = time.monotonic() if launched_at is None else launched_at
    end = start + deadline_s
    pause = 0.05
    while True:
        now = time.monotonic()
        if now >= end:
            return None
        if _check_once(target, ready_path, timeout=max(0.05, min(2.0, end - now))):
            return time.monotonic() - start
        if alive is not None and not alive():
            return None
        time.sleep(max(0.0, min(pause, end - time.monotonic())))
        pause = min(0.5, pause * 1.5)


def request_timeout(contract: WorkloadContract) -> float:
    """Per-request timeout for a probe: ten times the P99 objective, between 1 and 30 seconds."""
    return max(1.0, min(30.0, 10 * contract.spec.slos.p99_latency.seconds))


def probe(
    url: str,
    contract: WorkloadContract,
    *,
    example: dict[str, Any] | list[Any],
    protocol: Protocol,
    model_name: str,
    rate: float | None = None,
    duration_s: float = 10,
    launched_at: float | None = None,
    ready_path: str | None = None,
    alive: Callable[[], bool] | None = None,
) -> ProbeResult:
    """Wait for an endpoint to be ready, then load it open loop and return the figures.

    Args:
        url: The endpoint's base URL (e.g. ``http://127.0.0.1:5000``).
        contract: The workload contract; its SLOs give the default rate and the cold-start deadline.
        example: The model's input example (see :func:`build_request`).
        protocol: ``mlflow``, ``kserve-v1`` or ``kserve-v2``.
        model_name: The model's name (KServe paths).
        rate: Arrivals per second; default the contract's ``throughput_per_replica``, else 10.
        duration_s: Seconds of load.
        launched_at: ``time.monotonic()`` at the server's launch: the cold start is measured from
            it. None when the endpoint was already running (no cold start figure).
        ready_path: Readiness path; default per protocol (``/ping``, KServe model readiness).
        alive: Optional check of the server process (e.g. ``LocalServer.alive``): when it returns
            false while waiting for readiness, the probe stops waiting at once (not ready).

    Returns:
        The probe's figures; ``ready=False`` (and no load) when the endpoint was not ready by the
        contract's ``max_cold_start``.
    """
    slos = contract.spec.slos
    rate = float(rate or slos.throughput_per_replica or _DEFAULT_RATE)
    deadline = slos.max_cold_start.seconds
    path, body = build_request(protocol, example, model_name=model_name)
    ready_path = ready_path or default_ready_path(protocol, model_name)
    cold = wait_ready(url, ready_path=ready_path, deadline_s=deadline, launched_at=launched_at, alive=alive)
    if cold is None:
        exited = alive is not None and not alive()
        return ProbeResult(
            url=url, protocol=protocol, ready=False, cold_start_deadline_s=deadline, target_rate=rate,
            first_error="the server process exited before it was ready" if exited
            else f"{ready_path} did not answer 2xx within {deadline:g}s",
        )  # fmt: skip
    timeout_s = request_timeout(contract)
    checked = check_prediction(http_client.join(url, path), body, protocol, example, timeout_s)
    _warm_up(http_client.join(url, path), json.dumps(body).encode(), timeout_s)
    fig = run_load(http_client.join(url, path), body, rate=rate, duration_s=duration_s, timeout_s=timeout_s)
    return ProbeResult(
        url=url,
        protocol=protocol,
        cold_start_s=cold if launched_at is not None else None,
        cold_start_deadline_s=deadline,
        ready=True,
        target_rate=rate,
        achieved_rate=fig.achieved_rate,
        duration_s=duration_s,
        requests=fig.requests,
        errors=fig.errors,
        p50_ms=fig.p50_ms,
        p95_ms=fig.p95_ms,
        p99_ms=fig.p99_ms,
        max_ms=fig.max_ms,
        timeout_s=timeout_s,
        error_kinds=fig.error_kinds,
        first_error=fig.first_error,
        send_lag_p99_ms=fig.send_lag_p99_ms,
        prediction_checked=True,
        prediction_rows_in=checked[0],
        prediction_rows_out=checked[1],
        prediction_error=checked[2],
        latency_histogram=latency_histogram(
            fig.latencies_ms,
            [d.milliseconds for d in (slos.p99_latency, slos.p50_latency) if d is not None],
        ),
    )


def check_prediction(
    url: str, body: dict[str, Any], protocol: Protocol, example: dict[str, Any] | list[Any], timeout_s: float
) -> tuple[int | None, int | None, str | None]:
    """Send the stored example once and check the answer is a prediction with one row per input row.

    Returns:
        ``(rows in, rows out, error)``; ``error`` is None when the answer is well formed and its rows
        match (the readiness gate signs this as ``probe.prediction``).
    """
    try:
        rows_in: int | None = example_rows(example)
    except errors.InputError:
        rows_in = None
    target = http_client.Target.parse(url)
    try:
        response = http_client.send(
            "POST",
            target,
            http_client.request_path(url),
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            timeout=timeout_s,
        )
    except http_client.TRANSPORT_ERRORS as exc:
        return rows_in, None, f"sending the example failed: {type(exc).__name__}: {exc}"
    status, raw = response.status, response.body
    excerpt = raw[:BODY_EXCERPT].decode("utf-8", errors="replace")
    if not 200 <= status < 300:
        return rows_in, None, f"HTTP {status} to the stored example: {excerpt}"
    try:
        rows_out = prediction_rows(protocol, json.loads(raw))
    except ValueError as exc:
        return rows_in, None, f"not a well-formed {protocol} prediction ({exc}): {excerpt}"
    if rows_in is None or rows_out != rows_in:
        return rows_in, rows_out, f"{rows_out} prediction rows for {rows_in} input rows"
    return rows_in, rows_out, None


def _warm_up(url: str, payload: bytes, timeout_s: float, count: int = 3) -> None:
    """A few requests before measuring (connection set-up, lazy model loading); results ignored.

    Stops at the first failure to answer, so it costs at most one request timeout."""
    target = http_client.Target.parse(url)
    path = http_client.request_path(url)
    for _ in range(count):
        try:
            http_client.send(
                "POST",
                target,
                path,
                body=payload,
                headers={"Content-Type": "application/json"},
                timeout=timeout_s,
            )
        except http_client.TRANSPORT_ERRORS:
            return
