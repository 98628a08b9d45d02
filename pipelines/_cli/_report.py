"""How every ``signoff check GATE`` prints a verdict: each check with its figures, then the outcome."""

from __future__ import annotations

from gates.verdict import Verdict


def print_checks(verdict: Verdict) -> None:
    """Each check with its outcome, message and figures."""
    width = max((len(c.id) for c in verdict.checks), default=0)
    for check in verdict.checks:
        print(f"  {check.outcome.value.upper():4}  {check.id:{width}}  {check.message}")
        figures = ", ".join(f"{k}={v}" for k, v in check.figures.items())
        if figures:
            print(f"        {'':{width}}  [{figures}]")


def print_refusal(verdict: Verdict) -> int:
    """The REFUSED line when a check failed (exit code 1); 0 and nothing printed when none did."""
    if verdict.passed:
        return 0
    failed = ", ".join(c.id for c in verdict.failures)
    print(f"REFUSED: {len(verdict.failures)} check(s) failed: {failed}")
    return 1


def print_outcome(verdict: Verdict) -> int:
    """REFUSED (exit 1) or PASSED with the signing team (exit 0)."""
    if print_refusal(verdict):
        return 1
    print(f"PASSED: every check passed; team {verdict.team} signs this verdict")
    return 0
