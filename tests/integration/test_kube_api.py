"""The faults of ``components.kube`` that a real API server cannot be made to produce on demand.

############################################################################################
#  THIS IS NOT A KUBERNETES API SERVER. Everything a real one can do is tested against a    #
#  real one: tests/cluster/test_deploy.py (apply, dry run, production check, wait, 403,     #
#  404, 422, 409, TLS, in-pod credentials, never ready, the SRE step's cluster target) and  #
#  tests/cluster/test_sre_staging.py run kube-apiserver, kube-controller-manager,           #
#  kube-scheduler and kwok from the Go build in tools/cluster.                              #
#                                                                                           #
#  What stays here is only what that server cannot be made to do when a test wants it:     #
#  answer a request, then stall before sending the reply; answer 500/503 and then recover;  #
#  and (no server at all) a port nobody listens on. For those a stdlib HTTP server on a     #
#  free 127.0.0.1 port answers the REST path the client polls with scripted statuses and    #
#  ``Status`` bodies as a real API server sends them. Each test's docstring says which      #
#  fault it fakes and why the real server cannot produce it.                                #
############################################################################################

The client is the real ``kubernetes`` package, configured from a generated kubeconfig that points
at ``http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from components import kube
from contracts.errors import TemporaryError
from contracts.loader import load_cluster_policy, load_contract
from gates.render import Manifests, ModelRef, render

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
TOKEN = "stand-in-token"
NAME = "recsys-ranker-v2"
ISVC = "/apis/serving.kserve.io/v1beta1/namespaces/ml-staging/inferenceservices/recsys-ranker-v2"


# ------------------------------------------------------------------------------------- the stand-in


@dataclass
class Seen:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    authorization: str
    body: Any


Answer = tuple[int, Any] | Callable[[], tuple[int, Any]]


@dataclass
class StandIn:
    """Scripted answers per (method, path); the last answer of a script repeats."""

    port: int = 0
    scheme: str = "http"
    scripts: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def script(self, method: str, path: str, *answers: Answer) -> None:
        self.scripts[(method, path)] = list(answers)

    def answer(self, req: Seen) -> tuple[int, Any]:
        self.seen.append(req)
        script = self.scripts.get((req.method, req.path))
        if script:
            ans = script.pop(0) if len(script) > 1 else script[0]
            return ans() if callable(ans) else ans
        if req.method == "PATCH":  # server-side apply answers with the object as stored
            return 200, req.body
        return 404, status(404, "NotFound", f"{req.path.rsplit('/', 1)[-1]!r} not found")

    def requests(self, method: str | None = None) -> list[Seen]:
        return [r for r in self.seen if method is None or r.method == method]


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    """A ``Status`` body as the API server sends with errors."""
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": reason, "code": code}  # fmt: skip


def _handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            req = Seen(
                method=self.command,
                path=url.path,
                query=dict(parse_qsl(url.query)),
                content_type=self.headers.get("Content-Type", ""),
                authorization=self.headers.get("Authorization", ""),
                body=json.loads(raw) if raw else None,
            )
            code, body = stand_in.answer(req)
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (stall)
                self.wfile.write(data)

        do_GET = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def _serving() -> Iterator[StandIn]:
    stand_in = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stand_in))
    server.daemon_threads = True
    stand_in.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api() -> Iterator[StandIn]:
    with _serving() as stand_in:
        yield stand_in


def _kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stand-in", "cluster": {"server": server}}],
            "users": [{"name": "deployer", "user": {"token": TOKEN}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "deployer"}}],
            "current-context": "stand-in",
        }),
        encoding="utf-8",
    )  # fmt: skip
    return path


@pytest.fixture
def client(api: StandIn, tmp_path: Path) -> kube.KubeClient:
    return kube.load_client(str(_kubeconfig(tmp_path, api.url)))


def _isvc(
    ready: str | None, *, generation: int = 1, observed: int = 1, url: str | None = None
) -> dict[str, Any]:
    st: dict[str, Any] = {"observedGeneration": observed}
    if ready is not None:
        st["conditions"] = [
            {"type": "PredictorReady", "status": ready},
            {"type": "Ready", "status": ready},
        ]
    if url:
        st["url"] = url
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "recsys-ranker-v2", "namespace": "ml-staging", "generation": generation},
            "status": st}  # fmt: skip


def _manifests(mode: str = "kserve", environment: str = "staging") -> Manifests:
    contract = load_contract(EXAMPLES / "recsys-ranker.yaml")
    model = ModelRef(name=contract.metadata.model, version="7", digest="sha256:" + "1" * 64,
                     storage_uri=f"s3://models/{contract.metadata.model}/7/artifacts")  # fmt: skip
    image = "registry.example.com/ml/serving-runtime@sha256:" + "2" * 64
    policy = load_cluster_policy(EXAMPLES / "cluster-policy.yaml")
    return render(contract, policy, model, image, environment=environment, mode=mode)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- wait


def _wait(
    kind: Any,
    client: kube.KubeClient,
    *,
    deadline_s: float = 30.0,
    launched_at: float | None = None,
    poll_s: float = 0.02,
) -> float | None:
    """wait_ready for the example workload in ml-staging, counting from now unless told."""
    launched = time.monotonic() if launched_at is None else launched_at
    return kube.wait_ready(kind, NAME, "ml-staging", deadline_s=deadline_s, launched_at=launched,
                           poll_s=poll_s, client=client)  # fmt: skip


def test_a_stalled_api_server_cannot_hold_the_wait_past_the_deadline(
    api: StandIn, client: kube.KubeClient
) -> None:
    """FAKED FAULT: the server reads the GET, then sleeps 6 s before answering. A real API server
    cannot be made to stall one chosen request and then answer it (stopping the process would stall
    every client of the shared test cluster, and its controllers with it)."""

    def stall() -> tuple[int, Any]:
        time.sleep(6.0)
        return 200, _isvc("True")

    api.script("GET", ISVC, stall)
    start = time.monotonic()
    cold = _wait("InferenceService", client, deadline_s=0.5, launched_at=start, poll_s=0.05)
    assert cold is None
    assert (
        time.monotonic() - start < 3.0
    )  # answers after 6 s; the request's timeouts were cut to the time left


def test_transient_500_is_tolerated_until_ready(api: StandIn, client: kube.KubeClient) -> None:
    """FAKED FAULT: 500 (etcd leader change), then 503, then Ready. A real API server answers 5xx
    only when its storage or itself fails, which a test cannot cause for exactly two requests and
    then undo without breaking the shared test cluster."""
    api.script("GET", ISVC, (500, status(500, "InternalError", "etcdserver: leader changed")),
               (503, status(503, "ServiceUnavailable", "")), (200, _isvc("True")))  # fmt: skip
    cold = _wait("InferenceService", client)
    assert cold is not None
    assert len(api.requests("GET")) == 3


def test_unreachable_api_server_waits_out_the_deadline_then_apply_is_temporary(tmp_path: Path) -> None:
    """NO SERVER: a loopback port nobody listens on (connection refused); nothing is faked."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = kube.load_client(str(_kubeconfig(tmp_path, f"http://127.0.0.1:{port}")))
    start = time.monotonic()
    assert _wait("InferenceService", client, deadline_s=0.3, poll_s=0.05) is None
    assert time.monotonic() - start < 5.0
    with pytest.raises(TemporaryError, match=f"cannot reach the API server at http://127.0.0.1:{port}"):
        kube.apply(_manifests(), namespace="ml-staging", client=client)


# ------------------------------------------------------------------------------ no server needed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("kserve://ml-staging/recsys-ranker-v2", ("InferenceService", "ml-staging", "recsys-ranker-v2")),
        ("deployment://ml-staging/fraud-scorer", ("Deployment", "ml-staging", "fraud-scorer")),
        ("local", None),
        ("http://127.0.0.1:8080", None),
        ("kserve://ml-staging/Bad_Name", None),
        ("kserve://ml-staging/a/b", None),
    ],
)
def test_cluster_target_spelling(value: str, expected: tuple[str, str, str] | None) -> None:
    from components import steps

    assert steps.cluster_target(value) == expected
