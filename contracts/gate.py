"""The gates whose verdicts signoff signs: a plain enum, importable without any model."""

from __future__ import annotations

import enum

__all__ = ["REQUIRED_GATES", "Gate"]


class Gate(enum.StrEnum):
    """The statements signoff signs. The first three are the handoff gates promotion needs."""

    ML_ARTIFACT = "ml-artifact"
    PLATFORM = "platform"
    SRE_READINESS = "sre-readiness"
    PROMOTION = "promotion"
    APPROVAL = "approval"
    """The ML team's manual approval (when the contract asks for one)."""
    ROLLBACK = "rollback"


REQUIRED_GATES: tuple[Gate, ...] = (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS)
