"""Signed verdicts: an in-toto Statement v1 inside a DSSE envelope, signed with a team's Ed25519 key.

The envelope signoff writes (compact JSON, keys sorted)::

    {"payload": "<base64 of the Statement>",
     "payloadType": "application/vnd.in-toto+json",
     "signatures": [{"keyid": "<sha256 of the key's DER SubjectPublicKeyInfo>", "sig": "<base64>"}]}

and the Statement inside it::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "models:/NAME/VERSION", "digest": {"sha256": "<hex>"}}],
     "predicateType": "https://signoff.dev/verdict/v1",
     "predicate": <the Verdict as JSON>}

The DSSE envelope and its pre-authentication encoding (PAE) are DSSE v1's, written here in a few lines
(``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``): securesystemslib's own DSSE
verify accepts signoff's envelopes (the tests check it), and signoff does not need it installed. Around
it: strict parsing (duplicate JSON keys, loose base64, unknown fields and more than one signature are
refused) and the trust decision: which team's key signed, and whether that team may sign this gate.
Verification collects every reason it can find, not just the first.

Expiry is not checked here (a gate has no clock): :mod:`gates.promotion` checks it against ``now``.
Pure: no files, no network, no clock.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from contracts.canonical import canonical_json
from contracts.errors import VerificationError
from contracts.trust import TrustPolicy
from gates import dsse
from gates.dsse import PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE, keyid
from gates.verdict import Verdict, digest_bytes

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "SignedVerdict",
    "keyid",
    "sign_verdict",
    "statement",
    "verify_envelope",
]


@dataclass(frozen=True)
class SignedVerdict:
    """A verdict whose envelope verified against a trust policy."""

    verdict: Verdict
    team: str
    """The trust-policy team whose key signed it (equal to ``verdict.team``)."""
    keyid: str
    """sha256 hex of the signing key's DER SubjectPublicKeyInfo."""
    envelope_digest: str
    """``sha256:<hex>`` of the envelope bytes as presented."""


# -------------------------------------------------------------------------------------------- signing


def statement(verdict: Verdict) -> dict[str, Any]:
    """The in-toto Statement v1 around a verdict, as a JSON-ready dict."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [_subject(verdict)],
        "predicateType": PREDICATE_TYPE,
        "predicate": verdict.model_dump(mode="json"),
    }


def _subject(verdict: Verdict) -> dict[str, Any]:
    return dsse.expected_subject(verdict.subject.uri, verdict.subject.digest)


def sign_verdict(verdict: Verdict, private_key: Ed25519PrivateKey) -> bytes:
    """Sign a verdict: a DSSE envelope (JSON bytes) around its in-toto Statement.

    Args:
        verdict: The verdict to sign; its ``team`` must be the team owning ``private_key``.
        private_key: The team's Ed25519 private key.

    Returns:
        The envelope as compact JSON bytes with sorted keys.
    """
    payload = canonical_json(statement(verdict))
    sig = private_key.sign(dsse.pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [
            {"keyid": keyid(private_key.public_key()), "sig": base64.b64encode(sig).decode("ascii")}
        ],
    }
    return canonical_json(envelope)


# --------------------------------------------------------------------------------------- verification


def verify_envelope(envelope: bytes, trust: TrustPolicy) -> SignedVerdict:
    """Verify a DSSE envelope of a signed verdict against a trust policy.

    Refuses (with every reason found): malformed or non-strict JSON (duplicate keys, NaN), loose
    base64, a payloadType other than in-toto's, anything but exactly one signature, a key not in the
    trust policy or listed for more than one team, a bad signature, a Statement with the wrong
    ``_type`` or ``predicateType``, a subject that is not exactly the verdict's model version and
    digest, a predicate that is not a valid verdict, a signer team not authorized for the verdict's
    gate, and a verdict whose ``team`` is not the signer's team. Expiry is not checked here.

    Args:
        envelope: The envelope bytes as read from a file.
        trust: The trust policy naming each team's keys and gates.

    Returns:
        The verified verdict with the signer's team and keyid.

    Raises:
        VerificationError: listing every reason the envelope does not verify.
    """
    opened = dsse.open_envelope(envelope, trust.spec.teams, trust.metadata.name)
    reasons = list(opened.reasons)
    team = opened.team
    verdict = _parse_statement(opened.payload, reasons)
    if verdict is not None and team is not None:
        if verdict.gate not in team.gates:
            allowed = ", ".join(g for g in team.gates)
            reasons.append(f"team {team.name} may sign {allowed} but signed a {verdict.gate.value} verdict")
        if verdict.team != team.name:
            reasons.append(f"verdict names team {verdict.team!r} but was signed by team {team.name!r}")
    if reasons or verdict is None or team is None:
        raise VerificationError(reasons or ["envelope does not verify"])
    return SignedVerdict(
        verdict=verdict, team=team.name, keyid=opened.keyid, envelope_digest=digest_bytes(envelope)
    )


def _parse_statement(payload: bytes, reasons: list[str]) -> Verdict | None:
    """Parse and check the Statement; append reasons; return the verdict when it parses."""
    st = dsse.open_statement(payload, reasons)
    if st is None:
        return None
    verdict: Verdict | None = None
    try:
        verdict = Verdict.model_validate(st["predicate"])
    except ValidationError as exc:
        first = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        reasons.append(f"predicate is not a valid signoff verdict: {first}")
    problem = dsse.subject_problem(st["subject"], _subject(verdict) if verdict is not None else None)
    if problem is not None:
        reasons.append(problem)
    return verdict
