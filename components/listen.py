"""What ``signoff listen alertmanager`` does with a notification: the automated rollback.

For each alert of a notification, :func:`gates.listen.rollback_decisions` says roll back, remember
the episode resolved, or ignore. A rollback:

1. records the episode as ``rolling-back`` with the registered model (tag ``signoff.alert.<key>``),
   so that a repeated or reordered notification of the same episode does nothing more;
2. signs a rollback verdict about the target (the rollback alias) with the listener's key (the team
   the contract's alert pages; the trust policy must let that key sign rollbacks: checked first);
3. moves the production alias back (:meth:`~components.mlflow_registry.Registry.auto_rollback`,
   under the registry lock, with the signed record; it refuses a second automated rollback in a
   row: after one, a human decides);
4. re-applies the target's promoted manifests and waits until ready
   (:func:`components.rollout.move_serving`), unless the listener runs alias-only;
5. records the episode ``rolled-back`` (or ``refused``, with why).

An episode first seen ``resolved`` is recorded so; a firing notification of it arriving later (out
of order) does nothing. A ``rolling-back`` episode (the listener died half-way) is resumed: the
alias move is skipped when production already is the target, then serving is moved.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from components import rollout
from contracts import errors
from contracts.trust import TrustPolicy
from contracts.workload import WorkloadContract
from gates import audit, listen, signing
from gates.verdict import Subject

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from components.kube import KubeClient
    from components.mlflow_registry import Registry

__all__ = ["AlertOutcome", "RollbackListener", "Serving"]

_log = logging.getLogger("signoff.listen")


@dataclass(frozen=True)
class Serving:
    """Where serving is moved on rollback (None in a listener: alias only)."""

    namespace: str
    client: KubeClient
    deadline_s: float = 600.0
    poll_s: float = 2.0


@dataclass(frozen=True)
class AlertOutcome:
    workload: str
    alertname: str
    action: str
    """``rolled-back``, ``already-handled``, ``resolved``, ``refused``, ``ignored``."""
    message: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "alertname": self.alertname,
            "action": self.action,
            "message": self.message,
            **self.figures,
        }


@dataclass
class RollbackListener:
    """Acts on Alertmanager notifications for the given contracts."""

    contracts: Sequence[WorkloadContract]
    trust: TrustPolicy
    key: Ed25519PrivateKey
    registry: Registry
    serving: Serving | None
    production_alias: str = "production"
    rollback_alias: str = "previous"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def handle(self, payload: Any, now: datetime | None = None) -> list[AlertOutcome]:
        """Act on one notification; one outcome per (contract, alert).

        Raises:
            ValueError: not an Alertmanager notification.
            TemporaryError: MLflow or the API server failed in a way retrying may fix (the caller
                answers 5xx so that Alertmanager re-sends).
        """
        out: list[AlertOutcome] = []
        with self._lock:  # one notification at a time: the episode records are read-then-written
            for contract in self.contracts:
                for decision in listen.rollback_decisions(contract, payload):
                    outcome = self._one(contract, decision, now or datetime.now(UTC))
                    _log.info(
                        "%s %s: %s: %s", contract.name, decision.alertname, outcome.action, outcome.message
                    )
                    out.append(outcome)
        return out

    def _one(self, contract: WorkloadContract, d: listen.AlertDecision, now: datetime) -> AlertOutcome:
        name = contract.metadata.model

        def outcome(action: str, message: str, **figures: Any) -> AlertOutcome:
            return AlertOutcome(
                contract.name, d.alertname, action, message, {"episode": d.episode, **figures}
            )

        if d.action is listen.Action.IGNORE:
            return outcome("ignored", d.reason)
        seen = self.registry.alert_episode(name, d.episode)
        stamp = now.isoformat(timespec="milliseconds")
        if d.action is listen.Action.RESOLVED:
            if seen is None:
                self.registry.record_alert_episode(
                    name, d.episode, {"state": "resolved", "alertname": d.alertname, "at": stamp}
                )
                return outcome("resolved", f"{d.reason} before any firing notification: nothing to undo")
            return outcome("resolved", f"{d.reason}; the episode was {seen.get('state')}")
        if seen is not None and seen.get("state") != "rolling-back":
            return outcome(
                "already-handled",
                f"episode of {d.alertname} started {d.starts_at} was already {seen.get('state')}: "
                f"{seen.get('message', '')}".rstrip(": "),
                state=seen.get("state"),
            )
        return self._rollback(contract, d, seen, now)

    def _rollback(
        self,
        contract: WorkloadContract,
        d: listen.AlertDecision,
        seen: dict[str, Any] | None,
        now: datetime,
    ) -> AlertOutcome:

        name = contract.metadata.model
        stamp = now.isoformat(timespec="milliseconds")
        base = {"alertname": d.alertname, "signal": d.signal, "starts_at": d.starts_at}

        def record(state: str, message: str, **extra: Any) -> AlertOutcome:
            self.registry.record_alert_episode(
                name, d.episode, {**base, "state": state, "message": message, "at": stamp, **extra}
            )
            return AlertOutcome(contract.name, d.alertname, state, message, {"episode": d.episode, **extra})

        aliases = self.registry.aliases(name)
        current = aliases.get(self.production_alias)
        if seen is not None and seen.get("to") and current == seen["to"]:
            target, source = str(seen["to"]), seen.get("from")  # resuming: the alias already moved
        else:
            back, source = aliases.get(self.rollback_alias), current
            if current is None or back is None:
                return record(
                    "refused",
                    f"{name} has no {self.production_alias!r} and {self.rollback_alias!r} aliases to "
                    "roll back between; a human decides",
                )
            target = back
            if self.serving is not None and self.registry.promoted_manifests(name, target) is None:
                return record(
                    "refused",
                    f"{name} version {target} has no promoted manifests kept with it: serving could not "
                    "follow the alias, so nothing was moved; a human decides",
                )
            digest = self.registry.version_digest(name, target)
            if digest is None:
                return record("refused", f"{name} version {target} has no ML-artifact verdict")
            unpromoted = audit.rollback_target_problem(
                self.registry.snapshot(name), self.trust, contract, target
            )
            if unpromoted:
                return record("refused", unpromoted + "; a human decides")
            verdict = listen.automated_rollback_verdict(
                contract,
                d,
                subject=Subject(model=name, version=target, digest=digest),
                from_version=current,
                now=now,
            )
            envelope = signing.sign_verdict(verdict, self.key)
            try:
                signing.verify_envelope(envelope, self.trust)
            except errors.VerificationError as exc:
                return record(
                    "refused",
                    f"the listener's key may not sign rollbacks for team {verdict.team}: "
                    + "; ".join(exc.reasons),
                )
            self.registry.record_alert_episode(
                name, d.episode, {**base, "state": "rolling-back", "from": current, "to": target, "at": stamp}
            )
            try:
                result = self.registry.auto_rollback(
                    name,
                    reason=d.reason,
                    record_envelope=envelope,
                    production_alias=self.production_alias,
                    rollback_alias=self.rollback_alias,
                    now=now,
                )
            except errors.ConflictError:
                raise errors.TemporaryError(f"{name}: another promotion or rollback holds the lock") from None
            except errors.PermanentError as exc:  # a second automated rollback in a row
                return record("refused", str(exc))
            assert result is not None
            source = result.from_version
        serving: dict[str, Any] = {}
        if self.serving is not None:
            moved = rollout.move_serving(
                self.registry,
                name,
                target,
                namespace=self.serving.namespace,
                client=self.serving.client,
                deadline_s=self.serving.deadline_s,
                poll_s=self.serving.poll_s,
                why=f"automated: {d.alertname}",
            )
            serving = {"serving": f"{moved.kind}/{moved.name}", "ready_after_s": moved.ready_after_s}
            if not moved.ready:
                return record(
                    "rolled-back-not-ready",
                    f"production alias {source} -> {target}; {moved.kind}/{moved.name} was not ready "
                    f"within {self.serving.deadline_s:.0f}s",
                    **{"from": source, "to": target},
                    **serving,
                )
        where = (
            f", serving {serving['serving']} ready after {serving['ready_after_s']:.1f}s" if serving else ""
        )
        return record(
            "rolled-back",
            f"production {source} -> {target}{where}",
            **{"from": source, "to": target},
            **serving,
        )
