"""``signoff admission``: the admission policy's parts that come from the cluster policy.

    signoff admission variables --cluster-policy FILE                 # print the generated block
    signoff admission variables --cluster-policy FILE --check POLICY  # exit 1 when POLICY's is stale
    signoff admission variables --cluster-policy FILE --write POLICY  # rewrite POLICY's block

    signoff admission serve --trust-policy FILE --cluster-policy FILE --cert PEM --key PEM \
        [--host 0.0.0.0] [--port 8443]                                # the validating webhook

POLICY is ``infra/policies/require-promotion/policy.yaml``; the block is its GPU-route variables
(vendor resources, DRA device classes, GPU runtime classes, device env variables, CPU-only KServe
runtimes), rendered by :mod:`gates.admission` from ``spec.gpu_routes``. Offline.

``serve`` runs the validating admission webhook (``infra/webhook``): HTTPS, ``POST /validate``
with AdmissionReview v1 bodies, judged by :mod:`gates.admission_review` (the signed promotion the
object carries must verify against the trust policy); it runs until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contracts import errors, loader
from gates import admission

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``admission`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    var = sub.add_parser("variables", help="the policy's GPU-route variables, from the cluster policy")
    var.add_argument("--cluster-policy", required=True, metavar="FILE", help="cluster policy (.yaml)")
    mode = var.add_mutually_exclusive_group()
    mode.add_argument("--check", type=Path, metavar="POLICY", help="exit 1 when POLICY's block differs")
    mode.add_argument("--write", type=Path, metavar="POLICY", help="rewrite POLICY's block in place")
    var.set_defaults(func=_variables)

    serve = sub.add_parser("serve", help="the validating admission webhook: verify signed promotions (HTTPS)")
    serve.add_argument("--trust-policy", required=True, metavar="FILE", help="trust policy (.yaml)")
    serve.add_argument("--cluster-policy", required=True, metavar="FILE", help="cluster policy (.yaml)")
    serve.add_argument("--cert", required=True, type=Path, metavar="PEM", help="serving certificate (chain)")
    serve.add_argument("--key", required=True, type=Path, metavar="PEM", help="the certificate's private key")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=8443, help="port to listen on (default 8443; 0: any free)")
    serve.set_defaults(func=_serve)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.InputError(f"{path}: cannot read: {exc.strerror}") from None


def _variables(ns: argparse.Namespace) -> int:

    policy = loader.load_cluster_policy(ns.cluster_policy)
    target = ns.check or ns.write
    if target is None:
        sys.stdout.write(admission.variables_block(policy))
        return 0
    text = _read(target)
    try:
        new = admission.replace_block(text, policy)
    except ValueError as exc:
        raise errors.InputError(
            f"{target}: {exc}; spec.variables must hold the lines {admission.BEGIN.strip()!r} and "
            f"{admission.END.strip()!r}"
        ) from None
    if ns.check:
        if new != text:
            print(f"{target}: the generated GPU-route variables are stale; run with --write", file=sys.stderr)
            return 1
        print(f"{target}: generated GPU-route variables are current", file=sys.stderr)
        return 0
    if new != text:
        try:
            target.write_text(new, encoding="utf-8")
        except OSError as exc:
            raise errors.InputError(f"{target}: cannot write: {exc.strerror}") from None
    print(f"wrote {target}", file=sys.stderr)
    return 0


def _serve(ns: argparse.Namespace) -> int:
    import signal
    import ssl
    import threading

    from components import admission_server  # the webhook server and its models: only when serving

    trust = loader.load_trust_policy(ns.trust_policy)
    routes = loader.load_cluster_policy(ns.cluster_policy).spec.gpu_routes
    for flag, path in (("--cert", ns.cert), ("--key", ns.key)):
        if not path.is_file():
            raise errors.InputError(
                f"{flag} {path}: no such file; give the PEM file of the serving {flag[2:]}"
            )
    if not 0 <= ns.port <= 65535:
        raise errors.InputError(f"--port {ns.port}: not a TCP port (0-65535)")
    try:
        server = admission_server.WebhookServer(
            (ns.host, ns.port), trust=trust, routes=routes, cert_file=ns.cert, key_file=ns.key
        )
    except ssl.SSLError as exc:
        raise errors.InputError(
            f"--cert {ns.cert} / --key {ns.key}: not a PEM certificate and its matching private key ({exc})"
        ) from None
    except OSError as exc:
        raise errors.InputError(f"--host {ns.host} --port {ns.port}: cannot listen: {exc.strerror}") from None

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"signoff admission serve: listening on {server.url}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
