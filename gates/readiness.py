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

The ``probe.*`` checks live in :mod:`gates.readiness_probe` (``signoff probe`` shows them to a
person too). The rest stay in this module, over 500 lines, as one unit: they are one gate's checks
of one set of inputs, each a short function that the verdict lists in the order above, and
splitting them by input (manifests, rules, routing) would put the gate's one list in three places.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from contracts.trust import Gate
from contracts.workload import Alert, Role, WorkloadContract, canonical_json
from gates import observability as obs
from gates._checks import check, ok
from gates.evidence import ProbeResult
from gates.readiness_probe import RATE_TOLERANCE, probe_checks
from gates.verdict import Check, Outcome, Subject, Verdict, digest_bytes

__all__ = ["RATE_TOLERANCE", "evaluate", "probe_checks", "serving_container", "startup_budget_seconds"]

_PROBE_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


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
            check("probes.present", Outcome.FAIL, msg),
            check("probes.startup-budget", Outcome.FAIL, msg, max_cold_start_s=max_cold),
        ]
    where, container = serving_container(serving)
    if container is None:
        msg = f"{where}: no container"
        return [
            check("probes.present", Outcome.FAIL, msg),
            check("probes.startup-budget", Outcome.FAIL, msg, max_cold_start_s=max_cold),
        ]
    present = {k: _has_probe(container, f"{k}Probe") for k in ("readiness", "liveness", "startup")}
    missing = [k for k, v in present.items() if not v]
    out = [
        check(
            "probes.present",
            ok(not missing),
            f"{where}: " + ("readiness, liveness and startup probes set" if not missing
                            else f"missing {', '.join(missing)} probe(s)"),
            **present,
        )
    ]  # fmt: skip
    if not present["startup"]:
        out.append(
            check(
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
        check(
            "probes.startup-budget",
            ok(budget <= max_cold),
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
        return check(
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
        return check(
            "pdb.keeps-one", Outcome.FAIL,
            f"no PodDisruptionBudget selects the serving pods; with min replicas {min_replicas} a node drain "
            "may evict them all",
            min_replicas=min_replicas, kept=None,
        )  # fmt: skip
    kept, name = best
    return check(
        "pdb.keeps-one", ok(kept >= 1),
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
        return check(
            "autoscaler.bounds", Outcome.FAIL,
            f"no autoscaler for the serving object; the contract asks for {want.min}-{want.max} replicas",
            contract_min=want.min, contract_max=want.max, min=None, max=None,
        )  # fmt: skip
    return check(
        "autoscaler.bounds", ok(got_min == want_min and got_max == want.max),
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
            return check(
                "monitor.selects-workload", Outcome.PASS,
                f"{m['kind']}/{m.get('metadata', {}).get('name', '?')} scrapes pods labelled "
                f"{obs.WORKLOAD_LABEL}={contract.name}",
                monitors=len(monitors),
            )  # fmt: skip
    return check(
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
    return check(
        f"slo.{slo}", ok(not problems),
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
        return check(
            id_, Outcome.FAIL, f"no alert rule {name} (signal {alert.signal.value}) for {contract.name}",
            rule=None, team=team,
        )  # fmt: skip
    rule = found[0]
    labels = rule.get("labels") or {}
    if labels.get("team") != team or labels.get("owner") != role.value:
        return check(
            id_, Outcome.FAIL,
            f"{name} is labelled team={labels.get('team')!r} owner={labels.get('owner')!r}; "
            "the contract says it "
            f"pages {role.value} ({team})",
            rule=name, team=labels.get("team"),
        )  # fmt: skip
    problem, receivers = _route_problem(rule, alertmanager)
    if problem:
        return check(id_, Outcome.FAIL, problem, rule=name, team=team, receiver=", ".join(receivers) or None)
    return check(
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
        return check(
            "alerts.runbooks", Outcome.FAIL, "no paging alert rules at all", paging=0, without_runbook=0
        )
    return check(
        "alerts.runbooks", ok(not bare),
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
        return check(
            "slo.latency-bucket", Outcome.PASS,
            f"P99 latency SLO {_ms(slo)} is a bucket bound of the server's latency histogram",
            slo_s=slo,
        )  # fmt: skip
    below = max((b for b in buckets if b < slo), default=None)
    above = min((b for b in buckets if b > slo), default=None)
    nearest = " or ".join(_ms(b) for b in (below, above) if b is not None)
    return check(
        "slo.latency-bucket", Outcome.FAIL,
        f"P99 latency SLO {_ms(slo)} is not a bucket bound of the server's latency histogram "
        f"({', '.join(_ms(b) for b in buckets)}): the share of slower requests cannot be measured, "
        f"so the latency alerts would never fire; write slos.p99_latency as {nearest}",
        slo_s=slo,
    )  # fmt: skip


def _rollback_check(rollback_target: str | None, first_release: bool) -> Check:
    if rollback_target:
        return check(
            "rollback.target", Outcome.PASS, f"rollback target: version {rollback_target}",
            rollback_target=rollback_target, first_release=first_release,
        )  # fmt: skip
    if first_release:
        return check(
            "rollback.target", Outcome.WARN,
            "first release: no previous production version to roll back to (declared explicitly)",
            rollback_target=None, first_release=True,
        )  # fmt: skip
    return check(
        "rollback.target", Outcome.FAIL,
        "no rollback target: name the previous production version, or declare a first release explicitly",
        rollback_target=None, first_release=False,
    )  # fmt: skip


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
        check(
            "slo.cold-start", ok(has_cold),
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
