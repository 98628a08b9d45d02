"""Pure judgement for ``signoff listen``: is this webhook genuine, and what does it ask for?

No network, no clock, no files: the caller passes the request's bytes and headers, the secret and
``now``. Two senders:

* **MLflow webhooks** (MLflow 3.3+, ``mlflow/webhooks/delivery.py``): a POST whose body is
  ``{"entity", "action", "timestamp", "data"}``, with the headers ``X-MLflow-Delivery-Id`` (a
  UUID), ``X-MLflow-Timestamp`` (Unix seconds) and, when the webhook has a secret,
  ``X-MLflow-Signature: v1,<base64 HMAC-SHA256(secret, "<delivery id>.<timestamp>.<body>")>``
  (the Standard Webhooks scheme). :func:`mlflow_signature_problem` checks it in constant time and
  refuses timestamps outside the replay window; :func:`promotion_request` turns a verified
  ``model_version_alias.created`` event for the candidate alias into the version to run the
  gated-promotion pipeline for. MLflow sends ``created`` both when an alias is new and when it is
  moved to another version; there is no ``updated`` action for aliases.
* **Alertmanager** (webhook receiver, payload version 4): :func:`rollback_decisions` says, for each
  alert in a notification, whether the contract automates a rollback on it. Only a *firing* alert
  of *this* workload whose ``signal`` label names a signal listed under the contract's
  ``rollback.automated`` (and that the contract alerts on) triggers one; everything else is
  recorded and left to the people it pages. Each firing episode has a stable key
  (:func:`episode_key`: the alert's fingerprint and ``startsAt``), so repeated or reordered
  notifications of one episode lead to at most one rollback.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts.trust import Gate
from contracts.workload import Signal, WorkloadContract
from gates.verdict import Check, Outcome, Subject, Verdict

__all__ = [
    "DELIVERY_ID_HEADER",
    "REPLAY_WINDOW_S",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Action",
    "AlertDecision",
    "PromotionRequest",
    "automated_rollback_verdict",
    "episode_key",
    "mlflow_signature",
    "mlflow_signature_problem",
    "promotion_request",
    "rollback_decisions",
    "rollback_team",
]

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
REPLAY_WINDOW_S = 300
"""Default: a delivery whose timestamp is more than 5 minutes from ``now`` is refused."""
_DELIVERY_ID = re.compile(r"^[0-9A-Za-z-]{1,128}$")


# -------------------------------------------------------------------------------------------- MLflow


def mlflow_signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The ``X-MLflow-Signature`` value MLflow sends for this delivery (``v1,<base64>``)."""
    signed = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    mac = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def mlflow_signature_problem(
    *,
    secret: str,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
    window_s: float = REPLAY_WINDOW_S,
) -> str | None:
    """Why this delivery must be refused (``None``: it is genuine and fresh).

    Args:
        secret: the webhook's secret, as registered with MLflow.
        headers: the request headers (any case).
        body: the request body, exactly as received.
        now: the current time (aware).
        window_s: the largest accepted distance between the delivery's timestamp and ``now``.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    delivery = lower.get(DELIVERY_ID_HEADER.lower(), "")
    stamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    given = lower.get(SIGNATURE_HEADER.lower(), "")
    if not given:
        return f"no {SIGNATURE_HEADER} header: the webhook must be registered with the secret"
    if not _DELIVERY_ID.fullmatch(delivery):
        return f"missing or malformed {DELIVERY_ID_HEADER} header"
    if not stamp.isdigit() or len(stamp) > 12:
        return f"missing or malformed {TIMESTAMP_HEADER} header (Unix seconds)"
    age = now.timestamp() - int(stamp)
    if abs(age) > window_s:
        return f"timestamp {stamp} is {age:.0f}s from now, outside the {window_s:.0f}s replay window"
    want = mlflow_signature(secret, delivery, stamp, body)
    # Standard Webhooks allows several space-separated signatures; any matching one is enough.
    for candidate in given.split(" "):
        if hmac.compare_digest(candidate.strip().encode(), want.encode()):
            return None
    try:
        version, _, b64 = given.partition(",")
        base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return f"{SIGNATURE_HEADER} is not 'v1,<base64>'"
    if version != "v1":
        return f"{SIGNATURE_HEADER} version {version!r} is not v1"
    return "the signature does not match the body with this secret"


@dataclass(frozen=True)
class PromotionRequest:
    """A verified webhook asking for the gated-promotion pipeline of one version."""

    model: str
    version: str
    alias: str

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model}/{self.version}"


def promotion_request(body: bytes, *, candidate_alias: str, models: frozenset[str] | None = None) -> (
    PromotionRequest | str
):  # fmt: skip
    """What a verified MLflow delivery asks for: a :class:`PromotionRequest`, or why it asks nothing.

    Args:
        body: the verified request body.
        candidate_alias: the alias that marks a version as a promotion candidate.
        models: the registered models this listener promotes (``None``: any).
    """
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "the body is not JSON"
    if not isinstance(doc, dict):
        return "the body is not a JSON object"
    event = f"{doc.get('entity')}.{doc.get('action')}"
    if event != "model_version_alias.created":
        return f"event {event} is not model_version_alias.created: nothing to do"
    data = doc.get("data")
    if not isinstance(data, dict):
        return "the event has no data object"
    name, alias, version = data.get("name"), data.get("alias"), str(data.get("version", ""))
    if not isinstance(name, str) or not name or not isinstance(alias, str):
        return "the event's data lacks name or alias"
    if alias != candidate_alias:
        return f"alias {alias!r} is not the candidate alias {candidate_alias!r}: nothing to do"
    if not version.isdigit():
        return f"version {version!r} is not a version number"
    if models is not None and name not in models:
        return f"model {name!r} is not one this listener promotes ({', '.join(sorted(models))})"
    return PromotionRequest(model=name, version=version, alias=alias)


# -------------------------------------------------------------------------------------- Alertmanager


class Action(enum.StrEnum):
    ROLLBACK = "rollback"
    """The contract automates a rollback on this firing alert."""
    RESOLVED = "resolved"
    """The episode ended; a late firing notification of it must not act."""
    IGNORE = "ignore"
    """Not this workload's, or not an automated signal: the people it pages decide."""


@dataclass(frozen=True)
class AlertDecision:
    action: Action
    episode: str
    """:func:`episode_key` of the alert ("" when it has no fingerprint or start)."""
    alertname: str
    signal: str
    reason: str
    starts_at: str


def episode_key(alert: dict[str, Any]) -> str:
    """A stable id of one firing episode: fingerprint and ``startsAt`` (Alertmanager keeps both for
    as long as the alert keeps firing; a new episode after resolution has a new ``startsAt``)."""
    starts = str(alert.get("startsAt") or "")
    if not starts:
        return ""
    fingerprint = str(alert.get("fingerprint") or "") or json.dumps(alert.get("labels") or {}, sort_keys=True)
    return hashlib.sha256(f"{fingerprint}\0{starts}".encode()).hexdigest()[:32]


def rollback_decisions(contract: WorkloadContract, payload: Any) -> list[AlertDecision]:
    """For each alert of an Alertmanager notification: roll back, remember it resolved, or ignore.

    Raises:
        ValueError: the payload is not an Alertmanager webhook notification (the message says why).
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise ValueError("not an Alertmanager notification: no 'alerts' list")
    automated = {a.signal for a in contract.spec.rollback.automated}
    alerted = {a.signal for a in contract.spec.alerts}
    out = []
    for alert in payload["alerts"]:
        if not isinstance(alert, dict):
            raise ValueError("not an Alertmanager notification: an alert is not an object")
        labels = alert.get("labels")
        labels = {} if labels is None else labels
        if not isinstance(labels, dict):
            raise ValueError("not an Alertmanager notification: an alert's labels are not an object")
        name, signal = str(labels.get("alertname", "")), str(labels.get("signal", ""))
        key = episode_key(alert)
        status = alert.get("status")

        def decision(action: Action, reason: str, key: str = key, name: str = name, signal: str = signal,
                     alert: dict[str, Any] = alert) -> AlertDecision:  # fmt: skip
            return AlertDecision(action, key, name, signal, reason, str(alert.get("startsAt") or ""))

        if labels.get("workload") != contract.name:
            out.append(decision(Action.IGNORE, f"alert {name} is for workload {labels.get('workload')!r}"))
            continue
        try:
            kind: Signal | None = Signal(signal)
        except ValueError:
            kind = None
        if kind is None or kind not in automated:
            out.append(
                decision(
                    Action.IGNORE,
                    f"alert {name} (signal {signal or 'none'}): the contract automates no rollback on it",
                )
            )
            continue
        if kind not in alerted:
            out.append(decision(Action.IGNORE, f"the contract has no {signal} alert, so none of its own"))
            continue
        if not key:
            out.append(decision(Action.IGNORE, f"alert {name} has no startsAt: cannot tell its episode"))
            continue
        if status == "resolved":
            out.append(decision(Action.RESOLVED, f"alert {name} resolved"))
        elif status == "firing":
            out.append(
                decision(
                    Action.ROLLBACK,
                    f"alert {name} ({signal}) fired at {alert.get('startsAt')}: the contract says "
                    f"revert to the previous version on {signal}",
                )
            )
        else:
            out.append(decision(Action.IGNORE, f"alert {name} has status {status!r}"))
    return out


def rollback_team(contract: WorkloadContract, signal: str) -> str:
    """The team that signs an automated rollback on ``signal``: the one the contract's alert pages."""
    for alert in contract.spec.alerts:
        if alert.signal.value == signal:
            return contract.spec.owners.of(alert.pages).team
    return contract.spec.owners.ml.team


def automated_rollback_verdict(
    contract: WorkloadContract,
    decision: AlertDecision,
    *,
    subject: Subject,
    from_version: str | None,
    now: datetime,
) -> Verdict:
    """The signed record's content of an automated rollback to ``subject`` decided by ``decision``."""
    check = Check(
        id="rollback.automated",
        outcome=Outcome.PASS,
        message=decision.reason[:2000],
        figures={
            "alertname": decision.alertname, "signal": decision.signal, "episode": decision.episode,
            "starts_at": decision.starts_at, "from": from_version, "to": subject.version,
        },
    )  # fmt: skip
    return Verdict.decide(
        gate=Gate.ROLLBACK,
        team=rollback_team(contract, decision.signal),
        checks=[check],
        subject=subject,
        contract_digest=contract.digest(),
        now=now,
        ttl=timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds),
        note=f"automated: {decision.reason}"[:4000],
    )
