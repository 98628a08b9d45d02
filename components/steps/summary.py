"""The run summary the exit handler writes: one row per gate, from the verdicts stored in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from components.steps._common import (
    StepArgs,
    _cell,
    _registry,
    _trust,
)
from contracts import errors
from contracts.trust import Gate
from gates import signing

if TYPE_CHECKING:
    pass


def run_summary(
    *,
    trust_yaml: str,
    model_name: str,
    model_version: str,
    tracking_uri: str | None,
    status: str,
    error: str = "",
    out_dir: str | Path,
) -> str:
    """The run summary the exit handler writes: one row per gate, from the verdicts stored in MLflow.

    Every stored envelope of the version is verified against the trust policy before it is shown.

    Args:
        trust_yaml: the trust policy, YAML text.
        model_name: MLflow registered model name.
        model_version: MLflow model version number.
        tracking_uri: MLflow tracking URI (none: ``$MLFLOW_TRACKING_URI``).
        status: the engine's final status of the gates (``SUCCEEDED``, ``FAILED``, ...).
        error: the engine's error message, if any.
        out_dir: where ``summary.md`` is written.

    Returns:
        The Markdown summary.
    """

    trust = _trust(trust_yaml)
    lines = [f"# signoff gated promotion of `models:/{model_name}/{model_version}`: {status}", ""]
    if error:
        lines += [f"Engine error: {_cell(error)}", ""]
    lines += ["| gate | signed by | outcome | reasons |", "|---|---|---|---|"]
    try:
        stored: dict[Gate, bytes] = dict(_registry(tracking_uri).envelopes(model_name, model_version))
    except errors.SignoffError as exc:  # the summary must not fail the exit handler
        stored = {}
        lines.insert(2, f"Could not read the registry: {_cell(exc)}\n")
    for gate in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS, Gate.PROMOTION):
        envelope = stored.get(gate)
        if envelope is None:
            lines.append(f"| {gate.value} | | not run | |")
            continue
        try:
            verdict = signing.verify_envelope(envelope, trust).verdict
        except errors.SignoffError as exc:
            lines.append(f"| {gate.value} | | **does not verify** | {_cell(exc)} |")
            continue
        decision = "passed" if verdict.passed else "**refused**"
        reasons = "; ".join(f"{c.id}: {c.message}" for c in verdict.failures)
        lines.append(f"| {gate.value} | {verdict.team} | {decision} | {_cell(reasons)} |")
    text = "\n".join(lines) + "\n"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(text, encoding="utf-8")
    return text


def run(args: StepArgs) -> str:
    """The step as the process entry calls it."""
    return run_summary(
        trust_yaml=args.value("trust-policy"),
        model_name=args.value("model-name"),
        model_version=args.value("model-version"),
        tracking_uri=args.tracking_uri,
        status=args.status,
        error=args.error,
        out_dir=args.out_dir,
    )
