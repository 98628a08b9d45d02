"""The SRE readiness gate: is this workload ready for production? Checks with figures.

Pure: the rendered manifests, the observability objects, the Alertmanager configuration, the live
probe's figures, the rollback target and ``now`` are passed in. The verdict is signed by the
contract's SRE team.

Checks (ids as they appear in the verdict):

* ``probes.present``: readiness, liveness and startup probes on the serving container (the
  InferenceService predictor's container, or the Deployment's);
* ``probes.startup-budget``: the startup probe's budget, ``initialDelaySeconds + failureThreshold *
  periodSeconds`` (Kubernetes defaults 0, 3 and 10), fits the contract's max cold start;
* ``pdb.keeps-one``: with min replicas >= 2, a PodDisruptionBudget selecting the serving pods keeps at
  least one running during voluntary disruptions (skipped for fewer replicas);
* ``autoscaler.bounds``: the InferenceService's ``minReplicas``/``maxReplicas`` (or the HPA's) equal
  the contract's (a Deployment's HPA cannot go below 1, so contract min 0 reads as 1 there);
* ``monitor.selects-workload``: a PodMonitor or ServiceMonitor selects ``signoff.dev/workload``;
* ``slo.availability``, ``slo.latency``: recording rules for every window (5m, 30m, 1h, 6h, 3d)
  and the three burn-rate alerts (14.4x, 6x, 1x), each routed to its owner; ``slo.cold-start``: the
  cold-start recording rule;
* ``alert.<id>`` for each contract alert: a rule exists, labelled with the owner the contract names,
  and the Alertmanager routing tree (walked like Alertmanager does, with the rule's labels) delivers
  it to that team's receiver;
* ``alerts.runbooks``: every paging alert links a runbook (``runbook_url``);
* ``rollback.target``: a previous production version to roll back to; an explicit first release
  warns instead of failing;
* ``probe.*``: the live probe's figures against the SLOs: ``probe.ready``, ``probe.prediction`` (the
  staging endpoint answered the stored input example with one prediction row per input row: where
  the ML gate's deferred example prediction runs; figure ``prediction_ran_in``), ``probe.cold-start``,
  ``probe.p99-latency`` (its figure ``latency_histogram_ms`` keeps the probe's latency histogram,
  :func:`gates.evidence.histogram_text`, so the signed verdict carries it), ``probe.p50-latency``
  (when the contract has one), ``probe.error-rate``
  (errors / requests <= the error budget) and ``probe.rate`` (achieved arrival rate within 10% of the
  target, else the latency figures do not describe the load asked for); ``probe.load-level`` warns
  when the probe's target rate is more than 10% below the contract's throughput per replica.

Without a probe (``probe=None``) the gate fails ``probe.present``: SRE signs readiness only for a
workload measured live against its SLOs, first release or not. The static checks still run and
report, so a team can fix manifests and alerts before a staging endpoint exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from contracts.trust import Gate
from contracts.workload import Alert, Role, WorkloadContract, canonical_json
from gates import observability as obs
from gates.evidence import ProbeResult, histogram_text
from gates.verdict import Check, Figure, Outcome, Subject, Verdict, digest_bytes

__all__ = ["RATE_TOLERANCE", "evaluate", "probe_checks", "serving_container", "startup_budget_seconds"]

RATE_TOLERANCE = 0.10
"""How far below the target arrival rate the probe's achieved rate may fall."""

_FLOAT_SLACK = 1e-12
"""An error rate exactly at the budget holds: 1/2000 against 1 - 99.95% differs only in float rounding."""

_PROBE_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


def _check(id_: str, outcome: Outcome, message: str, **figures: Figure) -> Check:
    return Check(id=id_, outcome=outcome, message=message, figures=figures)


def _ok(cond: bool) -> Outcome:
    return Outcome.PASS if cond else Outcome.FAIL


def _num(value: float) -> str:
    return f"{value:.6g}"


# ------------------------------------------------------------------------------------- manifests


def _serving_object(contract: WorkloadContract, manifests: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    candidates = [m for m in manifests if m.get("kind") in ("InferenceService", "Deployment")]
    named = [m for m in candidates if (m.get("metadata") or {}).get("name") == contract.name]
    found = named or candidates
    return found[0] if found else None


def serving_container(obj: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """``(where, container)`` of an InferenceService's predictor or a Deployment's serving container.

    The container named ``kserve-container`` when there is one, else the first; for an
    InferenceService written with ``predictor.model`` (a container spec itself), that model spec.
    """
    kind = obj.get("kind")
    name = (obj.get("metadata") or {}).get("name", "?")
    if kind == "InferenceService":
        pred = (obj.get("spec") or {}).get("predictor") or {}
        if isinstance(pred.get("model"), dict):
            return f"InferenceService/{name} spec.predictor.model", pred["model"]
        containers = pred.get("containers") or []
        where = f"InferenceService/{name} spec.predictor.containers"
    else:
        containers = (
            (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
        ) or []
        where = f"{kind}/{name} spec.template.spec.containers"
    chosen = next(
        (c for c in containers if c.get("name") == "kserve-container"), containers[0] if containers else None
    )
    if chosen is not None:
        where += f"[{chosen.get('name', '?')}]"
    return where, chosen


def _has_probe(container: dict[str, Any], key: str) -> bool:
    probe = container.get(key)
    return isinstance(probe, dict) and any(h in probe for h in _PROBE_HANDLERS)


def startup_budget_seconds(probe: dict[str, Any]) -> float:
    """Longest a startup probe lets a container start: ``initialDelaySeconds + failureThreshold *
    periodSeconds`` (defaults 0, 3, 10 as Kubernetes applies them)."""
    return float(probe.get("initialDelaySeconds", 0)) + float(probe.get("failureThreshold", 3)) * float(
        probe.get("periodSeconds", 10)
    )


def _probe_checks(contract: WorkloadContract, serving: dict[str, Any] | None) -> list[Check]:
    max_cold = contract.spec.slos.max_cold_start.seconds
    if serving is None:
        msg = "no InferenceService or Deployment in the manifests: nothing serves the model"
        return [
            _check("probes.present", Outcome.FAIL, msg),
            _check("probes.startup-budget", Outcome.FAIL, msg, max_cold_start_s=max_cold),
        ]
    where, container = serving_container(serving)
    if container is None:
        msg = f"{where}: no container"
        return [
            _check("probes.present", Outcome.FAIL, msg),
            _check("probes.startup-budget", Outcome.FAIL, msg, max_cold_start_s=max_cold),
        ]
    present = {k: _has_probe(container, f"{k}Probe") for k in ("readiness", "liveness", "startup")}
    missing = [k for k, v in present.items() if not v]
    out = [
        _check(
            "probes.present",
            _ok(not missing),
            f"{where}: " + ("readiness, liveness and startup probes set" if not missing
                            else f"missing {', '.join(missing)} probe(s)"),
            **present,
        )
    ]  # fmt: skip
    if not present["startup"]:
        out.append(
            _check(
                "probes.startup-budget", Outcome.FAIL,
                f"{where}: no startup probe, so nothing bounds the cold start to the contract's "
                f"{max_cold:g}s",
                budget_s=None, max_cold_start_s=max_cold,
            )
        )  # fmt: skip
        return out
    sp = container["startupProbe"]
    budget = startup_budget_seconds(sp)
    out.append(
        _check(
            "probes.startup-budget",
            _ok(budget <= max_cold),
            f"startup probe allows {budget:g}s (initialDelaySeconds {sp.get('initialDelaySeconds', 0)} + "
            f"failureThreshold {sp.get('failureThreshold', 3)} x "
            f"periodSeconds {sp.get('periodSeconds', 10)}); "
            f"contract max cold start {max_cold:g}s",
            budget_s=budget, max_cold_start_s=max_cold,
        )
    )  # fmt: skip
    return out


def _pod_labels(serving: dict[str, Any] | None) -> dict[str, str]:
    if serving is None:
        return {}
    if serving.get("kind") == "InferenceService":
        pred = (serving.get("spec") or {}).get("predictor") or {}
        # KServe puts the predictor's labels (and its own) on the pods.
        name = (serving.get("metadata") or {}).get("name", "")
        return {
            **(pred.get("labels") or {}),
            "serving.kserve.io/inferenceservice": name,
            "component": "predictor",
        }
    return dict(((serving.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {})


def _kept(budget: dict[str, Any], replicas: int) -> int | None:
    """Replicas a PDB keeps running out of ``replicas`` (percentages rounded as Kubernetes does)."""

    def amount(value: Any, round_up: bool) -> int | None:
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
            exact = int(value[:-1]) * replicas
            return -(-exact // 100) if round_up else exact // 100
        return None

    if "minAvailable" in budget:
        return amount(budget["minAvailable"], round_up=True)
    if "maxUnavailable" in budget:
        down = amount(budget["maxUnavailable"], round_up=True)
        return None if down is None else replicas - down
    return None


def _pdb_check(
    contract: WorkloadContract, manifests: Sequence[dict[str, Any]], serving: dict[str, Any] | None
) -> Check:
    min_replicas = contract.spec.resources.replicas.min
    if min_replicas < 2:
        return _check(
            "pdb.keeps-one", Outcome.SKIP,
            f"min replicas {min_replicas} < 2: a disruption budget cannot keep one replica up "
            "while another is evicted",
            min_replicas=min_replicas,
        )  # fmt: skip
    pods = _pod_labels(serving)
    best: tuple[int, str] | None = None
    for pdb in (m for m in manifests if m.get("kind") == "PodDisruptionBudget"):
        spec = pdb.get("spec") or {}
        wanted = ((spec.get("selector") or {}).get("matchLabels")) or {}
        if not wanted or any(pods.get(k) != v for k, v in wanted.items()):
            continue
        kept = _kept(spec, min_replicas)
        if kept is not None and (best is None or kept > best[0]):
            best = (kept, (pdb.get("metadata") or {}).get("name", "?"))
    if best is None:
        return _check(
            "pdb.keeps-one", Outcome.FAIL,
            f"no PodDisruptionBudget selects the serving pods; with min replicas {min_replicas} a node drain "
            "may evict them all",
            min_replicas=min_replicas, kept=None,
        )  # fmt: skip
    kept, name = best
    return _check(
        "pdb.keeps-one", _ok(kept >= 1),
        f"PodDisruptionBudget/{name} keeps {kept} of {min_replicas} replicas running during disruptions "
        "(need >= 1)",
        min_replicas=min_replicas, kept=kept, pdb=name,
    )  # fmt: skip


def _autoscaler_check(
    contract: WorkloadContract, manifests: Sequence[dict[str, Any]], serving: dict[str, Any] | None
) -> Check:
    want = contract.spec.resources.replicas
    got_min: Any = None
    got_max: Any = None
    source = None
    want_min = want.min
    if serving is not None and serving.get("kind") == "InferenceService":
        pred = (serving.get("spec") or {}).get("predictor") or {}
        got_min, got_max = pred.get("minReplicas"), pred.get("maxReplicas")
        source = f"InferenceService/{serving['metadata'].get('name', '?')} spec.predictor"
    else:
        hpas = [m for m in manifests if m.get("kind") == "HorizontalPodAutoscaler"]
        target = (serving or {}).get("metadata", {}).get("name")
        hpa = next(
            (h for h in hpas if (h.get("spec") or {}).get("scaleTargetRef", {}).get("name") == target), None
        )
        if hpa is not None:
            got_min, got_max = hpa["spec"].get("minReplicas", 1), hpa["spec"].get("maxReplicas")
            source = f"HorizontalPodAutoscaler/{hpa['metadata'].get('name', '?')}"
            want_min = max(1, want.min)  # an HPA cannot scale a Deployment to zero
    if source is None:
        return _check(
            "autoscaler.bounds", Outcome.FAIL,
            f"no autoscaler for the serving object; the contract asks for {want.min}-{want.max} replicas",
            contract_min=want.min, contract_max=want.max, min=None, max=None,
        )  # fmt: skip
    return _check(
        "autoscaler.bounds", _ok(got_min == want_min and got_max == want.max),
        f"{source}: replicas {got_min}-{got_max}; contract {want.min}-{want.max}",
        contract_min=want.min, contract_max=want.max, min=got_min, max=got_max,
    )  # fmt: skip


# ---------------------------------------------------------------------------------- observability


def _rules(observability: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for obj in observability:
        groups = (
            (obj.get("spec") or {}).get("groups")
            if obj.get("kind") == "PrometheusRule"
            else obj.get("groups")
        )
        for group in groups or ():
            out.extend(r for r in group.get("rules") or () if isinstance(r, dict))
    return out


def _monitor_check(contract: WorkloadContract, observability: Sequence[dict[str, Any]]) -> Check:
    monitors = [o for o in observability if o.get("kind") in ("PodMonitor", "ServiceMonitor")]
    for m in monitors:
        labels = ((m.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if labels.get(obs.WORKLOAD_LABEL) == contract.name:
            return _check(
                "monitor.selects-workload", Outcome.PASS,
                f"{m['kind']}/{m.get('metadata', {}).get('name', '?')} scrapes pods labelled "
                f"{obs.WORKLOAD_LABEL}={contract.name}",
                monitors=len(monitors),
            )  # fmt: skip
    return _check(
        "monitor.selects-workload", Outcome.FAIL,
        f"no PodMonitor or ServiceMonitor selects {obs.WORKLOAD_LABEL}={contract.name}: "
        "nothing scrapes the SLO metrics",
        monitors=len(monitors),
    )  # fmt: skip


def _route_problem(rule: dict[str, Any], alertmanager: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(problem or None, receivers) of routing one alert rule to the team in its labels."""
    labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
    labels["alertname"] = str(rule.get("alert"))
    receivers = obs.route_receivers(alertmanager, labels)
    team = labels.get("team", "")
    want = team if labels.get("severity") != "ticket" else f"{team}-tickets"
    if want not in receivers:
        return f"{labels['alertname']} routes to {', '.join(receivers) or 'nothing'}, not {want}", receivers
    return None, receivers


def _slo_check(
    contract: WorkloadContract,
    slo: str,
    record: str,
    rules: list[dict[str, Any]],
    alertmanager: dict[str, Any],
) -> Check:
    role = obs.burn_owner(contract, slo)
    team = contract.spec.owners.of(role).team
    records = {r.get("record") for r in rules}
    missing = [
        f"signoff:{record}:ratio_rate{w}"
        for w in obs.SLO_WINDOWS
        if f"signoff:{record}:ratio_rate{w}" not in records
    ]
    problems = [f"missing recording rule {m}" for m in missing]
    burn_name = f"Signoff{slo.capitalize()}BudgetBurn"
    burns = [
        r
        for r in rules
        if r.get("alert") == burn_name and (r.get("labels") or {}).get("workload") == contract.name
    ]
    present = {(r.get("labels") or {}).get("burn_rate", "") for r in burns}
    factors = [obs._num(bw.factor) for bw in obs.BURN_RATE_WINDOWS if obs._num(bw.factor) in present]
    for bw in obs.BURN_RATE_WINDOWS:
        if obs._num(bw.factor) not in factors:
            problems.append(f"missing {burn_name} at {obs._num(bw.factor)}x ({bw.long}/{bw.short})")
    for r in burns:
        if (r.get("labels") or {}).get("team") != team:
            problems.append(
                f"{burn_name} {r['labels'].get('burn_rate')}x names team "
                f"{r['labels'].get('team')!r}, not {team}"
            )
            continue
        problem, _ = _route_problem(r, alertmanager)
        if problem:
            problems.append(problem)
    objective = (
        f"availability {contract.spec.slos.availability}"
        if slo == "availability"
        else f"p99 latency {contract.spec.slos.p99_latency}"
    )
    good = (
        f"{objective}: recording rules for {', '.join(obs.SLO_WINDOWS)} and burn-rate alerts "
        f"{', '.join(factors)}x routed to {team}"
    )
    return _check(
        f"slo.{slo}", _ok(not problems),
        good if not problems else f"{objective}: " + "; ".join(problems),
        recording_rules=len(obs.SLO_WINDOWS) - len(missing), burn_alerts=len(burns), team=team,
    )  # fmt: skip


def _alert_check(
    contract: WorkloadContract, alert: Alert, rules: list[dict[str, Any]], alertmanager: dict[str, Any]
) -> Check:
    role: Role = alert.pages
    team = contract.spec.owners.of(role).team
    name = obs.alert_name(alert)
    id_ = f"alert.{alert.id}"
    found = [
        r for r in rules
        if r.get("alert") == name and (r.get("labels") or {}).get("workload") == contract.name
        and (r.get("labels") or {}).get("signal") == alert.signal.value
    ]  # fmt: skip
    if not found:
        return _check(
            id_, Outcome.FAIL, f"no alert rule {name} (signal {alert.signal.value}) for {contract.name}",
            rule=None, team=team,
        )  # fmt: skip
    rule = found[0]
    labels = rule.get("labels") or {}
    if labels.get("team") != team or labels.get("owner") != role.value:
        return _check(
            id_, Outcome.FAIL,
            f"{name} is labelled team={labels.get('team')!r} owner={labels.get('owner')!r}; "
            "the contract says it "
            f"pages {role.value} ({team})",
            rule=name, team=labels.get("team"),
        )  # fmt: skip
    problem, receivers = _route_problem(rule, alertmanager)
    if problem:
        return _check(id_, Outcome.FAIL, problem, rule=name, team=team, receiver=", ".join(receivers) or None)
    return _check(
        id_, Outcome.PASS, f"{name} pages {role.value}: routed to receiver {', '.join(receivers)}",
        rule=name, team=team, receiver=", ".join(receivers),
    )  # fmt: skip


def _runbook_check(rules: list[dict[str, Any]]) -> Check:
    paging = [r for r in rules if "alert" in r and (r.get("labels") or {}).get("severity") == "page"]
    bare = sorted({
        str(r["alert"]) for r in paging
        if not str((r.get("annotations") or {}).get("runbook_url", "")).startswith(("https://", "http://"))
    })  # fmt: skip
    if not paging:
        return _check(
            "alerts.runbooks", Outcome.FAIL, "no paging alert rules at all", paging=0, without_runbook=0
        )
    return _check(
        "alerts.runbooks", _ok(not bare),
        f"all {len(paging)} paging alert rules link a runbook" if not bare
        else f"{len(bare)} paging alert(s) without a runbook_url: {', '.join(bare)} "
        "(set the owner's runbook in the contract)",
        paging=len(paging), without_runbook=len(bare),
    )  # fmt: skip


# ---------------------------------------------------------------------------------- rollback, probe


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def _bucket_check(contract: WorkloadContract, buckets: Sequence[float]) -> Check:
    """The P99 latency SLO sits on a bucket bound of the server's latency histogram."""
    slo = contract.spec.slos.p99_latency.seconds
    on_bound = any(abs(b - slo) <= 1e-9 * max(1.0, slo) for b in buckets)
    if on_bound:
        return _check(
            "slo.latency-bucket", Outcome.PASS,
            f"P99 latency SLO {_ms(slo)} is a bucket bound of the server's latency histogram",
            slo_s=slo,
        )  # fmt: skip
    below = max((b for b in buckets if b < slo), default=None)
    above = min((b for b in buckets if b > slo), default=None)
    nearest = " or ".join(_ms(b) for b in (below, above) if b is not None)
    return _check(
        "slo.latency-bucket", Outcome.FAIL,
        f"P99 latency SLO {_ms(slo)} is not a bucket bound of the server's latency histogram "
        f"({', '.join(_ms(b) for b in buckets)}): the share of slower requests cannot be measured, "
        f"so the latency alerts would never fire; write slos.p99_latency as {nearest}",
        slo_s=slo,
    )  # fmt: skip


def _rollback_check(rollback_target: str | None, first_release: bool) -> Check:
    if rollback_target:
        return _check(
            "rollback.target", Outcome.PASS, f"rollback target: version {rollback_target}",
            rollback_target=rollback_target, first_release=first_release,
        )  # fmt: skip
    if first_release:
        return _check(
            "rollback.target", Outcome.WARN,
            "first release: no previous production version to roll back to (declared explicitly)",
            rollback_target=None, first_release=True,
        )  # fmt: skip
    return _check(
        "rollback.target", Outcome.FAIL,
        "no rollback target: name the previous production version, or declare a first release explicitly",
        rollback_target=None, first_release=False,
    )  # fmt: skip


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
        return _check(
            "probe.prediction", Outcome.FAIL, "no prediction checked: the endpoint never became ready", **figs
        )
    if not probe.prediction_checked:
        return _check(
            "probe.prediction", Outcome.FAIL,
            "the probe did not send the stored input example to check the prediction; probe again "
            "with this signoff (signoff probe)",
            **figs,
        )  # fmt: skip
    if probe.prediction_error:
        return _check(
            "probe.prediction", Outcome.FAIL,
            f"the {where} did not answer the stored example with a well-formed prediction: "
            f"{probe.prediction_error[:400]}",
            **figs,
        )  # fmt: skip
    return _check(
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
            _check(
                "probe.present",
                Outcome.FAIL,
                "no live probe: measure the staging endpoint (signoff probe) first",
            )
        ]
    out = [_check("probe.present", Outcome.PASS, f"probed {probe.url} ({probe.protocol})", url=probe.url)]
    max_cold = slos.max_cold_start.seconds
    out.append(
        _check(
            "probe.ready", _ok(probe.ready),
            "endpoint became ready" if probe.ready
            else probe.server_exit if probe.server_exit
            else f"endpoint never became ready (deadline {_num(probe.cold_start_deadline_s or max_cold)}s)",
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
            _check(
                "probe.cold-start", Outcome.WARN if probe.ready else Outcome.FAIL,
                f"cold start not measured ({why}); contract max {max_cold:g}s",
                cold_start_s=None, max_cold_start_s=max_cold,
            )
        )  # fmt: skip
    else:
        out.append(
            _check(
                "probe.cold-start", _ok(probe.ready and probe.cold_start_s <= max_cold),
                f"cold start {_num(probe.cold_start_s)}s; contract max {max_cold:g}s",
                cold_start_s=probe.cold_start_s, max_cold_start_s=max_cold,
            )
        )  # fmt: skip
    if probe.requests == 0:
        out.append(_check("probe.load", Outcome.FAIL, "the probe sent no requests", requests=0))
        return out
    p99_slo = slos.p99_latency.milliseconds
    out.append(
        _check(
            "probe.p99-latency", _ok(probe.p99_ms is not None and probe.p99_ms <= p99_slo),
            f"p99 {_num(probe.p99_ms)}ms; SLO {_num(p99_slo)}ms" if probe.p99_ms is not None
            else f"no p99 measured (no successful request); SLO {_num(p99_slo)}ms",
            p99_ms=probe.p99_ms, slo_ms=p99_slo,
            **({"latency_histogram_ms": histogram_text(probe.latency_histogram)} if probe.latency_histogram
               else {}),
        )
    )  # fmt: skip
    if slos.p50_latency is not None:
        p50_slo = slos.p50_latency.milliseconds
        out.append(
            _check(
                "probe.p50-latency", _ok(probe.p50_ms is not None and probe.p50_ms <= p50_slo),
                f"p50 {_num(probe.p50_ms) if probe.p50_ms is not None else 'n/a'}ms; SLO {_num(p50_slo)}ms",
                p50_ms=probe.p50_ms, slo_ms=p50_slo,
            )
        )  # fmt: skip
    budget = slos.error_budget
    out.append(
        _check(
            "probe.error-rate", _ok(probe.error_rate <= budget + _FLOAT_SLACK),
            f"{probe.errors} errors in {probe.requests} requests ({_num(probe.error_rate * 100)}%); "
            f"budget {_num(budget * 100)}%",
            errors=probe.errors, requests=probe.requests,
            error_rate=round(probe.error_rate, 12), budget=round(budget, 12),
        )
    )  # fmt: skip
    if probe.target_rate <= 0:
        out.append(
            _check(
                "probe.rate",
                Outcome.WARN,
                f"no target rate recorded; achieved {_num(probe.achieved_rate)}/s",
                target_rate=probe.target_rate, achieved_rate=probe.achieved_rate,
            )
        )  # fmt: skip
    else:
        floor = probe.target_rate * (1 - RATE_TOLERANCE)
        out.append(
            _check(
                "probe.rate", _ok(probe.achieved_rate >= floor),
                f"achieved {_num(probe.achieved_rate)}/s of target {_num(probe.target_rate)}/s "
                f"(need >= {_num(floor)}/s, within {RATE_TOLERANCE:.0%})",
                target_rate=probe.target_rate, achieved_rate=probe.achieved_rate,
            )
        )  # fmt: skip
    expected = slos.throughput_per_replica
    if expected is not None:
        enough = probe.target_rate >= expected * (1 - RATE_TOLERANCE)
        out.append(
            _check(
                "probe.load-level", Outcome.PASS if enough else Outcome.WARN,
                f"probed at {_num(probe.target_rate)}/s; the contract expects {_num(expected)}/s per replica"
                + ("" if enough else ": the latency figures describe a lighter load than production's"),
                target_rate=probe.target_rate, expected_per_replica=expected,
            )
        )  # fmt: skip
    return out


# ------------------------------------------------------------------------------------------ gate


def _digest(data: Any) -> str:
    return digest_bytes(canonical_json(data))


def evaluate(
    contract: WorkloadContract,
    *,
    manifests: Sequence[dict[str, Any]],
    observability: Sequence[dict[str, Any]],
    alertmanager: dict[str, Any],
    probe: ProbeResult | None,
    rollback_target: str | None,
    first_release: bool,
    subject: Subject,
    now: datetime,
    metrics: obs.MetricNames | None = None,
    extra_checks: Sequence[Check] = (),
) -> Verdict:
    """The sre-readiness verdict for one model version (see the module docstring for the checks).

    Args:
        contract: the workload contract.
        manifests: the rendered serving objects (``gates.render.render(...).objects``).
        observability: the monitoring objects (``gates.observability.render_observability``); plain
            rule files (``{"groups": [...]}``) are read too.
        alertmanager: the Alertmanager configuration the alerts are routed by.
        probe: the live probe's figures, or None when no probe ran (the gate then fails).
        rollback_target: the previous production version, if any.
        first_release: the caller declares there is no previous version (warns instead of failing).
        subject: the model version judged.
        now: the time of the decision (the verdict expires ``promotion.verdict_ttl`` later).
        metrics: the serving runtime's metric names; when its histogram's buckets are known, the
            contract's P99 latency must be one of them (``slo.latency-bucket``), or the latency
            burn-rate alerts could never fire.
        extra_checks: checks the caller made of the live system (e.g. ``staging.version``: the
            staging object serves this version), judged with the rest.

    Returns:
        The verdict; ``artifacts`` holds digests of the manifests, observability objects, Alertmanager
        configuration and probe figures judged.
    """
    serving = _serving_object(contract, manifests)
    rules = _rules(observability)
    checks: list[Check] = []
    checks += _probe_checks(contract, serving)
    checks.append(_pdb_check(contract, manifests, serving))
    checks.append(_autoscaler_check(contract, manifests, serving))
    checks.append(_monitor_check(contract, observability))
    checks.append(_slo_check(contract, "availability", "request_errors", rules, alertmanager))
    checks.append(_slo_check(contract, "latency", "request_latency_slo_violations", rules, alertmanager))
    if metrics is not None and metrics.latency_buckets_s is not None:
        checks.append(_bucket_check(contract, metrics.latency_buckets_s))
    has_cold = any(r.get("record") == "signoff:pod_cold_start_seconds:max" for r in rules)
    checks.append(
        _check(
            "slo.cold-start", _ok(has_cold),
            f"max cold start {contract.spec.slos.max_cold_start}: "
            + ("recorded as " if has_cold else "no rule ")
            + "signoff:pod_cold_start_seconds:max",
            recorded=has_cold,
        )
    )  # fmt: skip
    checks += [_alert_check(contract, a, rules, alertmanager) for a in contract.spec.alerts]
    checks.append(_runbook_check(rules))
    checks.append(_rollback_check(rollback_target, first_release))
    checks += list(extra_checks)
    checks += probe_checks(contract, probe)
    artifacts = {
        "manifests": _digest(list(manifests)),
        "observability": _digest(list(observability)),
        "alertmanager": _digest(alertmanager),
    }
    if probe is not None:
        artifacts["probe"] = _digest(probe.model_dump(mode="json"))
    return Verdict.decide(
        gate=Gate.SRE_READINESS,
        team=contract.spec.owners.sre.team,
        checks=checks,
        subject=subject,
        contract_digest=contract.digest(),
        now=now,
        ttl=timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds),
        artifacts=artifacts,
    )
