"""``signoff listen mlflow|alertmanager``: webhook receivers that act on the contract.

::

    signoff listen alertmanager --contract C.yaml [--contract ...] --trust T.yaml --key TEAM.key
                   (--namespace NS [--kubeconfig F --context C --deadline 10m] | --alias-only)
                   [--token-file F] [--listen 0.0.0.0:8080] [--tracking-uri URI]
    signoff listen mlflow --secret-file F [--candidate-alias candidate] [--replay-window 5m]
                   --engine kfp|argo --contract ... (every `signoff submit` option but --model)

**alertmanager**: an Alertmanager webhook receiver (``POST /``, payload version 4). When an alert of
a contract's workload fires on a signal the contract lists under ``rollback.automated`` (e.g.
``accuracy_drift``), it performs the automated rollback (``components.listen``): signed record,
production alias back to the previous version, that version's promoted manifests re-applied and
waited on, the episode recorded in MLflow. Repeated and out-of-order notifications of one episode
do nothing more; alerts the contract does not automate are logged and left to the people they page.
Answers 200 when handled (also when refused on purpose: re-sending cannot help), 400 for a body
that is not a notification, 401 without the bearer token (``--token-file``), 503 when MLflow or
the API server failed in a way retrying may fix (Alertmanager re-sends).

**mlflow**: an MLflow webhook receiver (``POST /``) for ``model_version_alias.created`` (sent when
an alias is set or moved). It verifies ``X-MLflow-Signature`` (HMAC-SHA256 with the webhook's
secret), refuses timestamps outside the replay window and delivery ids it has already seen, and
answers 401 (logged) for anything that does not verify. For the contract's model, when the alias is
the candidate alias, it submits the gated-promotion pipeline for that version exactly as
``signoff submit`` does (202); other events get 200 and nothing happens.

``GET /healthz`` answers 200 on both. No mlflow, kfp or kubernetes import happens before a command
runs.
"""

from __future__ import annotations

import argparse
import collections
import copy
import io
import json
import logging
import sys
import threading
from contextlib import redirect_stdout
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from components import keys, kube
from components.listen import RollbackListener, Serving
from components.mlflow_registry import Registry
from contracts import errors
from contracts._units import Duration
from contracts.loader import load_contract, load_trust_policy
from gates import listen
from pipelines._cli import submit

_log = logging.getLogger("signoff.listen")
MAX_BODY = 4 * 1024 * 1024
"""Larger requests are refused (413): an Alertmanager notification with many alerts stays far below."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the listen subcommands."""
    parser.description = __doc__.split("::")[0].strip() if __doc__ else None
    sub = parser.add_subparsers(dest="source", metavar="SOURCE")
    am = sub.add_parser("alertmanager", help="Alertmanager receiver: automated rollback on contract alerts")
    am.add_argument(
        "--contract",
        action="append",
        required=True,
        type=Path,
        metavar="FILE",
        help="a workload contract (repeatable: one listener for several workloads)",
    )
    am.add_argument("--trust", required=True, type=Path, metavar="FILE", help="the trust policy")
    am.add_argument(
        "--key",
        required=True,
        type=Path,
        metavar="FILE",
        help="private key of the team that signs automated rollbacks (the alert's owner)",
    )
    where = am.add_mutually_exclusive_group(required=True)
    where.add_argument("--namespace", "-n", metavar="NS", help="the production namespace serving moves in")
    where.add_argument(
        "--alias-only",
        action="store_true",
        help="move the alias and record it, but leave serving alone (no cluster access)",
    )
    am.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig (default: in-cluster, then ~/.kube)")
    am.add_argument("--context", metavar="NAME")
    am.add_argument("--deadline", default="10m", metavar="DURATION", help="how long to wait for Ready")
    am.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="require 'Authorization: Bearer <the file's content>' (Alertmanager http_config)",
    )
    am.add_argument("--production-alias", default="production", metavar="ALIAS")
    am.add_argument("--rollback-alias", default="previous", metavar="ALIAS")
    am.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    _common(am)
    am.set_defaults(func=run_alertmanager)

    ml = sub.add_parser("mlflow", help="MLflow webhook receiver: submit the pipeline for a candidate version")
    ml.add_argument(
        "--secret-file",
        required=True,
        type=Path,
        metavar="FILE",
        help="the webhook's secret (the one given to MLflow's create_webhook)",
    )
    ml.add_argument(
        "--candidate-alias",
        default="candidate",
        metavar="ALIAS",
        help="the alias that makes a version a promotion candidate (default: candidate)",
    )
    ml.add_argument(
        "--replay-window",
        default="5m",
        metavar="DURATION",
        help="refuse deliveries whose timestamp is further than this from now (default 5m)",
    )
    ml.add_argument(
        "--argo-token-file",
        type=Path,
        metavar="FILE",
        help="read the Argo Server bearer token from FILE at each submission (a projected, rotating "
        "service-account token); instead of --token",
    )

    submit.configure(ml)
    for action in ml._actions:  # the webhook names the version
        if action.dest == "model":
            action.required, action.help = False, argparse.SUPPRESS
    _common(ml)
    ml.set_defaults(func=run_mlflow)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        default="127.0.0.1:8080",
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:8080; 0.0.0.0:8080 in a pod)",
    )
    if not any(a.dest == "tracking_uri" for a in parser._actions):
        parser.add_argument(
            "--tracking-uri", metavar="URI", help="MLflow tracking URI; default: $MLFLOW_TRACKING_URI"
        )


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise errors.InputError(f"--listen: {text!r} is not HOST:PORT (e.g. 0.0.0.0:8080)")
    return host.strip("[]"), int(port)


def _seconds(text: str, flag: str) -> float:

    try:
        return Duration.parse(text).seconds
    except ValueError as exc:
        raise errors.InputError(f"{flag}: {exc}") from None


def _read_secret(path: Path, flag: str) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.InputError(f"{flag}: cannot read {path}: {exc}") from None
    if not text:
        raise errors.InputError(f"{flag}: {path} is empty")
    return text


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


class _Handler(BaseHTTPRequestHandler):
    """One POST route; ``self.server.act(headers, body) -> (status, json)``."""

    server_version = "signoff-listen"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s %s", self.address_string(), format % args)

    def _answer(self, status: int, doc: dict[str, Any]) -> None:
        data = (json.dumps(doc, sort_keys=True) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?")[0] in ("/healthz", "/readyz"):
            self._answer(200, {"ok": True})
        else:
            self._answer(404, {"error": "POST / for webhooks, GET /healthz"})

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._answer(413, {"error": f"body must be 0 to {MAX_BODY} bytes"})
            return
        body = self.rfile.read(length)
        headers = {k: v for k, v in self.headers.items()}
        status, doc = self.server.act(headers, body)  # type: ignore[attr-defined]
        self._answer(status, doc)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], act: Any) -> None:
        super().__init__(address, _Handler)
        self.act = act


def _serve(address: str, act: Any, what: str) -> int:
    host, port = _address(address)
    try:
        server = _Server((host, port), act)
    except OSError as exc:
        raise errors.InputError(f"--listen {address}: cannot listen: {exc}") from None
    _log.info("listening for %s webhooks on http://%s:%d/", what, host, server.server_address[1])
    print(f"listening on http://{host}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# --------------------------------------------------------------------------------------- alertmanager


def run_alertmanager(ns: argparse.Namespace) -> int:
    """Serve the Alertmanager receiver until interrupted."""
    import hmac

    _logging()
    for path in [*ns.contract, ns.trust, ns.key]:
        if not path.is_file():
            raise errors.InputError(f"{path} is not a file")
    contracts = [load_contract(p) for p in ns.contract]
    trust = load_trust_policy(ns.trust)
    key = keys.load_private_key(ns.key)
    token = _read_secret(ns.token_file, "--token-file") if ns.token_file else None
    serving = None
    if ns.namespace:
        deadline = _seconds(ns.deadline, "--deadline")
        serving = Serving(ns.namespace, kube.load_client(ns.kubeconfig, ns.context), deadline, ns.poll)
    else:
        _log.warning("--alias-only: rollbacks move the alias; serving is NOT moved")
    listener = RollbackListener(
        contracts,
        trust,
        key,
        Registry(ns.tracking_uri),
        serving,
        production_alias=ns.production_alias,
        rollback_alias=ns.rollback_alias,
    )

    def act(headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if token is not None:
            given = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                _log.warning("refused a notification without the bearer token (401)")
                return 401, {"error": "bearer token required"}
        try:
            payload = json.loads(body)
            outcomes = listener.handle(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            _log.warning("refused a body that is not an Alertmanager notification: %s", exc)
            return 400, {"error": str(exc)}
        except errors.TemporaryError as exc:
            _log.error("temporary failure, Alertmanager will re-send: %s", exc)
            return 503, {"error": str(exc)}
        except errors.SignoffError as exc:
            _log.error("refused: %s", exc)
            return 200, {"refused": str(exc)}
        return 200, {"outcomes": [o.to_json() for o in outcomes]}

    return _serve(ns.listen, act, "Alertmanager")


# --------------------------------------------------------------------------------------------- mlflow


def run_mlflow(ns: argparse.Namespace) -> int:
    """Serve the MLflow webhook receiver until interrupted."""

    _logging()
    secret = _read_secret(ns.secret_file, "--secret-file")
    window = _seconds(ns.replay_window, "--replay-window")
    if not Path(ns.contract).is_file():
        raise errors.InputError(f"--contract: {ns.contract} is not a file")
    model = load_contract(Path(ns.contract)).metadata.model
    submit._params(_with_model(ns, f"models:/{model}/1"))  # check the documents now, not at the first event
    seen: collections.OrderedDict[str, None] = collections.OrderedDict()
    lock = threading.Lock()

    def act(headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        problem = listen.mlflow_signature_problem(
            secret=secret, headers=headers, body=body, now=datetime.now(UTC), window_s=window
        )
        if problem is not None:
            _log.warning("refused a webhook delivery (401): %s", problem)
            return 401, {"error": problem}
        delivery = {k.lower(): v for k, v in headers.items()}[listen.DELIVERY_ID_HEADER.lower()]
        with lock:
            if delivery in seen:
                _log.info("delivery %s already handled", delivery)
                return 200, {"already_handled": delivery}
            seen[delivery] = None
            while len(seen) > 10_000:  # deliveries older than the replay window are refused anyway
                seen.popitem(last=False)
            request = listen.promotion_request(
                body, candidate_alias=ns.candidate_alias, models=frozenset({model})
            )
            if isinstance(request, str):
                _log.info("delivery %s: %s", delivery, request)
                return 200, {"ignored": request}
            out = io.StringIO()
            try:
                run_ns = _with_model(ns, request.model_uri)
                if ns.argo_token_file:
                    run_ns.token = _read_secret(ns.argo_token_file, "--argo-token-file")
                with redirect_stdout(out):
                    code = submit.run(run_ns)
            except errors.TemporaryError as exc:
                seen.pop(delivery, None)  # MLflow re-sends on 5xx: let that one through
                _log.error("submitting %s failed, retrying may help: %s", request.model_uri, exc)
                return 503, {"error": str(exc)}
            except errors.SignoffError as exc:
                _log.error("submitting %s refused: %s", request.model_uri, exc)
                return 200, {"refused": str(exc)}
        text = out.getvalue().strip()
        _log.info(
            "delivery %s: %s got alias %r: submitted the gated-promotion pipeline (%s): %s",
            delivery,
            request.model_uri,
            request.alias,
            ns.engine,
            text,
        )
        return 202, {"submitted": request.model_uri, "engine": ns.engine, "exit": code, "output": text}

    return _serve(ns.listen, act, "MLflow")


def _with_model(ns: argparse.Namespace, uri: str) -> argparse.Namespace:
    out = copy.copy(ns)
    out.model = uri
    return out
