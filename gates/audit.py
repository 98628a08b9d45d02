"""The audit's judgement: which aliases of a registered model does a verified signoff record back?

Pure: the caller (:meth:`components.mlflow_registry.Registry.audit`) reads the registry and hands
over a :class:`Snapshot` (the aliases MLflow reports, signoff's alias placements, every promotion
and rollback record with its envelope, and every envelope kept with each version, all as stored and
unverified); this module decides. The same code judges a real registry and, in the property tests,
copies of a real registry's tags edited one field at a time.

An alias on version V is **BACKED** only when all of these hold:

* signoff's placement tag (``signoff.alias.<alias>``) names V and a record kept in the registry;
* that record verifies (see below) and is complete;
* V has a verified promotion of its own: a promotion record whose envelope is the one the record's
  id and ``envelope_digest`` name, verifies against the trust policy, is a *passing* promotion
  verdict about exactly this model and version, names (``artifacts``) a verdict of every required
  gate, and each of those verdicts is kept with V, verifies, passed, is about exactly the promotion's
  model, version and digest, was judged against the promotion's contract, and was valid when the
  promotion was signed. The record's own ``verdicts`` map, when it has one, must equal the signed
  ``artifacts`` (only the signed one is used);
* for the production alias: it is where the latest verified, complete promotion or rollback (by
  signed ``issued_at``) put production. Moving production by hand to an older promoted version,
  without a signed rollback record, is not backed. (A record's state is not signed: a later promotion
  still ``pending`` is one interrupted before it moved the alias, and shows so in the history.)

A promotion writes its record last, after the alias moves and their placement tags: an alias whose
placement tag names a promotion whose envelope is kept but whose record is not is **INCOMPLETE**
(interrupted; a re-run finishes it), or INVALID when that envelope is not the passing promotion
verdict the tag names. A promotion envelope without its record that no placement tag names is the
latest attempt, interrupted before it moved an alias, when it verifies as a passing promotion of its
version signed after every verified record (shown in the history as ``interrupted``); any other is
damage: a record deleted (a historic one, say) is noticed.

A rollback record verifies when its envelope does, is a passing rollback verdict about exactly its
version, was signed by the team the contract names (for a manual rollback the decider of its kind of
problem; for an automated one the team the alert on its signal pages), and its target had a verified
promotion before it. An automated rollback with no envelope backs nothing. Without a contract, the
deciding team cannot be checked: such an alias is UNVERIFIED, as is everything without a trust policy.

A refused verdict (``passed: false``) never counts for anything; refused verdicts kept in the
registry are listed in the history. Everything shown as signed comes from a verified payload; record
fields nobody signed (``by``, ``at``, ``previous``, ``reason``) are shown as ``unsigned: ...``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts.errors import VerificationError
from contracts.trust import REQUIRED_GATES, Gate, TrustPolicy
from contracts.workload import ProblemKind, WorkloadContract
from gates import listen, promotion
from gates.signing import SignedVerdict, verify_envelope
from gates.verdict import digest_bytes

__all__ = [
    "AliasReport",
    "AliasStatus",
    "AuditReport",
    "HistoryEntry",
    "RecordJudgement",
    "Snapshot",
    "StoredRecord",
    "judge",
    "judge_record",
    "rollback_target_problem",
    "verified_promotions",
]


# ------------------------------------------------------------------------------------------- input


@dataclass(frozen=True)
class StoredRecord:
    """A promotion or rollback record as kept in the registry (nothing verified)."""

    kind: str
    """``promotion`` or ``rollback``."""
    key_id: str
    """The 16 hex digits in the record's tag name."""
    version: str
    """The version whose tags hold it."""
    text: str
    """The record's JSON, as stored."""
    envelope: bytes | None
    """The record's envelope as stored, or None when there is none."""


@dataclass(frozen=True)
class Snapshot:
    """What the registry holds for one registered model, as read back (nothing verified)."""

    model: str
    aliases: Mapping[str, str]
    """alias -> version, as MLflow reports them."""
    placements: Mapping[str, str]
    """alias -> the text of signoff's placement tag for it."""
    records: tuple[StoredRecord, ...]
    envelopes: Mapping[str, tuple[bytes, ...]]
    """version -> every signed verdict kept with it (any gate, any tag)."""
    damage: tuple[str, ...] = ()
    """What the reader found inconsistent in the stored tags (a digest tag that does not match)."""
    unrecorded: Mapping[tuple[str, str], bytes] = field(default_factory=dict)
    """(record id's 16 hex digits, version) -> a promotion envelope kept without its record (the
    record is written last): a promotion interrupted, or a record that is gone (:func:`judge`)."""


# ------------------------------------------------------------------------------------------ output


class AliasStatus(enum.StrEnum):
    BACKED = "backed"
    """A verified signoff record backs the alias (see the module docstring)."""
    INCOMPLETE = "incomplete"
    """A promotion was interrupted (its record not yet written, or still pending); re-run it."""
    INVALID = "invalid"
    """A record is there but it, its envelope or the verdicts it names do not verify or do not hold."""
    UNBACKED = "unbacked"
    """The alias points at a version signoff did not put there (moved by hand), or no record."""
    UNVERIFIED = "unverified"
    """Nothing could be verified: no trust policy given (or, for a rollback, no contract)."""


@dataclass(frozen=True)
class HistoryEntry:
    kind: str
    """``promotion``, ``rollback`` or ``refused <gate>`` (a refused verdict kept in the registry)."""
    id: str
    """The record id (the signed envelope's digest) as stored, or the refused envelope's digest."""
    at: str
    """The signed ``issued_at`` (empty when nothing verified)."""
    version: str
    """The version the record or verdict is kept with."""
    previous: str | None
    """Unsigned: the version the record says production moved from."""
    state: str
    """Unsigned: the record's state (``pending``, ``complete``); ``refused`` for a refused verdict."""
    by: str | None
    """The team whose key signed it (None when nothing verified)."""
    reason: str = ""
    """The signed note (a rollback's reason), or the refused checks."""
    valid: bool | None = None
    """Whether it verified and holds (None: no trust policy given)."""
    problems: tuple[str, ...] = ()
    unsigned: Mapping[str, Any] = field(default_factory=dict)
    """Record fields nobody signed (who, when, from), shown as such."""

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "problems": list(self.problems), "unsigned": dict(self.unsigned)}


@dataclass(frozen=True)
class AliasReport:
    alias: str
    version: str
    status: AliasStatus
    detail: str
    record: str | None = None
    signed: Mapping[str, str] = field(default_factory=dict)
    """What backs the alias, from verified payloads only: the promotion (and rollback) verdicts'
    envelope digests, signing teams, ``issued_at`` and model digest. Empty unless BACKED."""

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "status": self.status.value, "signed": dict(self.signed)}


@dataclass(frozen=True)
class AuditReport:
    model: str
    aliases: tuple[AliasReport, ...]
    history: tuple[HistoryEntry, ...]
    verified: bool
    """Whether envelopes were verified against a trust policy."""
    damage: tuple[str, ...] = ()
    """Stored values that do not match their digest tags, or cannot be read."""

    @property
    def ok(self) -> bool:
        """Every alias BACKED, no record that does not verify or hold, nothing damaged."""
        return (
            not self.damage
            and all(a.status is AliasStatus.BACKED for a in self.aliases)
            and all(h.valid is not False for h in self.history)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "verified": self.verified,
            "ok": self.ok,
            "aliases": [a.to_json() for a in self.aliases],
            "history": [h.to_json() for h in self.history],
            "damage": list(self.damage),
        }

    def to_text(self) -> str:
        lines = [f"model {self.model}" + ("" if self.verified else " (nothing verified: no --trust)")]
        if not self.aliases:
            lines.append("  no aliases")
        for a in self.aliases:
            lines.append(f"  {a.alias} -> version {a.version}: {a.status.value.upper()}: {a.detail}")
        for d in self.damage:
            lines.append(f"  DAMAGED: {d}")
        lines.append("history (oldest first; signed fields only unless marked unsigned):")
        if not self.history:
            lines.append("  none")
        for h in self.history:
            if h.valid:
                head = f"  {h.at} {h.kind} -> {h.version} signed by {h.by} [verified]"
            elif h.valid is None:
                head = f"  {h.kind} -> {h.version} [not verified]"
            else:
                head = f"  {h.kind} -> {h.version} [DOES NOT VERIFY: {'; '.join(h.problems)}]"
            why = f": {h.reason}" if h.reason and h.valid else ""
            # A record's state is a tag field like who and when: nobody signed it ("refused" is the
            # signed verdict's own outcome).
            plain = {**({} if h.state == "refused" else {"state": h.state}), **h.unsigned}
            loose = ", ".join(f"{k} {v}" for k, v in sorted(plain.items()) if v not in (None, ""))
            lines.append(head + why + (f" (unsigned: {loose})" if loose else ""))
        return "\n".join(lines)


@dataclass(frozen=True)
class RecordJudgement:
    """One record, judged."""

    record: StoredRecord
    fields: Mapping[str, Any]
    """The record's JSON (unsigned), ``{}`` when it is not a JSON object."""
    signed: SignedVerdict | None
    """The record's verified verdict (None when it does not verify or nothing was verified)."""
    problems: tuple[str, ...]
    """Why it does not hold (empty: it holds, or nothing was verified)."""
    unverifiable: str = ""
    """Why it could not be judged at all (no trust policy; no contract for a rollback's team)."""

    @property
    def holds(self) -> bool:
        return self.signed is not None and not self.problems and not self.unverifiable

    @property
    def complete(self) -> bool:
        return self.fields.get("state") == "complete"


# --------------------------------------------------------------------------------------- judgement


def _verify(env: bytes, trust: TrustPolicy) -> tuple[SignedVerdict | None, str]:
    try:
        return verify_envelope(env, trust), ""
    except VerificationError as exc:
        return None, "; ".join(exc.reasons)


def _fields(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _envelope_problems(rec: StoredRecord, fields: Mapping[str, Any]) -> list[str]:
    if not fields:
        return ["the record is not a JSON object"]
    if rec.envelope is None:
        return ["the record has no envelope"]
    digest = digest_bytes(rec.envelope)
    out = []
    if not digest.removeprefix("sha256:").startswith(rec.key_id):
        out.append(
            f"its envelope (digest {digest[7:23]}) is not the one the record's tag names ({rec.key_id})"
        )
    if fields.get("envelope_digest") != digest or fields.get("id") != digest.removeprefix("sha256:"):
        out.append("the record's id or envelope_digest does not name its envelope")
    return out


def _referenced_problems(
    snap: Snapshot,
    rec: StoredRecord,
    signed: SignedVerdict,
    fields: Mapping[str, Any],
    trust: TrustPolicy,
    contract: WorkloadContract | None,
) -> list[str]:
    """Why the verdicts a verified promotion verdict names do not back it."""
    v = signed.verdict
    out: list[str] = []
    named = dict(v.artifacts)
    if fields.get("verdicts") and fields.get("verdicts") != named:
        out.append("the record's verdicts are not the ones its signed promotion verdict names")
    required = promotion.required_gates(contract) if contract is not None else REQUIRED_GATES
    missing = [g.value for g in required if g.value not in named]
    if missing:
        out.append(f"the promotion verdict names no verdict of {', '.join(missing)}")
    pool = {digest_bytes(e): e for e in snap.envelopes.get(rec.version, ())}
    ttl = (
        timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds)
        if contract is not None
        else timedelta.max
    )
    for gate_name, digest in sorted(named.items()):
        env = pool.get(digest)
        if env is None:
            out.append(f"the {gate_name} verdict it names ({digest[7:23]}) is not kept with the version")
            continue
        ref, why = _verify(env, trust)
        if ref is None:
            out.append(f"the {gate_name} verdict it names does not verify: {why}")
            continue
        r = ref.verdict
        if r.gate.value != gate_name:
            out.append(f"the verdict named for {gate_name} is a {r.gate.value} verdict")
        if not r.passed:
            out.append(f"the {gate_name} verdict it names was refused")
        if r.subject != v.subject:
            out.append(
                f"the {gate_name} verdict is about {r.subject.model} version {r.subject.version} "
                f"({r.subject.digest[7:19]}), not the promoted {v.subject.model} version {v.subject.version} "
                f"({v.subject.digest[7:19]})"
            )
        if r.contract_digest != v.contract_digest:
            out.append(f"the {gate_name} verdict was judged against another contract than the promotion")
        if contract is not None and ref.team != promotion.owner_of(contract, r.gate):
            out.append(
                f"the {gate_name} verdict is signed by {ref.team}, not its owner "
                f"{promotion.owner_of(contract, r.gate)}"
            )
        out += [
            f"the {gate_name} verdict, when promoted: {p}"
            for p in promotion.validity_problems(r, ttl, v.issued_at)
        ]
    return out


def _rollback_team(contract: WorkloadContract, signed: SignedVerdict) -> tuple[str | None, str]:
    """The team the contract names for this rollback, and what it was decided for."""
    checks = {c.id: c for c in signed.verdict.checks}
    if "rollback.automated" in checks:
        signal = str((checks["rollback.automated"].figures or {}).get("signal") or "")
        return listen.rollback_team(contract, signal), f"an automated rollback on {signal or '?'}"
    decided = checks.get("rollback.decided")
    problem = str((decided.figures or {}).get("problem") or "") if decided is not None else ""
    try:
        role = contract.spec.rollback.decider(ProblemKind(problem))
    except ValueError:
        return None, f"a rollback for an unknown kind of problem {problem!r}"
    if role is None:
        return None, f"a rollback for a {problem} problem, which the contract names no team for"
    return contract.spec.owners.of(role).team, f"a rollback for a {problem} problem"


def judge_record(
    snap: Snapshot,
    rec: StoredRecord,
    trust: TrustPolicy | None,
    contract: WorkloadContract | None = None,
    *,
    promotions: Mapping[str, list[RecordJudgement]] | None = None,
) -> RecordJudgement:
    """Judge one record (see the module docstring). ``promotions``: the verified promotions per
    version, which a rollback's target needs (computed by :func:`verified_promotions`)."""
    fields = _fields(rec.text)
    problems = _envelope_problems(rec, fields)
    if trust is None:
        return RecordJudgement(
            rec, fields, None, tuple(problems), "" if problems else "no trust policy given"
        )
    if rec.envelope is None:
        return RecordJudgement(rec, fields, None, tuple(problems))
    signed, why = _verify(rec.envelope, trust)
    if signed is None:
        return RecordJudgement(rec, fields, None, (*problems, f"its envelope does not verify: {why}"))
    v = signed.verdict
    want = Gate.PROMOTION if rec.kind == "promotion" else Gate.ROLLBACK
    if v.gate is not want:
        problems.append(f"its envelope is a {v.gate.value} verdict, not a {want.value} verdict")
    if not v.passed:
        problems.append(f"its {v.gate.value} verdict was refused ({', '.join(c.id for c in v.failures)})")
    if v.subject.model != snap.model or v.subject.version != rec.version:
        problems.append(
            f"its verdict is about {v.subject.model} version {v.subject.version}, "
            f"not {snap.model} version {rec.version}"
        )
    if fields.get("model") != snap.model or str(fields.get("version")) != rec.version:
        problems.append("the record names another model or version than where it is kept")
    unverifiable = ""
    if rec.kind == "promotion" and v.gate is Gate.PROMOTION:
        if contract is not None and signed.team != promotion.owner_of(contract, Gate.PROMOTION):
            problems.append(
                f"signed by {signed.team}, not the ML team {promotion.owner_of(contract, Gate.PROMOTION)}"
            )
        problems += _referenced_problems(snap, rec, signed, fields, trust, contract)
    elif rec.kind == "rollback" and v.gate is Gate.ROLLBACK:
        if contract is None:
            unverifiable = "pass --contract to check the team that decided the rollback"
        else:
            team, what = _rollback_team(contract, signed)
            if team is None:
                problems.append(f"it is {what}")
            elif signed.team != team:
                problems.append(f"it is {what}, signed by {signed.team}; the contract names {team}")
        earlier = [
            p
            for p in (promotions or {}).get(rec.version, [])
            if p.complete and p.signed is not None and p.signed.verdict.issued_at < v.issued_at
        ]
        if not earlier:
            problems.append(f"its target, version {rec.version}, has no verified promotion before it")
        elif all(
            p.signed is not None and p.signed.verdict.subject.digest != v.subject.digest for p in earlier
        ):
            problems.append("its model digest is not the one the target's promotion signed")
    return RecordJudgement(rec, fields, signed, tuple(problems), unverifiable)


def verified_promotions(
    snap: Snapshot, trust: TrustPolicy | None, contract: WorkloadContract | None = None
) -> dict[str, list[RecordJudgement]]:
    """Per version, its promotion records that hold (verified, passing, with the verdicts they name).

    A rollback target must be one of these versions: a hand-written ``complete`` tag is not one.
    """
    out: dict[str, list[RecordJudgement]] = {}
    for rec in snap.records:
        if rec.kind == "promotion":
            j = judge_record(snap, rec, trust, contract)
            if j.holds:
                out.setdefault(rec.version, []).append(j)
    return out


def rollback_target_problem(
    snap: Snapshot, trust: TrustPolicy, contract: WorkloadContract, target: str
) -> str | None:
    """Why ``target`` may not be rolled back to (None: it had a verified, complete promotion)."""
    held = [p for p in verified_promotions(snap, trust, contract).get(target, []) if p.complete]
    if held:
        return None
    tried = [r for r in snap.records if r.kind == "promotion" and r.version == target]
    why = ""
    if tried:
        j = judge_record(snap, tried[-1], trust, contract)
        why = ": its promotion record " + (
            "; ".join(j.problems) if j.problems else "is not complete" if not j.complete else "does not hold"
        )
    return (
        f"{snap.model} version {target} has no verified promotion of this workload{why}; roll back only "
        "to a version a verified promotion put in production"
    )


def _signed_view(kind: str, j: RecordJudgement) -> dict[str, str]:
    assert j.signed is not None
    v = j.signed.verdict
    return {
        f"{kind}": j.signed.envelope_digest,
        f"{kind}_team": j.signed.team,
        f"{kind}_issued_at": v.issued_at.isoformat(),
        "model_digest": v.subject.digest,
    }


def _history(judged: list[RecordJudgement], snap: Snapshot, trust: TrustPolicy | None) -> list[HistoryEntry]:
    out = []
    for j in judged:
        f = j.fields
        unsigned = {"by": f.get("by"), "at": f.get("at"), "from": f.get("previous")}
        if j.signed is None:
            unsigned["reason"] = f.get("reason") or f.get("note")
        out.append(
            HistoryEntry(
                kind=j.record.kind,
                id=str(f.get("id") or j.record.key_id),
                at=j.signed.verdict.issued_at.isoformat() if j.signed is not None else "",
                version=j.record.version,
                previous=f.get("previous") if isinstance(f.get("previous"), str) else None,
                state=str(f.get("state", "")),
                by=j.signed.team if j.signed is not None else None,
                reason=j.signed.verdict.note if j.signed is not None else "",
                valid=None if j.unverifiable and not j.problems else j.holds,
                problems=(*j.problems, *([j.unverifiable] if j.unverifiable else [])),
                unsigned={k: v for k, v in unsigned.items() if v not in (None, "")},
            )
        )
    if trust is not None:  # refused verdicts kept with a version: attempts that did not count
        for version, envs in sorted(snap.envelopes.items()):
            seen: set[str] = set()
            for env in envs:
                signed, _ = _verify(env, trust)
                if signed is None or signed.verdict.passed or signed.envelope_digest in seen:
                    continue
                seen.add(signed.envelope_digest)
                v = signed.verdict
                out.append(
                    HistoryEntry(
                        kind=f"refused {v.gate.value}",
                        id=signed.envelope_digest,
                        at=v.issued_at.isoformat(),
                        version=version,
                        previous=None,
                        state="refused",
                        by=signed.team,
                        reason="failed: " + ", ".join(c.id for c in v.failures),
                        valid=True,
                    )
                )
    out.sort(key=lambda h: (h.at or str(h.unsigned.get("at", "")), h.id))
    return out


def judge(
    snap: Snapshot,
    trust: TrustPolicy | None,
    contract: WorkloadContract | None = None,
    *,
    production_alias: str = "production",
) -> AuditReport:
    """The audit of one registered model: each alias's status and the history, oldest first."""
    promos = verified_promotions(snap, trust, contract)
    judged = [
        judge_record(snap, r, trust, contract, promotions=promos)
        for r in sorted(snap.records, key=lambda r: (r.version, r.kind, r.key_id))
    ]
    by_ref = {(j.record.kind, j.record.key_id, j.record.version): j for j in judged}
    events = [j for j in judged if j.holds and j.complete]
    latest = (
        max(events, key=lambda j: j.signed.verdict.issued_at if j.signed else datetime.min)
        if events
        else None
    )
    reports = [
        _alias(snap, alias, ver, trust, by_ref, promos, latest if alias == production_alias else None)
        for alias, ver in sorted(snap.aliases.items())
    ]
    history = _history(judged, snap, trust)
    attempts, gone = _unrecorded(snap, trust, latest)
    history = sorted([*history, *attempts], key=lambda h: (h.at or str(h.unsigned.get("at", "")), h.id))
    return AuditReport(snap.model, tuple(reports), tuple(history), trust is not None, (*snap.damage, *gone))


def _unrecorded(
    snap: Snapshot, trust: TrustPolicy | None, latest: RecordJudgement | None
) -> tuple[list[HistoryEntry], list[str]]:
    """The promotion envelopes kept without their record that no placement tag names: the latest
    attempt, interrupted before it moved an alias (a re-run finishes it), goes into the history; any
    other is damage (a record deleted, or an attempt never finished: the audit cannot tell which).

    An attempt is the latest when its envelope verifies as a passing promotion verdict about the
    version it is kept with, signed after every verified, complete record. Without a trust policy
    nothing verifies, so every such envelope is damage."""
    named = set()
    for text in snap.placements.values():
        placed = _fields(text)
        if placed.get("kind") == "promotion":
            named.add((str(placed.get("record"))[:16], str(placed.get("record_version"))))
    attempts: list[HistoryEntry] = []
    gone: list[str] = []
    for (rid, ver), env in sorted(snap.unrecorded.items()):
        if (rid, ver) in named:
            continue  # the alias it moved says INCOMPLETE (see _alias)
        signed = _verify(env, trust)[0] if trust is not None else None
        v = signed.verdict if signed is not None else None
        if (
            signed is not None
            and v is not None
            and v.gate is Gate.PROMOTION
            and v.passed
            and (v.subject.model, v.subject.version) == (snap.model, ver)
            and signed.envelope_digest.removeprefix("sha256:").startswith(rid)
            and (latest is None or latest.signed is None or v.issued_at > latest.signed.verdict.issued_at)
        ):
            attempts.append(
                HistoryEntry(
                    kind="promotion",
                    id=signed.envelope_digest.removeprefix("sha256:"),
                    at=v.issued_at.isoformat(),
                    version=ver,
                    previous=None,
                    state="interrupted",
                    by=signed.team,
                    reason="interrupted before it moved an alias; the same promotion re-run finishes it",
                    valid=True,
                )
            )
            continue
        gone.append(
            f"version {ver}: tag signoff.promotion-envelope.{rid} keeps a promotion envelope whose "
            "record is gone (deleted, or a promotion interrupted and overtaken by a later one)"
        )
    return attempts, gone


def _alias(
    snap: Snapshot,
    alias: str,
    ver: str,
    trust: TrustPolicy | None,
    by_ref: Mapping[tuple[str, str, str], RecordJudgement],
    promos: Mapping[str, list[RecordJudgement]],
    latest: RecordJudgement | None,
) -> AliasReport:
    placed = _fields(snap.placements[alias]) if alias in snap.placements else None
    if placed is None:
        return AliasReport(alias, ver, AliasStatus.UNBACKED, "signoff never set this alias")
    if str(placed.get("version")) != ver:
        return AliasReport(
            alias,
            ver,
            AliasStatus.UNBACKED,
            f"moved outside signoff: signoff last set it to version {placed.get('version')}",
        )
    kind, rid, rver = str(placed.get("kind")), str(placed.get("record")), str(placed.get("record_version"))
    j = by_ref.get((kind, rid[:16], rver))
    if j is None and kind == "promotion" and (rid[:16], rver) in snap.unrecorded:
        return _interrupted(snap, alias, ver, trust, rid, rver, snap.unrecorded[(rid[:16], rver)])
    if j is None:
        return AliasReport(alias, ver, AliasStatus.UNBACKED, f"the {kind} record {rid[:16]} is missing", rid)
    if j.problems:
        return AliasReport(
            alias, ver, AliasStatus.INVALID, f"the {kind} record: {'; '.join(j.problems)}", rid
        )
    if trust is None:
        return AliasReport(alias, ver, AliasStatus.UNVERIFIED, "nothing verified: pass --trust", rid)
    if j.unverifiable:
        return AliasReport(alias, ver, AliasStatus.UNVERIFIED, f"the {kind} record: {j.unverifiable}", rid)
    if not j.complete:
        return AliasReport(alias, ver, AliasStatus.INCOMPLETE, f"the {kind} was interrupted; re-run it", rid)
    own = [p for p in promos.get(ver, []) if p.complete]
    if not own:
        return AliasReport(
            alias,
            ver,
            AliasStatus.INVALID,
            f"version {ver} has no verified, complete promotion of its own",
            rid,
        )
    if latest is not None and latest.record.version != ver:
        assert latest.signed is not None
        return AliasReport(
            alias,
            ver,
            AliasStatus.UNBACKED,
            f"the latest signed move of {alias} is the {latest.record.kind} of version "
            f"{latest.record.version} "
            f"at {latest.signed.verdict.issued_at.isoformat()}; {alias} was moved without a signed record",
            rid,
        )
    backing = max(own, key=lambda p: p.signed.verdict.issued_at if p.signed else datetime.min)
    signed = _signed_view("promotion", backing)
    assert backing.signed is not None
    detail = (
        f"promotion {backing.signed.envelope_digest[7:23]} signed by {backing.signed.team} at "
        f"{backing.signed.verdict.issued_at.isoformat()} (verified)"
    )
    if latest is not None and latest.record.kind == "rollback" and latest.signed is not None:
        signed |= {k: v for k, v in _signed_view("rollback", latest).items() if k != "model_digest"}
        detail += (
            f"; rollback {latest.signed.envelope_digest[7:23]} signed by {latest.signed.team} at "
            f"{latest.signed.verdict.issued_at.isoformat()} (verified)"
        )
    return AliasReport(alias, ver, AliasStatus.BACKED, detail, rid, signed)


def _interrupted(
    snap: Snapshot, alias: str, ver: str, trust: TrustPolicy | None, rid: str, rver: str, env: bytes
) -> AliasReport:
    """An alias that a promotion moved and tagged before it was interrupted (its record, written
    last, is not there yet): INCOMPLETE when the envelope the tag names is a passing promotion verdict
    about the version it is kept with, INVALID otherwise. Never BACKED: a re-run writes the record."""
    problems = []
    if digest_bytes(env) != "sha256:" + rid:
        problems.append(f"the promotion envelope kept is not the one the {alias} tag names ({rid[:16]})")
    if trust is not None and not problems:
        signed, why = _verify(env, trust)
        if signed is None:
            problems.append(f"its envelope does not verify: {why}")
        else:
            v = signed.verdict
            if v.gate is not Gate.PROMOTION or not v.passed:
                problems.append(f"its envelope is not a passing promotion verdict ({v.gate.value})")
            if v.subject.model != snap.model or v.subject.version != rver:
                problems.append(
                    f"its verdict is about {v.subject.model} version {v.subject.version}, "
                    f"not {snap.model} version {rver}"
                )
    if problems:
        return AliasReport(alias, ver, AliasStatus.INVALID, f"the promotion: {'; '.join(problems)}", rid)
    if trust is None:
        return AliasReport(alias, ver, AliasStatus.UNVERIFIED, "nothing verified: pass --trust", rid)
    return AliasReport(
        alias, ver, AliasStatus.INCOMPLETE, "the promotion was interrupted before its record; re-run it", rid
    )
