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
import binascii
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from contracts.canonical import canonical_json
from contracts.errors import VerificationError
from contracts.trust import Team, TrustPolicy
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

PREDICATE_TYPE = "https://signoff.dev/verdict/v1"
"""The predicateType naming signoff's verdict format and its version."""
PAYLOAD_TYPE = "application/vnd.in-toto+json"
"""The DSSE payloadType of an in-toto Statement."""
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
"""The ``_type`` of an in-toto Statement v1."""

_KEYID = re.compile(r"[0-9a-f]{64}")
_MAX_ENVELOPE = 1 << 20
"""Envelopes above 1 MiB are refused before parsing (a verdict is a few KiB)."""


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


# ----------------------------------------------------------------------------------------------- keys


def keyid(public_key: Ed25519PublicKey) -> str:
    """The key id signoff uses: sha256 hex of the key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class _Key:
    keyid: str
    public: Ed25519PublicKey
    problem: str | None
    """Why the trust policy's entry is unusable (not Ed25519, keyid mismatch), or none."""


@functools.lru_cache(maxsize=256)
def _load_trusted(pem: str, listed_keyid: str | None) -> _Key:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as exc:
        return _Key(
            listed_keyid or "?",
            _dummy_key(),
            f"trust policy key {listed_keyid or '?'} is not a PEM public key: {exc}",
        )
    if not isinstance(key, Ed25519PublicKey):
        kid = listed_keyid or "?"
        return _Key(kid, _dummy_key(), f"trust policy key {kid} is not an Ed25519 key ({type(key).__name__})")
    kid = keyid(key)
    problem = None
    if listed_keyid is not None and listed_keyid != kid:
        problem = f"trust policy lists keyid {listed_keyid} for a key whose keyid is {kid}"
    return _Key(kid, key, problem)


@functools.lru_cache(maxsize=1)
def _dummy_key() -> Ed25519PublicKey:
    """A placeholder for an unusable trust-policy entry (its ``problem`` says why); never verifies."""
    return Ed25519PrivateKey.from_private_bytes(b"\0" * 32).public_key()


def _teams_of_key(trust: TrustPolicy, kid: str) -> tuple[list[Team], list[_Key], list[str]]:
    """Teams listing the key with this keyid, the loaded key, and problems with those entries."""
    teams: list[Team] = []
    keys: list[_Key] = []
    problems: list[str] = []
    for team in trust.spec.teams:
        for entry in team.keys:
            loaded = _load_trusted(entry.public_key, entry.keyid)
            if loaded.keyid == kid or entry.keyid == kid:
                if loaded.problem:
                    problems.append(loaded.problem)
                    continue
                if team not in teams:
                    teams.append(team)
                keys.append(loaded)
    return teams, keys, problems


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
    return {"name": verdict.subject.uri, "digest": {"sha256": verdict.subject.digest.removeprefix("sha256:")}}


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign_verdict(verdict: Verdict, private_key: Ed25519PrivateKey) -> bytes:
    """Sign a verdict: a DSSE envelope (JSON bytes) around its in-toto Statement.

    Args:
        verdict: The verdict to sign; its ``team`` must be the team owning ``private_key``.
        private_key: The team's Ed25519 private key.

    Returns:
        The envelope as compact JSON bytes with sorted keys.
    """
    payload = canonical_json(statement(verdict))
    sig = private_key.sign(_pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [
            {"keyid": keyid(private_key.public_key()), "sig": base64.b64encode(sig).decode("ascii")}
        ],
    }
    return canonical_json(envelope)


# --------------------------------------------------------------------------------------- verification


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate JSON key {dup!r}")
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
"""Strict JSON: duplicate keys and NaN/Infinity refused (one decoder, not one per call)."""


def _strict_json(data: bytes, what: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerificationError([f"{what} is not UTF-8: {exc}"]) from None
    try:
        return _DECODER.decode(text)
    except ValueError as exc:  # JSONDecodeError is a ValueError, as are ours
        raise VerificationError([f"{what} is not strict JSON: {exc}"]) from None


def _strict_b64(value: object, what: str) -> bytes:
    """Standard base64 with padding, canonical (re-encodes to exactly the same text), non-empty."""
    if not isinstance(value, str) or not value:
        raise VerificationError([f"{what} must be a non-empty base64 string"])
    try:  # strict mode (in C): only the standard alphabet, padding only at the end
        raw = binascii.a2b_base64(value, strict_mode=True)
    except ValueError:  # binascii.Error, and text that is not ASCII
        raise VerificationError([f"{what} is not valid standard base64"]) from None
    # Only the last 4-character group can spell its bytes in more than one way (spare bits, padding).
    tail = len(raw) % 3 or 3
    if len(value) % 4 or not raw or base64.b64encode(raw[-tail:]).decode("ascii") != value[-4:]:
        raise VerificationError([f"{what} is not canonical base64 (padding or trailing bits)"])
    return raw


def _exact_keys(obj: object, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise VerificationError([f"{what} must be a JSON object"])
    missing, extra = keys - obj.keys(), obj.keys() - keys
    reasons = []
    if missing:
        reasons.append(f"{what} lacks {', '.join(sorted(missing))}")
    if extra:
        reasons.append(f"{what} has unexpected field(s) {', '.join(sorted(extra))}")
    if reasons:
        raise VerificationError(reasons)
    return obj


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
    if len(envelope) > _MAX_ENVELOPE:
        raise VerificationError([f"envelope is {len(envelope)} bytes; more than {_MAX_ENVELOPE} is refused"])
    doc = _exact_keys(
        _strict_json(envelope, "envelope"), {"payload", "payloadType", "signatures"}, "envelope"
    )
    reasons: list[str] = []

    if doc["payloadType"] != PAYLOAD_TYPE:
        reasons.append(f"payloadType is {doc['payloadType']!r}, expected {PAYLOAD_TYPE!r}")
    payload_type = doc["payloadType"] if isinstance(doc["payloadType"], str) else ""
    payload = _strict_b64(doc["payload"], "payload")

    sigs = doc["signatures"]
    if not isinstance(sigs, list) or len(sigs) != 1:
        count = len(sigs) if isinstance(sigs, list) else "no list of"
        raise VerificationError([*reasons, f"envelope must carry exactly one signature, found {count}"])
    sig_doc = _exact_keys(sigs[0], {"keyid", "sig"}, "signature")
    kid = sig_doc["keyid"]
    if not isinstance(kid, str) or _KEYID.fullmatch(kid) is None:
        raise VerificationError([*reasons, "signature keyid must be 64 lower-case hex digits"])
    sig = _strict_b64(sig_doc["sig"], "signature")

    # Who signed: the key must be in the trust policy, under exactly one team.
    teams, keys, key_problems = _teams_of_key(trust, kid)
    reasons.extend(key_problems)
    signer_team: str | None = None
    if not keys:
        if not key_problems:
            reasons.append(
                f"signed by key {kid}, which the trust policy {trust.metadata.name!r} does not list"
            )
    elif len(teams) > 1:
        names = ", ".join(t.name for t in teams)
        reasons.append(f"key {kid} is listed for more than one team ({names}); a key must belong to one team")
    else:
        signer_team = teams[0].name
        # One cryptography call with the cached key (what ``dsse.Envelope.verify`` does, without
        # re-loading the key for every envelope).
        try:
            keys[0].public.verify(sig, _pae(payload_type, payload))
        except InvalidSignature:
            reasons.append(f"signature by key {kid} ({signer_team}) does not verify over the payload")
            signer_team = None

    verdict = _parse_statement(payload, reasons)
    if verdict is not None and signer_team is not None:
        team = teams[0]
        if verdict.gate not in team.gates:
            allowed = ", ".join(g.value for g in team.gates)
            reasons.append(f"team {team.name} may sign {allowed} but signed a {verdict.gate.value} verdict")
        if verdict.team != team.name:
            reasons.append(f"verdict names team {verdict.team!r} but was signed by team {team.name!r}")
    if reasons or verdict is None or signer_team is None:
        raise VerificationError(reasons or ["envelope does not verify"])
    return SignedVerdict(verdict=verdict, team=signer_team, keyid=kid, envelope_digest=digest_bytes(envelope))


def _parse_statement(payload: bytes, reasons: list[str]) -> Verdict | None:
    """Parse and check the Statement; append reasons; return the verdict when it parses."""
    try:
        st = _exact_keys(
            _strict_json(payload, "payload"), {"_type", "subject", "predicateType", "predicate"}, "statement"
        )
    except VerificationError as exc:
        reasons.extend(exc.reasons)
        return None
    if st["_type"] != STATEMENT_TYPE:
        reasons.append(f"statement _type is {st['_type']!r}, expected {STATEMENT_TYPE!r}")
    if st["predicateType"] != PREDICATE_TYPE:
        reasons.append(f"predicateType is {st['predicateType']!r}, expected {PREDICATE_TYPE!r}")
    verdict: Verdict | None = None
    try:
        verdict = Verdict.model_validate(st["predicate"])
    except ValidationError as exc:
        first = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        reasons.append(f"predicate is not a valid signoff verdict: {first}")
    subject = st["subject"]
    if not isinstance(subject, list) or not subject:
        reasons.append("statement subject is empty; it must name exactly the verdict's model version")
    elif len(subject) != 1:
        reasons.append(
            f"statement names {len(subject)} subjects; a verdict is about exactly one model version"
        )
    elif verdict is not None:
        expected = _subject(verdict)
        if subject[0] != expected:
            reasons.append(
                f"statement subject {json.dumps(subject[0], sort_keys=True)} is not the verdict's subject "
                f"{json.dumps(expected, sort_keys=True)}"
            )
    return verdict
