"""Percentile maths, SLO comparison and the Markdown report of a probe."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import probe
from contracts.loader import load_contract
from contracts.workload import WorkloadContract
from gates.evidence import ProbeResult

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def contract() -> WorkloadContract:
    # p99 75ms, p50 25ms, availability 99.95% (error budget 0.05%), max cold start 90s, 200/s.
    return load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert probe.percentile(values, 50) == 50
    assert probe.percentile(values, 99) == 99
    assert probe.percentile(values, 100) == 100
    assert probe.percentile(values, 1) == 1
    # Never interpolates below a measured value: with 50 values P99 is the slowest one.
    assert probe.percentile([float(v) for v in range(1, 51)], 99) == 50
    assert probe.percentile([7.0], 99) == 7
    assert probe.percentile([], 99) is None


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="not in"):
        probe.percentile([1.0], 0)
    with pytest.raises(ValueError, match="not in"):
        probe.percentile([1.0], 100.5)


@given(
    st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from([50, 90, 95, 99, 99.9]),
)
def test_percentile_matches_numpy_inverted_cdf(values: list[float], p: float) -> None:
    values.sort()
    expected = float(np.percentile(values, p, method="inverted_cdf"))
    assert probe.percentile(values, p) == expected
    # At least p% of the values are at or below it.
    got = probe.percentile(values, p)
    assert got is not None
    assert sum(v <= got for v in values) >= math.ceil(p / 100 * len(values) - 1e-9)


def _result(**kw: Any) -> ProbeResult:
    base: dict[str, Any] = {
        "url": "http://127.0.0.1:8080", "protocol": "mlflow", "cold_start_s": 31.25,
        "cold_start_deadline_s": 90.0, "target_rate": 200.0, "achieved_rate": 199.8, "duration_s": 10.0,
        "requests": 2000, "errors": 0, "p50_ms": 12.5, "p95_ms": 30.0, "p99_ms": 61.0, "max_ms": 75.0,
        "timeout_s": 1.0,
    }  # fmt: skip
    return ProbeResult(**{**base, **kw})


def _rows(result: ProbeResult, contract: WorkloadContract) -> dict[str, bool]:
    return {r.check: r.ok for r in probe.slo_rows(result, contract)}


def test_figures_within_every_slo_pass(contract: WorkloadContract) -> None:
    rows = _rows(_result(), contract)
    assert list(rows) == ["cold start", "p50 latency", "p99 latency", "error rate", "achieved rate"]
    assert all(rows.values())
    assert probe.passed(_result(), contract)


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"p99_ms": 80.5}, "p99 latency"),
        ({"p50_ms": 26.0}, "p50 latency"),
        ({"cold_start_s": 90.5}, "cold start"),
        ({"errors": 2}, "error rate"),  # 0.1% > 0.05%
        ({"achieved_rate": 179.0}, "achieved rate"),  # < 90% of 200/s (the readiness gate's limit)
    ],
)
def test_each_slo_breach_fails_its_row_only(
    contract: WorkloadContract, change: dict[str, Any], failing: str
) -> None:
    rows = _rows(_result(**change), contract)
    assert [name for name, ok in rows.items() if not ok] == [failing]
    assert not probe.passed(_result(**change), contract)


def test_error_rate_exactly_at_the_budget_passes(contract: WorkloadContract) -> None:
    assert _rows(_result(errors=1), contract)["error rate"]  # 1/2000 = 0.05%


def test_not_ready_fails_everything_it_could_not_measure(contract: WorkloadContract) -> None:
    result = ProbeResult(url="http://127.0.0.1:1", protocol="mlflow", ready=False, cold_start_deadline_s=90.0)
    rows = _rows(result, contract)
    assert not any(rows.values())


def test_report_markdown_pass(contract: WorkloadContract, golden: Any) -> None:
    golden("probe/report-pass.md", probe.report_markdown(_result(), contract))


def test_report_markdown_fail_names_figures_and_errors(contract: WorkloadContract, golden: Any) -> None:
    result = _result(
        p99_ms=312.4, errors=40, error_kinds={"HTTP 503": 30, "timeout": 10},
        first_error="HTTP 503: overloaded", send_lag_p99_ms=25.0,
    )  # fmt: skip
    text = probe.report_markdown(result, contract)
    assert "| p99 latency | 312.4 ms | ≤ 75ms | FAIL |" in text
    assert "HTTP 503 x30" in text
    golden("probe/report-fail.md", text)


def test_report_markdown_not_ready(contract: WorkloadContract, golden: Any) -> None:
    result = ProbeResult(
        url="http://127.0.0.1:1", protocol="kserve-v2", ready=False, cold_start_deadline_s=90.0,
        target_rate=200.0, first_error="/v2/models/m/ready did not answer 2xx within 90s",
    )  # fmt: skip
    golden("probe/report-not-ready.md", probe.report_markdown(result, contract))


@pytest.mark.parametrize("achieved", [179.0, 181.0, 185.0, 189.0, 199.8])
def test_the_probe_and_the_readiness_gate_judge_the_rate_alike(
    contract: WorkloadContract, achieved: float
) -> None:
    from gates import readiness
    from gates.verdict import Outcome

    result = _result(achieved_rate=achieved)
    gate = {c.id: c.outcome for c in readiness.probe_checks(contract, result)}
    assert _rows(result, contract)["achieved rate"] is (gate["probe.rate"] is not Outcome.FAIL)
    assert _rows(result, contract)["achieved rate"] is (achieved >= 180.0)  # one limit: 90% of 200/s
