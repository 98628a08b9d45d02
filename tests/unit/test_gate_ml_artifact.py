"""The ML-artifact gate: each check passes and fails on the figures it names."""

from __future__ import annotations

from typing import Any

import pytest
from _signoff_kit import ML, NOW, contract, policy

from contracts.cluster import ClusterPolicy
from contracts.trust import Gate
from contracts.workload import WorkloadContract
from gates import ml_artifact
from gates.evidence import FileEntry, FileManifest, MlEvidence, PredictionCheck
from gates.verdict import Check, Outcome, Subject

GB = 10**9


def _manifest(sizes: dict[str, int]) -> FileManifest:
    files = tuple(
        FileEntry(path=p, size=s, sha256=f"{i:064x}") for i, (p, s) in enumerate(sorted(sizes.items()))
    )
    return FileManifest(files=files, digest=ml_artifact.manifest_digest(files))


def _evidence(**over: Any) -> MlEvidence:
    """A sound 24 GB model (the contract declares 30 GB in GPU memory)."""
    manifest = over.pop("manifest", _manifest({"MLmodel": 1_000, "model.safetensors": 24 * GB - 1_000}))
    base: dict[str, Any] = {
        "model": "recsys-ranker",
        "version": "7",
        "status": "READY",
        "source": "models:/m-0123456789abcdef",
        "run_id": "0123456789abcdef",
        "flavors": ("python_function", "transformers"),
        "signature_inputs": '[{"type": "long", "name": "user_id"}]',
        "signature_outputs": '[{"type": "double"}]',
        "has_input_example": True,
        "prediction": PredictionCheck(ran=True, ok=True, output_shape=(5, 1), rows_in=5),
        "metrics": {"ndcg_at_10": 0.47},
        "serialization_formats": ("safetensors",),
        "artifact_size": manifest.total_size,
        "manifest": manifest,
    }
    base.update(over)
    return MlEvidence.model_validate(base)


def _subject(ev: MlEvidence) -> Subject:
    return Subject(model="recsys-ranker", version="7", digest=ev.manifest.digest)


def _run(
    ev: MlEvidence, c: WorkloadContract | None = None, p: ClusterPolicy | None = None
) -> dict[str, Check]:
    v = ml_artifact.evaluate(c or contract(), ev, p or policy(), _subject(ev), NOW)
    return {ch.id: ch for ch in v.checks}


def _with(c: WorkloadContract | ClusterPolicy, path: str, value: Any) -> Any:
    data = c.model_dump(mode="json")
    *head, last = path.split(".")
    node = data
    for part in head:
        node = node[part]
    node[last] = value
    return type(c).model_validate(data)


def test_a_sound_artifact_passes_with_figures() -> None:
    ev = _evidence()
    v = ml_artifact.evaluate(contract(), ev, policy(), _subject(ev), NOW)
    assert v.passed, [c for c in v.checks if not c.passed]
    assert v.gate is Gate.ML_ARTIFACT and v.team == ML
    assert v.policy_digest == policy().digest() and v.contract_digest == contract().digest()
    assert v.expires_at - v.issued_at == contract_ttl()
    checks = {c.id: c for c in v.checks}
    assert checks["quality.ndcg_at_10"].figures == {
        "metric": "ndcg_at_10",
        "min": 0.42,
        "max": None,
        "value": 0.47,
    }
    assert checks["size.plausible"].figures["declared_gb"] == 30.0
    assert checks["size.plausible"].figures["artifact_gb"] == 24.0
    assert checks["prediction.example"].figures["output_shape"] == "5x1"
    assert checks["manifest.complete"].outcome is Outcome.PASS


def contract_ttl() -> Any:
    from datetime import timedelta

    return timedelta(seconds=contract().spec.promotion.verdict_ttl.seconds)


@pytest.mark.parametrize("status", ["PENDING_REGISTRATION", "FAILED_REGISTRATION"])
def test_version_not_ready(status: str) -> None:
    c = _run(_evidence(status=status))["version.ready"]
    assert c.outcome is Outcome.FAIL and c.figures == {"status": status}


def test_no_signature_fails_and_no_output_signature_warns() -> None:
    assert _run(_evidence(signature_inputs=None))["model.signature"].outcome is Outcome.FAIL
    assert _run(_evidence(signature_outputs=None))["model.signature"].outcome is Outcome.WARN


@pytest.mark.parametrize(
    ("prediction", "has_example", "message"),
    [
        (PredictionCheck(ran=False, ok=False), False, "no input example is stored"),
        (
            PredictionCheck(ran=True, ok=False, error="ValueError: shapes (5,3) and (4,)"),
            True,
            "ValueError: shapes",
        ),
        (PredictionCheck(ran=True, ok=True, output_shape=(0,), rows_in=5), True, "empty output"),
        (PredictionCheck(ran=True, ok=True, output_shape=(4, 1), rows_in=5), True, "4 rows for 5 input rows"),
    ],
)
def test_example_prediction_failures(prediction: PredictionCheck, has_example: bool, message: str) -> None:
    c = _run(_evidence(prediction=prediction, has_input_example=has_example))["prediction.example"]
    assert c.outcome is Outcome.FAIL
    assert message in c.message


def test_quality_below_minimum_and_missing_metric() -> None:
    low = _run(_evidence(metrics={"ndcg_at_10": 0.40}))["quality.ndcg_at_10"]
    assert low.outcome is Outcome.FAIL
    assert low.message == "ndcg_at_10 is 0.4, below the contract's minimum 0.42"
    missing = _run(_evidence(metrics={"auc": 0.9}))["quality.ndcg_at_10"]
    assert (
        missing.outcome is Outcome.FAIL and "was not logged" in missing.message and "auc" in missing.message
    )


def test_quality_maximum_and_awkward_metric_names() -> None:
    c = _with(
        contract(),
        "spec.quality",
        [{"metric": "Latency/P99 ms", "max": 30}, {"metric": "latency-p99-ms", "min": 1}],
    )
    checks = _run(_evidence(metrics={"Latency/P99 ms": 31.0, "latency-p99-ms": 2.0}), c=c)
    assert checks["quality.latency-p99-ms"].outcome is Outcome.FAIL
    assert "above the contract's maximum 30" in checks["quality.latency-p99-ms"].message
    assert checks["quality.latency-p99-ms-2"].outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("artifact_gb", "declared", "gpu", "outcome"),
    [
        (24, "30GB", True, Outcome.PASS),
        (44, "30GB", True, Outcome.PASS),  # 44 <= 30 * 1.5
        (46, "30GB", True, Outcome.FAIL),  # weights alone exceed the declaration + 50%
        (5, "30GB", True, Outcome.PASS),  # 30 <= 5 * 1.5 * 4: KV cache and activations
        (4, "30GB", True, Outcome.FAIL),  # 30 > 4 * 1.5 * 4 = 24: another model
        (4, "30GB", False, Outcome.FAIL),  # CPU: 30 > 4 * 1.5 * 2
        (10, "30GB", False, Outcome.PASS),  # CPU: 30 <= 10 * 1.5 * 2
    ],
)
def test_declared_size_plausibility(artifact_gb: int, declared: str, gpu: bool, outcome: Outcome) -> None:
    c = _with(contract(), "spec.resources.model_size", declared)
    if not gpu:
        c = _with(c, "spec.resources.gpu", None)
    ev = _evidence(manifest=_manifest({"model.bin": artifact_gb * GB}))
    check = _run(ev, c=c)["size.plausible"]
    assert check.outcome is outcome, check.message
    assert check.figures["overhead"] == (4.0 if gpu else 2.0)


@pytest.mark.parametrize(
    ("rule", "outcome"), [("allow", Outcome.PASS), ("warn", Outcome.WARN), ("deny", Outcome.FAIL)]
)
def test_pickle_follows_the_policy(rule: str, outcome: Outcome) -> None:
    p = _with(policy(), "spec.model.pickle", rule)
    c = _run(_evidence(serialization_formats=("cloudpickle",)), p=p)["serialization.pickle"]
    assert c.outcome is outcome
    assert c.figures["pickle_based"] == "cloudpickle" and c.figures["policy"] == rule
    assert (
        _run(_evidence(serialization_formats=("safetensors",)), p=p)["serialization.pickle"].outcome
        is Outcome.PASS
    )


def test_pickle_denied_fails_the_gate() -> None:
    ev = _evidence(serialization_formats=("joblib",))
    v = ml_artifact.evaluate(contract(), ev, _with(policy(), "spec.model.pickle", "deny"), _subject(ev), NOW)
    assert not v.passed and [c.id for c in v.failures] == ["serialization.pickle"]


def test_manifest_digest_must_be_the_subjects() -> None:
    ev = _evidence()
    other = Subject(model="recsys-ranker", version="7", digest="sha256:" + "0" * 64)
    v = ml_artifact.evaluate(contract(), ev, policy(), other, NOW)
    assert [c.id for c in v.failures] == ["manifest.digest"]


def test_manifest_whose_digest_does_not_match_its_entries() -> None:
    good = _manifest({"a": 10})
    forged = FileManifest(files=good.files, digest="sha256:" + "1" * 64)
    ev = _evidence(manifest=forged, artifact_size=10)
    c = _run(ev)["manifest.digest"]
    assert c.outcome is Outcome.FAIL and c.figures["recomputed"] == good.digest


def test_manifest_not_covering_every_file() -> None:
    ev = _evidence(artifact_size=24 * GB + 7)
    c = _run(ev)["manifest.complete"]
    assert c.outcome is Outcome.FAIL
    assert c.figures["artifact_bytes"] - c.figures["manifest_bytes"] == 7  # type: ignore[operator]


@pytest.mark.parametrize(
    ("source", "outcome"),
    [
        ("models:/m-0123456789abcdef", Outcome.PASS),
        ("runs:/0123456789abcdef/model", Outcome.PASS),
        ("models:/recsys-ranker/6", Outcome.PASS),
        ("models:/recsys-ranker@champion", Outcome.FAIL),
        ("models:/recsys-ranker/Production", Outcome.FAIL),
        ("models:/recsys-ranker/latest", Outcome.FAIL),
    ],
)
def test_source_must_be_immutable(source: str, outcome: Outcome) -> None:
    assert _run(_evidence(source=source))["source.immutable"].outcome is outcome


def test_evidence_about_another_version_fails() -> None:
    assert _run(_evidence(version="8"))["subject.matches"].outcome is Outcome.FAIL


def test_every_failure_is_listed() -> None:
    ev = _evidence(status="FAILED_REGISTRATION", signature_inputs=None, metrics={})
    v = ml_artifact.evaluate(contract(), ev, policy(), _subject(ev), NOW)
    assert {c.id for c in v.failures} == {"version.ready", "model.signature", "quality.ndcg_at_10"}


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_metric_fails_and_the_verdict_still_signs(value: float) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gates import signing

    ev = _evidence(metrics={"ndcg_at_10": value})
    v = ml_artifact.evaluate(contract(), ev, policy(), _subject(ev), NOW)
    assert [c.id for c in v.failures] == ["quality.ndcg_at_10"]
    assert signing.sign_verdict(v, Ed25519PrivateKey.generate())  # NaN would not survive canonical JSON


def test_size_refusal_of_a_small_model_reads_in_human_units_and_says_the_fix() -> None:
    # An 11 KB scikit-learn model under the starter contract's 8 GB: "0.0 GB" helped nobody.
    c = _with(_with(contract(), "spec.resources.model_size", "8GB"), "spec.resources.gpu", None)
    check = _run(_evidence(manifest=_manifest({"model.skops": 10_966})), c=c)["size.plausible"]
    assert check.outcome is Outcome.FAIL
    assert check.message == (
        "declared model size 8 GB in memory is more than 2x the 11 KB artifact plus 50% (32.9 KB): "
        "the contract seems to describe another model; set resources.model_size to about 11 KB, "
        "or register the model it describes"
    )
    too_big = _run(_evidence(manifest=_manifest({"model.bin": 46 * GB})))["size.plausible"]
    assert "artifact is 46 GB, larger than the declared model size 30 GB" in too_big.message
    assert "set resources.model_size to about 46 GB (or more" in too_big.message


def test_a_prediction_that_ran_here_says_where() -> None:
    p = PredictionCheck(ran=True, ok=True, output_shape=(5,), rows_in=5, ran_in="ml-artifact step")
    c = _run(_evidence(prediction=p))["prediction.example"]
    assert c.outcome is Outcome.PASS and c.figures["prediction_ran_in"] == "ml-artifact step"
    assert "in the ml-artifact step" in c.message


def test_a_prediction_deferred_to_the_staging_probe_warns_and_names_where_and_why() -> None:
    # The step image holds mlflow-skinny: the model cannot load there, the staging endpoint can.
    p = PredictionCheck(
        ran=False,
        ok=False,
        rows_in=5,
        deferred_to="sre-readiness",
        deferred_reason="full mlflow is not installed",
    )
    ev = _evidence(prediction=p)
    v = ml_artifact.evaluate(contract(), ev, policy(), _subject(ev), NOW)
    c = {ch.id: ch for ch in v.checks}["prediction.example"]
    assert v.passed and c.outcome is Outcome.WARN
    assert c.figures["prediction_ran_in"] == "deferred to sre-readiness"
    assert c.figures["deferred_reason"] == "full mlflow is not installed"
    assert "deferred to sre-readiness" in c.message and "each of its 5 rows" in c.message


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"has_input_example": False}, "no input example is stored"),
        ({"example_error": "input_example.json: not a readable JSON input example"}, "cannot be read"),
    ],
)
def test_a_deferred_prediction_still_needs_a_readable_stored_example(
    over: dict[str, Any], message: str
) -> None:
    p = PredictionCheck(ran=False, ok=False, deferred_to="sre-readiness", deferred_reason="no numpy")
    c = _run(_evidence(prediction=p, **over))["prediction.example"]
    assert c.outcome is Outcome.FAIL and message in c.message
