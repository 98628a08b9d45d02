"""The load is open loop: latency counts from each request's intended send time.

Real loopback servers (stdlib ``ThreadingHTTPServer`` in a thread), no mocks: a stall must show in
the latencies of every request that was due during it, not only in the few that were in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components import probe
from contracts import errors


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the prober closed a connection it gave up on: expected here


@contextmanager
def _server(before_answer: Callable[[], int]) -> Iterator[str]:
    """A keep-alive JSON server; ``before_answer()`` runs per POST and returns the status code."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = before_answer()
            body = b'{"predictions": [0]}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = _QuietServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}/invocations"
    finally:
        srv.shutdown()
        srv.server_close()


class _StallOnce:
    """Answers at once, except that 0.5 s after the first request the whole server stalls for 1 s."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.first: float | None = None
        self.stall_until: float | None = None
        self.in_flight = 0
        self.max_in_flight = 0

    def __call__(self) -> int:
        now = time.monotonic()
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.first = self.first or now
            if self.stall_until is None and now - self.first >= 0.5:
                self.stall_until = now + 1.0
            until = self.stall_until
        if until is not None and now < until:
            time.sleep(until - now)
        with self.lock:
            self.in_flight -= 1
        return 200


def test_a_stall_shows_in_every_request_due_during_it() -> None:
    stall = _StallOnce()
    with _server(stall) as url:
        fig = probe.run_load(url, {"inputs": [[1]]}, rate=50, duration_s=2.5, timeout_s=3, concurrency_cap=2)
    assert fig.requests == 125
    assert fig.errors == 0
    assert stall.max_in_flight <= 2  # the pool never exceeds its cap
    slow = [ms for ms in fig.latencies_ms if ms >= 250]
    # About 50 requests were due during the 1 s stall; those due in its first 0.75 s waited >= 250 ms
    # (about 37). Timed from the moment they were actually sent, only the 2 in flight would be slow.
    assert len(slow) >= 30, sorted(fig.latencies_ms)[-40:]
    assert fig.max_ms is not None and fig.max_ms >= 900
    assert fig.p95_ms is not None and fig.p95_ms >= 250
    # The wait was spent queued at the prober (its pool was blocked), and it says so.
    assert sum(lag >= 250 for lag in fig.send_lag_ms) >= 25


def test_non_2xx_answers_are_errors_with_their_status() -> None:
    calls = iter(range(10_000))

    def flaky() -> int:
        return 503 if next(calls) % 4 == 0 else 200

    with _server(flaky) as url:
        fig = probe.run_load(url, {"inputs": [[1]]}, rate=40, duration_s=1, timeout_s=2)
    assert fig.requests == 40
    assert fig.errors == 10
    assert fig.error_kinds == {"HTTP 503": 10}
    assert fig.first_error is not None and fig.first_error.startswith("HTTP 503")


def test_a_server_that_never_answers_ends_within_duration_plus_timeout() -> None:
    release = threading.Event()

    def hang() -> int:
        release.wait(10)
        return 200

    try:
        with _server(hang) as url:
            started = time.monotonic()
            fig = probe.run_load(
                url, {"inputs": [[1]]}, rate=20, duration_s=1, timeout_s=0.3, concurrency_cap=4
            )
            elapsed = time.monotonic() - started
    finally:
        release.set()
    assert fig.errors == fig.requests == 20
    assert set(fig.error_kinds) <= {"timeout", "not sent before the run's end"}
    assert elapsed < 1 + 0.3 + 1 + 1.5  # duration + timeout + the run's grace second + slack
    assert fig.achieved_rate == 0


def test_refused_connections_are_errors_not_crashes() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fig = probe.run_load(
        f"http://127.0.0.1:{port}/invocations", b"{}", rate=20, duration_s=0.5, timeout_s=0.5
    )
    assert fig.errors == fig.requests == 10
    assert fig.error_kinds == {"ConnectionRefusedError": 10}


def test_runs_too_large_to_keep_in_memory_are_refused_before_sending() -> None:
    with pytest.raises(errors.InputError, match="at most 2,000,000 per run"):
        probe.run_load("http://127.0.0.1:1/invocations", b"{}", rate=100_000, duration_s=3600, timeout_s=1)


def test_progress_bar_goes_to_stderr_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    with _server(lambda: 200) as url:
        probe.run_load(url, b"{}", rate=20, duration_s=0.6, timeout_s=1, progress=True)
        shown = capsys.readouterr()
        probe.run_load(url, b"{}", rate=20, duration_s=0.3, timeout_s=1)  # stderr is not a terminal here
        hidden = capsys.readouterr()
    assert "probe [" in shown.err and "requests" in shown.err and shown.err.endswith("\n")
    assert shown.out == ""
    assert hidden.err == "" and hidden.out == ""
