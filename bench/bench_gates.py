"""Gate evaluation throughput for the example contracts.

For every example contract: the ML-artifact gate on sound evidence, the platform render + gate, the
SRE readiness gate (manifests, observability, routes and a passing probe result), and the promotion
gate over three freshly signed envelopes. Baseline, measured in the same run: validating the same
contract from its parsed data (``WorkloadContract.model_validate``), the least any gate must do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.cluster import ClusterPolicy
from contracts.loader import load_cluster_policy, load_contract
from contracts.trust import TrustPolicy
from contracts.workload import WorkloadContract
from gates import ml_artifact, observability, platform, promotion, readiness, render, signing
from gates.evidence import FileEntry, FileManifest, MlEvidence, PredictionCheck, ProbeResult
from gates.verdict import Subject

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "contracts" / "examples"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
IMAGE = "registry.example.com/ml/serving-runtime@sha256:" + "2" * 64


def _rate(fn: Callable[[], object], seconds: float = 0.5) -> float:
    fn()  # warm
    n, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        fn()
        n += 1
    return n / elapsed


def _evidence(c: WorkloadContract) -> tuple[MlEvidence, Subject]:
    size = max(int(c.spec.resources.model_size.bytes * 0.8), 1_000)
    files = (
        FileEntry(path="MLmodel", size=500, sha256="1" * 64),
        FileEntry(path="model.safetensors", size=size - 500, sha256="2" * 64),
    )
    manifest = FileManifest(files=files, digest=ml_artifact.manifest_digest(files))
    metrics = {q.metric: (q.min if q.min is not None else q.max or 0.0) for q in c.spec.quality}
    ev = MlEvidence(
        model=c.metadata.model, version="7", status="READY", source="models:/m-0123456789abcdef",
        flavors=("python_function",), signature_inputs="[]", signature_outputs="[]",
        has_input_example=True, prediction=PredictionCheck(ran=True, ok=True, output_shape=(3,), rows_in=3),
        metrics=metrics, serialization_formats=("safetensors",), artifact_size=size, manifest=manifest,
    )  # fmt: skip
    return ev, Subject(model=c.metadata.model, version="7", digest=manifest.digest)


def _trust(c: WorkloadContract, keys: dict[str, Ed25519PrivateKey]) -> TrustPolicy:
    o = c.spec.owners
    gates = {o.ml.team: ["ml-artifact", "approval", "promotion"], o.platform.team: ["platform"],
             o.sre.team: ["sre-readiness"]}  # fmt: skip
    pem = {
        t: k.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for t, k in keys.items()
    }
    return TrustPolicy.model_validate(
        {
            "metadata": {"name": "bench"},
            "spec": {
                "teams": [
                    {"name": t, "gates": g, "keys": [{"public_key": pem[t].decode()}]}
                    for t, g in gates.items()
                ]
            },
        }
    )


def _one(c: WorkloadContract, raw: dict, policy: ClusterPolicy) -> list[dict[str, object]]:
    ev, subject = _evidence(c)
    model = render.ModelRef(
        name=subject.model, version="7", storage_uri="s3://models/7", digest=subject.digest
    )
    ns = policy.spec.namespaces.production.name
    mode = policy.spec.serving
    manifests = render.render(c, policy, model, IMAGE)
    obs = observability.render_observability(c, namespace=ns, mode=mode)
    am = observability.alertmanager_config(c)
    probe = ProbeResult(url="http://staging", protocol="mlflow", cold_start_s=10, target_rate=10,
                        achieved_rate=10, duration_s=10, requests=100, errors=0, p50_ms=5, p95_ms=8,
                        p99_ms=9, max_ms=10, prediction_checked=True, prediction_rows_in=1,
                        prediction_rows_out=1)  # fmt: skip
    o = c.spec.owners
    keys = {t: Ed25519PrivateKey.generate() for t in (o.ml.team, o.platform.team, o.sre.team)}
    trust = _trust(c, keys)
    ml_v = ml_artifact.evaluate(c, ev, policy, subject, NOW)
    platform_v = platform.evaluate(c, policy, manifests, subject, NOW, image=IMAGE)
    sre_v = readiness.evaluate(
        c, manifests=manifests.objects, observability=obs, alertmanager=am, probe=probe,
        rollback_target="6", first_release=False, subject=subject, now=NOW,
    )  # fmt: skip
    envelopes = [
        signing.sign_verdict(ml_v, keys[o.ml.team]),
        signing.sign_verdict(platform_v, keys[o.platform.team]),
        signing.sign_verdict(sre_v, keys[o.sre.team]),
    ]
    base = _rate(lambda: WorkloadContract.model_validate(raw))
    cases: dict[str, Callable[[], object]] = {
        "ml-artifact": lambda: ml_artifact.evaluate(c, ev, policy, subject, NOW),
        "platform (render + check)": lambda: platform.evaluate(
            c, policy, render.render(c, policy, model, IMAGE), subject, NOW, image=IMAGE
        ),
        "sre-readiness (+ observability)": lambda: readiness.evaluate(
            c,
            manifests=manifests.objects,
            observability=observability.render_observability(c, namespace=ns, mode=mode),
            alertmanager=observability.alertmanager_config(c),
            probe=probe,
            rollback_target="6",
            first_release=False,
            subject=subject,
            now=NOW,
        ),
        "promotion (verify 3 envelopes)": lambda: promotion.evaluate(c, subject, envelopes, trust, NOW),
    }
    rows: list[dict[str, object]] = []
    for name, fn in cases.items():
        r = _rate(fn)
        rows.append({"benchmark": f"{c.metadata.name}: {name}", "figure": r, "baseline": base,
                     "ratio": r / base, "unit": "evaluations/s vs contract validations/s"})  # fmt: skip
        print(f"{c.metadata.name:20s} {name:34s} {r:9.0f}/s   validate {base:9.0f}/s   x{r / base:.3f}")
    return rows


def main() -> list[dict[str, object]]:
    policy = load_cluster_policy(EXAMPLES / "cluster-policy.yaml")
    rows: list[dict[str, object]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if raw.get("kind") != "WorkloadContract":
            continue
        rows += _one(load_contract(path), raw, policy)
    return rows


if __name__ == "__main__":
    main()
