"""The probe's figures against the contract's SLOs, for people: one row per objective, and a
Markdown report. Whether a row holds is the readiness gate's decision, not a second judgement here.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.workload import WorkloadContract
from gates import readiness
from gates.evidence import ProbeResult
from gates.verdict import Outcome

__all__ = ["SloRow", "passed", "report_markdown", "slo_rows"]


@dataclass(frozen=True)
class SloRow:
    """One line of the comparison: a measured figure against its objective."""

    check: str
    measured: str
    objective: str
    ok: bool


def _ms(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1f} ms"


_ROW_CHECK = {
    "cold start": "probe.cold-start",
    "p50 latency": "probe.p50-latency",
    "p99 latency": "probe.p99-latency",
    "error rate": "probe.error-rate",
    "achieved rate": "probe.rate",
}
"""Each row and the readiness gate's check that decides it."""


def slo_rows(result: ProbeResult, contract: WorkloadContract) -> list[SloRow]:
    """Compare a probe's figures with the contract's SLOs, one row per objective.

    Whether a row holds is the readiness gate's decision (:func:`gates.readiness.probe_checks`), not
    a second judgement here: a row holds when the endpoint was ready and its check did not fail.
    """
    judged = {c.id: c.outcome is not Outcome.FAIL for c in readiness.probe_checks(contract, result)}

    def holds(row: str) -> bool:
        return judged.get("probe.ready", False) and judged.get(_ROW_CHECK[row], False)

    slos = contract.spec.slos
    max_cold = slos.max_cold_start.seconds
    rows: list[SloRow] = []
    if not result.ready and result.server_exit:
        cold = result.server_exit.splitlines()[0]
    elif not result.ready:
        cold = f"not ready after {result.cold_start_deadline_s or max_cold:g} s"
    elif result.cold_start_s is None:
        cold = "ready (launch not observed)"
    else:
        cold = f"{result.cold_start_s:.1f} s"
    rows.append(SloRow("cold start", cold, f"≤ {slos.max_cold_start}", holds("cold start")))
    measured = result.ready and result.requests > 0
    if slos.p50_latency is not None:
        rows.append(SloRow("p50 latency", _ms(result.p50_ms), f"≤ {slos.p50_latency}", holds("p50 latency")))
    rows.append(SloRow("p99 latency", _ms(result.p99_ms), f"≤ {slos.p99_latency}", holds("p99 latency")))
    budget = slos.error_budget
    err = f"{result.error_rate:.3%} ({result.errors}/{result.requests})" if measured else "not measured"
    rows.append(SloRow("error rate", err, f"≤ {budget:.3%}", holds("error rate")))
    share = 1 - readiness.RATE_TOLERANCE
    want = share * result.target_rate
    ach = f"{result.achieved_rate:.1f}/s" if measured else "not measured"
    rows.append(
        SloRow("achieved rate", ach, f"≥ {want:.1f}/s ({share:.0%} of {result.target_rate:g}/s)",
               holds("achieved rate"))
    )  # fmt: skip
    return rows


def passed(result: ProbeResult, contract: WorkloadContract) -> bool:
    """Whether every SLO row holds."""
    return all(r.ok for r in slo_rows(result, contract))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def report_markdown(result: ProbeResult, contract: WorkloadContract) -> str:
    """A Markdown report: the probe's figures against the contract's SLOs, pass or fail per row."""
    rows = slo_rows(result, contract)
    ok = all(r.ok for r in rows)
    lines = [
        f"## Live probe of {_cell(contract.metadata.name)}: {'PASS' if ok else 'FAIL'}",
        "",
        f"Endpoint `{_cell(result.url)}` ({result.protocol}); contract `{_cell(contract.metadata.name)}`.",
    ]
    if result.ready and result.requests:
        lines.append(
            f"{result.requests} requests over {result.duration_s:g} s at {result.target_rate:g}/s, open loop "
            f"(latency counted from each request's intended send time); timeout {result.timeout_s or 0:g} s; "
            f"p95 {_ms(result.p95_ms)}, max {_ms(result.max_ms)}."
        )
    lines += ["", "| Check | Measured | SLO | Result |", "|---|---|---|---|"]
    lines += [f"| {r.check} | {_cell(r.measured)} | {_cell(r.objective)} | {'pass' if r.ok else 'FAIL'} |"
              for r in rows]  # fmt: skip
    if result.error_kinds:
        kinds = ", ".join(f"{k} x{v}" for k, v in sorted(result.error_kinds.items(), key=lambda kv: -kv[1]))
        lines += ["", f"Errors: {_cell(kinds)}."]
    if result.server_exit:
        head, _, tail = result.server_exit.partition("\n")
        lines += ["", f"The server exited before it was ready: {_cell(head)}."]
        if tail:
            lines += ["", "~~~text", tail.replace("~~~", "~ ~ ~"), "~~~"]
    elif result.first_error:
        lines += ["", f"First error: {_cell(result.first_error)}"]
    if result.send_lag_p99_ms is not None and result.send_lag_p99_ms > 10:
        lines += [
            "",
            f"Note: the prober sent requests late (p99 {result.send_lag_p99_ms:.1f} ms after their intended "
            "time); the latencies include that lag. Lower the rate or give the prober more CPU.",
        ]
    return "\n".join(lines) + "\n"
