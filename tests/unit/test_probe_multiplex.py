"""The one-thread engine's answers at the edges: a connection closed mid-answer, interim answers.

Real loopback servers that write raw bytes (no mocks): what the prober counts is what a server
that misbehaves this way would cost it.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from components import probe

_BODY = b'{"predictions": [1]}'


@contextmanager
def _raw_server(answer: bytes, *, close_after: bool) -> Iterator[str]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
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
                self.wfile.write(answer)
                if close_after:
                    return

    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/invocations"
    finally:
        srv.shutdown()
        srv.server_close()


def test_an_answer_cut_short_by_the_close_is_an_error_not_a_success() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY[:5])
    with _raw_server(cut, close_after=True) as url:
        fig = probe.run_load(url, b"{}", rate=50, duration_s=0.2, timeout_s=1, concurrency_cap=1)
    assert fig.errors == fig.requests == 10
    assert fig.error_kinds == {"IncompleteRead": 10}
    assert fig.achieved_rate == 0


def test_a_chunked_answer_cut_short_is_an_error() -> None:
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n" + _BODY[:7]
    with _raw_server(cut, close_after=True) as url:
        fig = probe.run_load(url, b"{}", rate=50, duration_s=0.2, timeout_s=1, concurrency_cap=1)
    assert fig.errors == fig.requests == 10
    assert fig.error_kinds == {"IncompleteRead": 10}


def test_an_interim_answer_is_skipped_for_the_final_one() -> None:
    final = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
    with _raw_server(b"HTTP/1.1 100 Continue\r\n\r\n" + final, close_after=False) as url:
        fig = probe.run_load(url, b"{}", rate=50, duration_s=0.2, timeout_s=1, concurrency_cap=1)
    assert fig.error_kinds == {"HTTP 503": 10}
    assert fig.first_error == "HTTP 503: busy"


def test_an_answer_that_is_not_http_is_an_error() -> None:
    with _raw_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", close_after=False) as url:
        fig = probe.run_load(url, b"{}", rate=50, duration_s=0.2, timeout_s=1, concurrency_cap=1)
    assert fig.errors == fig.requests == 10
    assert set(fig.error_kinds) == {"BadStatusLine"}
