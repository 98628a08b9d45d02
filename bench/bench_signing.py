"""Envelope verification: ``gates.signing.verify_envelope`` next to a bare ``cryptography`` Ed25519 verify
and next to securesystemslib's own DSSE verify (``Envelope.from_dict(json.loads(...)).verify``).

All three verify the same signature over the same DSSE pre-authentication encoding; signoff adds strict
JSON and base64 parsing, the trust-policy lookup, the Statement checks and the verdict's validation.
The envelope holds a realistic verdict (the ML-artifact gate's, 12 checks with figures). Rounds are
interleaved and the fastest round of each is kept, so machine noise hits both alike.
securesystemslib parses the envelope with plain ``json.loads`` and checks only the signature; it is
the peer a DSSE user would otherwise call. It never reads the payload, so a second peer row adds what
a user of it must do to get a verdict out: ``json.loads`` of the payload and ``Verdict.model_validate``
(still without signoff's strict JSON, trust lookup and Statement checks). Goal: under 2x the bare
verify, faster than securesystemslib.

    python -m bench.bench_signing [--rounds N]
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib import dsse
from securesystemslib.signer import SSlibKey

from contracts.loader import load_cluster_policy, load_contract
from contracts.trust import TrustPolicy
from gates import ml_artifact, signing
from gates.evidence import FileEntry, FileManifest, MlEvidence, PredictionCheck
from gates.verdict import Subject, Verdict

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "contracts" / "examples"


def _verdict() -> Verdict:
    contract = load_contract(EXAMPLES / "recsys-ranker.yaml")
    policy = load_cluster_policy(EXAMPLES / "cluster-policy.yaml")
    files = tuple(
        FileEntry(path=f"model-{i:05d}-of-00004.safetensors", size=6 * 10**9, sha256=f"{i:064x}")
        for i in range(4)
    )
    manifest = FileManifest(files=files, digest=ml_artifact.manifest_digest(files))
    evidence = MlEvidence(
        model="recsys-ranker",
        version="7",
        status="READY",
        source="models:/m-0123456789abcdef",
        flavors=("python_function", "transformers"),
        signature_inputs="[]",
        signature_outputs="[]",
        has_input_example=True,
        prediction=PredictionCheck(ran=True, ok=True, output_shape=(5, 1), rows_in=5),
        metrics={"ndcg_at_10": 0.47},
        serialization_formats=("safetensors",),
        artifact_size=manifest.total_size,
        manifest=manifest,
    )
    subject = Subject(model="recsys-ranker", version="7", digest=manifest.digest)
    return ml_artifact.evaluate(contract, evidence, policy, subject, datetime(2026, 3, 1, tzinfo=UTC))


def _best(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    """Measure and print; return rows for ``bench/run_all.py``."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_signing")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds (best kept)")
    parser.add_argument("--per-round", type=int, default=200, help="verifications per round")
    ns = parser.parse_args(argv or [])

    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verdict = _verdict()
    trust = TrustPolicy.model_validate(
        {
            "metadata": {"name": "bench"},
            "spec": {
                "teams": [
                    {"name": verdict.team, "gates": ["ml-artifact"], "keys": [{"public_key": pem.decode()}]}
                ]
            },
        }
    )
    envelope = signing.sign_verdict(verdict, key)
    assert signing.verify_envelope(envelope, trust).verdict == verdict
    doc = json.loads(envelope)
    pae = dsse.Envelope(base64.b64decode(doc["payload"]), doc["payloadType"], {}).pae()
    sig = base64.b64decode(doc["signatures"][0]["sig"])
    public = key.public_key()
    sslib_key = SSlibKey.from_crypto(public, keyid=doc["signatures"][0]["keyid"], scheme="ed25519")

    def sslib_verify() -> object:
        return dsse.Envelope.from_dict(json.loads(envelope)).verify([sslib_key], 1)

    def sslib_and_read() -> object:
        env = dsse.Envelope.from_dict(json.loads(envelope))
        env.verify([sslib_key], 1)
        return Verdict.model_validate(json.loads(env.payload)["predicate"])

    assert sslib_verify()
    assert sslib_and_read() == verdict
    ours, bare, sign, peer, peer_read = (float("inf"),) * 5
    for _ in range(ns.rounds):
        ours = min(ours, _best(lambda: signing.verify_envelope(envelope, trust), ns.per_round))
        bare = min(bare, _best(lambda: public.verify(sig, pae), ns.per_round))
        peer = min(peer, _best(sslib_verify, ns.per_round))
        peer_read = min(peer_read, _best(sslib_and_read, ns.per_round))
        sign = min(sign, _best(lambda: signing.sign_verdict(verdict, key), ns.per_round // 4 or 1))
    ratio = ours / bare
    print(f"envelope {len(envelope)} bytes, verdict with {len(verdict.checks)} checks")
    print(f"verify_envelope     {1 / ours:9,.0f} /s  ({ours * 1e6:6.1f} us)")
    print(f"bare Ed25519 verify {1 / bare:9,.0f} /s  ({bare * 1e6:6.1f} us)")
    print(f"securesystemslib    {1 / peer:9,.0f} /s  ({peer * 1e6:6.1f} us)")
    print(f"  + read the verdict {1 / peer_read:8,.0f} /s  ({peer_read * 1e6:6.1f} us)")
    print(f"overhead x{ratio:.2f} (goal < 2x); vs securesystemslib x{ours / peer:.2f} (goal < 1)")
    print(f"sign_verdict        {1 / sign:9,.0f} /s  ({sign * 1e6:6.1f} us)")
    return [
        {
            "benchmark": "verify_envelope vs bare Ed25519 verify (goal < 2x)",
            "figure": ours * 1e6,
            "baseline": bare * 1e6,
            "ratio": ratio,
            "unit": "us per envelope",
        },
        {
            "benchmark": "verify_envelope vs securesystemslib DSSE verify, same envelope (goal < 1)",
            "figure": ours * 1e6,
            "baseline": peer * 1e6,
            "ratio": ours / peer,
            "unit": "us per envelope",
        },
        {
            "benchmark": "verify_envelope vs securesystemslib DSSE verify, then json.loads and "
            "Verdict.model_validate of its payload (goal < 1)",
            "figure": ours * 1e6,
            "baseline": peer_read * 1e6,
            "ratio": ours / peer_read,
            "unit": "us per envelope",
        },
        {
            "benchmark": "verify_envelope throughput",
            "figure": 1 / ours,
            "baseline": 1 / bare,
            "ratio": bare / ours,
            "unit": "envelopes/s vs bare verifies/s",
        },
    ]


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
