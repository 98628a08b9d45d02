"""The promotion step: verify every owner's signed verdict, then move the ``production`` alias."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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
from gates import admission_review, promotion, render, signing
from gates.verdict import Verdict, digest_bytes


def resumable(
    registry: Any, name: str, version: str, contract: WorkloadContract, trust: TrustPolicy, now: datetime
) -> tuple[bytes, Verdict] | None:
    """The envelope and verdict of an interrupted promotion of this version, if it still verifies and
    holds (within the contract's ``verdict_ttl`` and clock skew: a refused verdict is never resumed).

    ``signoff promote`` and the pipeline's promotion step both resume through this.
    """

    env = registry.pending_promotion(name, version)
    if env is None:
        return None
    try:
        v = signing.verify_envelope(env, trust).verdict
    except errors.VerificationError:
        return None
    ttl = timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds)
    if (
        v.passed
        and v.subject.model == name
        and v.subject.version == version
        and not promotion.validity_problems(v, ttl, now)
    ):
        return env, v
    return None


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
    registry = _registry(tracking_uri)
    stored: dict[Gate, bytes] = dict(registry.envelopes(model_name, model_version))
    chosen = dict(envelopes) if envelopes else stored
    ml_verdict = (
        _verified(chosen[Gate.ML_ARTIFACT], trust, Gate.ML_ARTIFACT) if Gate.ML_ARTIFACT in chosen else None
    )
    if ml_verdict is None:
        raise GateRefused(
            Gate.PROMOTION, contract.spec.owners.ml.team, ["no ML-artifact verdict for this version"]
        )
    subject = ml_verdict.subject
    manifests = None
    if manifests_yaml and Gate.PLATFORM in chosen:
        manifests = render.Manifests(objects=tuple(o for o in yaml.safe_load_all(manifests_yaml) if o))
        signed = _verified(chosen[Gate.PLATFORM], trust, Gate.PLATFORM, subject).artifacts.get("manifests")
        if signed != manifests.digest():  # deploy exactly what the platform team signed, or nothing
            raise errors.VerificationError(
                [
                    f"the manifests handed over (digest {manifests.digest()}) are not the ones "
                    f"platform signed ({signed})"
                ]
            )
    moment = _now(now)
    pending = resumable(registry, model_name, str(model_version), contract, trust, moment)
    if pending is not None:  # an interrupted promotion of this version: finish it, do not re-decide
        envelope, verdict = pending
    else:
        verdict = promotion.evaluate(contract, subject, list(chosen.values()), trust, moment)
        envelope = _sign(verdict, contract, Path(key_file))
    extra: dict[str, Any] = {"promoted": False}
    if verdict.passed:
        record = registry.promote(model_name, model_version, promotion_envelope=envelope, record=verdict)
        extra = {"promoted": True, "record": str(record) if record is not None else None}
        if manifests is not None:
            # The manifests to apply carry the promotion record's digest: the admission policy in
            # infra/ admits production GPU workloads only with it.
            deployable = render.with_promotion(
                manifests,
                digest_bytes(envelope),
                _door_bundle(contract, manifests, envelope, verdict, chosen),
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
    chosen: Mapping[Gate, bytes],
) -> str:
    """The admission webhook's bundle: the promotion and exactly the envelopes it accepted."""
    accepted = [e for e in chosen.values() if digest_bytes(e) in set(verdict.artifacts.values())]
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
