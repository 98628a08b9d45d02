"""What every step shares: reading its inputs, signing, and writing its output folder.

A step's output folder holds ``envelope.json`` (the DSSE envelope), ``verdict.json`` (the same
verdict as plain JSON), ``report.md`` (the gate's Markdown report), ``metrics.json`` (the checks'
figures) and ``outcome.json``, plus its own files (see :mod:`components.steps.spec`). A refused gate
writes all of that first and then raises :class:`GateRefused` (exit code 1).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from components import keys, mlflow_registry
from components.steps import spec
from components.steps.spec import ENVELOPE, METRICS, OUTCOME, REPORT, VERDICT
from contracts import errors
from contracts.cluster import ClusterPolicy
from contracts.loader import parse_document_text
from contracts.trust import Gate, TrustPolicy
from contracts.workload import Role, WorkloadContract
from gates import render, signing
from gates.verdict import Outcome, Subject, Verdict

_D = TypeVar("_D")


class GateRefused(errors.PermanentError):
    """A gate decided against the model version; ``reasons`` holds each failing check's message."""

    exit_code = 1

    def __init__(self, gate: Gate, team: str, reasons: Sequence[str]) -> None:
        self.gate = gate
        self.team = team
        self.reasons = tuple(reasons)
        listed = "\n".join(f"  - {r}" for r in self.reasons) or "  - (no reason given)"
        super().__init__(f"gate {gate.value} refused (signed by {team}):\n{listed}")


@dataclass(frozen=True)
class StepResult:
    """What a gate step produced; every path is inside ``out_dir``."""

    gate: Gate
    team: str
    passed: bool
    verdict: Verdict
    out_dir: Path
    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    """Step-specific values (``storage_uri``, ``manifests_digest``, ``promoted``, ...)."""

    @property
    def envelope_path(self) -> Path:
        return self.out_dir / ENVELOPE

    @property
    def report_path(self) -> Path:
        return self.out_dir / REPORT

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f"{c.id}: {c.message}" for c in self.verdict.failures)


@dataclass(frozen=True)
class StepArgs:
    """What the process entry hands a step: its parameters, its upstream files, where to write."""

    step: spec.StepSpec
    values: Mapping[str, Any]
    """Parameter values by ``snake_case`` name, typed as :data:`spec.PARAMETERS` declares them."""
    inputs: Mapping[str, Path]
    """Each declared input (:attr:`spec.StepSpec.inputs`) -> the upstream file."""
    out_dir: Path
    key_file: Path
    log_dir: Path | None = None
    status: str = ""
    """run-summary: the engine's final status."""
    error: str = ""
    """run-summary: the engine's error message."""

    def value(self, name: str) -> Any:
        """A parameter's value; its declared default when the engine gave none."""
        p = spec.param(name)
        if p.name not in self.step.params:  # a step reads only what the spec says it takes
            raise KeyError(f"step {self.step.name} declares no parameter {p.name}")
        value = self.values.get(p.snake, p.default)
        if value is None and p.default is None:
            raise errors.InputError(f"step {self.step.name}: pass --{p.name} ({p.help})")
        return value

    @property
    def tracking_uri(self) -> str | None:
        return self.value("mlflow-tracking-uri") or None

    def read_text(self, name: str) -> str:
        return self.inputs[name].read_text(encoding="utf-8")

    def read_bytes(self, name: str) -> bytes:
        return self.inputs[name].read_bytes()


# ----------------------------------------------------------------------------------------- inputs


def key_path(role: Role | str, keys_dir: str | Path | None = None) -> Path:
    """The private key file of one owner role.

    Args:
        role: ``ml``, ``platform`` or ``sre``.
        keys_dir: a folder of ``<role>.pem`` files; defaults to ``$SIGNOFF_KEYS_DIR``, and when that
            is unset to the Secret mount ``/var/run/signoff/keys/<role>/key.pem``.

    Returns:
        The path (not checked for existence here; the key loader names it when it is missing).
    """
    name = role.value if isinstance(role, Role) else Role(role).value
    folder = keys_dir if keys_dir is not None else os.environ.get(spec.KEYS_DIR_ENV)
    if folder:
        return Path(folder) / f"{name}.pem"
    return Path(spec.key_mount(name)) / spec.KEY_FILE


def _load_text(text: str, label: str, kind: str) -> Any:
    """Parse a document given as YAML text (no temporary file), errors naming ``<label parameter>``."""
    if not text.strip():
        raise errors.InputError(f"the {label} parameter is empty: pass the document's YAML text")
    return parse_document_text(text, f"<{label} parameter>", "yaml", kind)


def _contract(text: str) -> WorkloadContract:
    doc = _load_text(text, "contract", "WorkloadContract")
    assert isinstance(doc, WorkloadContract)
    return doc


def _policy(text: str) -> ClusterPolicy:
    doc = _load_text(text, "cluster-policy", "ClusterPolicy")
    assert isinstance(doc, ClusterPolicy)
    return doc


def _trust(text: str) -> TrustPolicy:
    doc = _load_text(text, "trust-policy", "TrustPolicy")
    assert isinstance(doc, TrustPolicy)
    return doc


def _registry(tracking_uri: str | None) -> Any:

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise errors.InputError("no MLflow tracking URI: pass mlflow-tracking-uri or set MLFLOW_TRACKING_URI")
    return mlflow_registry.Registry(uri)


def _sign(verdict: Verdict, contract: WorkloadContract, key_file: Path) -> bytes:

    expected = contract.spec.owners.of(spec.GATE_ROLE[verdict.gate]).team
    if verdict.team != expected:  # a gate bug, not a user mistake: refuse loudly
        raise errors.PermanentError(
            f"{verdict.gate.value} verdict names team {verdict.team}, expected {expected}"
        )
    return bytes(signing.sign_verdict(verdict, keys.load_private_key(key_file)))


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


# ---------------------------------------------------------------------------------------- outputs


def figures(verdict: Verdict) -> dict[str, float]:
    """The numeric figures of a verdict: pass flag, check counts and each check's numbers."""
    figures: dict[str, float] = {
        "passed": 1.0 if verdict.passed else 0.0,
        "checks": float(len(verdict.checks)),
        "checks_failed": float(sum(c.outcome is Outcome.FAIL for c in verdict.checks)),
        "checks_warned": float(sum(c.outcome is Outcome.WARN for c in verdict.checks)),
    }
    for check in verdict.checks:
        for name, value in check.figures.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                figures[f"{check.id}.{name}"] = float(value)
    return figures


_ICON = {Outcome.PASS: "pass", Outcome.FAIL: "**FAIL**", Outcome.WARN: "warn", Outcome.SKIP: "skip"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def verdict_markdown(verdict: Verdict, *, keyid: str | None = None, extra: str = "") -> str:
    """A gate's report as Markdown: decision, signer, subject, and one row per check with its figures.

    Args:
        verdict: the gate's verdict.
        keyid: the signing key's id, when known.
        extra: more Markdown appended at the end (e.g. the probe report).

    Returns:
        The Markdown text.
    """
    decision = "PASSED" if verdict.passed else "REFUSED"
    lines = [
        f"# {verdict.gate.value}: {decision}",
        "",
        f"- Signed by team **{verdict.team}**" + (f" (key `{keyid[:16]}`)" if keyid else ""),
        f"- Model `{verdict.subject.uri}`, digest `{verdict.subject.digest}`",
        f"- Contract digest `{verdict.contract_digest}`",
        f"- Issued {verdict.issued_at.isoformat()}, expires {verdict.expires_at.isoformat()}",
    ]
    for name, digest in sorted(verdict.artifacts.items()):
        lines.append(f"- {name} digest `{digest}`")
    if verdict.note:
        lines.append(f"- Note: {_cell(verdict.note)}")
    lines += ["", "| check | outcome | finding | figures |", "|---|---|---|---|"]
    for c in verdict.checks:
        figs = ", ".join(f"{k}={v}" for k, v in c.figures.items())
        lines.append(f"| `{c.id}` | {_ICON[c.outcome]} | {_cell(c.message)} | {_cell(figs)} |")
    if verdict.failures:
        lines += ["", "## Why it was refused", ""]
        lines += [f"- `{c.id}`: {c.message}" for c in verdict.failures]
    if extra:
        lines += ["", extra.rstrip()]
    return "\n".join(lines) + "\n"


def _write_outputs(
    out_dir: Path,
    verdict: Verdict,
    envelope: bytes,
    *,
    report_extra: str = "",
    extra: dict[str, Any] | None = None,
) -> StepResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ENVELOPE).write_bytes(envelope)
    (out_dir / VERDICT).write_text(verdict.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out_dir / REPORT).write_text(verdict_markdown(verdict, extra=report_extra), encoding="utf-8")
    metrics = figures(verdict)
    (out_dir / METRICS).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    result = StepResult(
        gate=verdict.gate,
        team=verdict.team,
        passed=verdict.passed,
        verdict=verdict,
        out_dir=out_dir,
        metrics=metrics,
        extra=dict(extra or {}),
    )
    outcome = {
        "gate": verdict.gate.value,
        "team": verdict.team,
        "passed": verdict.passed,
        "reasons": list(result.reasons),
        "checks": len(verdict.checks),
        "extra": result.extra,
    }
    (out_dir / OUTCOME).write_text(json.dumps(outcome, indent=2, default=str) + "\n", encoding="utf-8")
    return result


def _finish(result: StepResult) -> StepResult:
    if not result.passed:
        raise GateRefused(result.gate, result.team, result.reasons)
    return result


def _verified(envelope: bytes, trust: TrustPolicy, gate: Gate, subject: Subject | None = None) -> Verdict:
    """Verify an upstream envelope: signed by a trusted team for ``gate``, passed, same subject."""

    signed = signing.verify_envelope(envelope, trust)
    verdict: Verdict = signed.verdict
    reasons = []
    if verdict.gate is not gate:
        reasons.append(f"expected a {gate.value} verdict, got {verdict.gate.value}")
    if not verdict.passed:
        reasons.append(f"the upstream {verdict.gate.value} verdict did not pass")
    if subject is not None and verdict.subject != subject:
        reasons.append(f"the upstream verdict is about {verdict.subject.uri}, not {subject.uri}")
    if reasons:
        raise errors.VerificationError(reasons)
    return verdict


def _model_ref(data: Mapping[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return render.ModelRef(
            name=data["name"], version=data["version"], storage_uri=data["storage_uri"], digest=data["digest"]
        )
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise errors.InputError(
            f"the model reference cannot be rendered ({why}); set the artifact-store parameter to the "
            "MLflow artifact store as the cluster reads it (s3://, gs://, pvc:// or https://)"
        ) from None
