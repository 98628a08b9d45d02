"""The promotion gate: passes only when every owner's real signed verdict holds; lists every reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from _signoff_kit import (
    ML,
    NOW,
    OTHER_DIGEST,
    PLATFORM,
    SRE,
    contract,
    envelope,
    key,
    subject,
    trust,
    verdict,
)

from contracts.trust import Gate
from contracts.workload import WorkloadContract
from gates import approval, promotion, signing
from gates.verdict import Outcome, Verdict


def _all(**kw: object) -> list[bytes]:
    return [envelope(g, **kw) for g in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS)]  # type: ignore[arg-type]


def _failing(v: Verdict) -> dict[str, str]:
    return {c.id: c.message for c in v.checks if c.outcome is Outcome.FAIL}


def _manual() -> WorkloadContract:
    data = contract().model_dump(mode="json")
    data["spec"]["promotion"]["approval"] = "manual"
    return WorkloadContract.model_validate(data)


def test_three_passing_verdicts_promote() -> None:
    envs = _all()
    v = promotion.evaluate(contract(), subject(), envs, trust(), NOW + timedelta(hours=1))
    assert v.passed, _failing(v)
    assert v.gate is Gate.PROMOTION and v.team == ML
    assert v.policy_digest == trust().digest()
    expected = {
        s.verdict.gate.value: s.envelope_digest for s in (signing.verify_envelope(e, trust()) for e in envs)
    }
    assert v.artifacts == expected
    owners = next(c for c in v.checks if c.id == "owners.distinct")
    assert owners.figures == {"teams": 3, "keys": 3}
    # The promotion verdict never outlives the verdicts it rests on.
    assert v.expires_at <= NOW + timedelta(days=7)


def test_required_gates_follow_the_contract() -> None:
    assert promotion.required_gates(contract()) == (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS)
    assert promotion.required_gates(_manual())[-1] is Gate.APPROVAL


def test_a_missing_gate_refuses() -> None:
    envs = _all()[:2]
    v = promotion.evaluate(contract(), subject(), envs, trust(), NOW)
    assert not v.passed
    assert "no verified verdict was presented (owner: sre-ai-oncall)" in _failing(v)["gate.sre-readiness"]


def test_a_real_verdict_for_version_7_presented_for_version_8() -> None:
    envs = _all()
    v = promotion.evaluate(contract(), subject(version="8"), envs, trust(), NOW)
    failing = _failing(v)
    assert set(failing) == {"gate.ml-artifact", "gate.platform", "gate.sre-readiness"}
    assert "about recsys-ranker version 7, not recsys-ranker version 8" in failing["gate.platform"]


def test_another_model_digest_refuses() -> None:
    v = promotion.evaluate(contract(), subject(digest=OTHER_DIGEST), _all(), trust(), NOW)
    assert f"is not this version's {OTHER_DIGEST}" in _failing(v)["gate.ml-artifact"]


def test_the_contract_edited_after_the_platform_signed() -> None:
    envs = _all()
    data = contract().model_dump(mode="json")
    data["spec"]["slos"]["p99_latency"] = "120ms"  # loosened after platform and SRE signed
    edited = WorkloadContract.model_validate(data)
    v = promotion.evaluate(edited, subject(), envs, trust(), NOW)
    assert not v.passed
    assert "the contract changed after it was signed" in _failing(v)["gate.platform"]
    assert v.contract_digest == edited.digest()


def test_expired_and_exactly_at_expiry() -> None:
    """Decided: a verdict is valid iff issued_at <= now < expires_at; at the expiry instant it is not."""
    envs = _all(ttl=timedelta(days=1))
    expiry = NOW + timedelta(days=1)
    just_before = promotion.evaluate(contract(), subject(), envs, trust(), expiry - timedelta(microseconds=1))
    assert just_before.passed
    at = promotion.evaluate(contract(), subject(), envs, trust(), expiry)
    assert not at.passed
    assert f"it expired at {expiry.isoformat()}" in _failing(at)["gate.platform"]
    later = promotion.evaluate(contract(), subject(), envs, trust(), expiry + timedelta(days=30))
    assert len(_failing(later)) == 3


def test_a_verdict_from_the_future_refuses() -> None:
    v = promotion.evaluate(contract(), subject(), _all(), trust(), NOW - timedelta(minutes=5))
    assert "after now" in _failing(v)["gate.ml-artifact"]


def test_a_failed_verdict_validly_signed_refuses() -> None:
    envs = [*_all()[:2], envelope(Gate.SRE_READINESS, passed=False)]
    v = promotion.evaluate(contract(), subject(), envs, trust(), NOW)
    assert set(_failing(v)) == {"gate.sre-readiness"}
    assert "the verdict failed (a.second)" in _failing(v)["gate.sre-readiness"]


def test_a_newer_passing_verdict_beside_an_older_failed_one_promotes() -> None:
    old = envelope(Gate.SRE_READINESS, passed=False)
    new = envelope(Gate.SRE_READINESS, now=NOW + timedelta(hours=1))
    v = promotion.evaluate(contract(), subject(), [*_all()[:2], old, new], trust(), NOW + timedelta(hours=2))
    assert v.passed, _failing(v)
    assert v.artifacts["sre-readiness"] == signing.verify_envelope(new, trust()).envelope_digest


def test_an_unverifiable_envelope_refuses_even_beside_good_ones() -> None:
    forged = signing.sign_verdict(verdict(Gate.PLATFORM), key("stranger"))
    v = promotion.evaluate(contract(), subject(), [*_all(), forged], trust(), NOW)
    assert not v.passed
    assert "does not list" in _failing(v)["envelope.3"]


def test_a_team_the_trust_policy_authorizes_but_the_contract_does_not_name() -> None:
    # The trust policy lets "ranking-squad-2" sign ml-artifact; the contract's ML team is ranking-squad.
    policy = trust(
        {
            ML: ((Gate.ML_ARTIFACT,), [key(ML)]),
            "ranking-squad-2": ((Gate.ML_ARTIFACT,), [key("ranking-squad-2")]),
            PLATFORM: ((Gate.PLATFORM,), [key(PLATFORM)]),
            SRE: ((Gate.SRE_READINESS,), [key(SRE)]),
        }
    )
    other = signing.sign_verdict(verdict(Gate.ML_ARTIFACT, team="ranking-squad-2"), key("ranking-squad-2"))
    v = promotion.evaluate(contract(), subject(), [other, *_all()[1:]], policy, NOW)
    assert "the contract names ranking-squad as owner of ml-artifact" in _failing(v)["gate.ml-artifact"]


def test_every_reason_is_listed() -> None:
    envs = [
        envelope(Gate.ML_ARTIFACT, passed=False),
        b"{}",
        envelope(Gate.PLATFORM, subj=subject(version="9")),
    ]
    v = promotion.evaluate(contract(), subject(), envs, trust(), NOW)
    assert set(_failing(v)) == {"envelope.1", "gate.ml-artifact", "gate.platform", "gate.sre-readiness"}


# ------------------------------------------------------------------------------------------- approval


def test_manual_approval_is_required_when_the_contract_asks() -> None:
    c = _manual()
    envs = _all(contract_digest=c.digest())
    without = promotion.evaluate(c, subject(), envs, trust(), NOW)
    assert set(_failing(without)) == {"gate.approval"}
    ok = signing.sign_verdict(approval.make_approval(c, subject(), ML, NOW, "CHG-1234"), key(ML))
    with_approval = promotion.evaluate(c, subject(), envs, trust(), NOW, approvals=[ok])
    assert with_approval.passed, _failing(with_approval)
    assert "approval" in with_approval.artifacts


def test_an_approval_for_another_version_does_not_count() -> None:
    c = _manual()
    envs = _all(contract_digest=c.digest())
    other = signing.sign_verdict(approval.make_approval(c, subject(version="6"), ML, NOW, ""), key(ML))
    v = promotion.evaluate(c, subject(), envs, trust(), NOW, approvals=[other])
    assert "version 6" in _failing(v)["gate.approval"]


def test_only_the_ml_team_approves() -> None:
    from contracts.errors import InputError

    with pytest.raises(InputError, match=r"only the contract's ML team \(ranking-squad\) approves"):
        approval.make_approval(contract(), subject(), SRE, NOW, "")


def _with_prediction(ml: str, sre: str) -> list[bytes]:
    return [
        envelope(Gate.ML_ARTIFACT, prediction=ml),
        envelope(Gate.PLATFORM),
        envelope(Gate.SRE_READINESS, prediction=sre),
    ]


def test_a_deferred_prediction_needs_the_sre_probes_signed_prediction() -> None:
    at = NOW + timedelta(hours=1)
    # Deferred by the ML gate and answered by the staging endpoint: promotes, and says where it ran.
    v = promotion.evaluate(contract(), subject(), _with_prediction("deferred", "deferred"), trust(), at)
    assert v.passed, _failing(v)
    covered = next(c for c in v.checks if c.id == "prediction.covered")
    assert "probe.prediction passed at http://recsys.ml-staging.svc.cluster.local" in covered.message
    # Deferred, but the SRE verdict never predicted (an older SRE step, or one that skipped it): refused.
    v = promotion.evaluate(contract(), subject(), _with_prediction("deferred", "ran"), trust(), at)
    assert not v.passed
    assert _failing(v) == {
        "prediction.covered": "nobody predicted on the stored example: the ML verdict's prediction.example "
        "is warn (deferred to sre-readiness) and the SRE verdict has no probe.prediction check; run the "
        "sre-readiness step against a staging endpoint serving this version"
    }
    # An ML verdict that never mentions the prediction is not a pass by default either.
    v = promotion.evaluate(contract(), subject(), _with_prediction("none", "ran"), trust(), at)
    assert "prediction.covered" in _failing(v)
