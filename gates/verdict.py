"""Verdicts: what a gate decided, about which model version, under which contract.

A verdict is plain data. ``gates.signing`` wraps it in an in-toto Statement inside a DSSE
envelope signed by the owner team's key.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.canonical import DIGEST, canonical_json
from contracts.model_uri import VERSION
from contracts.trust import Gate

Figure = float | int | str | bool | None
"""An evidence figure a check used: a number, a short text or a flag."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Outcome(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    """Worth a human's look; does not fail the gate."""
    SKIP = "skip"
    """Not applicable to this workload (e.g. GPU checks for a CPU-only model)."""


class Check(_Frozen):
    """One check of a gate, with the figures it used."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,80}$")]
    """Stable check id, e.g. ``gpu.memory-fits``."""
    outcome: Outcome
    message: Annotated[str, Field(max_length=2000)]
    """One sentence a human reads: what was found against what was required."""
    figures: dict[str, Figure] = {}
    """The evidence figures the check used, e.g. ``{"model_gb": 30, "capacity_gb": 144}``."""

    @property
    def passed(self) -> bool:
        return self.outcome is not Outcome.FAIL


class Subject(_Frozen):
    """The exact model version a verdict is about."""

    model: Annotated[str, Field(min_length=1, max_length=255)]
    """MLflow registered model name."""
    version: Annotated[str, Field(pattern=f"^{VERSION}$")]
    """MLflow model version number."""
    digest: Annotated[str, Field(pattern=DIGEST)]
    """Digest over the manifest of the model's files (``components.digest``)."""

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.version}"


class Verdict(_Frozen):
    """A gate's decision. ``passed`` is true exactly when no check failed."""

    gate: Gate
    team: Annotated[str, Field(min_length=1, max_length=63)]
    """The owner team whose key signs this verdict."""
    passed: bool
    checks: tuple[Check, ...]
    subject: Subject
    contract_digest: Annotated[str, Field(pattern=DIGEST)]
    policy_digest: Annotated[str | None, Field(pattern=DIGEST)] = None
    """Digest of the cluster or trust policy the gate applied, where one applies."""
    artifacts: dict[str, Annotated[str, Field(pattern=DIGEST)]] = {}
    """Digests of what the gate judged besides the model, e.g. ``{"manifests": "sha256:..."}``."""
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    note: Annotated[str, Field(max_length=4000)] = ""
    """Free text: a reason for an approval or rollback, a run link."""

    @model_validator(mode="after")
    def _consistent(self) -> Verdict:
        if self.passed != all(c.passed for c in self.checks):
            raise ValueError("passed must be true exactly when no check failed")
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        ids = [c.id for c in self.checks]
        if len(ids) != len(set(ids)):
            raise ValueError("check ids must be unique")
        return self

    @classmethod
    def decide(
        cls,
        *,
        gate: Gate,
        team: str,
        checks: list[Check] | tuple[Check, ...],
        subject: Subject,
        contract_digest: str,
        now: datetime,
        ttl: timedelta,
        policy_digest: str | None = None,
        artifacts: dict[str, str] | None = None,
        note: str = "",
    ) -> Verdict:
        """Build a verdict from checks; ``passed`` follows from them."""
        return cls(
            gate=gate,
            team=team,
            passed=all(c.passed for c in checks),
            checks=tuple(checks),
            subject=subject,
            contract_digest=contract_digest,
            policy_digest=policy_digest,
            artifacts=dict(artifacts or {}),
            issued_at=now,
            expires_at=now + ttl,
            note=note,
        )

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is Outcome.FAIL)

    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()


def digest_bytes(data: bytes) -> str:
    """``sha256:<hex>`` of some bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
