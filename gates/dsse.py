"""The envelope layer of a signed verdict, without the verdict's models: DSSE v1, strict parsing, keys.

:func:`open_envelope` does everything :func:`gates.signing.verify_envelope` does before it reads the
verdict: the envelope's strict JSON and base64, exactly one signature, the signing key found under
exactly one team of the trust policy, and the Ed25519 signature over DSSE's pre-authentication
encoding. :func:`open_statement` checks the in-toto Statement around the predicate. Neither imports
pydantic: ``signoff verify`` opens envelopes with them before (or without) building any model, and
:mod:`gates.signing` verifies with the same code, so the two never disagree on a signature.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.errors import VerificationError

__all__ = [
    "MAX_ENVELOPE",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "Opened",
    "keyid",
    "open_envelope",
    "open_statement",
    "pae",
    "subject_problem",
]

PREDICATE_TYPE = "https://signoff.dev/verdict/v1"
"""The predicateType naming signoff's verdict format and its version."""
PAYLOAD_TYPE = "application/vnd.in-toto+json"
"""The DSSE payloadType of an in-toto Statement."""
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
"""The ``_type`` of an in-toto Statement v1."""

_KEYID = re.compile(r"[0-9a-f]{64}")
MAX_ENVELOPE = 1 << 20
"""Envelopes above 1 MiB are refused before parsing (a verdict is a few KiB)."""


class TrustedKeyLike(Protocol):
    """A trust-policy key entry (:class:`contracts.trust.TrustedKey` or its plain equal)."""

    @property
    def public_key(self) -> str: ...
    @property
    def keyid(self) -> str | None: ...


class TeamLike(Protocol):
    """A trust-policy team (:class:`contracts.trust.Team` or its plain equal)."""

    @property
    def name(self) -> str: ...
    @property
    def gates(self) -> Sequence[str]: ...
    @property
    def keys(self) -> Sequence[TrustedKeyLike]: ...


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


def _teams_of_key(teams: Iterable[TeamLike], kid: str) -> tuple[list[TeamLike], list[_Key], list[str]]:
    """Teams listing the key with this keyid, the loaded key, and problems with those entries."""
    found: list[TeamLike] = []
    keys: list[_Key] = []
    problems: list[str] = []
    for team in teams:
        for entry in team.keys:
            loaded = _load_trusted(entry.public_key, entry.keyid)
            if loaded.keyid == kid or entry.keyid == kid:
                if loaded.problem:
                    problems.append(loaded.problem)
                    continue
                if team not in found:
                    found.append(team)
                keys.append(loaded)
    return found, keys, problems


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


# ------------------------------------------------------------------------------------ strict parsing


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


# -------------------------------------------------------------------------------------------- opening


@dataclass(frozen=True)
class Opened:
    """An envelope opened against a trust policy: its payload, who signed it, what is wrong so far."""

    payload: bytes
    keyid: str
    team: TeamLike | None
    """The one team whose key made a signature that verifies; None otherwise (``reasons`` say why)."""
    reasons: tuple[str, ...]


def open_envelope(envelope: bytes, teams: Sequence[TeamLike], policy_name: str) -> Opened:
    """Parse an envelope strictly and check its one signature against the trust policy's teams.

    Raises:
        VerificationError: the envelope cannot be read far enough to check a signature.
    """
    if len(envelope) > MAX_ENVELOPE:
        raise VerificationError([f"envelope is {len(envelope)} bytes; more than {MAX_ENVELOPE} is refused"])
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
    found, keys, key_problems = _teams_of_key(teams, kid)
    reasons.extend(key_problems)
    signer: TeamLike | None = None
    if not keys:
        if not key_problems:
            reasons.append(f"signed by key {kid}, which the trust policy {policy_name!r} does not list")
    elif len(found) > 1:
        names = ", ".join(t.name for t in found)
        reasons.append(f"key {kid} is listed for more than one team ({names}); a key must belong to one team")
    else:
        # One cryptography call with the cached key (what ``dsse.Envelope.verify`` does, without
        # re-loading the key for every envelope).
        try:
            keys[0].public.verify(sig, pae(payload_type, payload))
            signer = found[0]
        except InvalidSignature:
            reasons.append(f"signature by key {kid} ({found[0].name}) does not verify over the payload")
    return Opened(payload=payload, keyid=kid, team=signer, reasons=tuple(reasons))


def open_statement(payload: bytes, reasons: list[str]) -> dict[str, Any] | None:
    """The in-toto Statement of a payload (its four fields checked); append reasons; None if unreadable."""
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
    return st


def expected_subject(uri: str, digest: str) -> dict[str, Any]:
    """The Statement subject of a verdict about the model version ``uri`` with files' ``digest``."""
    return {"name": uri, "digest": {"sha256": digest.removeprefix("sha256:")}}


def subject_problem(subject: object, expected: dict[str, Any] | None) -> str | None:
    """Why the Statement's subject is not exactly ``expected`` (None when it is, or is unknown)."""
    if not isinstance(subject, list) or not subject:
        return "statement subject is empty; it must name exactly the verdict's model version"
    if len(subject) != 1:
        return f"statement names {len(subject)} subjects; a verdict is about exactly one model version"
    if expected is not None and subject[0] != expected:
        return (
            f"statement subject {json.dumps(subject[0], sort_keys=True)} is not the verdict's subject "
            f"{json.dumps(expected, sort_keys=True)}"
        )
    return None
