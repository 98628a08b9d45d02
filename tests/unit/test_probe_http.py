"""The prober's HTTP/1.1 client against the response framings real servers use.

Real loopback servers that write raw responses: chunked bodies, ``Connection: close``, HTTP/1.0
bodies read to the close, and a server that silently drops idle keep-alive connections (the prober
must resend once on a fresh connection, not count an error).
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from components import probe

_BODY = b'{"predictions": [1]}'
_RESPONSES = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY),
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n" + _BODY[:5] + b"\r\n"
    + b"%x\r\n" % (len(_BODY) - 5) + _BODY[5:] + b"\r\n0\r\n\r\n",
    "close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY),
    "http10-to-close": b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + _BODY,
    "drops-idle": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY),
    "500-chunked": b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\nboom\r\n0\r\n\r\n" % 4,
}  # fmt: skip
_ONE_PER_CONNECTION = {"close", "http10-to-close", "drops-idle"}


@contextmanager
def _raw_server(mode: str) -> Iterator[tuple[str, list[int]]]:
    connections: list[int] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            connections.append(1)
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = self.rfile.readline()
                    if not line:
                        return
                    head += line
                length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                               if h.lower().startswith(b"content-length:")), 0)  # fmt: skip
                self.rfile.read(length)
                self.wfile.write(_RESPONSES[mode])
                if mode in _ONE_PER_CONNECTION:
                    return  # closes the socket (for drops-idle: without having said so)

    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/invocations", connections
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("mode", ["content-length", "chunked", "close", "http10-to-close", "drops-idle"])
def test_every_framing_is_read_and_every_request_answered(mode: str) -> None:
    with _raw_server(mode) as (url, connections):
        fig = probe.run_load(url, b"{}", rate=50, duration_s=0.4, timeout_s=1, concurrency_cap=1)
    assert fig.requests == 20
    assert fig.errors == 0, fig.error_kinds
    if mode in _ONE_PER_CONNECTION:
        assert len(connections) >= 20  # one connection per request
    else:
        assert len(connections) == 1  # keep-alive: the single worker reused its connection


def test_error_bodies_are_read_even_when_chunked() -> None:
    with _raw_server("500-chunked") as (url, connections):
        fig = probe.run_load(url, b"{}", rate=50, duration_s=0.2, timeout_s=1, concurrency_cap=1)
    assert fig.errors == fig.requests == 10
    assert fig.error_kinds == {"HTTP 500": 10}
    assert fig.first_error == "HTTP 500: boom"
    assert len(connections) == 1
