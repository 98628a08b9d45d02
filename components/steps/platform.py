"""The Platform handoff step: render the serving manifests, check them against cluster policy."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from components.steps._common import (
    StepArgs,
    StepResult,
    _contract,
    _finish,
    _model_ref,
    _now,
    _policy,
    _registry,
    _sign,
    _trust,
    _verified,
    _write_outputs,
)
from components.steps.spec import MANIFESTS, MODEL_REF
from contracts import errors
from contracts.trust import Gate
from gates import platform, render

if TYPE_CHECKING:
    pass


def platform_step(
    *,
    contract_yaml: str,
    policy_yaml: str,
    trust_yaml: str,
    model_ref_json: str,
    ml_envelope: bytes,
    image: str,
    tracking_uri: str | None,
    key_file: str | Path,
    out_dir: str | Path,
    environment: Literal["staging", "production"] = "production",
    now: datetime | None = None,
) -> StepResult:
    """The Platform handoff: render the serving manifests and check them against cluster policy.

    The ML verdict must verify first (signed by the ML team, passed, about this model); the
    rendered manifests are written to ``manifests.yaml`` and their digest is signed in the verdict.

    Raises:
        GateRefused: the platform gate refused.
        VerificationError: the ML verdict handed over did not verify.
    """

    out = Path(out_dir)
    contract, policy, trust = _contract(contract_yaml), _policy(policy_yaml), _trust(trust_yaml)
    ml_verdict = _verified(ml_envelope, trust, Gate.ML_ARTIFACT)
    model = _model_ref(json.loads(model_ref_json))
    if model.digest != ml_verdict.subject.digest:
        raise errors.VerificationError([f"model-ref digest {model.digest} is not the one ML signed"])
    manifests = render.render(
        contract, policy, model, image, environment=environment, mode=policy.spec.serving
    )
    verdict = platform.evaluate(contract, policy, manifests, ml_verdict.subject, _now(now), image=image)
    envelope = _sign(verdict, contract, Path(key_file))
    _registry(tracking_uri).store_envelope(model.name, model.version, Gate.PLATFORM, envelope)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFESTS).write_text(manifests.to_yaml(), encoding="utf-8")
    (out / MODEL_REF).write_text(model_ref_json, encoding="utf-8")
    return _finish(_write_outputs(out, verdict, envelope, extra={"manifests_digest": manifests.digest()}))


def run(args: StepArgs) -> StepResult:
    """The step as the process entry calls it."""
    return platform_step(
        contract_yaml=args.value("contract"),
        policy_yaml=args.value("cluster-policy"),
        trust_yaml=args.value("trust-policy"),
        model_ref_json=args.read_text("model_ref"),
        ml_envelope=args.read_bytes("ml_envelope"),
        image=args.value("image"),
        tracking_uri=args.tracking_uri,
        key_file=args.key_file,
        out_dir=args.out_dir,
    )
