"""The automated rollback rule: when does a drift figure move production back?

The contract's rollback section lists the automated rollbacks; one on accuracy drift fires when the
measured drift is above the contract's accuracy-drift alert threshold. This is the only place the
rule is written: the pipeline's rollback check (:mod:`components.steps.rollback`) and the registry's
``auto_rollback`` both ask :func:`decide`. Pure: no registry, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.workload import Signal, WorkloadContract

__all__ = ["DriftDecision", "decide", "drift_limit"]


@dataclass(frozen=True)
class DriftDecision:
    """What the rule says about one drift figure."""

    automated: bool
    """The contract lists an automated rollback on accuracy drift."""
    limit: float | None
    """The accuracy-drift alert threshold (a fraction), if the contract has one."""
    fire: bool
    """Production must move back now."""
    reason: str
    """Why, in one sentence."""


def drift_limit(contract: WorkloadContract) -> float | None:
    """The contract's accuracy-drift alert threshold as a fraction (``3%`` -> 0.03), or none."""
    limits = [
        getattr(a.threshold, "fraction", None)
        for a in contract.spec.alerts
        if a.signal is Signal.ACCURACY_DRIFT
    ]
    return next((x for x in limits if x is not None), None)


def decide(contract: WorkloadContract, drift: float | None) -> DriftDecision:
    """Whether ``drift`` (a fraction; none: not measured) fires the contract's automated rollback."""
    automated = any(a.signal is Signal.ACCURACY_DRIFT for a in contract.spec.rollback.automated)
    limit = drift_limit(contract)
    if not automated:
        return DriftDecision(False, limit, False, "no automated rollback on accuracy drift in the contract")
    if limit is None:
        return DriftDecision(True, None, False, "no accuracy-drift alert threshold in the contract")
    if drift is None or drift <= limit:
        return DriftDecision(True, limit, False, f"armed: accuracy drift above {limit} moves production back")
    return DriftDecision(
        True, limit, True, f"accuracy drift {drift:.4f} above the contract's alert threshold {limit:.4f}"
    )
