"""The ML handoff step: validate the model version's artifact against the contract; ML signs."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components import probe as probing
from components.steps._common import (
    StepArgs,
    StepResult,
    _contract,
    _finish,
    _now,
    _policy,
    _registry,
    _sign,
    _write_outputs,
)
from components.steps.spec import MODEL_REF
from contracts import errors
from contracts.trust import Gate
from gates import ml_artifact

if TYPE_CHECKING:
    pass


def _storage_uri(registry: Any, name: str, version: str, artifact_store: str) -> str:
    """Where the serving cluster fetches the version's files.

    MLflow hands out ``mlflow-artifacts:/PATH`` when its server proxies the artifact store; a
    serving pod cannot read that. With ``artifact_store`` (the store as the cluster reads it, e.g.
    ``s3://mlflow-artifacts``) the path is mapped onto it.
    """
    from urllib.parse import urlparse

    location = registry.download_uri(name, version)  # through the retry wrapper: an outage exits 3
    parsed = urlparse(location)
    if artifact_store and parsed.scheme == "mlflow-artifacts":  # mlflow-artifacts:/PATH or ://host:port/PATH
        return f"{artifact_store.rstrip('/')}/{parsed.path.lstrip('/')}"
    return location


def _example(folder: Path) -> Any:
    """The input example of a downloaded model (for the probe), or none."""

    for mlmodel in sorted(folder.rglob("MLmodel")):
        try:
            return probing.load_example(mlmodel.parent)
        except errors.InputError:
            return None
    return None


def ml_artifact_step(
    *,
    contract_yaml: str,
    policy_yaml: str,
    model_name: str,
    model_version: str,
    tracking_uri: str | None,
    key_file: str | Path,
    out_dir: str | Path,
    artifact_store: str = "",
    now: datetime | None = None,
) -> StepResult:
    """The ML handoff: validate the model version's artifact against the contract; ML signs.

    Writes ``model-ref.json`` (name, version, storage URI, digest, input example) for the next steps.

    Args:
        contract_yaml: the contract's YAML text.
        policy_yaml: the cluster policy's YAML text.
        model_name: MLflow registered model name.
        model_version: MLflow model version number.
        tracking_uri: MLflow tracking URI (none: ``$MLFLOW_TRACKING_URI``).
        key_file: the ML team's private key.
        out_dir: the output folder.
        artifact_store: the MLflow artifact store as the serving cluster reads it (``s3://...``);
            empty: the registry's download location as it is.
        now: the decision time (default: the clock).

    Returns:
        The step's result (the verdict passed).

    Raises:
        GateRefused: the ML-artifact gate refused (after writing every output).
    """

    out = Path(out_dir)
    contract, policy = _contract(contract_yaml), _policy(policy_yaml)
    registry = _registry(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="signoff-model-") as work:
        subject, evidence = registry.gather_evidence(f"models:/{model_name}/{model_version}", Path(work))
        example = _example(Path(work))
    verdict = ml_artifact.evaluate(contract, evidence, policy, subject, _now(now))
    envelope = _sign(verdict, contract, Path(key_file))
    registry.store_envelope(model_name, model_version, Gate.ML_ARTIFACT, envelope)
    storage = _storage_uri(registry, model_name, str(model_version), artifact_store)
    ref = {
        "name": model_name,
        "version": str(model_version),
        "storage_uri": storage,
        "digest": subject.digest,
        "example": example,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_REF).write_text(json.dumps(ref, indent=2) + "\n", encoding="utf-8")
    return _finish(_write_outputs(out, verdict, envelope, extra={"storage_uri": storage}))


def run(args: StepArgs) -> StepResult:
    """The step as the process entry calls it."""
    return ml_artifact_step(
        contract_yaml=args.value("contract"),
        policy_yaml=args.value("cluster-policy"),
        model_name=args.value("model-name"),
        model_version=args.value("model-version"),
        tracking_uri=args.tracking_uri,
        key_file=args.key_file,
        out_dir=args.out_dir,
        artifact_store=args.value("artifact-store"),
    )
