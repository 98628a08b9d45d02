"""The ML-artifact gate: is this MLflow model version a sound artifact to hand to the platform?

Signed by the contract's ML team. Pure: the evidence (gathered from MLflow by a component), the
contract, the cluster policy and ``now`` are passed in.

Checks (each with the figures it used):

* ``version.ready``: the version's status is ``READY``.
* ``subject.matches``: the evidence is about the subject's model and version.
* ``source.immutable``: the version's source is not a moving reference (``models:/NAME@alias`` or
  ``models:/NAME/Stage``).
* ``model.signature``: the MLmodel has an input signature (an output signature is recommended).
* ``model.pyfunc``: the ``python_function`` flavor the serving runtimes load is present (warn).
* ``prediction.example``: the stored input example reads, and predicting on it returned one output
  row per input row. It runs where the model's runtime is: in the gate's process when that can load
  the model, else it is deferred (a warning) to the sre-readiness probe of the staging endpoint,
  which signs it; ``prediction_ran_in`` says which.
* ``quality.<metric>``: each quality threshold of the contract holds; a metric the run did not
  log fails.
* ``size.plausible``: the declared ``model_size`` fits the artifact (see :func:`_size_check`).
* ``serialization.pickle``: pickle-based formats are allowed, flagged or refused per the policy.
* ``manifest.digest``: the manifest's digest is recomputed from its entries and equals the
  subject's digest.
* ``manifest.complete``: the manifest covers every byte of the artifact folder.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from contracts._units import format_bytes
from contracts.canonical import files_digest
from contracts.cluster import ClusterPolicy, SerializationPolicy
from contracts.model_uri import split_model_uri
from contracts.trust import Gate
from contracts.workload import QualityThreshold, WorkloadContract
from gates.evidence import FileEntry, MlEvidence
from gates.verdict import Check, Outcome, Subject, Verdict

__all__ = ["GPU_OVERHEAD", "PICKLE_FORMATS", "evaluate", "manifest_digest"]

PICKLE_FORMATS = frozenset({"pickle", "cloudpickle", "joblib", "dill", "pkl", "torch-pickle"})
"""Serialization formats that run code when loaded."""

GPU_OVERHEAD = 4.0
"""How many times its weights a model may take in GPU memory (activations, KV cache, CUDA context)."""
CPU_OVERHEAD = 2.0
"""How many times its weights a CPU model may take in memory once loaded."""


def manifest_digest(files: Iterable[FileEntry]) -> str:
    """``sha256:<hex>`` over the canonical JSON of the entries sorted by path
    (:func:`contracts.canonical.files_digest`, which ``signoff verify-model`` computes too)."""
    return files_digest(files)


def _gb(n: float) -> float:
    return round(n / 1e9, 3)


def _check_id(prefix: str, name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "metric"
    cid = f"{prefix}.{base}"[:80]
    n = 2
    while cid in taken:
        cid = f"{prefix}.{base}"[:76] + f"-{n}"
        n += 1
    taken.add(cid)
    return cid


def _quality(q: QualityThreshold, metrics: dict[str, float], cid: str) -> Check:
    figures: dict[str, float | int | str | bool | None] = {"metric": q.metric, "min": q.min, "max": q.max}
    value = metrics.get(q.metric)
    if value is None:
        logged = ", ".join(sorted(metrics)) or "none"
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures={**figures, "value": None},
            message=f"metric {q.metric!r} was not logged for this version (logged: {logged})",
        )
    if not math.isfinite(value):  # NaN or infinity: no threshold holds, and JSON cannot carry it
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures={**figures, "value": str(value)},
            message=f"{q.metric} is {value}, not a number any threshold can hold for",
        )
    figures["value"] = value
    if q.min is not None and not value >= q.min:
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"{q.metric} is {value:g}, below the contract's minimum {q.min:g}",
        )
    if q.max is not None and not value <= q.max:
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"{q.metric} is {value:g}, above the contract's maximum {q.max:g}",
        )
    bounds = " and ".join(
        b
        for b in (f">= {q.min:g}" if q.min is not None else "", f"<= {q.max:g}" if q.max is not None else "")
        if b
    )
    return Check(id=cid, outcome=Outcome.PASS, figures=figures, message=f"{q.metric} is {value:g} ({bounds})")


def _size_check(contract: WorkloadContract, evidence: MlEvidence, policy: ClusterPolicy) -> Check:
    """Is the declared ``model_size`` plausible for an artifact of this size?

    ``model_size`` is what the loaded model takes in memory: GPU memory for a GPU model, host memory
    otherwise. The artifact on disk is roughly the weights. So, with ``tol`` the policy's
    ``size_tolerance``:

    * the artifact must not be larger than ``declared * (1 + tol)``: the weights alone would not fit
      what was declared, so capacity was planned for a different model (and it would OOM);
    * the declaration must not be absurdly larger than the artifact: at most
      ``artifact * (1 + tol) * overhead``, where ``overhead`` is :data:`GPU_OVERHEAD` (activations,
      KV cache and CUDA context can take several times the weights) or :data:`CPU_OVERHEAD`.
      A larger declaration means the contract describes another model, or wastes GPUs.
    """
    declared = contract.spec.resources.model_size.bytes
    actual = evidence.artifact_size
    tol = policy.spec.model.size_tolerance.fraction
    gpu = contract.spec.resources.gpu is not None
    overhead = GPU_OVERHEAD if gpu else CPU_OVERHEAD
    upper_artifact = declared * (1 + tol)
    upper_declared = actual * (1 + tol) * overhead
    where = "GPU memory" if gpu else "memory"
    figures: dict[str, float | int | str | bool | None] = {
        "declared_bytes": declared,
        "artifact_bytes": actual,
        "tolerance": tol,
        "overhead": overhead,
        "declared_gb": _gb(declared),
        "artifact_gb": _gb(actual),
    }
    fix = f"set resources.model_size to about {format_bytes(actual)}"
    if actual > upper_artifact:
        return Check(
            id="size.plausible",
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"artifact is {format_bytes(actual)}, larger than the declared model size "
            f"{format_bytes(declared)} in {where} plus {tol:.0%} tolerance ({format_bytes(upper_artifact)}); "
            f"{fix} (or more: what it takes in {where}), or register the model the contract describes",
        )
    if declared > upper_declared:
        return Check(
            id="size.plausible",
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"declared model size {format_bytes(declared)} in {where} is more than {overhead:g}x the "
            f"{format_bytes(actual)} artifact plus {tol:.0%} ({format_bytes(upper_declared)}): the contract "
            f"seems to describe another model; {fix}, or register the model it describes",
        )
    return Check(
        id="size.plausible",
        outcome=Outcome.PASS,
        figures=figures,
        message=f"artifact {format_bytes(actual)} is plausible for {format_bytes(declared)} "
        f"declared in {where}",
    )


def _source_check(source: str) -> Check:
    figures: dict[str, float | int | str | bool | None] = {"source": source}
    ref = split_model_uri(source)
    if ref is not None and ref.alias is not None:
        return Check(
            id="source.immutable",
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"source {source} is an alias, which can move; register from a run or logged model",
        )
    if ref is not None and ref.stage is not None:
        return Check(
            id="source.immutable",
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"source {source} names a stage or 'latest', which can move",
        )
    if not source:
        return Check(
            id="source.immutable", outcome=Outcome.FAIL, figures=figures, message="the version has no source"
        )
    return Check(
        id="source.immutable", outcome=Outcome.PASS, figures=figures, message=f"source {source} is immutable"
    )


def _prediction_check(evidence: MlEvidence) -> Check:
    """Did predicting on the stored example work, and where did it run?

    The prediction runs where the model's runtime is. When the gate's process could load the model
    (full mlflow and the flavor's libraries installed there), it ran there. Otherwise (the step
    image holds mlflow-skinny: no numpy, no flavor library) it is deferred to the sre-readiness
    step, whose probe sends this stored example to the staging endpoint and signs that the answer
    has one row per input row; here that is a warning, provided the example is stored and reads.
    """
    p = evidence.prediction
    ran_in = p.ran_in if p.ran else (f"deferred to {p.deferred_to}" if p.deferred_to else None)
    figures: dict[str, float | int | str | bool | None] = {
        "ran": p.ran,
        "ok": p.ok,
        "rows_in": p.rows_in,
        "output_shape": "x".join(str(d) for d in p.output_shape) if p.output_shape is not None else None,
        "prediction_ran_in": ran_in,
    }
    cid = "prediction.example"
    if not evidence.has_input_example:
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures=figures,
            message="no input example is stored; log the model with an input_example so the gate can "
            "predict on it",
        )
    if evidence.example_error:
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"the stored input example cannot be read: {evidence.example_error[:500]}; log the "
            "model again with an input_example",
        )
    if not p.ran and p.deferred_to:
        rows = f"its {p.rows_in} rows" if p.rows_in is not None else "it"
        return Check(
            id=cid,
            outcome=Outcome.WARN,
            figures={**figures, "deferred_reason": (p.deferred_reason or "")[:300]},
            message=f"the example prediction is deferred to {p.deferred_to}: the model cannot be loaded "
            f"where this gate runs ({p.deferred_reason or 'its runtime is not here'}); the {p.deferred_to} "
            f"probe sends the stored example to the staging endpoint and requires one output row for "
            f"each of {rows}",
        )
    if not p.ran:
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"the prediction did not run ({(p.error or 'no reason given')[:300]}); log the model "
            "with an input_example so the gate can predict on it",
        )
    where = f" in the {p.ran_in}" if p.ran_in else ""
    if not p.ok:
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"predicting on the input example{where} failed: {(p.error or 'unknown error')[:500]}",
        )
    if not p.output_shape or 0 in p.output_shape:
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"the prediction{where} returned an empty output (shape {p.output_shape})",
        )
    if p.rows_in is not None and p.output_shape[0] != p.rows_in:
        return Check(
            id=cid,
            outcome=Outcome.FAIL,
            figures=figures,
            message=f"the prediction{where} returned {p.output_shape[0]} rows for {p.rows_in} input rows",
        )
    return Check(
        id=cid,
        outcome=Outcome.PASS,
        figures=figures,
        message=f"predicting on the input example{where} returned shape {figures['output_shape']}",
    )


def _pickle_check(evidence: MlEvidence, policy: ClusterPolicy) -> Check:
    formats = tuple(f.lower() for f in evidence.serialization_formats)
    unsafe = sorted({f for f in formats if f in PICKLE_FORMATS})
    rule = policy.spec.model.pickle
    figures: dict[str, float | int | str | bool | None] = {
        "formats": ",".join(formats),
        "pickle_based": ",".join(unsafe),
        "policy": rule.value,
    }
    cid = "serialization.pickle"
    if not formats:
        return Check(
            id=cid,
            outcome=Outcome.WARN,
            figures=figures,
            message="the serialization format is unknown; cannot tell whether loading runs code",
        )
    if not unsafe:
        return Check(
            id=cid,
            outcome=Outcome.PASS,
            figures=figures,
            message=f"no pickle-based format ({', '.join(formats)})",
        )
    msg = f"{', '.join(unsafe)} run code when loaded; cluster policy says {rule.value}"
    outcome = {
        SerializationPolicy.ALLOW: Outcome.PASS,
        SerializationPolicy.WARN: Outcome.WARN,
        SerializationPolicy.DENY: Outcome.FAIL,
    }[rule]
    return Check(id=cid, outcome=outcome, figures=figures, message=msg)


def evaluate(
    contract: WorkloadContract, evidence: MlEvidence, policy: ClusterPolicy, subject: Subject, now: datetime
) -> Verdict:
    """Judge an MLflow model version's artifact against the contract and the cluster policy.

    Args:
        contract: The workload contract (quality thresholds, declared model size, owners).
        evidence: What a component gathered from MLflow about the version.
        policy: The cluster policy (pickle rule, size tolerance).
        subject: The model version and the digest of its files being judged.
        now: When the verdict is made.

    Returns:
        The ML-artifact verdict, owned by the contract's ML team; valid for the contract's
        ``promotion.verdict_ttl``.
    """
    checks: list[Check] = []
    status_ok = evidence.status == "READY"
    checks.append(
        Check(
            id="version.ready",
            outcome=Outcome.PASS if status_ok else Outcome.FAIL,
            figures={"status": evidence.status},
            message=f"version status is {evidence.status}" + ("" if status_ok else ", not READY"),
        )
    )
    same = evidence.model == subject.model and evidence.version == subject.version
    checks.append(
        Check(
            id="subject.matches",
            outcome=Outcome.PASS if same else Outcome.FAIL,
            figures={
                "evidence": f"{evidence.model}/{evidence.version}",
                "subject": f"{subject.model}/{subject.version}",
            },
            message=f"evidence is about {evidence.model} version {evidence.version}"
            + ("" if same else f", not the subject {subject.model} version {subject.version}"),
        )
    )
    checks.append(_source_check(evidence.source))
    if evidence.signature_inputs:
        checks.append(
            Check(
                id="model.signature",
                outcome=Outcome.PASS if evidence.signature_outputs else Outcome.WARN,
                figures={"inputs": True, "outputs": bool(evidence.signature_outputs)},
                message="the model has an input and output signature"
                if evidence.signature_outputs
                else "the model has an input signature but no output signature",
            )
        )
    else:
        checks.append(
            Check(
                id="model.signature",
                outcome=Outcome.FAIL,
                figures={"inputs": False, "outputs": bool(evidence.signature_outputs)},
                message="the model has no input signature; log it with a signature (mlflow infer_signature)",
            )
        )
    pyfunc = "python_function" in evidence.flavors
    checks.append(
        Check(
            id="model.pyfunc",
            outcome=Outcome.PASS if pyfunc else Outcome.WARN,
            figures={"flavors": ",".join(evidence.flavors)},
            message=f"flavors: {', '.join(evidence.flavors) or 'none'}"
            + ("" if pyfunc else "; no python_function flavor for the serving runtime to load"),
        )
    )
    checks.append(_prediction_check(evidence))
    taken: set[str] = set()
    for q in contract.spec.quality:
        checks.append(_quality(q, evidence.metrics, _check_id("quality", q.metric, taken)))
    if not contract.spec.quality:
        checks.append(
            Check(
                id="quality.declared",
                outcome=Outcome.WARN,
                figures={"thresholds": 0},
                message="the contract declares no quality thresholds",
            )
        )
    checks.append(_size_check(contract, evidence, policy))
    checks.append(_pickle_check(evidence, policy))

    m = evidence.manifest
    recomputed = manifest_digest(m.files)
    digest_ok = recomputed == m.digest == subject.digest
    checks.append(
        Check(
            id="manifest.digest",
            outcome=Outcome.PASS if digest_ok else Outcome.FAIL,
            figures={"manifest": m.digest, "recomputed": recomputed, "subject": subject.digest},
            message="the manifest digest is the subject's digest"
            if digest_ok
            else "the manifest digest, its recomputation from the entries and the subject's digest differ",
        )
    )
    complete = bool(m.files) and m.total_size == evidence.artifact_size
    checks.append(
        Check(
            id="manifest.complete",
            outcome=Outcome.PASS if complete else Outcome.FAIL,
            figures={
                "files": len(m.files),
                "manifest_bytes": m.total_size,
                "artifact_bytes": evidence.artifact_size,
            },
            message=f"the manifest covers {len(m.files)} files, "
            f"{m.total_size} of {evidence.artifact_size} bytes"
            + ("" if complete else ": some files are not covered by the digest"),
        )
    )
    return Verdict.decide(
        gate=Gate.ML_ARTIFACT,
        team=contract.spec.owners.ml.team,
        checks=checks,
        subject=subject,
        contract_digest=contract.digest(),
        now=now,
        ttl=_ttl(contract),
        policy_digest=policy.digest(),
    )


def _ttl(contract: WorkloadContract) -> timedelta:
    return timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds)
