"""The readiness gate's judgement of a live probe: its figures against the contract's SLOs.

Part of the SRE readiness gate (:mod:`gates.readiness` signs these checks and exports
:func:`probe_checks`), kept apart because ``signoff probe`` shows the same decisions to a person
(:func:`components.probe.slo_rows`), so the two can never disagree. The checks, ``probe.present``
to ``probe.load-level``, are listed in :mod:`gates.readiness`.
"""

from __future__ import annotations

from contracts.workload import WorkloadContract
from gates._checks import check, num, ok
from gates.evidence import ProbeResult, histogram_text
from gates.verdict import Check, Figure, Outcome

__all__ = ["RATE_TOLERANCE", "probe_checks"]

RATE_TOLERANCE = 0.10
"""How far below the target arrival rate the probe's achieved rate may fall."""

_FLOAT_SLACK = 1e-12
"""An error rate exactly at the budget holds: 1/2000 against 1 - 99.95% differs only in float rounding."""


def _prediction_check(probe: ProbeResult) -> Check:
    """``probe.prediction``: the staging endpoint answered the stored input example with a
    well-formed prediction of one row per input row. The ML gate defers its example prediction here
    when its step cannot load the model (the step image holds no model runtime)."""
    where = f"staging endpoint {probe.url}"
    figs: dict[str, Figure] = {
        "prediction_ran_in": where,
        "rows_in": probe.prediction_rows_in,
        "rows_out": probe.prediction_rows_out,
    }
    if not probe.ready:
        return check(
            "probe.prediction", Outcome.FAIL, "no prediction checked: the endpoint never became ready", **figs
        )
    if not probe.prediction_checked:
        return check(
            "probe.prediction", Outcome.FAIL,
            "the probe did not send the stored input example to check the prediction; probe again "
            "with this signoff (signoff probe)",
            **figs,
        )  # fmt: skip
    if probe.prediction_error:
        return check(
            "probe.prediction", Outcome.FAIL,
            f"the {where} did not answer the stored example with a well-formed prediction: "
            f"{probe.prediction_error[:400]}",
            **figs,
        )  # fmt: skip
    return check(
        "probe.prediction", Outcome.PASS,
        f"the {where} answered the stored example's {probe.prediction_rows_in} rows with "
        f"{probe.prediction_rows_out} prediction rows",
        **figs,
    )  # fmt: skip


def probe_checks(contract: WorkloadContract, probe: ProbeResult | None) -> list[Check]:
    """The live probe's figures against the contract's SLOs: the one judgement of a probe.

    The readiness gate signs these checks; ``signoff probe`` (:func:`components.probe.slo_rows`)
    shows the same decisions to a person, so the two can never disagree.
    """
    slos = contract.spec.slos
    if probe is None:
        return [
            check(
                "probe.present",
                Outcome.FAIL,
                "no live probe: measure the staging endpoint (signoff probe) first",
            )
        ]
    out = [check("probe.present", Outcome.PASS, f"probed {probe.url} ({probe.protocol})", url=probe.url)]
    max_cold = slos.max_cold_start.seconds
    out.append(
        check(
            "probe.ready", ok(probe.ready),
            "endpoint became ready" if probe.ready
            else probe.server_exit if probe.server_exit
            else f"endpoint never became ready (deadline {num(probe.cold_start_deadline_s or max_cold)}s)",
            ready=probe.ready,
        )
    )  # fmt: skip
    out.append(_prediction_check(probe))
    if probe.cold_start_s is None:
        why = (
            "the endpoint was already running" if probe.ready
            else "the server exited before it was ready" if probe.server_exit
            else "the endpoint never became ready"
        )  # fmt: skip
        out.append(
            check(
                "probe.cold-start", Outcome.WARN if probe.ready else Outcome.FAIL,
                f"cold start not measured ({why}); contract max {max_cold:g}s",
                cold_start_s=None, max_cold_start_s=max_cold,
            )
        )  # fmt: skip
    else:
        out.append(
            check(
                "probe.cold-start", ok(probe.ready and probe.cold_start_s <= max_cold),
                f"cold start {num(probe.cold_start_s)}s; contract max {max_cold:g}s",
                cold_start_s=probe.cold_start_s, max_cold_start_s=max_cold,
            )
        )  # fmt: skip
    if probe.requests == 0:
        out.append(check("probe.load", Outcome.FAIL, "the probe sent no requests", requests=0))
        return out
    p99_slo = slos.p99_latency.milliseconds
    out.append(
        check(
            "probe.p99-latency", ok(probe.p99_ms is not None and probe.p99_ms <= p99_slo),
            f"p99 {num(probe.p99_ms)}ms; SLO {num(p99_slo)}ms" if probe.p99_ms is not None
            else f"no p99 measured (no successful request); SLO {num(p99_slo)}ms",
            p99_ms=probe.p99_ms, slo_ms=p99_slo,
            **({"latency_histogram_ms": histogram_text(probe.latency_histogram)} if probe.latency_histogram
               else {}),
        )
    )  # fmt: skip
    if slos.p50_latency is not None:
        p50_slo = slos.p50_latency.milliseconds
        out.append(
            check(
                "probe.p50-latency", ok(probe.p50_ms is not None and probe.p50_ms <= p50_slo),
                f"p50 {num(probe.p50_ms) if probe.p50_ms is not None else 'n/a'}ms; SLO {num(p50_slo)}ms",
                p50_ms=probe.p50_ms, slo_ms=p50_slo,
            )
        )  # fmt: skip
    budget = slos.error_budget
    out.append(
        check(
            "probe.error-rate", ok(probe.error_rate <= budget + _FLOAT_SLACK),
            f"{probe.errors} errors in {probe.requests} requests ({num(probe.error_rate * 100)}%); "
            f"budget {num(budget * 100)}%",
            errors=probe.errors, requests=probe.requests,
            error_rate=round(probe.error_rate, 12), budget=round(budget, 12),
        )
    )  # fmt: skip
    if probe.target_rate <= 0:
        out.append(
            check(
                "probe.rate",
                Outcome.WARN,
                f"no target rate recorded; achieved {num(probe.achieved_rate)}/s",
                target_rate=probe.target_rate, achieved_rate=probe.achieved_rate,
            )
        )  # fmt: skip
    else:
        floor = probe.target_rate * (1 - RATE_TOLERANCE)
        out.append(
            check(
                "probe.rate", ok(probe.achieved_rate >= floor),
                f"achieved {num(probe.achieved_rate)}/s of target {num(probe.target_rate)}/s "
                f"(need >= {num(floor)}/s, within {RATE_TOLERANCE:.0%})",
                target_rate=probe.target_rate, achieved_rate=probe.achieved_rate,
            )
        )  # fmt: skip
    expected = slos.throughput_per_replica
    if expected is not None:
        enough = probe.target_rate >= expected * (1 - RATE_TOLERANCE)
        out.append(
            check(
                "probe.load-level", Outcome.PASS if enough else Outcome.WARN,
                f"probed at {num(probe.target_rate)}/s; the contract expects {num(expected)}/s per replica"
                + ("" if enough else ": the latency figures describe a lighter load than production's"),
                target_rate=probe.target_rate, expected_per_replica=expected,
            )
        )  # fmt: skip
    return out
