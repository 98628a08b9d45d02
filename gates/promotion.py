"""The promotion gate: does every owner's signed verdict hold for this model version and contract?

Passes only when, for every required gate (``ml-artifact``, ``platform``, ``sre-readiness``, and
``approval`` when the contract asks for manual approval), there is an envelope that

* verifies against the trust policy (:func:`gates.signing.verify_envelope`: a trusted key of a team
  authorized for that gate, a sound statement),
* is signed by the team the contract names as owner of that gate (ML for ``ml-artifact`` and
  ``approval``, platform for ``platform``, SRE for ``sre-readiness``),
* carries a passing verdict about exactly this model name, version and files' digest,
* was judged against exactly this contract (its digest),
* is valid now: ``issued_at <= now + MAX_CLOCK_SKEW`` and ``now < expires_at`` (a verdict is no
  longer valid at the instant it expires),
* claims no longer a life than the contract allows: ``expires_at - issued_at <= verdict_ttl`` (a
  signer cannot mint a verdict that outlives the contract's limit; one that does is refused, not
  trimmed),

and the three handoff verdicts are signed by three distinct teams with three distinct keys, and
the stored input example was predicted on: in the ML step, or, when the ML gate deferred it (the step
image cannot load the model), by the SRE probe at the staging endpoint (``prediction.covered``).
Any envelope that does not verify fails the gate too: nothing unverifiable is waved through.
Every reason is listed as a failing check, not just the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.errors import VerificationError
from contracts.trust import REQUIRED_GATES, Gate, TrustPolicy
from contracts.workload import Approval, WorkloadContract
from gates import holds
from gates.holds import MAX_CLOCK_SKEW, OWNER_ROLE, ContractTerms, validity_problems
from gates.signing import SignedVerdict, verify_envelope
from gates.verdict import Check, Outcome, Subject, Verdict

__all__ = [
    "MAX_CLOCK_SKEW",
    "Decision",
    "decide",
    "evaluate",
    "owner_of",
    "problems",
    "required_gates",
    "resumable",
    "validity_problems",
]


def required_gates(contract: WorkloadContract) -> tuple[Gate, ...]:
    """The gates whose passing verdicts promotion needs: the three handoffs, plus approval if manual."""
    if contract.spec.promotion.approval is Approval.MANUAL:
        return (*REQUIRED_GATES, Gate.APPROVAL)
    return REQUIRED_GATES


def owner_of(contract: WorkloadContract, gate: Gate) -> str:
    """The team the contract names as owner (signer) of a gate."""
    return str(getattr(contract.spec.owners, OWNER_ROLE[gate]).team)


def problems(signed: SignedVerdict, contract: WorkloadContract, subject: Subject, now: datetime) -> list[str]:
    """Why a verified verdict does not hold for this contract, subject and time (empty if it holds)."""
    return holds.problems(signed, ContractTerms.of(contract), subject, now)


def _check(verdict: Verdict, cid: str) -> Check | None:
    return next((c for c in verdict.checks if c.id == cid), None)


def _prediction_covered(ml: Verdict, sre: Verdict) -> Check:
    """``prediction.covered``: the stored example was predicted on somewhere, and passed.

    The ML gate predicts where the model's runtime is installed; in the step image it is not, and the
    ML verdict defers the prediction (``prediction.example`` warns, ``prediction_ran_in`` says to
    whom). Then the SRE verdict must carry a passing ``probe.prediction``: the staging endpoint
    answered that example. A deferral nobody honoured is a refusal, not a pass by default.
    """
    cid = "prediction.covered"
    example = _check(ml, "prediction.example")
    ran_in = str((example.figures or {}).get("prediction_ran_in") or "") if example is not None else ""
    if example is not None and example.outcome is Outcome.PASS:
        return Check(
            id=cid,
            outcome=Outcome.PASS,
            message=f"the stored example was predicted on in the {ran_in or 'ml-artifact step'}",
            figures={"ran_in": ran_in or "ml-artifact step"},
        )
    probe = _check(sre, "probe.prediction")
    if probe is not None and probe.outcome is Outcome.PASS:
        where = str((probe.figures or {}).get("prediction_ran_in") or "the staging endpoint")
        return Check(
            id=cid,
            outcome=Outcome.PASS,
            message=f"the ML gate deferred the example prediction ({ran_in or 'not run'}); the SRE "
            f"verdict's probe.prediction passed at {where}",
            figures={"ran_in": where},
        )
    said = "has no probe.prediction check" if probe is None else f"probe.prediction is {probe.outcome.value}"
    return Check(
        id=cid,
        outcome=Outcome.FAIL,
        message=f"nobody predicted on the stored example: the ML verdict's prediction.example is "
        f"{example.outcome.value if example is not None else 'missing'} ({ran_in or 'not run'}) and the "
        f"SRE verdict {said}; run the sre-readiness step against a staging endpoint serving this version",
        figures={"ran_in": ran_in or None},
    )


def evaluate(
    contract: WorkloadContract,
    subject: Subject,
    envelopes: Sequence[bytes],
    trust: TrustPolicy,
    now: datetime,
    *,
    approvals: Sequence[bytes] = (),
) -> Verdict:
    """Decide whether a model version may be promoted: every required verdict holds.

    Args:
        contract: The workload contract the verdicts must be judged against.
        subject: The model version and its files' digest being promoted.
        envelopes: The signed verdicts (DSSE envelope bytes) of the gates.
        trust: The trust policy naming each team's keys and gates.
        now: The time the verdicts must be valid at.
        approvals: Signed approvals (``signoff approve``); may also be passed among ``envelopes``.

    Returns:
        The promotion verdict, owned by the ML team. ``artifacts`` maps each required gate to the
        digest of the envelope accepted for it. Every reason for refusal is a failing check.
    """
    return _judge(contract, subject, _verify_all([*envelopes, *approvals], trust), trust, now)


def _verify_all(envelopes: Sequence[bytes], trust: TrustPolicy) -> list[SignedVerdict | VerificationError]:
    """Each envelope verified once: its signed verdict, or why it does not verify."""
    out: list[SignedVerdict | VerificationError] = []
    for env in envelopes:
        try:
            out.append(verify_envelope(env, trust))
        except VerificationError as exc:
            out.append(exc)
    return out


def _judge(
    contract: WorkloadContract,
    subject: Subject,
    results: Sequence[SignedVerdict | VerificationError],
    trust: TrustPolicy,
    now: datetime,
) -> Verdict:
    """:func:`evaluate` over envelopes already verified (:func:`_verify_all`)."""
    checks: list[Check] = []
    accepted: list[SignedVerdict] = []
    for i, res in enumerate(results):
        if isinstance(res, SignedVerdict):
            accepted.append(res)
            continue
        checks.append(
            Check(
                id=f"envelope.{i}",
                outcome=Outcome.FAIL,
                message=f"envelope {i} does not verify: {'; '.join(res.reasons)}"[:2000],
                figures={"reasons": len(res.reasons)},
            )
        )

    required = required_gates(contract)
    terms = ContractTerms.of(contract)
    chosen: dict[Gate, SignedVerdict] = {}
    for gate in required:
        candidates = [s for s in accepted if s.verdict.gate is gate]
        holding = [s for s in candidates if not holds.problems(s, terms, subject, now)]
        cid = f"gate.{gate.value}"
        if holding:
            best = max(holding, key=lambda s: s.verdict.issued_at)
            chosen[gate] = best
            checks.append(
                Check(
                    id=cid,
                    outcome=Outcome.PASS,
                    message=f"{gate.value}: passing verdict signed by {best.team}, valid until "
                    f"{best.verdict.expires_at.isoformat()}",
                    figures={
                        "team": best.team,
                        "keyid": best.keyid,
                        "envelope": best.envelope_digest,
                        "expires_at": best.verdict.expires_at.isoformat(),
                        "candidates": len(candidates),
                    },
                )
            )
        elif not candidates:
            checks.append(
                Check(
                    id=cid,
                    outcome=Outcome.FAIL,
                    message=f"{gate.value}: no verified verdict was presented "
                    f"(owner: {owner_of(contract, gate)})",
                    figures={"candidates": 0},
                )
            )
        else:
            reasons = [
                f"[{s.envelope_digest[7:19]}] " + "; ".join(problems(s, contract, subject, now))
                for s in candidates
            ]
            checks.append(
                Check(
                    id=cid,
                    outcome=Outcome.FAIL,
                    message=f"{gate.value}: no verdict holds: {' | '.join(reasons)}"[:2000],
                    figures={"candidates": len(candidates)},
                )
            )

    others = sorted({s.verdict.gate.value for s in accepted if s.verdict.gate not in required})
    if others:
        checks.append(
            Check(
                id="gates.unexpected",
                outcome=Outcome.WARN,
                message=f"ignored verdicts of gates promotion does not need: {', '.join(others)}",
                figures={"gates": ",".join(others)},
            )
        )

    handoffs = [chosen[g] for g in REQUIRED_GATES if g in chosen]
    if len(handoffs) == len(REQUIRED_GATES):
        teams = {s.team for s in handoffs}
        keys = {s.keyid for s in handoffs}
        distinct = len(teams) == len(keys) == len(REQUIRED_GATES)
        checks.append(
            Check(
                id="owners.distinct",
                outcome=Outcome.PASS if distinct else Outcome.FAIL,
                message=(
                    f"the handoff verdicts are signed by {len(teams)} distinct teams "
                    f"with {len(keys)} distinct keys"
                    + ("" if distinct else "; separation of duties needs three of each")
                ),
                figures={"teams": len(teams), "keys": len(keys)},
            )
        )

    ml, sre = chosen.get(Gate.ML_ARTIFACT), chosen.get(Gate.SRE_READINESS)
    if ml is not None and sre is not None:
        checks.append(_prediction_covered(ml.verdict, sre.verdict))

    ttl = timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds)
    if chosen and len(chosen) == len(required):
        earliest = min(s.verdict.expires_at for s in chosen.values())
        if earliest > now:
            ttl = min(ttl, earliest - now)
    return Verdict.decide(
        gate=Gate.PROMOTION,
        team=contract.spec.owners.ml.team,
        checks=checks,
        subject=subject,
        contract_digest=contract.digest(),
        now=now,
        ttl=ttl,
        policy_digest=trust.digest(),
        artifacts={g.value: s.envelope_digest for g, s in chosen.items()},
    )


@dataclass(frozen=True)
class Decision:
    """What :func:`decide` found: the promotion verdict, or why none could be made."""

    verdict: Verdict | None
    """The promotion verdict (passed or refused); None when no ML-artifact verdict names the subject."""
    refusal: str = ""
    """Why no verdict could be made (``verdict`` is None)."""


def decide(
    contract: WorkloadContract,
    name: str,
    version: str,
    envelopes: Sequence[bytes],
    trust: TrustPolicy,
    now: datetime,
) -> Decision:
    """The promotion decision for ``name`` version ``version`` over the envelopes presented.

    The subject (the version and its files' digest) is the one a verifying ML-artifact verdict about
    this name and version states; each envelope is verified once. Without such a verdict there is
    nothing to judge against, and the decision says so (``verdict`` None).
    """
    results = _verify_all(envelopes, trust)
    subject = next(
        (
            r.verdict.subject
            for r in results
            if isinstance(r, SignedVerdict)
            and r.verdict.gate is Gate.ML_ARTIFACT
            and r.verdict.subject.model == name
            and r.verdict.subject.version == str(version)
        ),
        None,
    )
    if subject is None:
        return Decision(
            None,
            f"no verifying ML-artifact verdict for {name} version {version}; run "
            "`signoff check ml --key ...` first",
        )
    return Decision(_judge(contract, subject, results, trust, now))


def resumable(
    envelope: bytes | None,
    name: str,
    version: str,
    contract: WorkloadContract,
    trust: TrustPolicy,
    now: datetime,
) -> Verdict | None:
    """The verdict of an interrupted promotion of this version, if its envelope still verifies and
    holds (a passing promotion verdict about this version, within the contract's ``verdict_ttl`` and
    clock skew); None otherwise (a refused or expired one is never resumed: decide afresh)."""
    if envelope is None:
        return None
    try:
        v = verify_envelope(envelope, trust).verdict
    except VerificationError:
        return None
    ttl = timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds)
    if (
        v.gate is Gate.PROMOTION
        and v.passed
        and v.subject.model == name
        and v.subject.version == str(version)
        and not validity_problems(v, ttl, now)
    ):
        return v
    return None
