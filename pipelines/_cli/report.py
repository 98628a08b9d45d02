"""``signoff report MODEL --html FILE``: one self-contained HTML page about a registered model.

    signoff report MODEL --html FILE --contract C --trust T [--version V]... [--tracking-uri URI]

Reads the registry through :mod:`components.mlflow_registry` (the audit, the aliases, the verdicts
kept with each version), verifies every envelope against the trust policy and shows only what
verified: who signed each gate and when, whether it holds for this contract and model digest, the
figures of the signed SRE verdict (P99/P50 against the SLOs, cold start, the probe's latency
histogram), and the promotion/rollback history as a timeline. Anything not BACKED, not verifying or
not holding is red. The page is rendered by :func:`gates.report.render_html`.

A verdict "holds" as of the moment the version was promoted (the verified promotion verdict's
``issued_at``), else as of now: a gate verdict that expired after its promotion is not red.

Exit 0 when the page is written (whatever it shows: ``signoff audit`` is the check that fails);
2 on bad input; 3 when MLflow cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from components.mlflow_registry import Registry
from contracts.errors import InputError, VerificationError
from contracts.loader import load_contract, load_trust_policy
from contracts.trust import REQUIRED_GATES, Gate, TrustPolicy
from contracts.workload import WorkloadContract
from gates import promotion, signing
from gates.evidence import parse_histogram_text
from gates.report import AliasView, GateView, HistoryView, ModelReport, VersionView, render_html
from gates.signing import SignedVerdict
from gates.verdict import Subject

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff report``."""
    parser.add_argument("model", metavar="MODEL", help="registered model name")
    parser.add_argument("--html", required=True, type=Path, metavar="FILE", help="where to write the page")
    parser.add_argument("--contract", required=True, type=Path, metavar="C", help="the workload contract")
    parser.add_argument("--trust", required=True, type=Path, metavar="T", help="the trust policy")
    parser.add_argument(
        "--version",
        action="append",
        default=[],
        metavar="V",
        help="also show this version (repeatable; default: every version under an alias)",
    )
    parser.add_argument(
        "--tracking-uri", metavar="URI", help="MLflow tracking URI; default: $MLFLOW_TRACKING_URI"
    )
    parser.set_defaults(func=run)


def _checks_summary(signed: SignedVerdict) -> str:
    counts = Counter(c.outcome.value for c in signed.verdict.checks)
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return f"{len(signed.verdict.checks)} checks: {parts}" if parts else "no checks"


def _gate_views(
    name: str, version: str, envelopes: dict[Gate, bytes], contract: WorkloadContract, trust: TrustPolicy
) -> tuple[list[GateView], dict[Gate, SignedVerdict], str | None]:

    shown = (*promotion.required_gates(contract), Gate.PROMOTION)
    signed: dict[Gate, SignedVerdict] = {}
    failed: dict[Gate, list[str]] = {}
    for gate in shown:
        env = envelopes.get(gate)
        if env is None:
            continue
        try:
            s = signing.verify_envelope(env, trust)
        except VerificationError as exc:
            failed[gate] = [f"does not verify: {r}" for r in exc.reasons]
            continue
        if s.verdict.gate is not gate:
            failed[gate] = [f"kept as {gate.value} but it is a {s.verdict.gate.value} verdict"]
            continue
        signed[gate] = s
    ml = signed.get(Gate.ML_ARTIFACT)
    digest = ml.verdict.subject.digest if ml is not None else None
    # Without a verified ML verdict no digest is known: judge against the verdicts' own (flagged below).
    fallback = next((s.verdict.subject.digest for s in signed.values()), "sha256:" + "0" * 64)
    subject = Subject(model=name, version=version, digest=digest or fallback)
    promoted = signed.get(Gate.PROMOTION)
    at = promoted.verdict.issued_at if promoted is not None else datetime.now(UTC)
    views = []
    for gate in shown:
        owner = promotion.owner_of(contract, gate)
        if gate in signed:
            s = signed[gate]
            problems = promotion.problems(s, contract, subject, at)
            if digest is None and gate in REQUIRED_GATES:
                problems = [*problems, "no verified ML-artifact verdict names this version's model digest"]
            views.append(
                GateView(
                    gate=gate.value,
                    owner=owner,
                    signed_by=s.team,
                    keyid=s.keyid,
                    passed=s.verdict.passed,
                    issued_at=s.verdict.issued_at.isoformat(timespec="seconds"),
                    expires_at=s.verdict.expires_at.isoformat(timespec="seconds"),
                    checks=_checks_summary(s),
                    problems=tuple(problems),
                )
            )
        else:
            why = failed.get(gate) or ["no verdict kept with this version"]
            views.append(GateView(gate=gate.value, owner=owner, problems=tuple(why)))
    return views, signed, digest


def _figure(signed: SignedVerdict | None, check_id: str, key: str) -> object:
    if signed is None:
        return None
    for c in signed.verdict.checks:
        if c.id == check_id:
            return c.figures.get(key)
    return None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _version_view(
    registry: Registry,
    name: str,
    version: str,
    aliases: list[str],
    contract: WorkloadContract,
    trust: TrustPolicy,
) -> tuple[VersionView, list[str]]:

    envelopes = registry.envelopes(name, version)
    gates, signed, digest = _gate_views(name, version, envelopes, contract, trust)
    sre = signed.get(Gate.SRE_READINESS)
    notes: list[str] = []
    histogram: tuple[tuple[float | None, int], ...] = ()
    text = _figure(sre, "probe.p99-latency", "latency_histogram_ms")
    if isinstance(text, str):
        try:
            histogram = parse_histogram_text(text)
        except ValueError as exc:
            notes.append(f"version {version}: the SRE verdict's latency histogram is malformed: {exc}")
    slos = contract.spec.slos
    view = VersionView(
        version=version,
        aliases=tuple(sorted(aliases)),
        digest=digest,
        gates=tuple(gates),
        histogram=histogram,
        p99_ms=_float(_figure(sre, "probe.p99-latency", "p99_ms")),
        p50_ms=_float(_figure(sre, "probe.p50-latency", "p50_ms")),
        slo_p99_ms=slos.p99_latency.milliseconds,
        slo_p50_ms=slos.p50_latency.milliseconds if slos.p50_latency is not None else None,
        cold_start_s=_float(_figure(sre, "probe.cold-start", "cold_start_s")),
        max_cold_start_s=slos.max_cold_start.seconds,
    )
    return view, notes


def run(ns: argparse.Namespace) -> int:
    """Gather, verify, render and write the page atomically (a failed run leaves FILE as it was)."""

    for flag, path in (("--contract", ns.contract), ("--trust", ns.trust)):
        if not path.is_file():
            raise InputError(f"{flag}: {path} is not a file")
    bad = [v for v in ns.version if not (v.isdigit() and v[0] != "0")]
    if bad:
        raise InputError(f"--version: {bad[0]!r} is not a model version number such as 7")
    if not ns.html.parent.is_dir():
        raise InputError(f"--html: the folder {ns.html.parent} does not exist")
    contract = load_contract(ns.contract)
    trust = load_trust_policy(ns.trust)
    registry = Registry(ns.tracking_uri)
    audit = registry.audit(ns.model, trust, contract)
    by_version: dict[str, list[str]] = {v: [] for v in ns.version}
    for a in audit.aliases:
        by_version.setdefault(a.version, []).append(a.alias)
    notes: list[str] = []
    if ns.model != contract.metadata.model:
        notes.append(f"the contract governs MLflow model {contract.metadata.model}, not {ns.model}")
    versions = []
    for version in sorted(by_version, key=int, reverse=True):
        view, more = _version_view(registry, ns.model, version, by_version[version], contract, trust)
        versions.append(view)
        notes.extend(more)
    report = ModelReport(
        model=ns.model,
        workload=contract.name,
        contract_digest=contract.digest(),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        aliases=tuple(AliasView(a.alias, a.version, a.status.value, a.detail) for a in audit.aliases),
        history=tuple(
            HistoryView(h.at, h.kind, h.version, h.previous, h.by, h.state, h.valid, h.reason)
            for h in audit.history
        ),
        versions=tuple(versions),
        notes=tuple(notes),
    )
    page = render_html(report)
    fd, tmp = tempfile.mkstemp(prefix=".signoff-report-", dir=ns.html.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, ns.html)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    red = sum(a.status.value != "backed" for a in audit.aliases) + sum(
        not g.ok for v in versions for g in v.gates
    )
    print(f"wrote {ns.html}: {len(versions)} version(s), {red} thing(s) not backed or not holding")
    return 0
