"""The cluster path (``components.kube``, ``signoff deploy``) against a STAND-IN for the API server.

############################################################################################
#  THIS IS NOT A KUBERNETES API SERVER. None can run where this project is built and tested #
#  (no container engine, no kind/k3d, no envtest binaries to download), so the tests start  #
#  a small stdlib HTTP server on a free 127.0.0.1 port that answers the few REST paths the  #
#  client uses, with the status codes and ``Status`` bodies a real API server sends.        #
#                                                                                           #
#  What it checks is the CLIENT's side of the wire, as a real API server would receive it:  #
#  the exact paths (group, version, namespace, plural, name), the method, the content type  #
#  ``application/apply-patch+yaml``, ``fieldManager=signoff``, ``force=false``,             #
#  ``dryRun=All``, the bearer token from the kubeconfig, the body of each object, and the   #
#  order of the requests. What it cannot check: admission, defaulting, field ownership and  #
#  real controllers; those need a cluster (``signoff deploy --dry-run`` there first).       #
############################################################################################

The client is the real ``kubernetes`` package, configured from a generated kubeconfig that points
at ``http://127.0.0.1:PORT``. Statuses that change over time (not ready, then Ready) are scripted
per path; faults (403, 404, 409, 500, a stalled answer, a closed port) are what the stand-in really
answers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
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
from contracts.errors import ConflictError, InputError, PermanentError, TemporaryError
from contracts.loader import load_cluster_policy, load_contract
from gates.render import ANNOTATION_PROMOTION, Manifests, ModelRef, render, with_promotion
from pipelines._cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
TOKEN = "stand-in-token"
RECORD = "sha256:" + "3" * 64
NAME = "recsys-ranker-v2"
ISVC = "/apis/serving.kserve.io/v1beta1/namespaces/ml-staging/inferenceservices/recsys-ranker-v2"
DEPLOY = "/apis/apps/v1/namespaces/ml-staging/deployments/recsys-ranker-v2"


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
def _serving(tls: ssl.SSLContext | None = None) -> Iterator[StandIn]:
    stand_in = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stand_in))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        stand_in.scheme = "https"
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


def _kubeconfig(tmp_path: Path, server: str, *, ca_pem: bytes | None = None) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stand-in", "cluster": cluster}],
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


def test_inferenceservice_ready_after_polls_gives_the_cold_start(
    api: StandIn, client: kube.KubeClient
) -> None:
    api.script(
        "GET", ISVC, (200, _isvc(None)), (200, _isvc("False")), (200, _isvc("Unknown")), (200, _isvc("True"))
    )
    launched = time.monotonic() - 5.0  # the apply started 5 s ago
    cold = _wait("InferenceService", client, deadline_s=60, launched_at=launched)
    assert cold is not None and cold >= 5.0 + 3 * 0.02  # counted from launch, three polls not ready
    gets = api.requests("GET")
    assert [r.path for r in gets] == [ISVC] * 4
    assert all(r.authorization == f"Bearer {TOKEN}" for r in gets)


def test_previous_versions_ready_does_not_count(api: StandIn, client: kube.KubeClient) -> None:
    """Right after an apply the status still describes the old spec: observedGeneration < generation."""
    api.script(
        "GET",
        ISVC,
        (200, _isvc("True", generation=2, observed=1)),
        (200, _isvc("True", generation=2, observed=2)),
    )
    cold = _wait("InferenceService", client)
    assert cold is not None
    assert len(api.requests("GET")) == 2


def _deployment(ready: int, updated: int, *, replicas: int = 2, observed: int = 3) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "recsys-ranker-v2", "namespace": "ml-staging", "generation": 3},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated,
                       "readyReplicas": ready}}  # fmt: skip


def test_deployment_ready_when_every_replica_is_updated_and_ready(
    api: StandIn, client: kube.KubeClient
) -> None:
    api.script(
        "GET", DEPLOY,
        (200, _deployment(2, 2, observed=2)),  # the old rollout, fully ready: not this one
        (200, _deployment(2, 1)),  # one new pod, old ones still ready
        (200, _deployment(1, 2)),
        (200, _deployment(2, 2)),
    )  # fmt: skip
    cold = _wait("Deployment", client)
    assert cold is not None
    assert len(api.requests("GET")) == 4


def test_never_ready_returns_none_at_the_deadline(api: StandIn, client: kube.KubeClient) -> None:
    api.script("GET", ISVC, (200, _isvc("False")))
    start = time.monotonic()
    cold = _wait("InferenceService", client, deadline_s=0.6, launched_at=start, poll_s=0.05)
    assert cold is None
    assert time.monotonic() - start < 5.0  # bounded: the deadline plus at most one cut-short request
    assert len(api.requests("GET")) >= 2


def test_a_stalled_api_server_cannot_hold_the_wait_past_the_deadline(
    api: StandIn, client: kube.KubeClient
) -> None:
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
    api.script("GET", ISVC, (500, status(500, "InternalError", "etcdserver: leader changed")),
               (503, status(503, "ServiceUnavailable", "")), (200, _isvc("True")))  # fmt: skip
    cold = _wait("InferenceService", client)
    assert cold is not None
    assert len(api.requests("GET")) == 3


def test_unreachable_api_server_waits_out_the_deadline_then_apply_is_temporary(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = kube.load_client(str(_kubeconfig(tmp_path, f"http://127.0.0.1:{port}")))
    start = time.monotonic()
    assert _wait("InferenceService", client, deadline_s=0.3, poll_s=0.05) is None
    assert time.monotonic() - start < 5.0
    with pytest.raises(TemporaryError, match=f"cannot reach the API server at http://127.0.0.1:{port}"):
        kube.apply(_manifests(), namespace="ml-staging", client=client)


def test_forbidden_names_the_identity_the_verb_and_the_resource(
    api: StandIn, client: kube.KubeClient
) -> None:
    said = ('inferenceservices.serving.kserve.io "recsys-ranker-v2" is forbidden: User '
            '"system:serviceaccount:signoff-system:signoff-ml-step" cannot get resource '
            '"inferenceservices" in API group "serving.kserve.io" in the namespace "ml-staging"')  # fmt: skip
    api.script("GET", ISVC, (403, status(403, "Forbidden", said)))
    with pytest.raises(PermanentError) as err:
        _wait("InferenceService", client)
    msg = str(err.value)
    assert "kubeconfig user 'deployer'" in msg
    assert "may not 'get' inferenceservices.serving.kserve.io in namespace 'ml-staging'" in msg
    assert "system:serviceaccount:signoff-system:signoff-ml-step" in msg  # the server's own words
    assert len(api.requests("GET")) == 1  # no retry of a refusal


def test_forbidden_apply_names_patch_and_stops_at_that_object(api: StandIn, client: kube.KubeClient) -> None:
    path = "/apis/networking.k8s.io/v1/namespaces/ml-staging/networkpolicies/recsys-ranker-v2-serving"
    api.script("PATCH", path, (403, status(403, "Forbidden", "cannot patch")))
    with pytest.raises(PermanentError, match=r"may not 'patch' networkpolicies\.networking\.k8s\.io"):
        kube.apply(_manifests(), namespace="ml-staging", client=client)
    assert api.requests("PATCH")[-1].path == path


def test_not_found_is_an_input_error(api: StandIn, client: kube.KubeClient) -> None:
    with pytest.raises(
        InputError, match="InferenceService 'recsys-ranker-v2' not found in namespace 'ml-staging'"
    ):
        _wait("InferenceService", client)


# ------------------------------------------------------------------------------------------ apply


@pytest.mark.parametrize("mode", ["kserve", "deployment"])
def test_apply_sends_one_server_side_apply_per_object_in_order(
    api: StandIn, client: kube.KubeClient, mode: str
) -> None:
    manifests = _manifests(mode)
    applied = kube.apply(manifests, namespace="ml-staging", client=client)
    expected = [f"{o['kind']}/{o['metadata']['name']}" for o in manifests.objects]
    assert applied == expected
    patches = api.requests("PATCH")
    assert len(patches) == len(manifests.objects) == len(api.seen)
    for req, obj in zip(patches, manifests.objects, strict=True):
        version, plural = kube.KINDS[obj["kind"]]
        base = "/api/v1" if version == "v1" else f"/apis/{version}"
        assert req.path == f"{base}/namespaces/ml-staging/{plural}/{obj['metadata']['name']}"
        assert req.content_type == "application/apply-patch+yaml"
        assert req.query == {"fieldManager": "signoff", "force": "false"}
        assert req.authorization == f"Bearer {TOKEN}"
        assert req.body == obj  # the object itself, namespace included


def test_dry_run_passes_dry_run_all(api: StandIn, client: kube.KubeClient) -> None:
    kube.apply(_manifests(), namespace="ml-staging", dry_run=True, field_manager="release-bot", client=client)
    assert {tuple(sorted(r.query.items())) for r in api.requests("PATCH")} == {
        (("dryRun", "All"), ("fieldManager", "release-bot"), ("force", "false"))
    }


def test_field_conflict_is_a_conflict_error(api: StandIn, client: kube.KubeClient) -> None:
    api.script("PATCH", ISVC, (409, status(409, "Conflict", 'Apply failed with 1 conflict: conflict with '
                                           '"kubectl-edit": .spec.predictor.minReplicas')))  # fmt: skip
    with pytest.raises(ConflictError, match="kubectl-edit"):
        kube.apply(_manifests(), namespace="ml-staging", client=client)


@pytest.mark.parametrize("record", [None, "", "yes", "sha256:abc"])
@pytest.mark.parametrize("mode", ["kserve", "deployment"])
def test_production_apply_refused_without_promotion_record_and_nothing_is_sent(
    api: StandIn, client: kube.KubeClient, record: str | None, mode: str
) -> None:
    objects = [dict(o) for o in _manifests(mode, environment="production").objects]
    if record is not None:
        for obj in objects:
            if obj["kind"] in ("InferenceService", "Deployment"):
                obj["metadata"] = {**obj["metadata"], "annotations": {ANNOTATION_PROMOTION: record}}
    with pytest.raises(PermanentError, match="refusing to apply to production namespace 'ml-prod'") as err:
        kube.apply(Manifests(objects=tuple(objects)), namespace="ml-prod", client=client)
    assert ANNOTATION_PROMOTION in str(err.value)
    assert api.seen == []


def test_production_apply_of_promoted_manifests_goes_through(api: StandIn, client: kube.KubeClient) -> None:
    promoted = with_promotion(_manifests(environment="production"), RECORD)
    applied = kube.apply(promoted, namespace="ml-prod", client=client)
    assert len(applied) == len(api.requests("PATCH")) == len(promoted.objects)


def test_any_namespace_can_be_declared_production_but_ml_prod_cannot_be_declared_not(
    api: StandIn, client: kube.KubeClient
) -> None:
    with pytest.raises(PermanentError, match="promotion record"):
        kube.apply(_manifests(), namespace="ml-staging", production=True, client=client)
    with pytest.raises(PermanentError, match="promotion record"):
        kube.apply(_manifests(environment="production"), namespace="ml-prod", production=False, client=client)
    assert api.seen == []


def test_objects_for_another_namespace_or_of_unknown_kinds_are_refused_before_sending(
    api: StandIn, client: kube.KubeClient
) -> None:
    with pytest.raises(InputError, match="is for namespace 'ml-staging', not 'other'"):
        kube.apply(_manifests(), namespace="other", client=client)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}
    with pytest.raises(InputError, match="kind 'Secret' is not one signoff deploys"):
        kube.apply(Manifests(objects=(secret,)), namespace="ml-staging", client=client)
    sneaky = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "../../secrets/x"}}
    with pytest.raises(InputError, match="not a DNS-1123 name"):
        kube.apply(Manifests(objects=(sneaky,)), namespace="ml-staging", client=client)
    assert api.seen == []


# -------------------------------------------------------------------------------------------- url


def test_staging_url_of_inferenceservice_and_deployment(api: StandIn, client: kube.KubeClient) -> None:
    api.script("GET", ISVC, (200, _isvc("True", url="https://recsys-ranker-v2.ml-staging.example.com")))
    assert kube.staging_url("InferenceService", "recsys-ranker-v2", "ml-staging", client=client) == (
        "https://recsys-ranker-v2.ml-staging.example.com"
    )
    service = next(o for o in _manifests("deployment").objects if o["kind"] == "Service")
    api.script("GET", "/api/v1/namespaces/ml-staging/services/recsys-ranker-v2", (200, service))
    assert kube.staging_url("Deployment", "recsys-ranker-v2", "ml-staging", client=client) == (
        "http://recsys-ranker-v2.ml-staging.svc.cluster.local"
    )
    api.script("GET", ISVC, (200, _isvc("False")))
    with pytest.raises(TemporaryError, match=r"no status\.url yet"):
        kube.staging_url("InferenceService", "recsys-ranker-v2", "ml-staging", client=client)


# -------------------------------------------------------------------------------------------- CLI


def test_signoff_deploy_applies_waits_and_prints_the_url(
    api: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = _manifests()
    (tmp_path / "manifests.yaml").write_text(manifests.to_yaml(), encoding="utf-8")
    api.script("GET", ISVC, (200, _isvc("False")), (200, _isvc("True", url="http://ranker.example")))
    rc = cli.main(["deploy", str(tmp_path / "manifests.yaml"), "--namespace", "ml-staging",
                   "--kubeconfig", str(_kubeconfig(tmp_path, api.url)), "--wait", "--deadline", "30s",
                   "--poll", "0.02"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "applied InferenceService/recsys-ranker-v2 in ml-staging" in out
    assert out.count("applied ") == len(manifests.objects)
    assert "ready     InferenceService/recsys-ranker-v2 after" in out
    assert "url       http://ranker.example" in out


def test_signoff_deploy_not_ready_by_the_deadline_exits_1(
    api: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.yaml").write_text(_manifests().to_yaml(), encoding="utf-8")
    api.script("GET", ISVC, (200, _isvc("False")))
    kubeconfig = str(_kubeconfig(tmp_path, api.url))
    rc = cli.main(["deploy", str(tmp_path / "m.yaml"), "-n", "ml-staging", "--kubeconfig", kubeconfig,
                   "--wait", "--deadline", "300ms", "--poll", "0.05"])  # fmt: skip
    assert rc == 1
    assert "InferenceService/recsys-ranker-v2 was not ready within 300ms" in capsys.readouterr().err


def test_signoff_deploy_to_production_without_record_exits_1_and_sends_nothing(
    api: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.yaml").write_text(_manifests(environment="production").to_yaml(), encoding="utf-8")
    rc = cli.main(["deploy", str(tmp_path / "m.yaml"), "-n", "ml-prod", "--dry-run",
                   "--kubeconfig", str(_kubeconfig(tmp_path, api.url))])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1
    assert "signoff: refused: refusing to apply to production namespace 'ml-prod'" in err
    assert "Traceback" not in err
    assert api.seen == []


# -------------------------------------------------------------------------------------------- TLS


def _self_signed(tmp_path: Path, name: str) -> tuple[bytes, ssl.SSLContext]:
    """A CA-less self-signed certificate for 127.0.0.1 and a server context that uses it."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / f"{name}.crt").write_bytes(pem)
    (tmp_path / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / f"{name}.crt", tmp_path / f"{name}.key")
    return pem, ctx


def test_https_with_the_kubeconfig_ca_and_a_wrong_ca_is_refused_for_good(tmp_path: Path) -> None:
    pem, ctx = _self_signed(tmp_path, "apiserver")
    other_pem, _ = _self_signed(tmp_path, "someone-else")
    with _serving(ctx) as api:
        good = kube.load_client(str(_kubeconfig(tmp_path, api.url, ca_pem=pem)))
        assert kube.apply(_manifests(), namespace="ml-staging", client=good)
        assert api.requests("PATCH")[0].authorization == f"Bearer {TOKEN}"
        wrong = kube.load_client(str(_kubeconfig(tmp_path, api.url, ca_pem=other_pem)))
        with pytest.raises(PermanentError, match=r"TLS with the API server at https://127\.0\.0\.1"):
            kube.apply(_manifests(), namespace="ml-staging", client=wrong)


def test_in_a_pod_the_service_account_token_is_sent_and_named_on_403(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-cluster path end to end: host from the environment, CA and token from the pod's files."""
    pem, ctx = _self_signed(tmp_path, "apiserver")
    claims = {"sub": "system:serviceaccount:signoff-system:signoff-sre-step"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    token = f"eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln"
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(token, encoding="utf-8")
    (sa / "ca.crt").write_bytes(pem)
    monkeypatch.setattr(kube, "_SA_DIR", sa)
    with _serving(ctx) as api:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(api.port))
        api.script("PATCH", ISVC.replace("ml-staging", "ml-prod"), (403, status(403, "Forbidden", "no")))
        promoted = with_promotion(_manifests(environment="production"), RECORD)
        with pytest.raises(PermanentError) as err:
            kube.apply(promoted, namespace="ml-prod")  # no client: load_client() finds the pod's
        assert "service account signoff-system/signoff-sre-step may not 'patch' " in str(err.value)
        assert "inferenceservices.serving.kserve.io in namespace 'ml-prod'" in str(err.value)
        assert {r.authorization.lower() for r in api.seen} == {f"bearer {token}".lower()}  # scheme: any case


# ------------------------------------------------------------------ the SRE step's cluster target


def test_sre_step_cluster_target_waits_for_ready_then_probes_its_url(
    api: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kserve://ml-staging/NAME``: the SRE step polls until Ready and probes the status URL."""
    from components.steps import sre_readiness

    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path, api.url)))
    url = "https://recsys-ranker-v2.ml-staging.example.com"
    api.script("GET", ISVC, (200, _isvc("False")), (200, _isvc("True", url=url)))
    target = f"kserve://ml-staging/{NAME}"
    with sre_readiness._endpoint(target, "models:/recsys-ranker/7", "http://unused", deadline_s=30) as (
        got,
        launched_at,
        alive,
        _,
    ):
        assert got == url
        assert launched_at is not None and launched_at <= time.monotonic()
        assert alive is None
    assert [r.path for r in api.requests("GET")] == [ISVC] * 3  # two polls, then the URL


def test_sre_step_cluster_target_never_ready_yields_no_url_at_the_deadline(
    api: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.steps import sre_readiness

    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path, api.url)))
    api.script("GET", ISVC, (200, _isvc("False")))
    started = time.monotonic()
    with sre_readiness._endpoint(
        f"kserve://ml-staging/{NAME}", "models:/m/1", "http://unused", deadline_s=2
    ) as (
        got,
        _,
        _,
        _,
    ):
        assert got is None
    assert time.monotonic() - started < 10


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
    from components.steps import sre_readiness

    assert sre_readiness.cluster_target(value) == expected
