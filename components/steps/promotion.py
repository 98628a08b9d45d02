"""The promotion step: verify every owner's signed verdict, then move the ``production`` alias."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from components import mlflow_registry
from components.steps._common import (
    GateRefused,
    StepArgs,
    StepResult,
    _contract,
    _finish,
    _now,
    _registry,
    _sign,
    _trust,
    _verified,
    _write_outputs,
)
from contracts import errors
from contracts.trust import Gate, TrustPolicy
from contracts.workload import WorkloadContract
from gates import admission_review, promotion, render
from gates.verdict import Verdict, digest_bytes


@dataclass(frozen=True)
class Promotion:
    """What :func:`promote` did: the promotion verdict it decided (or resumed) and signed, and the
    registry's answer when it moved the alias."""

    verdict: Verdict
    envelope: bytes
    resumed: bool
    """An interrupted promotion of this version was finished (its verdict is the earlier one)."""
    presented: tuple[bytes, ...]
    """The envelopes the decision was made over."""
    result: mlflow_registry.PromotionResult | None
    """None when the gate refused: the registry was left as it was."""


def promote(
    registry: mlflow_registry.Registry,
    contract: WorkloadContract,
    trust: TrustPolicy,
    name: str,
    version: str,
    *,
    key_file: str | Path,
    envelopes: Sequence[bytes] = (),
    now: datetime | None = None,
    production_alias: str = "production",
    rollback_alias: str = "previous",
    also_stage: bool = False,
) -> Promotion:
    """The promotion as ``signoff promote`` and the pipeline's promotion step both run it.

    One read of the version; an interrupted promotion of it that still holds is finished, not
    re-decided (:func:`gates.promotion.resumable`); otherwise the gate decides over ``envelopes`` (the
    ones kept with the version when none are given), the ML team's key signs, and a passing verdict
    keeps the given verdicts it names with the version and moves the alias
    (:meth:`Registry.promote`). The verdict just signed is not verified again.

    Raises:
        GateRefused: no verifying ML-artifact verdict about this version: nothing to judge against.
    """
    version = str(version)
    moment = _now(now)
    seen = registry.version_view(name, version)
    presented = tuple(envelopes) or tuple(
        e for g, e in seen.envelopes().items() if g not in (Gate.PROMOTION, Gate.ROLLBACK)
    )
    pending = seen.pending_promotion()
    verdict = promotion.resumable(pending, name, version, contract, trust, moment)
    resumed = pending is not None and verdict is not None
    if pending is not None and verdict is not None:
        envelope = pending
    else:
        decision = promotion.decide(contract, name, version, presented, trust, moment)
        if decision.verdict is None:
            raise GateRefused(Gate.PROMOTION, contract.spec.owners.ml.team, [decision.refusal])
        verdict = decision.verdict
        envelope = _sign(verdict, contract, Path(key_file))
    result = None
    if verdict.passed:
        if not resumed:
            _keep_named(registry, name, version, verdict, presented, seen)
        result = registry.promote(
            name,
            version,
            promotion_envelope=envelope,
            record=verdict,
            production_alias=production_alias,
            rollback_alias=rollback_alias,
            also_stage=also_stage,
            seen=seen,
        )
    return Promotion(verdict, envelope, resumed, presented, result)


def _keep_named(
    registry: mlflow_registry.Registry,
    name: str,
    version: str,
    verdict: Verdict,
    presented: Sequence[bytes],
    seen: mlflow_registry.VersionView,
) -> None:
    """Keep with the version, before anything moves, each verdict the passing promotion verdict names
    that was given (as a file) and is not kept there yet: the audit verifies a promotion against the
    verdicts kept with its version (:mod:`gates.audit`), so a promotion decided over files holds
    there too. Verdicts already kept (the usual path) cost no request."""
    kept = {digest_bytes(e) for e in seen.envelopes().values()}
    given = {digest_bytes(e): e for e in presented}
    for gate_name, digest in sorted(verdict.artifacts.items()):
        env = given.get(digest)
        if env is not None and digest not in kept:
            registry.store_envelope(name, version, Gate(gate_name), env)


def promotion_step(
    *,
    contract_yaml: str,
    trust_yaml: str,
    model_name: str,
    model_version: str,
    envelopes: Mapping[Gate, bytes] | None,
    manifests_yaml: str | None,
    tracking_uri: str | None,
    key_file: str | Path,
    out_dir: str | Path,
    now: datetime | None = None,
) -> StepResult:
    """The promotion: verify every owner's signed verdict for this version and contract, then move
    the ``production`` alias (ML signs the promotion record).

    ``envelopes`` are the ones this run signed; when none are given, the ones stored with the model
    version in MLflow are used.

    Raises:
        GateRefused: a verdict was missing, expired, about another model or contract, or signed by
            the wrong team: the registry is left as it was.
    """
    import yaml

    out = Path(out_dir)
    contract, trust = _contract(contract_yaml), _trust(trust_yaml)
    given = dict(envelopes or {})
    manifests = None
    if manifests_yaml and Gate.PLATFORM in given:
        manifests = render.Manifests(objects=tuple(o for o in yaml.safe_load_all(manifests_yaml) if o))
        signed = _verified(given[Gate.PLATFORM], trust, Gate.PLATFORM).artifacts.get("manifests")
        if signed != manifests.digest():  # deploy exactly what the platform team signed, or nothing
            raise errors.VerificationError(
                [
                    f"the manifests handed over (digest {manifests.digest()}) are not the ones "
                    f"platform signed ({signed})"
                ]
            )
    registry = _registry(tracking_uri)
    done = promote(
        registry,
        contract,
        trust,
        model_name,
        str(model_version),
        key_file=key_file,
        envelopes=tuple(given.values()),
        now=now,
    )
    verdict, envelope = done.verdict, done.envelope
    extra: dict[str, Any] = {"promoted": False}
    if done.result is not None:
        extra = {"promoted": True, "record": str(done.result)}
        if manifests is not None:
            # The manifests to apply carry the promotion record's digest: the admission policy in
            # infra/ admits production GPU workloads only with it.
            deployable = render.with_promotion(
                manifests,
                digest_bytes(envelope),
                _door_bundle(contract, manifests, envelope, verdict, done.presented),
            )
            out.mkdir(parents=True, exist_ok=True)
            (out / "deployable-manifests.yaml").write_text(deployable.to_yaml(), encoding="utf-8")
            # kept with the version too: a later rollback to it re-applies exactly these
            registry.store_manifests(model_name, model_version, deployable.to_yaml())
    return _finish(_write_outputs(out, verdict, envelope, extra=extra))


def _door_bundle(
    contract: WorkloadContract,
    manifests: render.Manifests,
    envelope: bytes,
    verdict: Verdict,
    presented: Sequence[bytes],
) -> str:
    """The admission webhook's bundle: the promotion and exactly the envelopes it accepted."""
    used = set(verdict.artifacts.values())
    accepted = [e for e in presented if digest_bytes(e) in used]
    return admission_review.encode_bundle(contract, manifests, envelope, accepted)


def run(args: StepArgs) -> StepResult:
    """The step as the process entry calls it: the envelopes and manifests this run signed."""
    return promotion_step(
        contract_yaml=args.value("contract"),
        trust_yaml=args.value("trust-policy"),
        model_name=args.value("model-name"),
        model_version=args.value("model-version"),
        envelopes={
            Gate.ML_ARTIFACT: args.read_bytes("ml_envelope"),
            Gate.PLATFORM: args.read_bytes("platform_envelope"),
            Gate.SRE_READINESS: args.read_bytes("sre_envelope"),
        },
        manifests_yaml=args.read_text("manifests"),
        tracking_uri=args.tracking_uri,
        key_file=args.key_file,
        out_dir=args.out_dir,
    )
