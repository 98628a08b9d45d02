"""The probe's latency histogram: bucketed at the SLO bound, kept in the signed SRE verdict."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.loader import load_contract
from gates import evidence, readiness

ROOT = Path(__file__).resolve().parents[2]


def test_buckets_include_the_slo_bound_and_count_every_request() -> None:
    hist = evidence.latency_histogram([0.5, 1.0, 1.5, 79.9, 80.0, 80.1, 99_999.0], [80.0, 33.0])
    bounds = [b for b, _ in hist]
    assert 33.0 in bounds and 80.0 in bounds and bounds[-1] is None
    counts = dict(hist)
    assert counts[1.0] == 2  # 0.5 and 1.0: a value equal to a bound is in that bucket
    assert counts[80.0] == 2 and counts[100.0] == 1 and counts[None] == 1
    assert sum(c for _, c in hist) == 7


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=200))
def test_text_round_trips(values: list[float]) -> None:
    hist = evidence.latency_histogram(values, [80.0])
    assert evidence.parse_histogram_text(evidence.histogram_text(hist)) == hist


@pytest.mark.parametrize("text", ["", "1:2", "1:2 +Inf:x", "5:1 2:1 +Inf:0", "+Inf:1 5:2", "1:-1 +Inf:0"])
def test_a_malformed_histogram_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        evidence.parse_histogram_text(text)


def test_the_readiness_verdict_carries_the_histogram() -> None:
    contract = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    hist = evidence.latency_histogram([10.0] * 98 + [90.0, 200.0], [80.0])
    probe = evidence.ProbeResult(
        url="http://x", protocol="mlflow", target_rate=200, achieved_rate=200, requests=100,
        p50_ms=10.0, p99_ms=90.0, latency_histogram=hist,
    )  # fmt: skip
    checks = {c.id: c for c in readiness.probe_checks(contract, probe)}
    text = checks["probe.p99-latency"].figures["latency_histogram_ms"]
    assert isinstance(text, str) and evidence.parse_histogram_text(text) == hist
