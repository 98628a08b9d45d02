"""Render + platform check per example contract, next to the bare cost of dumping the same manifests.

For every example contract and serving mode: the median time of ``render(...)`` followed by the
platform gate's ``evaluate(...)``, and, measured interleaved in the same loop, the median time of
``yaml.safe_dump_all`` of the very manifests that render produced (the least any renderer that
writes YAML must spend). The ratio says what building, checking every name and judging the policy
cost on top of writing the text.

    python -m bench.bench_render
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from contracts.cluster import ServingMode
from contracts.loader import load_cluster_policy, load_contract
from gates.platform import evaluate
from gates.render import ModelRef, render
from gates.verdict import Subject

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "contracts" / "examples"
IMAGE = "registry.example.com/ml/serving-runtime@sha256:" + "2" * 64
DIGEST = "sha256:" + "1" * 64
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _contracts() -> list[Path]:
    out = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("kind") == "WorkloadContract":
            out.append(path)
    return out


def main(runs: int = 40) -> list[dict[str, object]]:
    policy = load_cluster_policy(EXAMPLES / "cluster-policy.yaml")
    rows: list[dict[str, object]] = []
    for path in _contracts():
        contract = load_contract(path)
        model = ModelRef(
            name=contract.metadata.model,
            version="7",
            storage_uri=f"s3://models/{contract.metadata.model}/7/artifacts",
            digest=DIGEST,
        )
        subject = Subject(model=model.name, version=model.version, digest=model.digest)
        for mode in ServingMode:
            work: list[float] = []
            dump: list[float] = []
            for _ in range(runs):  # interleaved, so machine noise hits both alike
                t0 = time.perf_counter()
                manifests = render(contract, policy, model, IMAGE, mode=mode)
                verdict = evaluate(contract, policy, manifests, subject, NOW, image=IMAGE)
                t1 = time.perf_counter()
                yaml.safe_dump_all(
                    list(manifests.objects), sort_keys=False, default_flow_style=False, width=1000
                )
                t2 = time.perf_counter()
                work.append(t1 - t0)
                dump.append(t2 - t1)
            assert verdict.passed, [c.id for c in verdict.failures]
            figure = statistics.median(work) * 1000
            baseline = statistics.median(dump) * 1000
            rows.append(
                {
                    "benchmark": f"render+check {path.stem} ({mode.value}) vs yaml.safe_dump of it",
                    "figure": round(figure, 3),
                    "baseline": round(baseline, 3),
                    "ratio": round(figure / baseline, 2),
                    "unit": "ms",
                }
            )
    return rows


if __name__ == "__main__":
    for row in main():
        print(
            f"{row['benchmark']}: {row['figure']} {row['unit']} "
            f"(dump {row['baseline']} {row['unit']}, ratio {row['ratio']}x)"
        )
