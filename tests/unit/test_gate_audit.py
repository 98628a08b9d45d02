"""The audit's judgement (gates/audit.py) on snapshots built from real signed envelopes, no registry.

The integration tier (tests/integration/test_audit_attacks.py, test_audit_properties.py) runs the
same judgement on what a real MLflow server hands back; this tier pins the rules themselves.
"""

from __future__ import annotations

import json
from datetime import timedelta

from _signoff_kit import ML, NOW, PLATFORM, SRE, contract, key, subject, trust, verdict

from contracts.trust import Gate, TrustPolicy
from gates import audit, promotion, signing
from gates.verdict import Check, Outcome, Verdict, digest_bytes

MODEL, V7 = "recsys-ranker", "7"


def _trust() -> TrustPolicy:
    return trust(
        {
            ML: ((Gate.ML_ARTIFACT, Gate.APPROVAL, Gate.PROMOTION, Gate.ROLLBACK), [key(ML)]),
            PLATFORM: ((Gate.PLATFORM,), [key(PLATFORM)]),
            SRE: ((Gate.SRE_READINESS, Gate.ROLLBACK), [key(SRE)]),
        }
    )


def _sign(v: Verdict) -> bytes:
    return signing.sign_verdict(v, key(v.team))


def _promotion(
    version: str = V7, *, at: timedelta = timedelta(0), refuse: bool = False
) -> tuple[bytes, list[bytes]]:
    """A real promotion of ``version``: the three handoffs, the real gate over them, ML's signature."""
    subj = subject(version=version)
    handoffs = [
        _sign(verdict(g, subj=subj, now=NOW + at, passed=not (refuse and g is Gate.PLATFORM)))
        for g in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS)
    ]
    decided = promotion.evaluate(contract(), subj, handoffs, _trust(), NOW + at + timedelta(minutes=1))
    assert decided.passed is not refuse
    return _sign(decided), handoffs


def _record(kind: str, version: str, env: bytes | None, **extra: object) -> audit.StoredRecord:
    digest = digest_bytes(env) if env is not None else "sha256:" + "00" * 32
    fields = {"id": digest[7:], "envelope_digest": digest, "model": MODEL, "version": version}
    fields |= {"state": "complete", **extra}
    return audit.StoredRecord(kind, digest[7:23], version, json.dumps(fields), env)


def _placed(version: str, rec: audit.StoredRecord) -> str:
    return json.dumps(
        {"version": version, "record": rec.key_id, "record_version": rec.version, "kind": rec.kind}
    )


def _snapshot(
    *, records: list[audit.StoredRecord], envelopes: dict[str, list[bytes]], **aliases: str
) -> audit.Snapshot:
    placements = {a: _placed(v, next(r for r in records if r.version == v)) for a, v in aliases.items()}
    pool = {v: tuple(e) for v, e in envelopes.items()}
    return audit.Snapshot(MODEL, dict(aliases), placements, tuple(records), pool)


def test_a_signed_promotion_backs_production_and_only_signed_fields_show_as_such() -> None:
    env, handoffs = _promotion()
    rec = _record("promotion", V7, env, by="mallory", at="2001-01-01")
    report = audit.judge(_snapshot(records=[rec], envelopes={V7: [*handoffs, env]}, production=V7), _trust())
    (alias,) = report.aliases
    assert report.ok and alias.status is audit.AliasStatus.BACKED
    assert alias.signed["promotion_team"] == ML and alias.signed["model_digest"] == subject().digest
    (entry,) = report.history
    assert (entry.by, entry.unsigned["by"]) == (ML, "mallory") and not entry.at.startswith("2001")
    assert "signed by mallory" not in report.to_text()


def test_nothing_is_backed_without_a_trust_policy() -> None:
    env, handoffs = _promotion()
    snap = _snapshot(records=[_record("promotion", V7, env)], envelopes={V7: [*handoffs, env]}, production=V7)
    report = audit.judge(snap, None)
    assert not report.ok and report.aliases[0].status is audit.AliasStatus.UNVERIFIED


def test_a_refused_promotion_verdict_backs_nothing_but_is_listed() -> None:
    env, handoffs = _promotion(refuse=True)
    snap = _snapshot(records=[_record("promotion", V7, env)], envelopes={V7: [*handoffs, env]}, production=V7)
    report = audit.judge(snap, _trust())
    assert report.aliases[0].status is audit.AliasStatus.INVALID
    assert "its promotion verdict was refused" in report.aliases[0].detail
    assert {h.kind for h in report.history} >= {"refused platform", "refused promotion"}


def test_a_named_verdict_that_is_not_kept_is_flagged() -> None:
    env, handoffs = _promotion()
    snap = _snapshot(
        records=[_record("promotion", V7, env)], envelopes={V7: [*handoffs[:2], env]}, production=V7
    )
    detail = audit.judge(snap, _trust()).aliases[0].detail
    assert "the sre-readiness verdict it names" in detail and "is not kept with the version" in detail


def _rollback(team: str, problem: str, version: str = V7) -> bytes:
    check = Check(
        id="rollback.decided", outcome=Outcome.PASS, message="decided", figures={"problem": problem}
    )
    v = Verdict.decide(
        gate=Gate.ROLLBACK, team=team, checks=[check], subject=subject(version=version),
        contract_digest=contract().digest(), now=NOW + timedelta(hours=2), ttl=timedelta(days=1),
    )  # fmt: skip
    return _sign(v)


def test_a_rollback_needs_the_contracts_team_and_a_verified_promotion_of_its_target() -> None:
    env7, h7 = _promotion()
    env8, h8 = _promotion("8", at=timedelta(hours=1))
    promos = [_record("promotion", V7, env7), _record("promotion", "8", env8)]
    for team, problem, status in (
        (SRE, "availability", audit.AliasStatus.BACKED),
        (ML, "availability", audit.AliasStatus.INVALID),  # availability is SRE's call in the contract
    ):
        back = _rollback(team, problem)
        rec = _record("rollback", V7, back)
        snap = _snapshot(
            records=[*promos, rec], envelopes={V7: [*h7, env7, back], "8": [*h8, env8]}, production=V7
        )
        snap = audit.Snapshot(
            MODEL, {"production": V7}, {"production": _placed(V7, rec)}, snap.records, snap.envelopes
        )
        assert audit.judge(snap, _trust(), contract()).aliases[0].status is status
        assert audit.judge(snap, _trust()).aliases[0].status is audit.AliasStatus.UNVERIFIED  # no contract
    # Production moved back to 7 by hand, its placement pointing at 7's own promotion: not backed.
    hand = audit.Snapshot(MODEL, {"production": V7}, {"production": _placed(V7, promos[0])}, tuple(promos),
                          {V7: (*h7, env7), "8": (*h8, env8)})  # fmt: skip
    detail = audit.judge(hand, _trust(), contract()).aliases[0].detail
    assert "latest signed move of production is the promotion of version 8" in detail


def test_a_hand_written_complete_record_is_no_rollback_target() -> None:
    env7, h7 = _promotion()
    forged = _record("promotion", "9", env7)  # version 7's real envelope, kept on version 9
    snap = _snapshot(
        records=[_record("promotion", V7, env7), forged], envelopes={V7: [*h7, env7], "9": [env7]}
    )
    problem = audit.rollback_target_problem(snap, _trust(), contract(), "9")
    assert problem is not None and "version 9 has no verified promotion of this workload" in problem
    assert "its verdict is about recsys-ranker version 7, not recsys-ranker version 9" in problem
    assert audit.rollback_target_problem(snap, _trust(), contract(), V7) is None


def test_a_promotion_envelope_without_its_record_is_interrupted_only_when_it_can_be_finished() -> None:
    env7, h7 = _promotion()
    env8, h8 = _promotion("8", at=timedelta(hours=1))
    rec7 = _record("promotion", V7, env7)
    pool = {V7: (*h7, env7), "8": (*h8, env8)}
    key8 = (digest_bytes(env8)[7:23], "8")
    placed8 = json.dumps({"version": "8", "record": digest_bytes(env8)[7:], "record_version": "8",
                          "kind": "promotion"})  # fmt: skip
    # Interrupted after production moved and was tagged (the record is written last): INCOMPLETE.
    moved = audit.Snapshot(
        MODEL, {"production": "8"}, {"production": placed8}, (rec7,), pool, (), {key8: env8}
    )
    (alias,) = audit.judge(moved, _trust(), contract()).aliases
    assert alias.status is audit.AliasStatus.INCOMPLETE and "re-run it" in alias.detail
    # The tag naming another envelope than the one kept: INVALID, never INCOMPLETE.
    swapped = audit.Snapshot(
        MODEL, {"production": "8"}, {"production": placed8}, (rec7,), pool, (), {key8: env7}
    )
    assert audit.judge(swapped, _trust(), contract()).aliases[0].status is audit.AliasStatus.INVALID
    # Interrupted before any alias moved: production still backed, the attempt in the history.
    before = audit.Snapshot(MODEL, {"production": V7}, {"production": _placed(V7, rec7)}, (rec7,), pool, (),
                            {key8: env8})  # fmt: skip
    report = audit.judge(before, _trust(), contract())
    assert report.ok, report.to_text()
    assert [(h.version, h.state, h.by) for h in report.history] == [
        (V7, "complete", ML),
        ("8", "interrupted", ML),
    ]
    # A historic record deleted (7's, after 8 was promoted): its envelope is left alone, which is damage.
    rec8 = _record("promotion", "8", env8)
    key7 = (digest_bytes(env7)[7:23], V7)
    on8 = {"production": _placed("8", rec8)}
    deleted = audit.Snapshot(MODEL, {"production": "8"}, on8, (rec8,), pool, (), {key7: env7})
    report = audit.judge(deleted, _trust(), contract())
    assert not report.ok and report.aliases[0].status is audit.AliasStatus.BACKED
    assert [d for d in report.damage if "promotion envelope whose record is gone" in d]
    # Without a trust policy nothing can tell an attempt from a deletion: damage.
    assert audit.judge(before, None).damage
