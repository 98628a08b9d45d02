"""The ML team's manual promotion approval: a verdict of gate ``approval``, signed like any other.

A contract with ``promotion.approval: manual`` needs one, signed by the contract's ML team for this
exact model version and contract, before the promotion gate passes (``signoff approve``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.errors import InputError
from contracts.trust import Gate
from contracts.workload import WorkloadContract
from gates.verdict import Check, Outcome, Subject, Verdict

__all__ = ["make_approval"]


def make_approval(
    contract: WorkloadContract, subject: Subject, team: str, now: datetime, note: str
) -> Verdict:
    """An approval verdict of the ML team for one model version under one contract.

    Args:
        contract: The workload contract being promoted under.
        subject: The model version (and its files' digest) being approved.
        team: The approving team; must be the contract's ML team.
        now: When the approval is given.
        note: Why (a ticket, a review link); kept in the signed verdict.

    Returns:
        A passing verdict of gate ``approval``, valid for the contract's ``promotion.verdict_ttl``.

    Raises:
        InputError: the team is not the contract's ML team.
    """
    ml = contract.spec.owners.ml.team
    if team != ml:
        raise InputError(f"only the contract's ML team ({ml}) approves a promotion, not {team!r}")
    check = Check(
        id="approval.given",
        outcome=Outcome.PASS,
        message=f"{team} approves promoting {subject.model} version {subject.version} under {contract.name}",
        figures={"approver": team, "approval": contract.spec.promotion.approval.value},
    )
    return Verdict.decide(
        gate=Gate.APPROVAL,
        team=team,
        checks=[check],
        subject=subject,
        contract_digest=contract.digest(),
        now=now,
        ttl=timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds),
        note=note,
    )
