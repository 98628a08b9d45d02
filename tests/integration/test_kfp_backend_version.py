"""``signoff submit --engine kfp`` refuses a KFP backend older than the README's minimum (2.14).

STAND-IN FOR A FAULT: an old KFP backend cannot be run here (no KFP images, no cluster with one), so
a small loopback HTTP server answers ``/apis/v2beta1/healthz`` with the JSON the KFP API server
writes there (backend/src/apiserver/main.go: ``commit_sha``, ``tag_name``, ``multi_user``,
``pipeline_store``) and records every request. The client, the CLI and the check are the real ones.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines import kfp_pipeline

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
README = ROOT / "README.md"


class _Backend:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.requests: list[tuple[str, str]] = []


@pytest.fixture
def backend() -> Iterator[tuple[_Backend, str]]:
    state = _Backend("2.5.0")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            state.requests.append((self.command, self.path))
            if self.path.split("?")[0] == "/apis/v2beta1/healthz":
                body = json.dumps(
                    {"commit_sha": "0" * 40, "tag_name": state.tag, "multi_user": False,
                     "pipeline_store": "database"}
                ).encode()  # fmt: skip
                self.send_response(200)
            else:
                body = b'{"error": "not served by this stand-in", "code": 5}'
                self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _submit(signoff_exe: str, host: str) -> subprocess.CompletedProcess[str]:
    args = [
        signoff_exe, "submit", "--engine", "kfp", "--host", host,
        "--contract", str(EXAMPLES / "recsys-ranker.yaml"), "--model", "models:/recsys-ranker/3",
        "--policy", str(EXAMPLES / "cluster-policy.yaml"), "--trust", str(EXAMPLES / "trust-policy.yaml"),
        "--image", "reg/serve@sha256:" + "1" * 64, "--staging-url", "http://ranker.ml-staging.svc",
    ]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("tag", ["2.5.0", "2.13.9", "unknown"])
def test_submit_refuses_an_older_backend(backend: tuple[_Backend, str], signoff_exe: str, tag: str) -> None:
    state, host = backend
    state.tag = tag
    out = _submit(signoff_exe, host)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"is backend version {tag}" in out.stderr
    assert "needs KFP backend 2.14 or newer" in out.stderr
    assert "Traceback" not in out.stderr
    # nothing was uploaded or started
    assert all(method == "GET" and "healthz" in path for method, path in state.requests), state.requests


@pytest.mark.parametrize("tag", ["2.14.0", "2.17.0"])
def test_submit_goes_on_with_a_recent_backend(
    backend: tuple[_Backend, str], signoff_exe: str, tag: str
) -> None:
    """Past the check, the client goes on to create the run (its first call, the default experiment,
    gets the stand-in's 404: a temporary error)."""
    state, host = backend
    state.tag = tag
    out = _submit(signoff_exe, host)
    assert "needs KFP backend" not in out.stderr
    assert out.returncode == 3, out.stdout + out.stderr
    assert any("healthz" not in path for _, path in state.requests), state.requests


def test_backend_version_parses_release_tags() -> None:
    assert kfp_pipeline.backend_version("2.14.0") == (2, 14)
    assert kfp_pipeline.backend_version("v2.15.1-rc.0") == (2, 15)
    assert kfp_pipeline.backend_version("unknown") is None
    assert kfp_pipeline.backend_version("") is None


def test_readme_states_the_minimum_backend() -> None:
    want = ".".join(map(str, kfp_pipeline.MIN_BACKEND))
    assert f"KFP backend {want}" in README.read_text(encoding="utf-8")
