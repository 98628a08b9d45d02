"""Builders for the admission-webhook tests: a real promotion (real keys, real rendered manifests,
real envelopes), the objects the deploy step would apply, AdmissionReview bodies, and a loopback
TLS certificate authority. Nothing here is a fake; keys and certificates are made per session.
"""

from __future__ import annotations

import copy
import datetime as dt
import http.client
import ipaddress
import json
import re
import signal
import ssl
import subprocess
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import _signoff_kit as kit
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from contracts.cluster import ClusterPolicy, ServingMode
from contracts.loader import dump_yaml
from contracts.trust import Gate, TrustPolicy
from gates import admission_review, promotion, render, signing
from gates.verdict import digest_bytes

NOW = kit.NOW + timedelta(hours=1)
"""When the door is asked (an hour after the verdicts were signed)."""
IMAGE = "registry.example.com/ml/serving-runtime@sha256:" + "2" * 64


def trust() -> TrustPolicy:
    """The three owner teams; ML may also sign promotions (as in the example trust policy)."""
    return kit.trust(
        {
            kit.ML: ((Gate.ML_ARTIFACT, Gate.APPROVAL, Gate.PROMOTION), [kit.key(kit.ML)]),
            kit.PLATFORM: ((Gate.PLATFORM,), [kit.key(kit.PLATFORM)]),
            kit.SRE: ((Gate.SRE_READINESS,), [kit.key(kit.SRE)]),
        }
    )


def policy(namespace: str = "ml-prod") -> ClusterPolicy:
    """The example cluster policy, its production namespace renamed when asked."""
    data = kit.policy().model_dump(mode="json")
    data["spec"]["namespaces"]["production"]["name"] = namespace
    return ClusterPolicy.model_validate(data)


@dataclass(frozen=True)
class Promoted:
    """One promotion, as the promotion step leaves it."""

    manifests: render.Manifests
    """What platform signed."""
    deployable: render.Manifests
    """What the deploy step applies: the manifests with the record digest and the bundle."""
    promotion: bytes
    envelopes: tuple[bytes, ...]
    bundle: str

    def obj(self, kind: str) -> dict[str, Any]:
        """A deep copy of the deployable object of this kind."""
        return copy.deepcopy(next(o for o in self.deployable.objects if o["kind"] == kind))


def promote(
    mode: ServingMode = ServingMode.DEPLOYMENT,
    *,
    namespace: str = "ml-prod",
    now: dt.datetime = kit.NOW,
    ttl: timedelta = timedelta(days=7),
    manifests: render.Manifests | None = None,
) -> Promoted:
    """Render, sign the three handoffs (platform's over the manifests), promote, bundle, stamp."""
    c = kit.contract()
    model = render.ModelRef(
        name="recsys-ranker", version="7", digest=kit.DIGEST, storage_uri="s3://models/recsys-ranker/7"
    )
    rendered = render.render(c, policy(namespace), model, IMAGE, mode=mode)
    signed_manifests = manifests or rendered

    def env(gate: Gate) -> bytes:
        v = kit.verdict(gate, now=now, ttl=ttl)
        if gate is Gate.PLATFORM:
            v = v.model_copy(update={"artifacts": {"manifests": signed_manifests.digest()}})
        return signing.sign_verdict(v, kit.key(v.team))

    envelopes = tuple(env(g) for g in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS))
    record = promotion.evaluate(c, kit.subject(), list(envelopes), trust(), now)
    assert record.passed, [x.message for x in record.failures]
    penv = signing.sign_verdict(record, kit.key(kit.ML))
    bundle = admission_review.encode_bundle(c, rendered, penv, envelopes)
    deployable = render.with_promotion(rendered, digest_bytes(penv), bundle)
    return Promoted(rendered, deployable, penv, envelopes, bundle)


def request(
    obj: dict[str, Any],
    *,
    user: str = admission_review.DEPLOYER,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    uid: str = "00000000-0000-4000-8000-000000000001",
) -> dict[str, Any]:
    """An AdmissionRequest as the API server sends it (the fields the judgement reads, and more)."""
    meta = obj.get("metadata", {})
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    return {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": obj.get("kind")},
        "resource": {"group": group, "version": version, "resource": str(obj.get("kind", "")).lower() + "s"},
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "operation": operation,
        "userInfo": {"username": user, "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
    }


def review_body(req: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


# ------------------------------------------------------------------------------------------------- TLS


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def tls_files(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1",)) -> tuple[Path, Path, Path]:
    """A fresh CA and a serving certificate for ``hosts`` (IPs or DNS names): (ca.pem, tls.crt, tls.key)."""
    folder.mkdir(parents=True, exist_ok=True)
    start = dt.datetime.now(dt.UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("signoff-webhook-test-ca"))
        .issuer_name(_name("signoff-webhook-test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "tls.crt", folder / "tls.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_file, cert_file, key_file


# ---------------------------------------------------------------------------------------- the server


@dataclass
class Webhook:
    """A running ``signoff admission serve`` process on a free loopback port."""

    proc: subprocess.Popen[str]
    url: str
    ca_file: Path
    log: Path

    def stop(self) -> int:
        """SIGTERM, then the exit code (the process is killed if it does not stop in 10 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def log_lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()

    def entries(self, until: Any = None, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The decisions logged so far (JSON lines); with ``until``, wait (up to ``timeout_s``) for
        one entry it accepts: the server logs after it has answered."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [json.loads(line) for line in self.log_lines() if line.startswith("{")]
            if until is None or any(until(e) for e in found) or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def start_webhook(signoff_exe: str, folder: Path, namespace: str = "ml-prod") -> Webhook:
    """Write the trust and cluster policies and a loopback certificate into ``folder``; start the webhook."""
    folder.mkdir(parents=True, exist_ok=True)
    trust_file, policy_file = folder / "trust-policy.yaml", folder / "cluster-policy.yaml"
    trust_file.write_text(dump_yaml(trust()), encoding="utf-8")
    policy_file.write_text(dump_yaml(policy(namespace)), encoding="utf-8")
    ca_file, cert_file, key_file = tls_files(folder / "tls")
    log = folder / "webhook.log"
    cmd = [
        signoff_exe, "admission", "serve", "--trust-policy", str(trust_file), "--cluster-policy",
        str(policy_file), "--cert", str(cert_file), "--key", str(key_file), "--host", "127.0.0.1",
        "--port", "0",
    ]  # fmt: skip
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sink, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8")
        found = re.search(r"listening on (https://\S+)", text)
        if found:
            return Webhook(proc, found.group(1), ca_file, log)
        if proc.poll() is not None:
            raise RuntimeError(f"signoff admission serve exited {proc.returncode}: {text}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"signoff admission serve did not say where it listens in 30 s: {log.read_text()}")


def post(webhook: Webhook, body: bytes | dict[str, Any], path: str = "/validate") -> tuple[int, Any]:
    """POST to the webhook over TLS, trusting only its CA; (status, JSON or text)."""
    host, port = webhook.url.removeprefix("https://").split("/", 1)[0].rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(webhook.ca_file))
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        return resp.status, raw.decode()
