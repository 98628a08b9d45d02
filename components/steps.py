"""The pipeline steps, engine-agnostic: the KFP components and the Argo templates both call these.

Each step takes plain values (YAML text of the documents, names, URIs, a key file) and an output
folder. It gathers its evidence, calls its gate, signs the verdict with its owner's key, stores the
signed envelope with the model version in MLflow, and writes into the output folder:

* ``envelope.json``: the DSSE envelope (the signed verdict),
* ``verdict.json``: the same verdict as plain JSON, for people and tools that do not verify,
* ``report.md``: the gate's Markdown report (who signed what and why),
* ``metrics.json``: the numeric figures of the checks (``{name: number}``),
* step-specific files (``manifests.yaml`` from the platform step, ``model-ref.json`` from the ML step).

When the gate refuses, the step writes all of that first and then raises :class:`GateRefused`
(exit code 1), so the engine marks the task failed and nothing downstream runs.
``TemporaryError`` (exit code 3) is the only error the engines retry.

Keys: each step reads only its owner's private key, from :func:`key_path`. In the cluster that is a
Secret mounted into that owner's task only (``/var/run/signoff/keys/<role>/key.pem``). KFP's local
runner has no Secrets (it runs tasks as subprocesses of this machine), so locally the keys come from
the folder named by ``SIGNOFF_KEYS_DIR`` (``ml.pem``, ``platform.pem``, ``sre.pem``).

``python -m components.steps STEP --arg value ...`` runs one step as a process (the Argo templates
use it), mapping errors to exit codes: 1 gate refused, 2 bad input, 3 try again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from contracts import errors
from contracts.cluster import ClusterPolicy
from contracts.loader import load_cluster_policy, load_contract, load_trust_policy
from contracts.trust import Gate, TrustPolicy
from contracts.workload import Role, WorkloadContract
from gates.evidence import ProbeResult
from gates.verdict import Check, Outcome, Subject, Verdict, digest_bytes

if TYPE_CHECKING:
    from gates.render import ModelRef

__all__ = [
    "DEFAULT_KEYS_MOUNT",
    "GATE_ROLE",
    "KEYS_DIR_ENV",
    "GateRefused",
    "StepResult",
    "figures",
    "key_path",
    "main",
    "ml_artifact_step",
    "platform_step",
    "promotion_step",
    "rollback_check_step",
    "run_summary",
    "sre_readiness_step",
    "verdict_markdown",
]

KEYS_DIR_ENV = "SIGNOFF_KEYS_DIR"
"""Environment variable naming a folder of ``<role>.pem`` private keys (local runs only)."""
DEFAULT_KEYS_MOUNT = "/var/run/signoff/keys"
"""Where the cluster mounts each owner's key Secret: ``<mount>/<role>/key.pem``."""

GATE_ROLE: dict[Gate, Role] = {
    Gate.ML_ARTIFACT: Role.ML,
    Gate.PLATFORM: Role.PLATFORM,
    Gate.SRE_READINESS: Role.SRE,
    Gate.PROMOTION: Role.ML,
    Gate.ROLLBACK: Role.ML,
}
"""Whose key signs each gate's verdict: the owner role of the contract."""

ENVELOPE = "envelope.json"
VERDICT = "verdict.json"
REPORT = "report.md"
METRICS = "metrics.json"
MANIFESTS = "manifests.yaml"
MODEL_REF = "model-ref.json"
OUTCOME = "outcome.json"

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
    folder = keys_dir if keys_dir is not None else os.environ.get(KEYS_DIR_ENV)
    if folder:
        return Path(folder) / f"{name}.pem"
    return Path(DEFAULT_KEYS_MOUNT) / name / "key.pem"


def _load_text(text: str, label: str, loader: Callable[[Path], _D]) -> _D:
    """Parse a document given as YAML text with the file loader, so errors read the same."""
    if not text.strip():
        raise errors.InputError(f"the {label} parameter is empty: pass the document's YAML text")
    with tempfile.TemporaryDirectory(prefix="signoff-doc-") as tmp:
        path = Path(tmp) / f"{label}.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return loader(path)
        except errors.DocumentError as exc:
            raise errors.DocumentError(f"<{label} parameter>", exc.problems) from None


def _contract(text: str) -> WorkloadContract:
    return _load_text(text, "contract", load_contract)


def _policy(text: str) -> ClusterPolicy:
    return _load_text(text, "cluster-policy", load_cluster_policy)


def _trust(text: str) -> TrustPolicy:
    return _load_text(text, "trust-policy", load_trust_policy)


def _registry(tracking_uri: str | None) -> Any:
    from components import mlflow_registry

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise errors.InputError("no MLflow tracking URI: pass mlflow-tracking-uri or set MLFLOW_TRACKING_URI")
    return mlflow_registry.Registry(uri)


def _sign(verdict: Verdict, contract: WorkloadContract, key_file: Path) -> bytes:
    from components import keys
    from gates import signing

    expected = contract.spec.owners.of(GATE_ROLE[verdict.gate]).team
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
    from gates import signing

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

    from gates import render

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


# ------------------------------------------------------------------------------------------ steps


def _storage_uri(registry: Any, name: str, version: str, artifact_store: str) -> str:
    """Where the serving cluster fetches the version's files.

    MLflow hands out ``mlflow-artifacts:/PATH`` when its server proxies the artifact store; a
    serving pod cannot read that. With ``artifact_store`` (the store as the cluster reads it, e.g.
    ``s3://mlflow-artifacts``) the path is mapped onto it.
    """
    from urllib.parse import urlparse

    location = str(registry.client.get_model_version_download_uri(name, version))
    parsed = urlparse(location)
    if artifact_store and parsed.scheme == "mlflow-artifacts":  # mlflow-artifacts:/PATH or ://host:port/PATH
        return f"{artifact_store.rstrip('/')}/{parsed.path.lstrip('/')}"
    return location


def _example(folder: Path) -> Any:
    """The input example of a downloaded model (for the probe), or none."""
    from components import probe as probing

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
    from gates import ml_artifact

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
    from gates import platform, render

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


_CLUSTER_TARGET = re.compile(
    r"^(?P<scheme>kserve|deployment)://(?P<namespace>[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)"
    r"/(?P<name>[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$"
)


def cluster_target(staging_url: str) -> tuple[Literal["InferenceService", "Deployment"], str, str] | None:
    """``kserve://NAMESPACE/NAME`` or ``deployment://NAMESPACE/NAME`` -> ``(kind, namespace, name)``.

    Any other value (an ``http(s)://`` URL, ``local``) is not a cluster target: ``None``.
    """
    m = _CLUSTER_TARGET.match(staging_url)
    if m is None:
        return None
    kind: Literal["InferenceService", "Deployment"] = (
        "InferenceService" if m["scheme"] == "kserve" else "Deployment"
    )
    return kind, m["namespace"], m["name"]


@contextlib.contextmanager
def _endpoint(
    staging_url: str, model_uri: str, tracking_uri: str, *, deadline_s: float, log_dir: Path | None = None
) -> Iterator[tuple[str | None, float | None, Callable[[], bool] | None, Callable[[], str | None]]]:
    """Yield ``(url, launched_at, alive, exit_reason)`` for the probe.

    * ``local`` launches ``mlflow models serve`` of the version here (its log kept in ``log_dir``);
      ``alive`` tells whether that process still runs, ``exit_reason`` why it ended on its own, and
      the cold start counts from its launch.
    * ``kserve://NS/NAME`` / ``deployment://NS/NAME`` is the cluster path: the staging object was
      applied just before this step (``signoff deploy --namespace NS``), and the step polls the
      Kubernetes API until it is Ready (``components.kube.wait_ready``, at most ``deadline_s``,
      the contract's max cold start), then probes its URL. The cold start counts from this step's
      start. ``url`` is ``None`` when it never became Ready.
    * anything else is a URL, probed as it is.
    """
    target = cluster_target(staging_url)
    if target is not None:
        from components import kube

        kind, namespace, name = target
        started = time.monotonic()
        client = kube.load_client()
        ready = kube.wait_ready(
            kind, name, namespace, deadline_s=deadline_s, launched_at=started, client=client
        )
        url = kube.staging_url(kind, name, namespace, client=client) if ready is not None else None
        yield url, started, None, lambda: None
        return
    if staging_url != "local":
        yield staging_url, None, None, lambda: None
        return
    from components import local_serving

    server = local_serving.launch(model_uri, env={"MLFLOW_TRACKING_URI": tracking_uri}, log_dir=log_dir)
    try:
        yield server.url, server.launched_at, server.alive, server.exit_reason
    finally:
        server.stop()


def _staging_problems(
    target: tuple[Literal["InferenceService", "Deployment"], str, str], model: ModelRef
) -> list[str]:
    from components import kube

    kind, namespace, name = target
    obj = kube.get_serving(kind, name, namespace)
    return kube.serving_problems(
        obj, version=model.version, digest=model.digest, storage_uri=model.storage_uri
    )


def _staging_check(problems: list[str], target: tuple[str, str, str], model: ModelRef) -> Check:
    kind, namespace, name = target
    where = f"{kind} {namespace}/{name}"
    if problems:
        return Check(
            id="staging.version", outcome=Outcome.FAIL,
            message=f"{where} does not serve {model.name} version {model.version} ({model.digest}): "
            + "; ".join(problems),
            figures={"object": where, "version": model.version, "digest": model.digest},
        )  # fmt: skip
    return Check(
        id="staging.version", outcome=Outcome.PASS,
        message=f"{where} serves {model.name} version {model.version} ({model.digest}) "
        f"from {model.storage_uri}",
        figures={"object": where, "version": model.version, "digest": model.digest},
    )  # fmt: skip


def sre_readiness_step(
    *,
    contract_yaml: str,
    policy_yaml: str,
    trust_yaml: str,
    model_ref_json: str,
    platform_envelope: bytes,
    image: str,
    staging_url: str,
    tracking_uri: str | None,
    key_file: str | Path,
    out_dir: str | Path,
    environment: Literal["staging", "production"] = "production",
    probe_duration_s: float | None = None,
    protocol: Literal["mlflow", "kserve-v1", "kserve-v2"] | None = None,
    first_release: bool = False,
    now: datetime | None = None,
    log_dir: str | Path | None = None,
) -> StepResult:
    """The SRE handoff: observability, alerts, SLOs against a live probe, a rollback target; SRE signs.

    With ``staging_url`` ``local``, the server's log is kept in ``log_dir`` (default ``out_dir``)
    and the report names it when the server died.

    On a cluster target the staging object must serve exactly this version before it is probed
    (``staging.version``: its model version and digest annotations and the storage URI its pods
    fetch; a mismatch refuses with both digests and sends no load); it is probed at its
    cluster-local address in the protocol the rendered runtime speaks (MLServer: Open Inference
    Protocol v2, the model named after the workload), and the cold start is the API server's figure:
    from the pods' creation to their Ready condition. ``protocol`` None: ``kserve-v2`` on a cluster
    target, ``mlflow`` otherwise (``mlflow models serve``).

    ``staging_url`` is a served endpoint to probe; ``local`` to launch ``mlflow models serve`` of
    the model version on this machine and probe that (measuring its cold start; a server process
    that dies is noticed at once, not at the contract's max cold start); or, in a cluster,
    ``kserve://NAMESPACE/NAME`` / ``deployment://NAMESPACE/NAME``: wait (via the Kubernetes API,
    at most the contract's max cold start) until that staging object is Ready, then probe its URL.

    The rollback check needs a previous production version in the registry, or ``first_release``:
    an explicit declaration that there is none. Without either the gate refuses (a missing
    production alias is never taken as a first release by itself).

    Raises:
        GateRefused: the readiness gate refused.
        VerificationError: the platform verdict or its manifests did not verify.
    """
    from components import probe as probing
    from gates import observability, readiness, render

    out = Path(out_dir)
    contract, policy, trust = _contract(contract_yaml), _policy(policy_yaml), _trust(trust_yaml)
    platform_verdict = _verified(platform_envelope, trust, Gate.PLATFORM)
    subject = platform_verdict.subject
    model = _model_ref(json.loads(model_ref_json))
    manifests = render.render(
        contract, policy, model, image, environment=environment, mode=policy.spec.serving
    )
    signed_digest = platform_verdict.artifacts.get("manifests")
    if signed_digest is not None and signed_digest != manifests.digest():
        raise errors.VerificationError(
            [f"manifests digest {manifests.digest()} is not the one platform signed ({signed_digest})"]
        )
    namespace = (
        policy.spec.namespaces.production if environment == "production" else policy.spec.namespaces.staging
    ).name
    objects = observability.render_observability(
        contract, namespace=namespace, mode=policy.spec.serving, policy=policy
    )
    alertmanager = observability.alertmanager_config(contract)
    registry = _registry(tracking_uri)
    previous = registry.previous_production_version(model.name, model.version)
    probe_kwargs: dict[str, Any] = {}
    if probe_duration_s is not None:
        probe_kwargs["duration_s"] = probe_duration_s
    ref = json.loads(model_ref_json)
    example = ref.get("example")
    if example is None:
        raise errors.InputError(
            f"{subject.uri} has no input example: the live probe needs one "
            "(log the model with input_example=...)"
        )
    deadline = contract.spec.slos.max_cold_start.seconds
    endpoint = _endpoint(
        staging_url, subject.uri, str(registry.tracking_uri), deadline_s=deadline,
        log_dir=Path(log_dir) if log_dir is not None else out,
    )  # fmt: skip
    target = cluster_target(staging_url)
    speaks = protocol or ("kserve-v2" if target is not None else "mlflow")
    served_as = target[2] if target is not None else model.name  # MLServer names the model after the object
    staging: list[Check] = []
    with endpoint as (url, launched_at, alive, exit_reason):
        problems = _staging_problems(target, model) if url is not None and target is not None else []
        if target is not None and url is not None:
            staging.append(_staging_check(problems, target, model))
        if url is None:  # a cluster object that never became Ready within the contract's cold start
            result = ProbeResult(
                url=staging_url, protocol=speaks, ready=False, cold_start_deadline_s=deadline
            )
        elif problems:  # never sign figures of another model's endpoint
            result = ProbeResult(
                url=url, protocol=speaks, ready=False, cold_start_deadline_s=deadline,
                first_error="not probed: the staging object serves another model version",
            )  # fmt: skip
        else:
            # A local server that crashes is noticed at once, not when max_cold_start runs out.
            result = probing.probe(
                url, contract, example=example, protocol=speaks, model_name=served_as,
                launched_at=launched_at, alive=alive, **probe_kwargs,
            )  # fmt: skip
            if target is not None:
                from components import kube

                pods = kube.pods_cold_start(target[2], model.version, target[1])
                if pods is not None:
                    result = result.model_copy(update={"cold_start_s": pods})
            reason = None if result.ready else exit_reason()
            if reason:  # said on stderr too: the task's log is where a person looks first
                print(f"signoff: {reason}", file=sys.stderr)
                result = result.model_copy(update={"server_exit": reason, "first_error": None})
    verdict = readiness.evaluate(
        contract,
        manifests=manifests.objects,
        observability=objects,
        alertmanager=alertmanager,
        probe=result,
        rollback_target=previous,
        first_release=first_release,
        subject=subject,
        now=_now(now),
        metrics=observability.MetricNames.for_policy(policy),
        extra_checks=staging,
    )
    envelope = _sign(verdict, contract, Path(key_file))
    registry.store_envelope(model.name, model.version, Gate.SRE_READINESS, envelope)
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe.json").write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    report = probing.report_markdown(result, contract)
    figures = {"p99_ms": result.p99_ms, "error_rate": result.error_rate, "cold_start_s": result.cold_start_s}
    return _finish(_write_outputs(out, verdict, envelope, report_extra=report, extra=figures))


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

    from gates import promotion, render

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
    manifests: Any,
    envelope: bytes,
    verdict: Verdict,
    chosen: Mapping[Gate, bytes],
) -> str:
    """The admission webhook's bundle: the promotion and exactly the envelopes it accepted."""
    from gates import admission_review

    accepted = [e for e in chosen.values() if digest_bytes(e) in set(verdict.artifacts.values())]
    return admission_review.encode_bundle(contract, manifests, envelope, accepted)


def rollback_check_step(
    *,
    contract_yaml: str,
    model_name: str,
    model_version: str,
    tracking_uri: str | None,
    out_dir: str | Path,
    observed_drift: float | None = None,
) -> dict[str, Any]:
    """The automated rollback check after promotion: is a rollback target armed, and must it fire?

    With ``observed_drift`` (a fraction, e.g. 0.05) above the contract's accuracy-drift alert and an
    automated rollback on accuracy drift in the contract, the production alias is moved back.

    Returns:
        ``{"target": version or None, "armed": bool, "rolled_back": bool, "reason": str}``
        (also written to ``rollback.json`` and ``report.md``).
    """
    from contracts.workload import Signal

    out = Path(out_dir)
    contract = _contract(contract_yaml)
    registry = _registry(tracking_uri)
    target = registry.previous_production_version(model_name)
    automated = any(a.signal is Signal.ACCURACY_DRIFT for a in contract.spec.rollback.automated)
    threshold = next(
        (
            a.threshold
            for a in contract.spec.alerts
            if a.signal is Signal.ACCURACY_DRIFT and a.threshold is not None
        ),
        None,
    )
    limit = getattr(threshold, "fraction", None)
    rolled_back = False
    if target is None:
        reason = f"first release of {model_name}: no earlier production version to roll back to"
    elif not automated:
        reason = f"no automated rollback in the contract; version {target} is the manual rollback target"
    elif observed_drift is None or limit is None or observed_drift <= limit:
        reason = f"armed: accuracy drift above {limit} moves production back to version {target}"
    else:
        registry.auto_rollback(model_name, reason=f"accuracy drift {observed_drift:.4f} above {limit}")
        rolled_back = True
        reason = (
            f"accuracy drift {observed_drift:.4f} above {limit}: production moved back to version {target}"
        )
    outcome = {
        "model": model_name,
        "version": str(model_version),
        "target": target,
        "armed": automated and target is not None,
        "rolled_back": rolled_back,
        "reason": reason,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "rollback.json").write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf-8")
    (out / REPORT).write_text(f"# rollback check\n\n{reason}\n", encoding="utf-8")
    return outcome


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
    from gates import signing

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


# ------------------------------------------------------------------------------- process entry point


def _read(path: str | None) -> str:
    return Path(path).read_text(encoding="utf-8") if path else ""


def _flag(text: str) -> bool:
    """A boolean parameter as the engines pass it (``true``/``false``, any case)."""
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"{text!r} is not true or false")
    return value == "true"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m components.steps", description="run one signoff step")
    p.add_argument(
        "step",
        choices=["ml-artifact", "platform", "sre-readiness", "promotion", "rollback-check", "run-summary"],
    )
    p.add_argument("--model-name", required=True)
    p.add_argument("--model-version", required=True)
    p.add_argument("--contract", default="", help="the contract's YAML text")
    p.add_argument("--cluster-policy", default="", help="the cluster policy's YAML text")
    p.add_argument("--trust-policy", default="", help="the trust policy's YAML text")
    p.add_argument("--mlflow-tracking-uri", default="")
    p.add_argument("--image", default="")
    p.add_argument("--artifact-store", default="", help="the MLflow artifact store as the cluster reads it")
    p.add_argument("--staging-url", default="local")
    p.add_argument("--probe-seconds", type=float, default=None, help="how long to load the staging endpoint")
    p.add_argument(
        "--first-release",
        type=_flag,
        default=False,
        metavar="true|false",
        help="sre-readiness: declare that no earlier production version exists (default false)",
    )
    p.add_argument("--in-dir", action="append", default=[], help="an upstream step's output folder")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--status", default="", help="run-summary: the engine's final status")
    p.add_argument("--failures", default="", help="run-summary: the engine's failure list (JSON)")
    p.add_argument(
        "--role", choices=[r.value for r in Role], help="whose key to read (default: the gate's owner)"
    )
    return p


def _upstream(dirs: Sequence[str], gate: Gate) -> Path:
    for d in dirs:
        path = Path(d)
        if (path / VERDICT).is_file() and json.loads((path / VERDICT).read_text())["gate"] == gate.value:
            return path
    raise errors.InputError(f"no upstream {gate.value} output among --in-dir {list(dirs)}")


def _failures(text: str) -> str:
    """Argo's ``{{workflow.failures}}`` (a JSON list of failed nodes) as one line."""
    try:
        nodes = json.loads(text) if text.strip() else []
    except ValueError:
        return text
    if not isinstance(nodes, list):
        return text
    return "; ".join(
        f"{n.get('displayName', '?')}: {n.get('message', '')}" for n in nodes if isinstance(n, dict)
    )


def _dispatch(ns: argparse.Namespace) -> None:
    common = {"tracking_uri": ns.mlflow_tracking_uri or None, "out_dir": ns.out_dir}
    if ns.step == "run-summary":
        text = run_summary(
            trust_yaml=ns.trust_policy,
            model_name=ns.model_name,
            model_version=ns.model_version,
            status=ns.status,
            error=_failures(ns.failures),
            **common,
        )
        print(text)
        return
    gate = {
        "ml-artifact": Gate.ML_ARTIFACT,
        "platform": Gate.PLATFORM,
        "sre-readiness": Gate.SRE_READINESS,
        "promotion": Gate.PROMOTION,
        "rollback-check": Gate.ROLLBACK,
    }[ns.step]
    key = key_path(ns.role or GATE_ROLE[gate])
    if ns.step == "ml-artifact":
        ml_artifact_step(
            contract_yaml=ns.contract,
            policy_yaml=ns.cluster_policy,
            model_name=ns.model_name,
            model_version=ns.model_version,
            key_file=key,
            artifact_store=ns.artifact_store,
            **common,
        )
    elif ns.step == "platform":
        ml = _upstream(ns.in_dir, Gate.ML_ARTIFACT)
        platform_step(
            contract_yaml=ns.contract,
            policy_yaml=ns.cluster_policy,
            trust_yaml=ns.trust_policy,
            model_ref_json=_read(str(ml / MODEL_REF)),
            ml_envelope=(ml / ENVELOPE).read_bytes(),
            image=ns.image,
            key_file=key,
            **common,
        )
    elif ns.step == "sre-readiness":
        pf = _upstream(ns.in_dir, Gate.PLATFORM)
        sre_readiness_step(
            contract_yaml=ns.contract,
            policy_yaml=ns.cluster_policy,
            trust_yaml=ns.trust_policy,
            model_ref_json=_read(str(pf / MODEL_REF)),
            platform_envelope=(pf / ENVELOPE).read_bytes(),
            image=ns.image,
            staging_url=ns.staging_url,
            probe_duration_s=ns.probe_seconds,
            first_release=ns.first_release,
            key_file=key,
            **common,
        )
    elif ns.step == "promotion":
        envs = {
            g: (_upstream(ns.in_dir, g) / ENVELOPE).read_bytes()
            for g in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS)
        }
        manifests = _upstream(ns.in_dir, Gate.PLATFORM) / MANIFESTS
        promotion_step(
            contract_yaml=ns.contract,
            trust_yaml=ns.trust_policy,
            model_name=ns.model_name,
            model_version=ns.model_version,
            envelopes=envs,
            manifests_yaml=_read(str(manifests)),
            key_file=key,
            **common,
        )
    else:
        rollback_check_step(
            contract_yaml=ns.contract, model_name=ns.model_name, model_version=ns.model_version, **common
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step as a process; exit 0 passed, 1 refused, 2 bad input, 3 temporary failure."""
    ns = _parser().parse_args(argv)
    try:
        _dispatch(ns)
    except errors.SignoffError as exc:
        print(f"signoff {ns.step}: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
