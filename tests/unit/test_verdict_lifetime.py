"""Verdict lifetimes: a verdict claiming more than the contract's ``verdict_ttl``, or issued in the future
beyond :data:`gates.promotion.MAX_CLOCK_SKEW`, is refused, and a refused verdict counts toward nothing.

Every envelope is really signed with the owner team's key: the attacker here is a key holder (or a
pipeline step with its key) minting a long-lived or pre-dated verdict that verifies cryptographically.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _signoff_kit import NOW, contract, envelope, subject, trust

from contracts.trust import Gate
from contracts.workload import WorkloadContract
from gates import promotion, signing
from gates.verdict import Outcome, Verdict

TTL = timedelta(days=7)  # recsys-ranker's promotion.verdict_ttl
SKEW = promotion.MAX_CLOCK_SKEW
HANDOFFS = (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS)


def _failing(v: Verdict) -> dict[str, str]:
    return {c.id: c.message for c in v.checks if c.outcome is Outcome.FAIL}


def _envs(**special: dict[str, object]) -> list[bytes]:
    """The three handoff envelopes; ``special[gate]`` overrides that one's verdict fields."""
    return [envelope(g, **special.get(g.value, {})) for g in HANDOFFS]  # type: ignore[arg-type]


def test_contract_ttl_is_what_the_example_says() -> None:
    assert timedelta(seconds=contract().spec.promotion.verdict_ttl.seconds) == TTL


def test_a_verdict_exactly_as_long_as_verdict_ttl_holds() -> None:
    v = promotion.evaluate(contract(), subject(), _envs(), trust(), NOW + timedelta(hours=1))
    assert v.passed, _failing(v)


@pytest.mark.parametrize("life", [TTL + timedelta(seconds=1), timedelta(days=3650)])
def test_a_verdict_longer_than_verdict_ttl_is_refused(life: timedelta) -> None:
    envs = _envs(platform={"ttl": life})
    v = promotion.evaluate(contract(), subject(), envs, trust(), NOW + timedelta(hours=1))
    failing = _failing(v)
    assert set(failing) == {"gate.platform"}
    assert "longer than the contract's verdict_ttl of 7d" in failing["gate.platform"]
    assert "a verdict that outlives the contract's limit is refused" in failing["gate.platform"]
    assert "platform" not in v.artifacts


def test_an_overlong_verdict_is_refused_even_while_young() -> None:
    """Refused, not trimmed: one second after signing it is still a 10-year verdict."""
    envs = _envs(**{"sre-readiness": {"ttl": timedelta(days=3650)}})
    v = promotion.evaluate(contract(), subject(), envs, trust(), NOW + timedelta(seconds=1))
    assert "claims a validity of 3650d" in _failing(v)["gate.sre-readiness"]


def test_a_shorter_contract_ttl_refuses_verdicts_signed_under_the_longer_one() -> None:
    data = contract().model_dump(mode="json")
    data["spec"]["promotion"]["verdict_ttl"] = "1d"
    shorter = WorkloadContract.model_validate(data)
    envs = [envelope(g, contract_digest=shorter.digest()) for g in HANDOFFS]
    v = promotion.evaluate(shorter, subject(), envs, trust(), NOW + timedelta(hours=1))
    assert len(_failing(v)) == 3
    assert "longer than the contract's verdict_ttl of 1d" in _failing(v)["gate.ml-artifact"]


def test_issued_within_the_clock_skew_holds() -> None:
    v = promotion.evaluate(contract(), subject(), _envs(), trust(), NOW - SKEW)
    assert v.passed, _failing(v)
    # ... and the promotion verdict still claims no more than the contract's verdict_ttl.
    assert v.expires_at - v.issued_at <= TTL


@pytest.mark.parametrize("ahead", [SKEW + timedelta(microseconds=1), timedelta(days=2)])
def test_issued_in_the_future_beyond_the_clock_skew_is_refused(ahead: timedelta) -> None:
    v = promotion.evaluate(contract(), subject(), _envs(), trust(), NOW - ahead)
    failing = _failing(v)
    assert set(failing) == {"gate.ml-artifact", "gate.platform", "gate.sre-readiness"}
    assert (
        "by more than the allowed clock skew of 2m; a verdict from the future is refused"
        in (failing["gate.platform"])
    )


def test_a_predated_verdict_does_not_win_over_a_valid_older_one() -> None:
    """Candidates are ranked by issued_at: a far-future one would win, were it not refused first."""
    valid = envelope(Gate.SRE_READINESS)
    future = envelope(Gate.SRE_READINESS, now=NOW + timedelta(days=1))
    envs = [*_envs()[:2], future, valid]
    v = promotion.evaluate(contract(), subject(), envs, trust(), NOW + timedelta(hours=1))
    assert v.passed, _failing(v)
    assert v.artifacts["sre-readiness"] == signing.verify_envelope(valid, trust()).envelope_digest


def test_an_overlong_approval_does_not_count() -> None:
    data = contract().model_dump(mode="json")
    data["spec"]["promotion"]["approval"] = "manual"
    manual = WorkloadContract.model_validate(data)
    envs = [envelope(g, contract_digest=manual.digest()) for g in HANDOFFS]
    approval = envelope(Gate.APPROVAL, contract_digest=manual.digest(), ttl=timedelta(days=30))
    v = promotion.evaluate(manual, subject(), envs, trust(), NOW + timedelta(hours=1), approvals=[approval])
    assert set(_failing(v)) == {"gate.approval"}
    assert "longer than the contract's verdict_ttl of 7d" in _failing(v)["gate.approval"]


def test_validity_problems_lists_every_reason() -> None:
    signed = signing.verify_envelope(envelope(Gate.PLATFORM, ttl=timedelta(days=30)), trust())
    reasons = promotion.validity_problems(signed.verdict, TTL, NOW - timedelta(hours=1))
    assert len(reasons) == 2 and "verdict_ttl" in reasons[0] and "clock skew" in reasons[1]
    assert promotion.validity_problems(signed.verdict, timedelta(days=30), NOW) == []


def test_signoff_verify_refuses_an_overlong_envelope(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command a person runs says why, with the real example trust policy and fixture keys."""
    from test_signing_cli import CONTRACT, DIGEST, TRUST, _key

    from contracts.loader import load_contract
    from gates.verdict import Check, Subject
    from pipelines._cli.main import main

    c = load_contract(CONTRACT)
    now = datetime.now(UTC) - timedelta(minutes=1)
    v = Verdict.decide(
        gate=Gate.PLATFORM,
        team="platform-gpu-team",
        checks=[Check(id="x.check", outcome=Outcome.PASS, message="fits")],
        subject=Subject(model="recsys-ranker", version="7", digest=DIGEST),
        contract_digest=c.digest(),
        now=now,
        ttl=timedelta(days=365),
    )
    path = tmp_path / "platform.dsse.json"
    path.write_bytes(signing.sign_verdict(v, _key("platform-gpu-team")))
    args = ["verify", str(path), "--trust", str(TRUST), "--contract", str(CONTRACT), "--model-digest", DIGEST]
    monkeypatch.setattr(sys, "argv", ["signoff", *args])
    code = main(args)
    out, _ = capsys.readouterr()
    assert code == 1
    assert "DOES NOT HOLD" in out
    assert "claims a validity of 365d" in out and "verdict_ttl of 7d" in out
