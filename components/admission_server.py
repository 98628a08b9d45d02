"""The validating admission webhook's HTTPS server: AdmissionReview v1 in, the judgement of
:func:`gates.admission_review.review` out.

The standard library's ``http.server`` with ``ssl`` (no framework): one thread per connection,
HTTP/1.1 keep-alive (the API server reuses its connections), bodies above :data:`MAX_BODY` refused.

Endpoints:

* ``POST /validate``: an ``admission.k8s.io/v1`` ``AdmissionReview``; answered ``200`` with the
  review's ``response`` (``uid``, ``allowed``, and a 403 ``status`` with the reason when refused).
  A body that is not an AdmissionReview v1 with a request is answered ``400``: the API server counts
  that as a failed call, and the webhook's ``failurePolicy: Fail`` refuses the object (fail closed).
* ``GET /healthz``: ``200 ok`` (the Deployment's readiness and liveness probes).

The trust policy and the cluster policy are read once at start; a changed policy needs a restart
(a rollout of the Deployment). The serving certificate and key are re-read when their files change
(cert-manager renews them in place), checked at most every :data:`CERT_RECHECK_S` seconds.

Every refusal, and every admitted object whose promotion was checked, is logged to stderr as one
JSON line (``uid``, ``kind``, ``namespace``, ``name``, ``user``, ``allowed``, ``reason``).
"""

from __future__ import annotations

import gc
import json
import os
import ssl
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from contracts.cluster import GpuRoutes
from contracts.trust import TrustPolicy
from gates import admission_review

__all__ = ["CERT_RECHECK_S", "MAX_BODY", "WebhookServer", "handle_review"]

MAX_BODY = 8 << 20
"""Request bodies above 8 MiB are refused (an AdmissionReview carries one object and its old copy)."""
CERT_RECHECK_S = 10.0
"""How often, at most, the certificate files' modification times are looked at."""


def handle_review(
    body: bytes, trust: TrustPolicy, routes: GpuRoutes, now: datetime
) -> tuple[int, dict[str, Any], admission_review.Decision | None, dict[str, Any]]:
    """Answer one POSTed body: ``(HTTP status, JSON body, decision or None when malformed, request)``."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return 400, {"error": f"the body is not JSON: {exc}"}, None, {}
    if (
        not isinstance(doc, dict)
        or doc.get("apiVersion") != "admission.k8s.io/v1"
        or doc.get("kind") != "AdmissionReview"
        or not isinstance(doc.get("request"), dict)
        or not doc["request"].get("uid")
    ):
        return (
            400,
            {"error": "the body is not an admission.k8s.io/v1 AdmissionReview with a request and uid"},
            None,
            {},
        )
    request = doc["request"]
    decision = admission_review.review(request, trust, routes, now)
    return 200, admission_review.response(request, decision), decision, request


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answers leave at once, not after the client's delayed ACK
    server: WebhookServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log (decisions are logged by :meth:`_log`)."""

    def _send(self, status: int, doc: dict[str, Any] | str) -> None:
        data = (json.dumps(doc, separators=(",", ":")) if isinstance(doc, dict) else doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if isinstance(doc, dict) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        buffered: list[bytes] = self._headers_buffer  # type: ignore[has-type]
        head = b"".join([*buffered, b"\r\n"])  # end_headers() without its flush: one write below
        self._headers_buffer = []  # type: ignore[var-annotated]
        self.wfile.write(head + data)

    def do_GET(self) -> None:
        if self.path in ("/healthz", "/readyz"):
            self._send(200, "ok")
        else:
            self._send(404, {"error": f"no such path {self.path}; POST /validate"})

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/validate":
            self._send(404, {"error": f"no such path {self.path}; POST /validate"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(411, {"error": "Content-Length required"})
            return
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(413, {"error": f"body of {length} bytes; at most {MAX_BODY} are read"})
            return
        body = self.rfile.read(length)
        server = self.server
        status, doc, decision, request = handle_review(body, server.trust, server.routes, server.clock())
        self._send(status, doc)
        if decision is not None and (decision.judged or not decision.allowed):
            server.log(request, decision)


class WebhookServer(ThreadingHTTPServer):
    """The webhook on ``(host, port)`` over TLS; :meth:`serve_forever` to run, :meth:`shutdown` to stop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        trust: TrustPolicy,
        routes: GpuRoutes,
        cert_file: Path,
        key_file: Path,
        clock: Callable[[], datetime] | None = None,
        log_stream: Any = None,
    ) -> None:
        self.trust, self.routes = trust, routes
        self.clock = clock or (lambda: datetime.now(UTC))
        self._cert, self._key = Path(cert_file), Path(key_file)
        self._stamp = self._mtimes()
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self._log_stream = log_stream if log_stream is not None else sys.stderr
        self.context = self._context()
        super().__init__(address, _Handler)
        # Long-lived objects (policies, imported modules) leave the collector's generations, so a
        # full collection does not walk them in the middle of a review.
        gc.collect()
        gc.freeze()

    def _mtimes(self) -> tuple[int, int]:
        return os.stat(self._cert).st_mtime_ns, os.stat(self._key).st_mtime_ns

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self._cert), str(self._key))
        return ctx

    def get_request(self) -> tuple[Any, Any]:
        """Accept a connection and wrap it in TLS (the handshake happens in the handler's thread)."""
        sock, addr = super().get_request()
        now = time.monotonic()
        if now - self._checked >= CERT_RECHECK_S:
            self._checked = now
            try:
                stamp = self._mtimes()
                if stamp != self._stamp:
                    self.context, self._stamp = self._context(), stamp
            except (OSError, ssl.SSLError) as exc:  # keep serving with the certificate in use
                print(f"signoff admission serve: certificate not reloaded: {exc}", file=self._log_stream)
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    @property
    def url(self) -> str:
        host, port = self.server_address[0], self.server_address[1]
        return f"https://{host!s}:{port}/validate"

    def log(self, request: dict[str, Any], decision: admission_review.Decision) -> None:
        obj: dict[str, Any] = request["object"] if isinstance(request.get("object"), dict) else {}
        meta: dict[str, Any] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        line = {
            "uid": request.get("uid"),
            "operation": request.get("operation"),
            "kind": obj.get("kind"),
            "namespace": request.get("namespace"),
            "name": meta.get("name") or meta.get("generateName"),
            "user": (request.get("userInfo") or {}).get("username"),
            "allowed": decision.allowed,
            "reason": decision.reason,
        }
        with self._lock:
            print(json.dumps(line), file=self._log_stream, flush=True)
