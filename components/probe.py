"""The HTTP prober: readiness, cold start and open-loop load against a model-serving endpoint.

The only module of signoff that sends HTTP requests to a serving endpoint. It speaks three request
shapes, all built from the model's stored input example:

* ``mlflow``: the MLflow scoring protocol, ``POST /invocations`` with ``dataframe_split``,
  ``dataframe_records``, ``inputs`` or ``instances`` (MLflow 3's ``serving_input_example.json`` is
  sent as is); readiness ``GET /ping``.
* ``kserve-v1``: ``POST /v1/models/<name>:predict`` with ``{"instances": [...]}``; readiness
  ``GET /v1/models/<name>``.
* ``kserve-v2``: the Open Inference Protocol, ``POST /v2/models/<name>/infer`` with
  ``{"inputs": [{"name", "shape", "datatype", "data"}]}``, one tensor per named column (what
  MLServer's MLflow runtime needs for a model with a column signature; checked against the real
  MLServer in ``tests/integration/test_mlserver_serving.py``), else one ``input-0`` tensor;
  readiness ``GET /v2/models/<name>/ready``.

Load is open loop: request ``i`` is due at ``t0 + i / rate`` whatever happened before it, and its
latency is measured from that intended send time. A server that stalls therefore cannot hide the
queue that builds up behind the stall (coordinated omission): every request due during the stall
carries the time it waited. Requests go out from a bounded pool of worker threads, each with its
own keep-alive connection; the pool grows (up to ``concurrency_cap``) only when requests start
leaving late. Every network call has a timeout, and a whole run ends at most ``timeout_s`` (plus
a second) after its last intended send time.

Figures come back as :class:`LoadFigures`, and :func:`probe` turns them into the
:class:`gates.evidence.ProbeResult` the readiness gate judges. :func:`slo_rows` and
:func:`report_markdown` compare a result with the contract's SLOs for people.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, get_args

from contracts import errors
from contracts.workload import WorkloadContract
from gates import readiness
from gates.evidence import ProbeResult, latency_histogram
from gates.verdict import Outcome

__all__ = [
    "PROTOCOLS",
    "LoadFigures",
    "Protocol",
    "SloRow",
    "build_request",
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

Protocol = Literal["mlflow", "kserve-v1", "kserve-v2"]
PROTOCOLS: tuple[str, ...] = get_args(Protocol)

_MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "inputs", "instances")
_DEFAULT_RATE = 10.0
_BODY_EXCERPT = 300
_MAX_REQUESTS = 2_000_000
"""Per run: every request's figures are kept in memory (a few tens of bytes each)."""

# ----------------------------------------------------------------------------------- request bodies


def build_request(
    protocol: Protocol, example: dict[str, Any] | list[Any], *, model_name: str
) -> tuple[str, dict[str, Any]]:
    """Build the inference request for one protocol from a model's input example.

    Args:
        protocol: ``mlflow``, ``kserve-v1`` or ``kserve-v2``.
        example: The input example: an MLflow scoring payload (``serving_input_example.json``,
            sent as is for ``mlflow``), a split-orient frame ``{"columns", "data"}``, a list of rows
            or of records, or a dict of columns.
        model_name: The model's name in the KServe paths (ignored by ``mlflow``).

    Returns:
        The path suffix to append to the endpoint URL and the JSON body.
    """
    if protocol == "mlflow":
        return "/invocations", _mlflow_payload(example)
    quoted = urllib.parse.quote(model_name, safe="")
    if not quoted:
        raise errors.InputError("a model name is needed for the KServe protocols (--model-name)")
    rows, columns = _rows(example)
    if protocol == "kserve-v1":
        return f"/v1/models/{quoted}:predict", {"instances": rows}
    if protocol == "kserve-v2":
        return f"/v2/models/{quoted}/infer", {"inputs": _v2_inputs(rows, columns)}
    raise errors.InputError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")


def default_ready_path(protocol: Protocol, model_name: str) -> str:
    """The readiness path a server of this protocol answers with 200 once it can serve."""
    quoted = urllib.parse.quote(model_name, safe="")
    return {
        "mlflow": "/ping",
        "kserve-v1": f"/v1/models/{quoted}",
        "kserve-v2": f"/v2/models/{quoted}/ready",
    }[protocol]


def _mlflow_payload(example: dict[str, Any] | list[Any]) -> dict[str, Any]:
    if isinstance(example, dict):
        if any(k in example for k in _MLFLOW_KEYS):
            return dict(example)
        if set(example) >= {"columns", "data"}:
            return {"dataframe_split": {k: example[k] for k in ("columns", "data", "index") if k in example}}
        return {"inputs": dict(example)}
    if isinstance(example, list):
        if example and all(isinstance(r, dict) for r in example):
            return {"dataframe_records": list(example)}
        return {"inputs": list(example)}
    raise errors.InputError(f"an input example must be a JSON object or array, not {type(example).__name__}")


def _rows(example: dict[str, Any] | list[Any]) -> tuple[list[Any], list[str] | None]:
    """Rows (list of lists, or scalars / tensors per row) and column names, from any example shape."""
    payload = _mlflow_payload(example)
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        return [list(r) if isinstance(r, list) else r for r in split.get("data", [])], list(
            split.get("columns") or []
        ) or None
    if "dataframe_records" in payload:
        return _records(payload["dataframe_records"])
    data = payload.get("inputs", payload.get("instances"))
    if isinstance(data, dict):  # columns -> values
        columns = list(data)
        values = [v if isinstance(v, list) else [v] for v in data.values()]
        n = len(values[0]) if values else 0
        if any(len(v) != n for v in values):
            raise errors.InputError("the input example's columns have different lengths")
        return [[v[i] for v in values] for i in range(n)], columns
    if isinstance(data, list):
        if data and all(isinstance(r, dict) for r in data):
            return _records(data)
        return list(data), None
    raise errors.InputError(
        "the input example has no rows: expected 'dataframe_split', 'dataframe_records', 'inputs' "
        "or 'instances'"
    )


def example_rows(example: dict[str, Any] | list[Any]) -> int:
    """How many rows an input example holds (what a well-formed prediction on it answers).

    Raises:
        InputError: the example has no rows, or its columns have different lengths.
    """
    rows, _ = _rows(example)
    if not rows:
        raise errors.InputError("the input example has no rows")
    return len(rows)


def _records(records: Sequence[dict[str, Any]]) -> tuple[list[Any], list[str] | None]:
    columns = list(records[0]) if records else []
    return [[r.get(c) for c in columns] for r in records], columns or None


def _datatype(values: Sequence[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def _shape_and_flat(value: Any) -> tuple[list[int], list[Any]]:
    """Shape and row-major data of a rectangular nested list; raises ValueError when ragged."""
    if not isinstance(value, list):
        return [], [value]
    parts = [_shape_and_flat(v) for v in value]
    shapes = {tuple(s) for s, _ in parts}
    if len(shapes) > 1:
        raise ValueError("ragged")
    inner = list(shapes.pop()) if shapes else []
    return [len(value), *inner], [x for _, flat in parts for x in flat]


def _v2_inputs(rows: list[Any], columns: list[str] | None) -> list[dict[str, Any]]:
    """Open Inference Protocol tensors: one per named column (MLServer's MLflow runtime decodes them
    into the DataFrame the model's column signature enforces), else one ``input-0`` tensor."""
    if columns and all(isinstance(r, list) and len(r) == len(columns) for r in rows):
        tensors = []
        for j, name in enumerate(columns):
            col = [r[j] for r in rows]
            dtype = _datatype(col)
            data = col if dtype != "BYTES" else [str(v) for v in col]
            tensors.append({"name": name, "shape": [len(col)], "datatype": dtype, "data": data})
        return tensors
    try:
        shape, flat = _shape_and_flat(rows)
    except ValueError:
        shape, flat = [], []
    kind = _datatype(flat) if flat else "BYTES"
    if shape and kind != "BYTES":
        return [{"name": "input-0", "shape": shape, "datatype": kind, "data": flat}]
    if shape:
        return [{"name": "input-0", "shape": shape, "datatype": "BYTES", "data": [str(v) for v in flat]}]
    raise errors.InputError(
        "the input example cannot be sent as an Open Inference Protocol tensor: rows must be "
        "rectangular, or records with the same columns"
    )


def load_example(model_dir: Path) -> dict[str, Any]:
    """Read a downloaded MLflow model folder's input example as an MLflow scoring payload.

    Prefers ``serving_input_example.json`` (MLflow 3 writes it in the scoring format already);
    falls back to ``input_example.json`` (a split-orient frame or a plain array), wrapped into
    ``dataframe_split`` / ``inputs``.

    Args:
        model_dir: The model folder (the one holding ``MLmodel``).

    Returns:
        The scoring payload, ready for :func:`build_request`.
    """
    model_dir = Path(model_dir)
    for name in ("serving_input_example.json", "input_example.json"):
        path = model_dir / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise errors.InputError(f"{path}: not a readable JSON input example: {exc}") from None
        if not isinstance(data, dict | list):
            raise errors.InputError(f"{path}: an input example must be a JSON object or array")
        return _mlflow_payload(data)
    raise errors.InputError(
        f"{model_dir}: no input example (looked for serving_input_example.json and input_example.json); "
        "log the model with input_example=..., or pass --example FILE"
    )


# --------------------------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class _Target:
    https: bool
    host: str
    port: int
    base: str
    """Path prefix without a trailing slash."""

    @classmethod
    def parse(cls, url: str) -> _Target:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.InputError(f"{url!r} is not an http(s) URL such as http://127.0.0.1:5000")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise errors.InputError(f"{url!r}: the port is not a number between 0 and 65535") from None
        return cls(parts.scheme == "https", parts.hostname, port, parts.path.rstrip("/"))

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=timeout)


def _join(url: str, path: str) -> str:
    return url.rstrip("/") + path


def _request_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _check_once(target: _Target, path: str, timeout: float) -> bool:
    conn = target.connect(timeout)
    try:
        conn.request("GET", target.base + path)
        resp = conn.getresponse()
        resp.read()
        return 200 <= resp.status < 300
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


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
    target = _Target.parse(url)
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


# --------------------------------------------------------------------------------------------- load


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


_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine)
_MAX_HEADER_LINES = 200


class _RawConn:
    """A minimal HTTP/1.1 keep-alive client for plain ``http``: one pre-built request, sent again
    and again; responses read by ``Content-Length``, chunked, or to the close. About six times less
    CPU per request than ``http.client`` (which still serves ``https``), so the prober is not the
    bottleneck it measures."""

    def __init__(self, target: _Target, request: bytes, timeout: float) -> None:
        self.target, self.request, self.timeout = target, request, timeout
        self.sock: socket.socket | None = None
        self.file: Any = None

    @property
    def reused(self) -> bool:
        return self.sock is not None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self.file = None

    def exchange(self) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection((self.target.host, self.target.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.file = self.sock.makefile("rb")
        self.sock.sendall(self.request)
        f = self.file
        line = f.readline(65537)
        if not line:
            raise http.client.RemoteDisconnected("the server closed the connection without an answer")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise http.client.BadStatusLine(line.decode("latin-1").strip())
        status, length, chunked = int(parts[1]), -1, False
        close = parts[0] == b"HTTP/1.0"
        for _ in range(_MAX_HEADER_LINES):
            header = f.readline(65537)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower() or (close and b"keep-alive" not in value.lower())
        else:
            raise http.client.HTTPException("too many response headers")
        if chunked:
            body = bytearray()
            while True:
                size = int(f.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while f.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += f.read(size)
                f.readline(65537)
            data = bytes(body)
        elif length >= 0:
            data = f.read(length)
            if len(data) < length:
                raise http.client.IncompleteRead(data, length - len(data))
        elif status in (204, 304) or 100 <= status < 200:
            data = b""
        else:
            data, close = f.read(), True
        if close:
            self.close()
        return status, data


class _LibConn:
    """``http.client`` behind the same interface, for ``https`` endpoints."""

    def __init__(self, target: _Target, path: str, payload: bytes, headers: dict[str, str], timeout: float):
        self.conn = target.connect(timeout)
        self.path, self.payload, self.headers = path, payload, headers

    @property
    def reused(self) -> bool:
        return self.conn.sock is not None

    def close(self) -> None:
        self.conn.close()

    def exchange(self) -> tuple[int, bytes]:
        self.conn.request("POST", self.path, body=self.payload, headers=self.headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()


class _Run:
    """State of one open-loop run, shared by its worker threads."""

    def __init__(
        self, target: _Target, path: str, payload: bytes, rate: float, n: int, timeout_s: float, cap: int
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
        host = f"[{target.host}]" if ":" in target.host else target.host
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{target.port}"]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        head += [f"Content-Length: {len(payload)}", "", ""]
        self.request = "\r\n".join(head).encode("latin-1") + payload

    def _connection(self) -> _RawConn | _LibConn:
        if self.target.https:
            return _LibConn(self.target, self.path, self.payload, self.headers, self.timeout_s)
        return _RawConn(self.target, self.request, self.timeout_s)

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
        conn: _RawConn | _LibConn | None = None
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
        self, conn: _RawConn | _LibConn | None, i: int, intended: float, sent: float
    ) -> _RawConn | _LibConn | None:
        for attempt in (0, 1):
            if conn is None:
                conn = self._connection()
            reused = conn.reused
            try:
                status, data = conn.exchange()
            except _STALE as exc:
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
            except (OSError, ValueError, http.client.HTTPException) as exc:
                conn.close()
                self._record(i, intended, sent, False, False, type(exc).__name__, str(exc) or None)
                return None
            if 200 <= status < 300:
                self._record(i, intended, sent, True, True, None, None)
            else:
                excerpt = data[:_BODY_EXCERPT].decode("utf-8", "replace").strip()
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
        concurrency_cap: Most requests in flight at once (worker threads).
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
    target = _Target.parse(url)
    path = _request_path(url)
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    n = max(1, round(rate * duration_s))
    if n > _MAX_REQUESTS:
        raise errors.InputError(
            f"{rate:g}/s for {duration_s:g}s is {n:,} requests; at most {_MAX_REQUESTS:,} per run "
            "(lower the rate or the duration)"
        )
    run = _Run(target, path, payload, rate, n, timeout_s, concurrency_cap)
    show = sys.stderr.isatty() if progress is None else progress
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
        end = time.perf_counter()
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


# -------------------------------------------------------------------------------------- whole probe


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
    checked = check_prediction(_join(url, path), body, protocol, example, timeout_s)
    _warm_up(_join(url, path), json.dumps(body).encode(), timeout_s)
    fig = run_load(_join(url, path), body, rate=rate, duration_s=duration_s, timeout_s=timeout_s)
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


def prediction_rows(protocol: Protocol, answer: Any) -> int:
    """Rows of a prediction as each protocol answers it.

    * ``mlflow`` / ``kserve-v1``: ``{"predictions": [...]}`` (a list of rows, or columns of equal
      length ``{"predictions": {"col": [...]}}``); a bare list (older MLflow) too.
    * ``kserve-v2``: ``{"outputs": [{"shape": [rows, ...], ...}]}``: every output's first dimension.

    Raises:
        ValueError: not such an answer (the message says what was found).
    """
    if protocol == "kserve-v2":
        outputs = answer.get("outputs") if isinstance(answer, dict) else None
        if not isinstance(outputs, list) or not outputs:
            raise ValueError("the answer has no 'outputs' tensors")
        firsts = set()
        for out in outputs:
            shape = out.get("shape") if isinstance(out, dict) else None
            if not isinstance(shape, list) or not shape or not isinstance(shape[0], int):
                raise ValueError(f"output {out.get('name') if isinstance(out, dict) else out!r} has no shape")
            firsts.add(shape[0])
        if len(firsts) != 1:
            raise ValueError(f"the outputs disagree on their rows: {sorted(firsts)}")
        return firsts.pop()
    preds = answer.get("predictions") if isinstance(answer, dict) else answer
    if isinstance(preds, list):
        return len(preds)
    if isinstance(preds, dict) and preds:
        lengths = {len(v) if isinstance(v, list) else 1 for v in preds.values()}
        if len(lengths) != 1:
            raise ValueError(f"the prediction's columns have different lengths: {sorted(lengths)}")
        return lengths.pop()
    keys = ", ".join(sorted(answer)) if isinstance(answer, dict) else type(answer).__name__
    raise ValueError(f"the answer holds no 'predictions' (found: {keys or 'an empty object'})")


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
    target = _Target.parse(url)
    conn = target.connect(timeout_s)
    try:
        conn.request(
            "POST",
            _request_path(url),
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        status, raw = response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        return rows_in, None, f"sending the example failed: {type(exc).__name__}: {exc}"
    finally:
        conn.close()
    excerpt = raw[:_BODY_EXCERPT].decode("utf-8", errors="replace")
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
    target = _Target.parse(url)
    path = _request_path(url)
    for _ in range(count):
        conn = target.connect(timeout_s)
        try:
            conn.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            return
        finally:
            conn.close()


# ------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class SloRow:
    """One line of the comparison: a measured figure against its objective."""

    check: str
    measured: str
    objective: str
    ok: bool


def _ms(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1f} ms"


_ROW_CHECK = {
    "cold start": "probe.cold-start",
    "p50 latency": "probe.p50-latency",
    "p99 latency": "probe.p99-latency",
    "error rate": "probe.error-rate",
    "achieved rate": "probe.rate",
}
"""Each row and the readiness gate's check that decides it."""


def slo_rows(result: ProbeResult, contract: WorkloadContract) -> list[SloRow]:
    """Compare a probe's figures with the contract's SLOs, one row per objective.

    Whether a row holds is the readiness gate's decision (:func:`gates.readiness.probe_checks`), not
    a second judgement here: a row holds when the endpoint was ready and its check did not fail.
    """
    judged = {c.id: c.outcome is not Outcome.FAIL for c in readiness.probe_checks(contract, result)}

    def holds(row: str) -> bool:
        return judged.get("probe.ready", False) and judged.get(_ROW_CHECK[row], False)

    slos = contract.spec.slos
    max_cold = slos.max_cold_start.seconds
    rows: list[SloRow] = []
    if not result.ready and result.server_exit:
        cold = result.server_exit.splitlines()[0]
    elif not result.ready:
        cold = f"not ready after {result.cold_start_deadline_s or max_cold:g} s"
    elif result.cold_start_s is None:
        cold = "ready (launch not observed)"
    else:
        cold = f"{result.cold_start_s:.1f} s"
    rows.append(SloRow("cold start", cold, f"≤ {slos.max_cold_start}", holds("cold start")))
    measured = result.ready and result.requests > 0
    if slos.p50_latency is not None:
        rows.append(SloRow("p50 latency", _ms(result.p50_ms), f"≤ {slos.p50_latency}", holds("p50 latency")))
    rows.append(SloRow("p99 latency", _ms(result.p99_ms), f"≤ {slos.p99_latency}", holds("p99 latency")))
    budget = slos.error_budget
    err = f"{result.error_rate:.3%} ({result.errors}/{result.requests})" if measured else "not measured"
    rows.append(SloRow("error rate", err, f"≤ {budget:.3%}", holds("error rate")))
    share = 1 - readiness.RATE_TOLERANCE
    want = share * result.target_rate
    ach = f"{result.achieved_rate:.1f}/s" if measured else "not measured"
    rows.append(
        SloRow("achieved rate", ach, f"≥ {want:.1f}/s ({share:.0%} of {result.target_rate:g}/s)",
               holds("achieved rate"))
    )  # fmt: skip
    return rows


def passed(result: ProbeResult, contract: WorkloadContract) -> bool:
    """Whether every SLO row holds."""
    return all(r.ok for r in slo_rows(result, contract))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def report_markdown(result: ProbeResult, contract: WorkloadContract) -> str:
    """A Markdown report: the probe's figures against the contract's SLOs, pass or fail per row."""
    rows = slo_rows(result, contract)
    ok = all(r.ok for r in rows)
    lines = [
        f"## Live probe of {_cell(contract.metadata.name)}: {'PASS' if ok else 'FAIL'}",
        "",
        f"Endpoint `{_cell(result.url)}` ({result.protocol}); contract `{_cell(contract.metadata.name)}`.",
    ]
    if result.ready and result.requests:
        lines.append(
            f"{result.requests} requests over {result.duration_s:g} s at {result.target_rate:g}/s, open loop "
            f"(latency counted from each request's intended send time); timeout {result.timeout_s or 0:g} s; "
            f"p95 {_ms(result.p95_ms)}, max {_ms(result.max_ms)}."
        )
    lines += ["", "| Check | Measured | SLO | Result |", "|---|---|---|---|"]
    lines += [f"| {r.check} | {_cell(r.measured)} | {_cell(r.objective)} | {'pass' if r.ok else 'FAIL'} |"
              for r in rows]  # fmt: skip
    if result.error_kinds:
        kinds = ", ".join(f"{k} x{v}" for k, v in sorted(result.error_kinds.items(), key=lambda kv: -kv[1]))
        lines += ["", f"Errors: {_cell(kinds)}."]
    if result.server_exit:
        head, _, tail = result.server_exit.partition("\n")
        lines += ["", f"The server exited before it was ready: {_cell(head)}."]
        if tail:
            lines += ["", "~~~text", tail.replace("~~~", "~ ~ ~"), "~~~"]
    elif result.first_error:
        lines += ["", f"First error: {_cell(result.first_error)}"]
    if result.send_lag_p99_ms is not None and result.send_lag_p99_ms > 10:
        lines += [
            "",
            f"Note: the prober sent requests late (p99 {result.send_lag_p99_ms:.1f} ms after their intended "
            "time); the latencies include that lag. Lower the rate or give the prober more CPU.",
        ]
    return "\n".join(lines) + "\n"
