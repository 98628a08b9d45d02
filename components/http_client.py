"""The HTTP client of signoff: every HTTP request signoff itself sends goes out from here.

The MLflow and Kubernetes clients (:mod:`components.mlflow_registry`, :mod:`components.kube`) bring
their own (the registry's own REST calls, :class:`components.mlflow_registry._Rest`, connect
through :meth:`Target.connect` here); everything else (the probe of a serving endpoint, the
Pushgateway, the local MLflow server's health check) calls this module, and no other module
imports ``http.client``, ``urllib.request`` or ``socket`` (import-linter holds ``socket``,
``tests/unit/test_boundaries.py`` all three). Two ways out, for two purposes:

* :func:`fetch`: one request the way every urllib user sends it (the environment's proxy settings
  and ``no_proxy``, redirects followed). A non-2xx answer is a :class:`Response` like any other,
  not an exception. For a service that is called, not measured: the Pushgateway, a health check.
* :func:`send` and :func:`keep_alive`: straight to the endpoint, never through a proxy (a probe
  measures the endpoint, not a proxy in front of it). :func:`send` is one request on its own
  connection; :func:`keep_alive` is a connection that sends one pre-built request again and again
  (the probe's load), in plain ``http`` a minimal HTTP/1.1 client (:class:`_RawConn`, about six
  times less CPU per request than ``http.client``, so the prober is not the bottleneck it
  measures), in ``https`` ``http.client`` behind the same interface.

What goes wrong on the wire is raised as the standard library raises it (an :class:`OSError`,
``TimeoutError`` included, or an ``http.client.HTTPException``); :data:`TRANSPORT_ERRORS` names
them, and :data:`STALE` the ones a server closing an idle keep-alive connection causes, so a caller
catches them without importing ``http.client``. A URL that is not ``http(s)://HOST[:PORT]`` is an
:class:`~contracts.errors.InputError`.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from contracts import errors

__all__ = [
    "STALE",
    "TRANSPORT_ERRORS",
    "UNREACHABLE",
    "Connection",
    "HTTPConnection",
    "Response",
    "Target",
    "fetch",
    "free_port",
    "join",
    "keep_alive",
    "proxied",
    "request_path",
    "send",
]

TRANSPORT_ERRORS: tuple[type[Exception], ...] = (OSError, http.client.HTTPException)
"""What a request can raise when the connection, not the server's answer, went wrong."""
STALE: tuple[type[Exception], ...] = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    http.client.BadStatusLine,
)
"""What sending on a keep-alive connection the server has closed meanwhile raises."""
UNREACHABLE: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    http.client.HTTPException,
    socket.gaierror,
)
"""What a request raises when the server could not be reached, or went away during the exchange
(worth retrying): refused, reset, timed out, a name that does not resolve, a broken answer."""
HTTPConnection = http.client.HTTPConnection
"""What :meth:`Target.connect` returns (``http.client``'s, or its HTTPS subclass)."""
_MAX_HEADER_LINES = 200


@dataclass(frozen=True)
class Response:
    """An HTTP answer, whatever its status."""

    status: int
    body: bytes
    reason: str = ""
    """The status line's reason phrase (``Not Found``), when the server sent one."""

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Target:
    """Where an ``http(s)`` URL connects to."""

    https: bool
    host: str
    port: int
    base: str
    """Path prefix without a trailing slash."""

    @classmethod
    def parse(cls, url: str) -> Target:
        """The scheme, host, port and path of ``url``; anything but ``http(s)://HOST[:PORT]`` is refused."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.InputError(f"{url!r} is not an http(s) URL such as http://127.0.0.1:5000")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise errors.InputError(f"{url!r}: the port is not a number between 0 and 65535") from None
        return cls(parts.scheme == "https", parts.hostname, port, parts.path.rstrip("/"))

    def connect(self, timeout: float, *, tls: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
        """A new ``http.client`` connection (not yet opened) to the target, straight (no proxy);
        ``tls``: the TLS settings of an ``https`` target (default: the system's CAs)."""
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def proxied(scheme: str, host: str) -> bool:
    """Whether the environment sends ``scheme`` requests to ``host`` through a proxy (``HTTPS_PROXY``,
    ``HTTP_PROXY`` and ``NO_PROXY``, as ``urllib`` and ``requests`` read them)."""
    return bool(urllib.request.getproxies().get(scheme)) and not urllib.request.proxy_bypass(host)


def join(url: str, path: str) -> str:
    """``url`` with ``path`` (which starts with ``/``) appended."""
    return url.rstrip("/") + path


def request_path(url: str) -> str:
    """The request target of ``url``: its path (``/`` when empty) and query."""
    parts = urllib.parse.urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def send(
    method: str,
    target: Target,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float,
) -> Response:
    """One request ``method path`` straight to ``target`` (no proxy, no redirect) on a connection
    of its own.

    Raises:
        OSError, http.client.HTTPException: see :data:`TRANSPORT_ERRORS`.
    """
    conn = target.connect(timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Response(resp.status, resp.read(), resp.reason)
    finally:
        conn.close()


def fetch(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float,
) -> Response:
    """One request through ``urllib`` (the environment's proxy settings, redirects followed).

    Raises:
        OSError: the server could not be reached or did not answer in time (``urllib.error.URLError``
            and ``TimeoutError`` are both ``OSError``).
    """
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Response(response.status, response.read(), response.reason or "")
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.code, exc.read(), str(exc.reason or ""))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` at the time of the call (for a local server to listen on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------- keep-alive sending


class Connection(Protocol):
    """A keep-alive connection that sends its one request on each :meth:`exchange`."""

    @property
    def reused(self) -> bool:
        """Whether the next exchange goes out on an already open connection."""
        ...

    def exchange(self) -> tuple[int, bytes]:
        """Send the request, read the answer: ``(status, body)``."""
        ...

    def close(self) -> None:
        """Close the connection (the next exchange opens a new one)."""
        ...


def keep_alive(
    target: Target, method: str, path: str, payload: bytes, headers: dict[str, str], timeout: float
) -> Connection:
    """A connection that sends ``method path`` with ``payload`` and ``headers`` at every exchange."""
    if target.https:
        return _LibConn(target, method, path, payload, headers, timeout)
    host = f"[{target.host}]" if ":" in target.host else target.host
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{target.port}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head += [f"Content-Length: {len(payload)}", "", ""]
    return _RawConn(target, "\r\n".join(head).encode("latin-1") + payload, timeout)


class _RawConn:
    """A minimal HTTP/1.1 keep-alive client for plain ``http``: one pre-built request, sent again
    and again; responses read by ``Content-Length``, chunked, or to the close."""

    def __init__(self, target: Target, request: bytes, timeout: float) -> None:
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

    def __init__(
        self, target: Target, method: str, path: str, payload: bytes, headers: dict[str, str], timeout: float
    ) -> None:
        self.conn = target.connect(timeout)
        self.method, self.path, self.payload, self.headers = method, path, payload, headers

    @property
    def reused(self) -> bool:
        return self.conn.sock is not None

    def close(self) -> None:
        self.conn.close()

    def exchange(self) -> tuple[int, bytes]:
        self.conn.request(self.method, self.path, body=self.payload, headers=self.headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()
