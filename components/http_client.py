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
  measures), in ``https`` ``http.client`` behind the same interface; :class:`Multiplex` sends it
  on many plain ``http`` keep-alive connections from one thread, on non-blocking sockets.

What goes wrong on the wire is raised as the standard library raises it (an :class:`OSError`,
``TimeoutError`` included, or an ``http.client.HTTPException``); :data:`TRANSPORT_ERRORS` names
them, and :data:`STALE` the ones a server closing an idle keep-alive connection causes, so a caller
catches them without importing ``http.client``. A URL that is not ``http(s)://HOST[:PORT]`` is an
:class:`~contracts.errors.InputError`.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import os
import select
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from contracts import errors

__all__ = [
    "MULTIPLEX",
    "STALE",
    "TRANSPORT_ERRORS",
    "UNREACHABLE",
    "Completion",
    "Connection",
    "HTTPConnection",
    "Multiplex",
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


# ------------------------------------------------------------------ many connections from one thread

MULTIPLEX = hasattr(select, "epoll") or hasattr(select, "poll")
"""Whether :class:`Multiplex` works here (it needs ``epoll`` or ``poll``: Linux, macOS)."""
_READ_SIZE = 262_144
_MAX_HEAD = 65_536
Completion = tuple[int, int, bytes, Exception | None]
"""What :meth:`Multiplex.poll` hands back per finished exchange: ``(tag, status, body, error)``;
``status`` is 0 and ``body`` empty when ``error`` is set."""


class _Slot:
    """One of a :class:`Multiplex`'s connections, and the exchange under way on it (``tag >= 0``)."""

    __slots__ = ("addr", "buf", "connecting", "deadline", "fd", "out", "retried", "reused", "sock", "tag")

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.fd = -1
        self.tag = -1
        self.buf = b""
        self.out: memoryview | None = None
        self.deadline = 0.0
        self.reused = False
        self.retried = False
        self.connecting = False
        self.addr = 0


class Multiplex:
    """Up to ``size`` keep-alive connections to a plain ``http`` target, driven from one thread on
    non-blocking sockets, each sending one pre-built request again and again (the probe's load).

    :meth:`start` sends the request on an idle connection (opening one while fewer than ``size``
    are open); :meth:`poll` waits for answers and hands back the exchanges that ended. One request
    at a time per connection (no pipelining). Answers are read by ``Content-Length``, chunked, or to
    the close; ``Connection: close`` and HTTP/1.0 answers close the connection after them; 1xx
    interim answers are skipped. What goes wrong is an exception in the exchange's
    :data:`Completion`, as :func:`keep_alive` would raise it: an ``OSError`` (``TimeoutError``
    when there is no whole answer within ``timeout`` of the send, the connect included), an
    ``http.client.HTTPException`` (the answer was not HTTP, or the server closed the connection
    mid-answer: ``IncompleteRead``), or a ``ValueError`` (a header that is not a number). A
    request that finds its reused connection closed by the server (one of :data:`STALE`) is sent
    again once, on a new connection, as :func:`keep_alive`'s callers do.
    """

    def __init__(
        self,
        target: Target,
        method: str,
        path: str,
        payload: bytes,
        headers: dict[str, str],
        *,
        size: int,
        timeout: float,
    ) -> None:
        if target.https:
            raise ValueError("Multiplex speaks plain http only (use keep_alive for https)")
        if not MULTIPLEX:
            raise ValueError("Multiplex needs select.epoll or select.poll")
        host = f"[{target.host}]" if ":" in target.host else target.host
        head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{target.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head += [f"Content-Length: {len(payload)}", "", ""]
        self.request = "\r\n".join(head).encode("latin-1") + payload
        self.target, self.size, self.timeout = target, size, timeout
        self.slots: list[_Slot] = []
        self.idle: list[_Slot] = []
        self.by_fd: dict[int, _Slot] = {}
        self.ready: list[Completion] = []
        self.addrs: list[Any] | None = None
        self.sweep_every = min(0.05, max(0.002, timeout / 20))
        self.next_sweep = 0.0
        if hasattr(select, "epoll"):
            self.poller: Any = select.epoll()
            self.ms = False
            self.IN, self.OUT = select.EPOLLIN, select.EPOLLOUT
        else:  # pragma: no cover - macOS
            self.poller = select.poll()
            self.ms = True
            self.IN, self.OUT = select.POLLIN, select.POLLOUT

    @property
    def free(self) -> bool:
        """Whether :meth:`start` can send now (a connection is idle, or one more may open)."""
        return bool(self.idle) or len(self.slots) < self.size

    def start(self, tag: int, now: float) -> None:
        """Send the request (``tag >= 0`` names it in its :data:`Completion`); only when :attr:`free`."""
        if self.idle:
            slot = self.idle.pop()
        else:
            slot = _Slot()
            self.slots.append(slot)
        slot.tag, slot.deadline, slot.retried = tag, now + self.timeout, False
        if slot.sock is None:
            self._connect(slot, 0)
        else:
            self._send(slot, memoryview(self.request))

    def poll(self, wait: float) -> tuple[float, list[Completion]]:
        """Wait up to ``wait`` seconds for answers; the time they were seen and the exchanges that ended."""
        if self.ready:
            wait = 0.0
        elif wait < 0.001:
            # poll waits whole milliseconds (rounded up): sleep the rest of one instead, in slices
            # of 0.2 ms while answers are awaited (an answer is seen at most a slice late)
            time.sleep(min(wait, 0.0002) if len(self.slots) > len(self.idle) else wait)
            wait = 0.0
        else:
            wait -= wait % 0.001  # whole milliseconds; the rest at the next call
        events = self.poller.poll(wait * 1000.0 if self.ms else wait)
        now = time.perf_counter()
        by_fd, IN = self.by_fd, self.IN
        for fd, ev in events:
            slot = by_fd.get(fd)
            if slot is None:
                continue
            if slot.connecting:
                self._connected(slot)
            elif slot.out is not None and ev & self.OUT:
                self._send(slot, slot.out)
            elif ev & IN or ev & ~self.OUT:
                self._read(slot)
        if now >= self.next_sweep:
            self.next_sweep = now + self.sweep_every
            for slot in self.slots:
                if slot.tag >= 0 and now >= slot.deadline:
                    self._fail(slot, TimeoutError(f"no answer within {self.timeout:g}s"), stale_ok=False)
        done, self.ready = self.ready, []
        return now, done

    def close(self) -> None:
        """Close every connection (exchanges under way end without a :data:`Completion`)."""
        for slot in self.slots:
            self._close(slot)
        self.poller.close()

    # --------------------------------------------------------------------------------- internals

    def _close(self, slot: _Slot) -> None:
        if slot.sock is not None:
            del self.by_fd[slot.fd]
            with contextlib.suppress(OSError, ValueError, KeyError):  # already gone
                self.poller.unregister(slot.fd)
            slot.sock.close()
        slot.sock, slot.fd, slot.buf, slot.out = None, -1, b"", None
        slot.reused = slot.connecting = False

    def _finish(self, slot: _Slot, status: int, body: bytes, error: Exception | None) -> None:
        self.ready.append((slot.tag, status, body, error))
        slot.tag = -1
        self.idle.append(slot)

    def _fail(self, slot: _Slot, exc: Exception, *, stale_ok: bool = True) -> None:
        """The connection broke during exchange ``slot.tag``: send again once, or end it with ``exc``."""
        again = stale_ok and slot.reused and not slot.retried and isinstance(exc, STALE)
        self._close(slot)
        if again:
            slot.retried = True
            slot.deadline = time.perf_counter() + self.timeout
            self._connect(slot, 0)
        else:
            self._finish(slot, 0, b"", exc)

    def _connect(self, slot: _Slot, index: int) -> None:
        if self.addrs is None:
            try:
                self.addrs = socket.getaddrinfo(self.target.host, self.target.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                self._finish(slot, 0, b"", exc)
                return
        family, kind, proto, _, addr = self.addrs[index]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        slot.sock, slot.fd, slot.addr, slot.reused = sock, sock.fileno(), index, False
        self.by_fd[slot.fd] = slot
        err = sock.connect_ex(addr)
        if err == 0:
            self.poller.register(slot.fd, self.IN)
            self._send(slot, memoryview(self.request))
        elif err in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            slot.connecting = True
            self.poller.register(slot.fd, self.OUT)
        else:
            self._connect_failed(slot, err)

    def _connect_failed(self, slot: _Slot, err: int) -> None:
        self._close(slot)
        if self.addrs is not None and slot.addr + 1 < len(self.addrs):
            self._connect(slot, slot.addr + 1)
        else:
            self._finish(slot, 0, b"", OSError(err, os.strerror(err)))

    def _connected(self, slot: _Slot) -> None:
        assert slot.sock is not None
        err = slot.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._connect_failed(slot, err)
            return
        slot.connecting = False
        self.poller.modify(slot.fd, self.IN)
        self._send(slot, memoryview(self.request))

    def _send(self, slot: _Slot, data: memoryview) -> None:
        assert slot.sock is not None
        try:
            sent = slot.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._fail(slot, exc)
            return
        if sent == len(data):
            if slot.out is not None:
                slot.out = None
                self.poller.modify(slot.fd, self.IN)
        else:
            if slot.out is None:
                self.poller.modify(slot.fd, self.IN | self.OUT)
            slot.out = data[sent:]

    def _read(self, slot: _Slot) -> None:
        assert slot.sock is not None
        try:
            data = slot.sock.recv(_READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if slot.tag < 0:
                self._close(slot)
            else:
                self._fail(slot, exc)
            return
        if slot.tag < 0:  # an idle connection: the server closed it (or talks out of turn)
            self._close(slot)
            return
        buf = slot.buf + data if slot.buf else data
        try:
            answer = _parse(buf, eof=not data)
        except (http.client.HTTPException, ValueError) as exc:
            self._fail(slot, exc)
            return
        if answer is None:
            if not data:
                lost: Exception = (
                    http.client.IncompleteRead(buf)
                    if buf
                    else http.client.RemoteDisconnected("the server closed the connection without an answer")
                )
                self._fail(slot, lost)
            else:
                slot.buf = buf
            return
        status, body, close = answer
        slot.buf = b""
        if close or not data:
            self._close(slot)
        else:
            slot.reused = True
        self._finish(slot, status, body, None)


def _parse(buf: bytes, *, eof: bool) -> tuple[int, bytes, bool] | None:
    """The first final answer in ``buf``: ``(status, body, close after it)``; None while incomplete.

    ``eof``: the server has closed the connection (an answer without a length ends there).
    Raises ``http.client.HTTPException`` (not HTTP, a head too long, a truncated answer at the
    close) or ``ValueError`` (a length that is not a number).
    """
    start = 0
    while True:
        end = buf.find(b"\r\n\r\n", start)
        if end < 0:
            if len(buf) - start > _MAX_HEAD:
                raise http.client.HTTPException("the answer's head is longer than 64 KiB")
            if eof and len(buf) > start:
                if not buf.startswith(b"HTTP/", start):
                    raise http.client.BadStatusLine(buf[start : start + 80].decode("latin-1").strip())
                raise http.client.IncompleteRead(buf[start:])
            return None
        head = buf[start:end].lower()
        line_end = head.find(b"\r\n")
        line = head if line_end < 0 else head[:line_end]
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"http/") or not parts[1].isdigit():
            raise http.client.BadStatusLine(buf[start : start + len(line)].decode("latin-1").strip())
        status = int(parts[1])
        body_at = end + 4
        if 100 <= status < 200:  # an interim answer: the final one follows
            start = body_at
            continue
        break
    close = parts[0] == b"http/1.0"
    found = head.find(b"\r\nconnection:")
    if found >= 0:
        value = head[found + 13 : head.find(b"\r\n", found + 2) % (len(head) + 1)]
        close = b"close" in value or (close and b"keep-alive" not in value)
    found = head.find(b"\r\ntransfer-encoding:")
    if found >= 0 and b"chunked" in head[found : head.find(b"\r\n", found + 2) % (len(head) + 1)]:
        return _chunked(buf, body_at, status, close, eof)
    found = head.find(b"\r\ncontent-length:")
    if found >= 0:
        length = int(head[found + 17 : head.find(b"\r\n", found + 2) % (len(head) + 1)])
        if len(buf) - body_at >= length:
            return status, buf[body_at : body_at + length], close or len(buf) > body_at + length
        if eof:
            raise http.client.IncompleteRead(buf[body_at:], length - (len(buf) - body_at))
        return None
    if status in (204, 304):
        return status, b"", close or len(buf) > body_at
    if eof:
        return status, buf[body_at:], True
    return None


def _chunked(buf: bytes, at: int, status: int, close: bool, eof: bool) -> tuple[int, bytes, bool] | None:
    body: list[bytes] = []
    while True:
        line_end = buf.find(b"\r\n", at)
        if line_end < 0:
            break
        size = int(buf[at:line_end].split(b";")[0].strip(), 16)
        if size == 0:  # the last chunk, then trailers up to an empty line
            trailers_end = buf.find(b"\r\n\r\n", line_end)
            if buf.startswith(b"\r\n", line_end + 2):
                trailers_end = line_end
            if trailers_end < 0:
                break
            rest = trailers_end + 4
            return status, b"".join(body), close or len(buf) > rest
        if len(buf) < line_end + 2 + size + 2:
            break
        body.append(buf[line_end + 2 : line_end + 2 + size])
        at = line_end + 2 + size + 2
    if eof:
        raise http.client.IncompleteRead(b"".join(body))
    return None
