"""The small builders every readiness check uses (one place, so the probe's checks and the static
ones word their figures alike)."""

from __future__ import annotations

from gates.verdict import Check, Figure, Outcome

__all__ = ["check", "num", "ok"]


def check(id_: str, outcome: Outcome, message: str, **figures: Figure) -> Check:
    """A check with its figures."""
    return Check(id=id_, outcome=outcome, message=message, figures=figures)


def ok(cond: bool) -> Outcome:
    """PASS when ``cond`` holds, else FAIL."""
    return Outcome.PASS if cond else Outcome.FAIL


def num(value: float) -> str:
    """A figure in a message: six significant digits at most."""
    return f"{value:.6g}"
