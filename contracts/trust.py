"""The trust policy: which public keys belong to which team, and which gates each team signs.

A verdict verifies only if its signature is by a key listed here, of a team allowed to sign that
gate. The policy holds public keys only (PEM, inline), never private ones.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.canonical import canonical_json
from contracts.gate import REQUIRED_GATES, Gate

__all__ = ["REQUIRED_GATES", "Gate", "Team", "TrustMetadata", "TrustPolicy", "TrustSpec", "TrustedKey"]

_TEAM = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class TrustedKey(_Frozen):
    """One public key of a team."""

    public_key: Annotated[
        str,
        Field(
            pattern=r"^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n?$",
            max_length=4096,
        ),
    ]
    """The Ed25519 public key, PEM (SubjectPublicKeyInfo)."""
    keyid: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None
    """sha256 of the key's DER encoding; checked against the key when given."""


class Team(_Frozen):
    """A team, its keys and the gates it may sign."""

    name: Annotated[str, Field(pattern=_TEAM)]
    gates: Annotated[tuple[Gate, ...], Field(min_length=1)]
    keys: Annotated[tuple[TrustedKey, ...], Field(min_length=1)]


class TrustSpec(_Frozen):
    teams: Annotated[tuple[Team, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> TrustSpec:
        names = [t.name for t in self.teams]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"teams: {', '.join(dup)} listed more than once")
        return self

    def team(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)


class TrustMetadata(_Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


class TrustPolicy(_Frozen):
    """The trust policy document."""

    apiVersion: Literal["signoff.dev/v1alpha1"] = "signoff.dev/v1alpha1"
    kind: Literal["TrustPolicy"] = "TrustPolicy"
    metadata: TrustMetadata
    spec: TrustSpec

    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()
