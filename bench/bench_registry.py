"""Benchmark of signoff's promotion in the MLflow registry, next to a bare alias move in the same run.

Starts one real ``mlflow server`` (sqlite, one worker, loopback; ``components.local_tracking``) and
puts a tiny counting HTTP proxy in front of it, so every HTTP round trip the client makes is counted
(the proxy forwards each request unchanged over a fresh connection and counts it; it adds the same
small cost to the baseline and to the promotion). Measured:

* HTTP round trips and time of one promotion next to one bare
  ``MlflowClient.set_registered_model_alias`` on the same model (MlflowClient's alias move is 2 round
  trips: it first reads the model to refuse prompts). The promotion's 10 requests: the version read
  (once: the step passes the same read to ``promote``), the lock, the production alias read, the
  signed envelope (before any alias moves), the rollback alias, the production alias, the record,
  the two alias tags (what signoff put behind each alias, for the audit), the release. Each write is
  a sqlite commit on the server (the bulk of the time); the guarantees that set this floor are in
  ``components.mlflow_registry``'s docstring;
* the promotion time for a model with 1 version and with 500 versions: it reads and writes only the
  promoted version and one alias, so it must not grow with the number of versions (both are
  first-release promotions: production is unset, untimed, before each). The server's own cost per
  request grows somewhat with the versions of a model (its sqlite store; measured here too, as the
  bare alias move on both models), the number of requests of a promotion does not.

Versions are created directly in the server's sqlite store (setup, not measured). Run with
``python -m bench.bench_registry``; ``main()`` returns the rows for ``bench/run_all.py``.
"""

from __future__ import annotations

import http.client
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPEAT = 7
MANY = 500
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


class CountingProxy:
    """Forward HTTP requests to ``upstream`` (host:port) and count them."""

    def __init__(self, upstream_port: int) -> None:
        self.count = 0
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                with lock:
                    proxy.count += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _promotion_envelope(key: Any, name: str, version: str, n: int) -> bytes:
    from contracts.trust import Gate
    from gates.signing import sign_verdict
    from gates.verdict import Check, Outcome, Subject, Verdict

    verdict = Verdict.decide(
        gate=Gate.PROMOTION,
        team="bench-ml",
        checks=[Check(id="gate.all", outcome=Outcome.PASS, message=f"bench promotion {n}")],
        subject=Subject(model=name, version=version, digest="sha256:" + "0" * 64),
        contract_digest="sha256:" + "1" * 64,
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    return sign_verdict(verdict, key)


def main() -> list[dict[str, Any]]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from mlflow import MlflowClient

    from components import local_tracking
    from components.mlflow_registry import Registry

    # No job runner in the benchmark server (a dozen worker processes the registry never uses).
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory(prefix="signoff-bench-registry-") as tmp:
        server = local_tracking.start(Path(tmp))
        proxy = CountingProxy(int(server.url.rsplit(":", 1)[1]))
        try:
            store = MlflowClient(tracking_uri=server.backend_uri, registry_uri=server.backend_uri)
            for name, count in (("bench-one", 1), ("bench-many", MANY)):
                store.create_registered_model(name)
                for _ in range(count):
                    store.create_model_version(name, "mlflow-artifacts:/bench/model", await_creation_for=0)
            client = MlflowClient(tracking_uri=proxy.url, registry_uri=proxy.url)
            registry = Registry(proxy.url)

            def timed_promote(name: str, version: str, n: int) -> tuple[float, int]:
                env = _promotion_envelope(key, name, version, n)
                before = proxy.count
                t0 = time.perf_counter()
                registry.promote(name, version, promotion_envelope=env)
                return time.perf_counter() - t0, proxy.count - before

            def reset(name: str) -> None:
                """Untimed: production unset again, so the next promotion is a first release."""
                store.delete_registered_model_alias(name, "production")
                store.delete_registered_model_tag(name, "signoff.alias.production")

            # Warm both paths (connections, server caches) before timing.
            client.set_registered_model_alias("bench-one", "warm", "1")
            timed_promote("bench-one", "1", 0)
            reset("bench-one")

            # A full promotion (lock, record, rollback alias, production alias, complete, unlock):
            # bench-many alternates between its last two versions; the bare move on the same model.
            bare_s: list[float] = []
            bare_n: list[int] = []
            full_s: list[float] = []
            full_n: list[int] = []
            for i in range(REPEAT):
                before = proxy.count
                t0 = time.perf_counter()
                client.set_registered_model_alias("bench-many", "bare", "1")
                bare_s.append(time.perf_counter() - t0)
                bare_n.append(proxy.count - before)
                secs, reqs = timed_promote("bench-many", str(MANY - i % 2), 100 + i)
                full_s.append(secs)
                full_n.append(reqs)
            reset("bench-many")

            # First-release promotions of a model with 1 version and one with 500, alternated so a
            # change in machine load hits both alike.
            one_s: list[float] = []
            one_n: list[int] = []
            many_s: list[float] = []
            many_n: list[int] = []
            bare_one: list[float] = []
            bare_many: list[float] = []
            for i in range(1, REPEAT + 1):
                for name, version, secs_list, reqs_list in (
                    ("bench-one", "1", one_s, one_n),
                    ("bench-many", str(MANY), many_s, many_n),
                ):
                    secs, reqs = timed_promote(name, version, i)
                    secs_list.append(secs)
                    reqs_list.append(reqs)
                    reset(name)
                    t0 = time.perf_counter()
                    client.set_registered_model_alias(name, "bare", version)
                    (bare_one if name == "bench-one" else bare_many).append(time.perf_counter() - t0)
        finally:
            proxy.close()
            server.stop()

    bare_ms = statistics.median(bare_s) * 1000
    full_ms = statistics.median(full_s) * 1000
    one_ms = statistics.median(one_s) * 1000
    many_ms = statistics.median(many_s) * 1000
    rows = [
        {
            "benchmark": "registry: HTTP round trips of one promotion vs a bare set_registered_model_alias",
            "figure": statistics.median(full_n),
            "baseline": statistics.median(bare_n),
            "ratio": statistics.median(full_n) / statistics.median(bare_n),
            "unit": "requests",
        },
        {
            "benchmark": f"registry: one promotion vs a bare set_registered_model_alias (median of {REPEAT})",
            "figure": round(full_ms, 1),
            "baseline": round(bare_ms, 1),
            "ratio": round(full_ms / bare_ms, 2),
            "unit": "ms",
        },
        {
            "benchmark": f"registry: promotion, model with {MANY} versions vs with 1 (median of {REPEAT})",
            "figure": round(many_ms, 1),
            "baseline": round(one_ms, 1),
            "ratio": round(many_ms / one_ms, 2),
            "unit": "ms",
        },
        {
            "benchmark": f"registry: MLflow's own bare alias move, model with {MANY} versions vs with 1",
            "figure": round(statistics.median(bare_many) * 1000, 1),
            "baseline": round(statistics.median(bare_one) * 1000, 1),
            "ratio": round(statistics.median(bare_many) / statistics.median(bare_one), 2),
            "unit": "ms",
        },
        {
            "benchmark": f"registry: HTTP round trips of a promotion, {MANY} versions vs 1",
            "figure": statistics.median(many_n),
            "baseline": statistics.median(one_n),
            "ratio": statistics.median(many_n) / statistics.median(one_n),
            "unit": "requests",
        },
    ]
    return rows


if __name__ == "__main__":
    for row in main():
        print(
            f"{row['benchmark']}: {row['figure']} {row['unit']} "
            f"(baseline {row['baseline']} {row['unit']}, ratio {row['ratio']})"
        )
