"""The HTTP client's one-shot requests against a real loopback server.

What its callers rely on: a non-2xx answer comes back as a :class:`Response` with its status, body
and reason (the Pushgateway's refusal is reported with the server's own words), a refused
connection raises one of :data:`TRANSPORT_ERRORS` (a health check reads it as "not up"), and a URL
that is not http(s) is the user's mistake.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from components import http_client
from contracts import errors


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _reply(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, body))
        status, text = (200, b"ok") if self.path.endswith("/ok") else (400, b"text format parsing error")
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_PUT = do_POST = _reply


@contextmanager
def _server() -> Iterator[str]:
    _Handler.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_fetch_returns_a_refusal_as_an_answer_with_the_servers_words() -> None:
    with _server() as base:
        ok = http_client.fetch(f"{base}/ok", timeout=5)
        refused = http_client.fetch(f"{base}/metrics/job/x", method="PUT", body=b"x 1\n", timeout=5)
    assert (ok.status, ok.body, ok.ok) == (200, b"ok", True)
    assert (refused.status, refused.body, refused.reason, refused.ok) == (
        400,
        b"text format parsing error",
        "Bad Request",
        False,
    )
    assert _Handler.seen[-1] == ("PUT", "/metrics/job/x", b"x 1\n")


def test_send_goes_to_the_path_given_on_a_connection_of_its_own() -> None:
    with _server() as base:
        target = http_client.Target.parse(base + "/prefix/")
        answer = http_client.send("POST", target, target.base + "/ok", body=b"{}", timeout=5)
        missing = http_client.send("GET", target, "/elsewhere?q=1", timeout=5)
    assert target.base == "/prefix" and answer.ok and answer.body == b"ok"
    assert missing.status == 400
    assert [(m, p) for m, p, _ in _Handler.seen] == [("POST", "/prefix/ok"), ("GET", "/elsewhere?q=1")]


def test_a_closed_port_raises_a_transport_error() -> None:
    port = http_client.free_port()  # nothing listens on it once the call returns
    with pytest.raises(http_client.TRANSPORT_ERRORS):
        http_client.fetch(f"http://127.0.0.1:{port}/health", timeout=2)
    with pytest.raises(http_client.TRANSPORT_ERRORS):
        http_client.send("GET", http_client.Target.parse(f"http://127.0.0.1:{port}"), "/", timeout=2)


@pytest.mark.parametrize("url", ["ftp://host/x", "127.0.0.1:5000", "http://:80", "http://host:99999"])
def test_a_url_that_is_not_http_is_the_users_mistake(url: str) -> None:
    with pytest.raises(errors.InputError, match="http"):
        http_client.Target.parse(url)


def test_request_path_keeps_the_query() -> None:
    assert http_client.request_path("http://h:1/v2/models/m/infer?x=1") == "/v2/models/m/infer?x=1"
    assert http_client.request_path("http://h:1") == "/"
    assert http_client.join("http://h:1/base/", "/ping") == "http://h:1/base/ping"
