"""Pure decisions: every gate is ``evaluate(...) -> Verdict`` with its inputs passed in.

No network, no clock, no file reads. Also here: rendering manifests from a contract and policy,
and signing and verifying verdicts (DSSE envelopes around in-toto Statements).
"""

from gates.verdict import Check, Outcome, Subject, Verdict

__all__ = ["Check", "Outcome", "Subject", "Verdict"]
