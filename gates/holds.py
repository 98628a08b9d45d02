"""Whether a verified verdict holds for a contract, a model version and a time.

The contract enters only through its :class:`ContractTerms`: its name and model, the team owning
each role, its ``verdict_ttl`` and its digest. ``signoff verify`` takes them from a plainly valid
contract without building the contract's models (:func:`ContractTerms.of_plain`); every other caller
takes them from the model (:func:`ContractTerms.of`). Both give the same terms (the digest is the
same canonical JSON's), so a verdict holds or not whichever way the contract was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from contracts._units import Duration
from contracts.gate import Gate

if TYPE_CHECKING:
    from collections.abc import Sequence

    from contracts.workload import WorkloadContract

__all__ = ["MAX_CLOCK_SKEW", "OWNER_ROLE", "ContractTerms", "problems", "validity_problems"]

MAX_CLOCK_SKEW = timedelta(minutes=2)
"""How far a verdict's ``issued_at`` may lie ahead of the verifier's clock.

Signers and verifiers run on different machines (pipeline pods, a laptop, the admission webhook);
clocks kept by NTP differ by well under a second, so two minutes covers a badly synced node without
letting a verdict be pre-dated into the future. Beyond it the verdict is refused."""

OWNER_ROLE: Mapping[Gate, str] = {
    Gate.ML_ARTIFACT: "ml",
    Gate.APPROVAL: "ml",
    Gate.PROMOTION: "ml",
    Gate.PLATFORM: "platform",
    Gate.SRE_READINESS: "sre",
    Gate.ROLLBACK: "ml",
}
"""The contract role whose team signs each gate's verdict."""


class SubjectLike(Protocol):
    """A model version: :class:`gates.verdict.Subject`, or ``gates._plain``'s equal."""

    @property
    def model(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def digest(self) -> str: ...


class CheckLike(Protocol):
    @property
    def id(self) -> str: ...


class VerdictLike(Protocol):
    """What holding depends on in a verdict: :class:`gates.verdict.Verdict`, or its plain equal."""

    @property
    def gate(self) -> Gate: ...
    @property
    def passed(self) -> bool: ...
    @property
    def subject(self) -> SubjectLike: ...
    @property
    def contract_digest(self) -> str: ...
    @property
    def issued_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def failures(self) -> Sequence[CheckLike]: ...


class SignedLike(Protocol):
    """A verified verdict and its signer: :class:`gates.signing.SignedVerdict`, or its plain equal."""

    @property
    def verdict(self) -> VerdictLike: ...
    @property
    def team(self) -> str: ...


@dataclass(frozen=True)
class ContractTerms:
    """What a verdict must match in a contract."""

    name: str
    model: str
    owners: Mapping[str, str]
    """Role (``ml``, ``platform``, ``sre``) -> the team the contract names."""
    verdict_ttl: timedelta
    digest: str
    """The contract's ``sha256:<hex>`` digest (:meth:`WorkloadContract.digest`)."""

    def owner_of(self, gate: Gate) -> str:
        """The team the contract names as owner (signer) of a gate."""
        return self.owners[OWNER_ROLE[gate]]

    @classmethod
    def of(cls, contract: WorkloadContract) -> ContractTerms:
        """The terms of a contract read by the models."""
        owners = contract.spec.owners
        return cls(
            name=contract.name,
            model=contract.metadata.model,
            owners={"ml": owners.ml.team, "platform": owners.platform.team, "sre": owners.sre.team},
            verdict_ttl=timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds),
            digest=contract.digest(),
        )

    @classmethod
    def of_plain(cls, dumped: Mapping[str, Any], digest: str) -> ContractTerms:
        """The terms from ``WorkloadContract.model_dump(mode="json")``'s equal (``_fastcheck.plain_json``)."""
        spec = dumped["spec"]
        return cls(
            name=str(dumped["metadata"]["name"]),
            model=str(dumped["metadata"]["model"]),
            owners={role: str(spec["owners"][role]["team"]) for role in ("ml", "platform", "sre")},
            verdict_ttl=timedelta(seconds=Duration.parse(spec["promotion"]["verdict_ttl"]).seconds),
            digest=digest,
        )


def _span(delta: timedelta) -> str:
    """A duration as people write it in a contract: ``7d``, ``36h``, ``90m``, ``45s``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{delta.total_seconds():g}s"


def validity_problems(verdict: VerdictLike, ttl: timedelta, now: datetime) -> list[str]:
    """Why a verdict is not valid at ``now`` under a contract whose ``verdict_ttl`` is ``ttl``.

    Refused: a validity (``expires_at - issued_at``) longer than ``ttl``; an ``issued_at`` more than
    :data:`MAX_CLOCK_SKEW` after ``now``; ``now`` at or after ``expires_at``. Empty when it is valid.
    """
    out: list[str] = []
    life = verdict.expires_at - verdict.issued_at
    if life > ttl:
        out.append(
            f"it claims a validity of {_span(life)} ({verdict.issued_at.isoformat()} to "
            f"{verdict.expires_at.isoformat()}), longer than the contract's verdict_ttl of {_span(ttl)}; "
            "a verdict that outlives the contract's limit is refused"
        )
    if verdict.issued_at > now + MAX_CLOCK_SKEW:
        out.append(
            f"it was issued at {verdict.issued_at.isoformat()}, after now ({now.isoformat()}) by more "
            f"than the allowed clock skew of {_span(MAX_CLOCK_SKEW)}; a verdict from the future is refused"
        )
    if now >= verdict.expires_at:
        out.append(f"it expired at {verdict.expires_at.isoformat()} (now {now.isoformat()})")
    return out


def problems(signed: SignedLike, terms: ContractTerms, subject: SubjectLike, now: datetime) -> list[str]:
    """Why a verified verdict does not hold for these contract terms, subject and time (empty if it holds)."""
    v = signed.verdict
    out: list[str] = []
    owner = terms.owner_of(v.gate)
    if signed.team != owner:
        out.append(f"signed by team {signed.team}, but the contract names {owner} as owner of {v.gate.value}")
    if not v.passed:
        ids = ", ".join(c.id for c in v.failures)
        out.append(f"the verdict failed ({ids})")
    if v.subject.model != subject.model or v.subject.version != subject.version:
        out.append(
            f"it is about {v.subject.model} version {v.subject.version}, "
            f"not {subject.model} version {subject.version}"
        )
    if v.subject.digest != subject.digest:
        out.append(f"its model digest {v.subject.digest} is not this version's {subject.digest}")
    if v.contract_digest != terms.digest:
        out.append(
            f"it was judged against contract {v.contract_digest}, not this contract {terms.digest} "
            "(the contract changed after it was signed)"
        )
    out += validity_problems(v, terms.verdict_ttl, now)
    return out
