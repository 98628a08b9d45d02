"""Plainly valid trust policies and cleanly verifying envelopes, without pydantic: ``signoff verify``'s
fast path.

Importing pydantic and building the trust policy's and verdict's models costs about half of a
``signoff verify`` run. Most policies and envelopes a person verifies are valid and were written by
signoff itself. For exactly those, this module decides: :func:`plain_trust` reads a trust policy
(parsed YAML) whose every field is spelled plainly (the exact types and patterns the models want), and
:func:`verify_plain` verifies an envelope against it with the same envelope code as
:func:`gates.signing.verify_envelope` (:mod:`gates.dsse`), then reads the verdict inside only when
it is plainly valid.

It only ever says "valid / verifies, and this is what it says" or "not decided here" (``None``): a
policy with a mistake, an envelope that does not verify, a verdict with anything unusual is left to
the models, which are the authority and word every reason. So it can never accept what the models
refuse. ``tests/unit/test_plain_verify.py`` holds its vocabulary equal to the models' and its
answers equal to theirs on generated and mutated verdicts and policies.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.canonical import API_VERSION, DIGEST
from contracts.errors import VerificationError
from contracts.gate import Gate
from contracts.model_uri import VERSION
from gates import dsse

__all__ = ["PlainSigned", "PlainSubject", "PlainTrust", "plain_trust", "verify_plain"]

PATTERNS = {
    "policy_name": r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
    "team": r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$",
    "public_key": r"^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n?$",
    "keyid": r"^[0-9a-f]{64}$",
    "check_id": r"^[a-z0-9][a-z0-9._-]{0,80}$",
    "digest": DIGEST,
    "version": f"^{VERSION}$",
}
"""The models' ``Field(pattern=...)`` patterns, by what they check (all ASCII: Python's and pydantic's
regex engines agree on them; ``fullmatch`` makes ``$`` mean the end, as pydantic's does)."""
_RE = {k: re.compile(v) for k, v in PATTERNS.items()}
PUBLIC_KEY_MAX = 4096
CHECK_MESSAGE_MAX = 2000
NOTE_MAX = 4000
TEAM_MAX = 63
MODEL_MAX = 255
OUTCOMES = ("pass", "fail", "warn", "skip")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")
"""The times signoff writes (RFC 3339 with an offset); any other spelling is left to the models."""


class _NotPlain(Exception):
    """Not decided here: the models decide (and word the reasons, if there are any)."""


def _keys(obj: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if type(obj) is not dict or not obj.keys() >= set(required) or not obj.keys() <= {*required, *optional}:
        raise _NotPlain
    return obj


def _match(value: Any, pattern: str, most: int | None = None) -> str:
    if type(value) is not str or (most is not None and len(value) > most):
        raise _NotPlain
    if _RE[pattern].fullmatch(value) is None:
        raise _NotPlain
    return value


def _sized(value: Any, least: int, most: int) -> str:
    if type(value) is not str or not least <= len(value) <= most:
        raise _NotPlain
    return value


def _list(value: Any) -> list[Any]:
    if type(value) is not list or not value:
        raise _NotPlain
    return value


def _gate(value: Any) -> Gate:
    if type(value) is not str:
        raise _NotPlain
    try:
        return Gate(value)
    except ValueError:
        raise _NotPlain from None


# ----------------------------------------------------------------------------------------- trust


@dataclass(frozen=True)
class PlainKey:
    """A trust-policy key entry, as :class:`contracts.trust.TrustedKey`."""

    public_key: str
    keyid: str | None


@dataclass(frozen=True)
class PlainTeam:
    """A trust-policy team, as :class:`contracts.trust.Team`."""

    name: str
    gates: tuple[Gate, ...]
    keys: tuple[PlainKey, ...]


@dataclass(frozen=True)
class PlainTrust:
    """A plainly valid trust policy: its name and teams."""

    name: str
    teams: tuple[PlainTeam, ...]


def _team(obj: Any) -> PlainTeam:
    t = _keys(obj, ("name", "gates", "keys"))
    keys = []
    for entry in _list(t["keys"]):
        k = _keys(entry, ("public_key",), ("keyid",))
        kid = k.get("keyid")
        keys.append(
            PlainKey(
                public_key=_match(k["public_key"], "public_key", PUBLIC_KEY_MAX),
                keyid=None if kid is None else _match(kid, "keyid"),
            )
        )
    return PlainTeam(
        name=_match(t["name"], "team"),
        gates=tuple(_gate(g) for g in _list(t["gates"])),
        keys=tuple(keys),
    )


def plain_trust(data: Any) -> PlainTrust | None:
    """The trust policy in ``data`` (parsed YAML) when it is plainly valid, else None."""
    try:
        doc = _keys(data, ("apiVersion", "kind", "metadata", "spec"))
        if doc["apiVersion"] != API_VERSION or doc["kind"] != "TrustPolicy":
            raise _NotPlain
        name = _match(_keys(doc["metadata"], ("name",))["name"], "policy_name")
        teams = tuple(_team(t) for t in _list(_keys(doc["spec"], ("teams",))["teams"]))
        if len({t.name for t in teams}) != len(teams):
            raise _NotPlain
        return PlainTrust(name=name, teams=teams)
    except _NotPlain:
        return None


# -------------------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class PlainSubject:
    """The model version a verdict is about, as :class:`gates.verdict.Subject`."""

    model: str
    version: str
    digest: str

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.version}"


@dataclass(frozen=True)
class PlainCheck:
    id: str
    outcome: str


@dataclass(frozen=True)
class PlainVerdict:
    """What ``signoff verify`` reads of a verdict, as :class:`gates.verdict.Verdict` has it."""

    gate: Gate
    team: str
    passed: bool
    checks: tuple[PlainCheck, ...]
    subject: PlainSubject
    contract_digest: str
    issued_at: datetime
    expires_at: datetime

    @property
    def failures(self) -> tuple[PlainCheck, ...]:
        return tuple(c for c in self.checks if c.outcome == "fail")


@dataclass(frozen=True)
class PlainSigned:
    """A verdict whose envelope verified, as :class:`gates.signing.SignedVerdict`."""

    verdict: PlainVerdict
    team: str
    keyid: str
    envelope_digest: str


def _figure(value: Any) -> None:
    if value is None or type(value) in (str, bool, int):
        return
    if type(value) is float and math.isfinite(value):
        return
    raise _NotPlain


def _check(obj: Any) -> PlainCheck:
    c = _keys(obj, ("id", "outcome", "message"), ("figures",))
    if type(c["message"]) is not str or len(c["message"]) > CHECK_MESSAGE_MAX:
        raise _NotPlain
    if type(c["outcome"]) is not str or c["outcome"] not in OUTCOMES:
        raise _NotPlain
    figures = c.get("figures", {})
    if type(figures) is not dict:
        raise _NotPlain
    for v in figures.values():
        _figure(v)
    return PlainCheck(id=_match(c["id"], "check_id"), outcome=c["outcome"])


def _time(value: Any) -> datetime:
    if type(value) is not str or _TIME.fullmatch(value) is None:
        raise _NotPlain
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _NotPlain from None


def plain_verdict(data: Any) -> PlainVerdict | None:
    """The verdict in ``data`` (a Statement's predicate) when it is plainly valid, else None."""
    try:
        v = _keys(
            data,
            ("gate", "team", "passed", "checks", "subject", "contract_digest", "issued_at", "expires_at"),
            ("policy_digest", "artifacts", "note"),
        )
        if type(v["passed"]) is not bool or type(v["checks"]) is not list:
            raise _NotPlain
        checks = tuple(_check(c) for c in v["checks"])
        s = _keys(v["subject"], ("model", "version", "digest"))
        subject = PlainSubject(
            model=_sized(s["model"], 1, MODEL_MAX),
            version=_match(s["version"], "version"),
            digest=_match(s["digest"], "digest"),
        )
        if v.get("policy_digest") is not None:
            _match(v["policy_digest"], "digest")
        artifacts = v.get("artifacts", {})
        if type(artifacts) is not dict:
            raise _NotPlain
        for digest in artifacts.values():
            _match(digest, "digest")
        if type(v.get("note", "")) is not str or len(v.get("note", "")) > NOTE_MAX:
            raise _NotPlain
        verdict = PlainVerdict(
            gate=_gate(v["gate"]),
            team=_sized(v["team"], 1, TEAM_MAX),
            passed=v["passed"],
            checks=checks,
            subject=subject,
            contract_digest=_match(v["contract_digest"], "digest"),
            issued_at=_time(v["issued_at"]),
            expires_at=_time(v["expires_at"]),
        )
        # The model's own consistency rules.
        if verdict.passed != (not verdict.failures) or verdict.expires_at <= verdict.issued_at:
            raise _NotPlain
        if len({c.id for c in checks}) != len(checks):
            raise _NotPlain
        return verdict
    except _NotPlain:
        return None


def verify_plain(envelope: bytes, trust: PlainTrust) -> PlainSigned | None:
    """The envelope's verdict when it verifies cleanly against ``trust`` and is plainly valid; None
    when :func:`gates.signing.verify_envelope` must decide (and say why it does not verify)."""
    try:
        opened = dsse.open_envelope(envelope, trust.teams, trust.name)
    except VerificationError:
        return None
    team = opened.team
    if opened.reasons or team is None:
        return None
    reasons: list[str] = []
    st = dsse.open_statement(opened.payload, reasons)
    if st is None or reasons:
        return None
    verdict = plain_verdict(st["predicate"])
    if verdict is None:
        return None
    expected = dsse.expected_subject(verdict.subject.uri, verdict.subject.digest)
    if dsse.subject_problem(st["subject"], expected) is not None:
        return None
    if verdict.gate not in team.gates or verdict.team != team.name:
        return None
    digest = "sha256:" + hashlib.sha256(envelope).hexdigest()
    return PlainSigned(verdict=verdict, team=team.name, keyid=opened.keyid, envelope_digest=digest)
