"""The live probe against loopback servers that break the SLOs in known ways.

Each server is a real stdlib ``ThreadingHTTPServer`` on 127.0.0.1 that answers the MLflow scoring
protocol (``/ping``, ``/invocations``) or KServe v2; the fault (added latency, 5xx, never ready)
is what the server really does, not a mock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import probe
from contracts.workload import WorkloadContract
from gates.evidence import ProbeResult
from pipelines._cli import main as cli

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = {"dataframe_split": {"columns": ["a", "b"], "data": [[0.0, 1.0]]}}


def _contract_data(**slos: Any) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "contracts" / "examples" / "recsys-ranker.yaml").read_text())
    data["spec"]["slos"] = {"p99_latency": "100ms", "p50_latency": "50ms", "availability": "99%",
                            "max_cold_start": "3s", "throughput_per_replica": 20, **slos}  # fmt: skip
    return data


def _contract(**slos: Any) -> WorkloadContract:
    return WorkloadContract.model_validate(_contract_data(**slos))


def _cli(url: str, tmp_path: Path, *extra: str, **slos: Any) -> list[str]:
    """``signoff probe URL`` arguments with a contract file and the example file written to tmp_path."""
    contract, example = tmp_path / "contract.yaml", tmp_path / "example.json"
    contract.write_text(yaml.safe_dump(_contract_data(**slos)))
    example.write_text(json.dumps(EXAMPLE))
    return ["probe", url, "--contract", str(contract), "--example", str(example), *extra]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the prober closed a connection it gave up on: expected in these tests


Route = Callable[[str, bytes], tuple[int, dict[str, Any] | None]]


@contextmanager
def _server(route: Route) -> Iterator[str]:
    """Serve ``route(path, body) -> (status, json)``; ``None`` json means: never answer (hang)."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, body: bytes) -> None:
            status, payload = route(self.path, body)
            if payload is None:
                release.wait(30)
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(b"")

        def do_POST(self) -> None:
            self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    srv = _QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        release.set()
        srv.shutdown()
        srv.server_close()


def _mlflow_like(delay_s: float = 0.0, status: int = 200) -> Route:
    def route(path: str, body: bytes) -> tuple[int, dict[str, Any] | None]:
        if path == "/ping":
            return 200, {}
        if path == "/invocations":
            assert json.loads(body) == EXAMPLE
            time.sleep(delay_s)
            return (
                (status, {"predictions": [0]}) if status < 300 else (status, {"error_code": "INTERNAL_ERROR"})
            )
        return 404, {}

    return route


def _probe(url: str, contract: WorkloadContract, **kw: Any) -> ProbeResult:
    return probe.probe(url, contract, example=EXAMPLE, protocol="mlflow", model_name="m", **kw)


def test_a_fast_server_passes() -> None:
    contract = _contract()
    with _server(_mlflow_like()) as url:
        result = _probe(url, contract, duration_s=1.5)
    assert result.requests == 30 and result.errors == 0
    assert probe.passed(result, contract), probe.report_markdown(result, contract)


def test_300ms_added_latency_fails_p99_with_the_measured_figure(tmp_path: Path, capsys: Any) -> None:
    contract = _contract()
    with _server(_mlflow_like(delay_s=0.3)) as url:
        result = _probe(url, contract, duration_s=1.5)
        code = cli.main(_cli(url, tmp_path, "--duration", "1", "--json", str(tmp_path / "out.json")))
    assert result.errors == 0
    assert result.p99_ms is not None and 300 <= result.p99_ms < 1000
    rows = {r.check: r for r in probe.slo_rows(result, contract)}
    assert not rows["p99 latency"].ok
    assert rows["p99 latency"].measured == f"{result.p99_ms:.1f} ms"
    assert rows["error rate"].ok and rows["cold start"].ok
    assert code == 1
    saved = ProbeResult.model_validate_json((tmp_path / "out.json").read_text())
    assert saved.p99_ms is not None and 300 <= saved.p99_ms < 1000
    assert f"| p99 latency | {saved.p99_ms:.1f} ms | ≤ 100ms | FAIL |" in capsys.readouterr().out


def test_5xx_answers_fail_on_errors(tmp_path: Path, capsys: Any) -> None:
    contract = _contract()
    with _server(_mlflow_like(status=503)) as url:
        result = _probe(url, contract, duration_s=1)
        code = cli.main(_cli(url, tmp_path, "--duration", "1", "--report", str(tmp_path / "report.md")))
    assert result.errors == result.requests == 20
    assert result.error_kinds == {"HTTP 503": 20}
    assert result.first_error is not None and "INTERNAL_ERROR" in result.first_error
    rows = {r.check: r.ok for r in probe.slo_rows(result, contract)}
    assert rows["error rate"] is False and rows["p99 latency"] is True
    assert code == 1
    assert "| error rate | 100.000% (20/20) | ≤ 1.000% | FAIL |" in (tmp_path / "report.md").read_text()
    assert "HTTP 503" in capsys.readouterr().out


@pytest.mark.parametrize("how", ["503", "hang"])
def test_never_ready_fails_at_the_cold_start_deadline_without_hanging(how: str, tmp_path: Path) -> None:
    def never_ready(path: str, body: bytes) -> tuple[int, dict[str, Any] | None]:
        if path == "/ping":
            return (503, {"status": "loading"}) if how == "503" else (200, None)  # None: never answers
        return 200, {"predictions": [0]}

    contract = _contract(max_cold_start="2s")
    with _server(never_ready) as url:
        started = time.monotonic()
        result = _probe(url, contract, launched_at=time.monotonic(), duration_s=5)
        elapsed = time.monotonic() - started
        code = cli.main(_cli(url, tmp_path, max_cold_start="2s"))
        cli_elapsed = time.monotonic() - started - elapsed
    assert not result.ready and result.requests == 0
    assert result.cold_start_deadline_s == 2.0
    assert 1.9 <= elapsed < 4.5
    rows = {r.check: r for r in probe.slo_rows(result, contract)}
    assert not rows["cold start"].ok and rows["cold start"].measured == "not ready after 2 s"
    assert code == 1 and cli_elapsed < 6


def test_kserve_v2_server_gets_tensors_at_its_paths() -> None:
    seen: list[str] = []

    def kserve(path: str, body: bytes) -> tuple[int, dict[str, Any] | None]:
        seen.append(path)
        if path == "/v2/models/ranker/ready":
            return 200, {}
        if path == "/v2/models/ranker/infer":
            assert json.loads(body)["inputs"] == [  # one tensor per named column
                {"name": "a", "shape": [1], "datatype": "FP64", "data": [0.0]},
                {"name": "b", "shape": [1], "datatype": "FP64", "data": [1.0]},
            ]
            out = {"name": "out", "shape": [1], "datatype": "INT64", "data": [0]}
            return 200, {"model_name": "ranker", "outputs": [out]}
        return 404, {}

    contract = _contract()
    with _server(kserve) as url:
        result = probe.probe(url, contract, example=EXAMPLE, protocol="kserve-v2", model_name="ranker",
                             duration_s=1)  # fmt: skip
    assert result.errors == 0 and result.requests == 20
    assert probe.passed(result, contract)
    assert set(seen) == {"/v2/models/ranker/ready", "/v2/models/ranker/infer"}
