"""Open-loop load: requests at a constant arrival rate, every latency counted from its intended
send time.

Request ``i`` is due at ``t0 + i / rate`` whatever happened before it, and its latency is measured
from that intended send time. A server that stalls therefore cannot hide the queue that builds up
behind the stall (coordinated omission): every request due during the stall carries the time it
waited. Plain ``http`` requests go out from one thread over up to ``concurrency_cap`` non-blocking
keep-alive connections (:class:`components.http_client.Multiplex`), one request at a time on each
(no pipelining), a new connection opened only when a request is due and every open one is busy;
``https`` requests go out from a bounded pool of worker threads, each with its own keep-alive
connection (:func:`components.http_client.keep_alive`), the pool growing (up to
``concurrency_cap``) only when requests start leaving late. Every request has a timeout, and a
whole run ends at most ``timeout_s`` (plus a second) after its last intended send time.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from components import http_client
from contracts import errors

__all__ = ["BODY_EXCERPT", "LoadFigures", "percentile", "run_load"]

BODY_EXCERPT = 300
"""How much of an error answer's body a figure or a message quotes."""
_FAILED: tuple[type[Exception], ...] = (*http_client.TRANSPORT_ERRORS, ValueError)
"""What else a request can raise: the connection failed, or the answer was not HTTP."""
_MAX_REQUESTS = 2_000_000
"""Per run: every request's figures are kept in memory (a few tens of bytes each)."""


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``p``% of the values at or below it.

    Conservative (never interpolates below a measured value): the P99 of 100 values is the 99th
    smallest, of 50 values the 50th (the maximum). ``sorted_values`` must be ascending.
    """
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    if not sorted_values:
        return None
    rank = math.ceil(round(p / 100 * len(sorted_values), 9))
    return float(sorted_values[max(1, rank) - 1])


@dataclass(frozen=True)
class LoadFigures:
    """What an open-loop run measured. Latencies count from each request's intended send time."""

    target_rate: float
    achieved_rate: float
    """Answered requests per second while sending (see :func:`run_load`)."""
    duration_s: float
    requests: int
    errors: int
    timeout_s: float
    latencies_ms: tuple[float, ...]
    """Per request, in intended send order (errors included, at the time they failed)."""
    send_lag_ms: tuple[float, ...]
    """Per request: how late the prober sent it after its intended time."""
    error_kinds: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None

    def pct(self, p: float) -> float | None:
        """Latency percentile in milliseconds over every request."""
        return percentile(sorted(self.latencies_ms), p)

    @property
    def p50_ms(self) -> float | None:
        return self.pct(50)

    @property
    def p95_ms(self) -> float | None:
        return self.pct(95)

    @property
    def p99_ms(self) -> float | None:
        return self.pct(99)

    @property
    def max_ms(self) -> float | None:
        return max(self.latencies_ms) if self.latencies_ms else None

    @property
    def send_lag_p99_ms(self) -> float | None:
        return percentile(sorted(self.send_lag_ms), 99)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class _Run:
    """State of one open-loop run, shared by its worker threads."""

    def __init__(
        self,
        target: http_client.Target,
        path: str,
        payload: bytes,
        rate: float,
        n: int,
        timeout_s: float,
        cap: int,
    ) -> None:
        self.target, self.path, self.payload = target, path, payload
        self.rate, self.n, self.timeout_s, self.cap = rate, n, timeout_s, cap
        self.lock = threading.Lock()
        self.next = 0
        self.done = 0
        self.errors = 0
        self.latency: list[float | None] = [None] * n
        self.lag: list[float | None] = [None] * n
        self.ok: list[bool] = [False] * n
        self.answered: list[bool] = [False] * n
        self.kinds: Counter[str] = Counter()
        self.first_error: str | None = None
        self.last_send = 0.0
        self.threads: list[threading.Thread] = []
        self.closed = False
        self.t0 = 0.0
        self.stop_at = 0.0
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def _connection(self) -> http_client.Connection:
        return http_client.keep_alive(
            self.target, "POST", self.path, self.payload, self.headers, self.timeout_s
        )

    def start_worker(self) -> None:
        t = threading.Thread(target=self._work, name=f"probe-{len(self.threads)}", daemon=True)
        self.threads.append(t)
        t.start()

    def _record(self, i: int, intended: float, sent: float, ok: bool, answered: bool, kind: str | None,
                detail: str | None) -> None:  # fmt: skip
        now = time.perf_counter()
        with self.lock:
            if self.closed:
                return
            self.latency[i] = (now - intended) * 1000.0
            self.lag[i] = max(0.0, sent - intended) * 1000.0
            self.ok[i], self.answered[i] = ok, answered
            self.last_send = max(self.last_send, sent)
            self.done += 1
            if kind is not None:
                self.errors += 1
                self.kinds[kind] += 1
                if self.first_error is None:
                    self.first_error = f"{kind}: {detail}" if detail else kind

    def _work(self) -> None:
        conn: http_client.Connection | None = None
        lag_limit = 0.002  # later than this and every worker was busy: add one (up to the cap)
        try:
            while True:
                with self.lock:
                    i = self.next
                    if i >= self.n or self.closed:
                        return
                    self.next += 1
                    grow = False
                intended = self.t0 + i / self.rate
                now = time.perf_counter()
                if now < intended:
                    time.sleep(intended - now)
                elif now - intended > lag_limit:
                    with self.lock:
                        grow = len(self.threads) < self.cap and not self.closed
                    if grow:
                        self.start_worker()
                sent = time.perf_counter()
                if sent > self.stop_at:
                    self._record(i, intended, sent, False, False, "not sent before the run's end", None)
                    continue
                conn = self._send(conn, i, intended, sent)
        finally:
            if conn is not None:
                conn.close()

    def _send(
        self, conn: http_client.Connection | None, i: int, intended: float, sent: float
    ) -> http_client.Connection | None:
        for attempt in (0, 1):
            if conn is None:
                conn = self._connection()
            reused = conn.reused
            try:
                status, data = conn.exchange()
            except http_client.STALE as exc:
                conn.close()
                conn = None
                if reused and attempt == 0:  # the server closed an idle keep-alive connection: resend once
                    continue
                self._record(i, intended, sent, False, False, type(exc).__name__, str(exc) or None)
                return None
            except TimeoutError:
                conn.close()
                detail = f"no answer within {self.timeout_s:g}s"
                self._record(i, intended, sent, False, False, "timeout", detail)
                return None
            except _FAILED as exc:
                conn.close()
                self._record(i, intended, sent, False, False, type(exc).__name__, str(exc) or None)
                return None
            if 200 <= status < 300:
                self._record(i, intended, sent, True, True, None, None)
            else:
                excerpt = data[:BODY_EXCERPT].decode("utf-8", "replace").strip()
                self._record(i, intended, sent, False, True, f"HTTP {status}", excerpt or None)
            return conn
        return conn  # pragma: no cover - the loop always returns


def _progress_loop(run: _Run, stream: TextIO, stop: threading.Event, duration_s: float) -> None:
    width = 30
    while not stop.wait(0.2):
        with run.lock:
            done, errs = run.done, run.errors
        frac = done / run.n if run.n else 1.0
        elapsed = max(0.0, time.perf_counter() - run.t0)
        bar = "#" * int(frac * width)
        stream.write(
            f"\rprobe [{bar:<{width}}] {done}/{run.n} requests  {errs} errors  "
            f"{min(elapsed, duration_s):5.1f}/{duration_s:g}s"
        )
        stream.flush()
    stream.write("\n")
    stream.flush()


def _draw(stream: TextIO, done: int, n: int, errs: int, elapsed: float, duration_s: float) -> None:
    width = 30
    bar = "#" * int((done / n if n else 1.0) * width)
    stream.write(
        f"\rprobe [{bar:<{width}}] {done}/{n} requests  {errs} errors  "
        f"{min(elapsed, duration_s):5.1f}/{duration_s:g}s"
    )
    stream.flush()


def _run_threads(run: _Run, duration_s: float, show: bool) -> tuple[threading.Thread | None, float]:
    """Run ``run`` on worker threads (the https engine); returns the progress bar's thread and the end."""
    n, rate, concurrency_cap, timeout_s = run.n, run.rate, run.cap, run.timeout_s
    initial = min(concurrency_cap, n, max(8, math.ceil(rate * 0.05)))
    run.t0 = time.perf_counter() + 0.02 + 0.0005 * initial  # let the first workers start
    run.stop_at = run.t0 + duration_s + timeout_s
    stop = threading.Event()
    bar = None
    if show:
        bar = threading.Thread(target=_progress_loop, args=(run, sys.stderr, stop, duration_s), daemon=True)
    for _ in range(initial):
        run.start_worker()
    if bar is not None:
        bar.start()
    hard_end = run.stop_at + timeout_s + 1.0
    while True:
        with run.lock:
            threads = list(run.threads)
        alive = [t for t in threads if t.is_alive()]
        if not alive or time.perf_counter() >= hard_end:
            break
        alive[0].join(timeout=max(0.0, min(0.5, hard_end - time.perf_counter())))
    with run.lock:
        run.closed = True
        stop.set()
        return bar, time.perf_counter()


def _run_multiplexed(run: _Run, duration_s: float, show: bool) -> float:
    """Run ``run`` from this thread over :class:`components.http_client.Multiplex` connections;
    returns the time it ended (every request recorded, or the hard end)."""
    mux = http_client.Multiplex(
        run.target, "POST", run.path, run.payload, run.headers, size=run.cap, timeout=run.timeout_s
    )
    n, t0, rate, stop_at = run.n, run.t0, run.rate, run.stop_at
    hard_end = stop_at + run.timeout_s + 1.0
    latency, lag, ok, answered, kinds = run.latency, run.lag, run.ok, run.answered, run.kinds
    intended_at: list[float] = [0.0] * n
    nxt = done = errs = 0
    last_send = 0.0
    next_draw = t0 + 0.2
    perf = time.perf_counter
    try:
        while done < n:
            now = perf()
            if now >= hard_end:
                break
            if nxt < n and now >= t0:
                if now > stop_at:  # never sent: the connections were all busy until the run's end
                    for i in range(nxt, n):
                        latency[i] = lag[i] = (now - (t0 + i / rate)) * 1000.0
                        kinds["not sent before the run's end"] += 1
                        errs += 1
                        run.first_error = run.first_error or "not sent before the run's end"
                    done += n - nxt
                    nxt = n
                else:
                    due = min(n, int((now - t0) * rate) + 1)
                    while nxt < due and mux.free:
                        intended = t0 + nxt / rate
                        sent = perf()
                        intended_at[nxt] = intended
                        lag[nxt] = max(0.0, sent - intended) * 1000.0
                        last_send = sent
                        mux.start(nxt, sent)
                        nxt += 1
            free = nxt < n and mux.free
            wait = max(0.0, min(0.05, t0 + nxt / rate - perf())) if free else 0.05
            seen, finished = mux.poll(wait)
            for i, status, body, exc in finished:
                latency[i] = (seen - intended_at[i]) * 1000.0
                done += 1
                if exc is None and 200 <= status < 300:
                    ok[i] = answered[i] = True
                    continue
                errs += 1
                if exc is None:
                    answered[i] = True
                    kind = f"HTTP {status}"
                    detail = body[:BODY_EXCERPT].decode("utf-8", "replace").strip() or None
                elif isinstance(exc, TimeoutError):
                    kind, detail = "timeout", f"no answer within {run.timeout_s:g}s"
                else:
                    kind, detail = type(exc).__name__, str(exc) or None
                kinds[kind] += 1
                if run.first_error is None:
                    run.first_error = f"{kind}: {detail}" if detail else kind
            if show and seen >= next_draw:
                next_draw = seen + 0.2
                _draw(sys.stderr, done, n, errs, seen - t0, duration_s)
    finally:
        mux.close()
    run.done, run.errors, run.last_send = done, errs, last_send
    if show:
        _draw(sys.stderr, done, n, errs, perf() - t0, duration_s)
        sys.stderr.write("\n")
        sys.stderr.flush()
    return perf()


def run_load(
    url: str,
    body: dict[str, Any] | list[Any] | bytes,
    *,
    rate: float,
    duration_s: float,
    timeout_s: float,
    concurrency_cap: int = 64,
    progress: bool | None = None,
) -> LoadFigures:
    """Send ``POST url`` at a constant arrival rate (open loop) and measure every request.

    Request ``i`` is due at ``t0 + i / rate``; its latency counts from that intended time, so time
    spent queueing behind a stalled server (or behind a busy prober) is never hidden. A request is
    an error when it gets a non-2xx answer, raises, times out, or could not be sent before
    ``duration_s + timeout_s``. The achieved rate is the answered requests divided by the time
    over which they were sent (at least ``duration_s``): it falls below the target when requests
    leave late or go unanswered.

    Args:
        url: Full URL of the inference route (e.g. ``http://127.0.0.1:5000/invocations``).
        body: The JSON body (or its bytes), the same for every request.
        rate: Arrivals per second.
        duration_s: How long to send for; ``round(rate * duration_s)`` requests in all.
        timeout_s: Per request; slower requests count as errors.
        concurrency_cap: Most requests in flight at once (connections; for https, worker threads).
        progress: Draw a progress bar on stderr; default: only when stderr is a terminal.

    Returns:
        The figures of the run.
    """
    if not (rate > 0 and math.isfinite(rate)):
        raise errors.InputError(f"the rate must be a positive number of requests per second, not {rate}")
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise errors.InputError(f"the duration must be a positive number of seconds, not {duration_s}")
    if not timeout_s > 0:
        raise errors.InputError(f"the request timeout must be positive, not {timeout_s}")
    if concurrency_cap < 1:
        raise errors.InputError(f"the concurrency cap must be at least 1, not {concurrency_cap}")
    target = http_client.Target.parse(url)
    path = http_client.request_path(url)
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    n = max(1, round(rate * duration_s))
    if n > _MAX_REQUESTS:
        raise errors.InputError(
            f"{rate:g}/s for {duration_s:g}s is {n:,} requests; at most {_MAX_REQUESTS:,} per run "
            "(lower the rate or the duration)"
        )
    run = _Run(target, path, payload, rate, n, timeout_s, concurrency_cap)
    show = sys.stderr.isatty() if progress is None else progress
    if not target.https and http_client.MULTIPLEX:
        run.t0 = time.perf_counter() + 0.005
        run.stop_at = run.t0 + duration_s + timeout_s
        end = _run_multiplexed(run, duration_s, show)
        bar = None
    else:
        bar, end = _run_threads(run, duration_s, show)
    with run.lock:
        run.closed = True
        for i in range(n):  # still in flight at the hard end: a timeout, at the time waited so far
            if run.latency[i] is None:
                intended = run.t0 + i / rate
                run.latency[i] = max(0.0, end - intended) * 1000.0
                run.lag[i] = run.latency[i]
                run.errors += 1
                run.kinds["timeout"] += 1
        latencies = tuple(x if x is not None else 0.0 for x in run.latency)
        lags = tuple(x if x is not None else 0.0 for x in run.lag)
        answered = sum(run.answered)
        span = max(duration_s, run.last_send - run.t0 + 1.0 / rate)
        figures = LoadFigures(
            target_rate=rate,
            achieved_rate=answered / span,
            duration_s=duration_s,
            requests=n,
            errors=run.errors,
            timeout_s=timeout_s,
            latencies_ms=latencies,
            send_lag_ms=lags,
            error_kinds=dict(run.kinds),
            first_error=run.first_error,
        )
    if bar is not None:
        bar.join(timeout=1.0)
    return figures
