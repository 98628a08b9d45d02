"""Shared builders for the signing, promotion and ML-gate tests: real keys, real verdicts, real envelopes.

Keys are generated fresh per test session (never committed); nothing here is a fake.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.loader import load_cluster_policy, load_contract
from contracts.trust import Gate, TrustPolicy
from contracts.workload import WorkloadContract
from gates import signing
from gates.verdict import Check, Outcome, Subject, Verdict

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32

ML, PLATFORM, SRE = "ranking-squad", "platform-gpu-team", "sre-ai-oncall"
GATE_OF = {ML: (Gate.ML_ARTIFACT, Gate.APPROVAL), PLATFORM: (Gate.PLATFORM,), SRE: (Gate.SRE_READINESS,)}
TEAM_OF = {Gate.ML_ARTIFACT: ML, Gate.APPROVAL: ML, Gate.PLATFORM: PLATFORM, Gate.SRE_READINESS: SRE}


def contract() -> WorkloadContract:
    return load_contract(EXAMPLES / "recsys-ranker.yaml")


def policy():  # type: ignore[no-untyped-def]
    return load_cluster_policy(EXAMPLES / "cluster-policy.yaml")


@functools.cache
def key(name: str) -> Ed25519PrivateKey:
    """One real Ed25519 key per name, for the whole test session."""
    return Ed25519PrivateKey.generate()


def pem(k: Ed25519PrivateKey) -> str:
    return (
        k.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def trust(teams: dict[str, tuple[tuple[Gate, ...], list[Ed25519PrivateKey]]] | None = None) -> TrustPolicy:
    """A trust policy; by default the three owner teams each with their own key and gates."""
    if teams is None:
        teams = {t: (gates, [key(t)]) for t, gates in GATE_OF.items()}
    return TrustPolicy.model_validate(
        {
            "metadata": {"name": "test-trust"},
            "spec": {
                "teams": [
                    {
                        "name": t,
                        "gates": [g.value for g in gates],
                        "keys": [{"public_key": pem(k)} for k in keys],
                    }
                    for t, (gates, keys) in teams.items()
                ]
            },
        }
    )


def subject(version: str = "7", digest: str = DIGEST) -> Subject:
    return Subject(model="recsys-ranker", version=version, digest=digest)


def verdict(
    gate: Gate,
    *,
    team: str | None = None,
    passed: bool = True,
    subj: Subject | None = None,
    contract_digest: str | None = None,
    now: datetime = NOW,
    ttl: timedelta = timedelta(days=7),
    prediction: str = "ran",
) -> Verdict:
    """A verdict of ``gate``; ``prediction`` is where the ML gate's example prediction ran: ``ran``
    (in the ML step), ``deferred`` (to the SRE probe, which then signs ``probe.prediction``) or
    ``none`` (neither verdict mentions it)."""
    checks = [
        Check(id="a.first", outcome=Outcome.PASS, message="fine", figures={"value": 1.5}),
        Check(
            id="a.second",
            outcome=Outcome.PASS if passed else Outcome.FAIL,
            message="p99 42ms within 75ms" if passed else "p99 120ms above 75ms",
            figures={"p99_ms": 42 if passed else 120, "limit_ms": 80},
        ),
    ]
    if gate is Gate.ML_ARTIFACT and prediction != "none":
        ran = prediction == "ran"
        checks.append(
            Check(
                id="prediction.example",
                outcome=Outcome.PASS if ran else Outcome.WARN,
                message="predicted" if ran else "deferred to sre-readiness",
                figures={"prediction_ran_in": "ml-artifact step" if ran else "deferred to sre-readiness"},
            )
        )
    if gate is Gate.SRE_READINESS and prediction == "deferred":
        checks.append(
            Check(
                id="probe.prediction",
                outcome=Outcome.PASS,
                message="3 rows in, 3 out",
                figures={"prediction_ran_in": "http://recsys.ml-staging.svc.cluster.local"},
            )
        )
    return Verdict.decide(
        gate=gate,
        team=team or TEAM_OF[gate],
        checks=checks,
        subject=subj or subject(),
        contract_digest=contract_digest or contract().digest(),
        now=now,
        ttl=ttl,
    )


def envelope(gate: Gate, *, signer: str | None = None, **kw: object) -> bytes:
    """A real envelope: a verdict for ``gate`` signed with the key of ``signer`` (the gate's team)."""
    v = verdict(gate, **kw)  # type: ignore[arg-type]
    return signing.sign_verdict(v, key(signer or v.team))
