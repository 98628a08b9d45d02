"""``signoff promote``, ``signoff rollback`` and ``signoff audit``: the MLflow registry commands.

``promote`` runs the promotion gate over the verdicts kept with the version (or given files), signs
the promotion verdict with the ML team's key and moves the production alias; when the gate refuses,
the registry is left exactly as it was. Re-running an interrupted promotion resumes it.
``rollback`` moves production back, signed by the team the contract names for that kind of problem.
``audit`` shows each alias and whether a verified signoff record backs it, and the history; the
judgement is :mod:`gates.audit`'s (this command only reads the registry and prints).

MLflow is imported only when a command runs (through ``components.mlflow_registry``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from components.keys import load_private_key
from components.mlflow_registry import Registry
from components.steps import GateRefused
from components.steps import promotion as steps_promotion
from contracts.errors import InputError, VerificationError
from contracts.loader import load_contract, load_trust_policy
from contracts.trust import Gate, TrustPolicy
from contracts.workload import ProblemKind, WorkloadContract
from gates import audit, signing
from gates.signing import sign_verdict
from gates.verdict import Check, Outcome, Subject, Verdict
from pipelines._cli import _serving, _signed


def _tracking(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI (http://..., sqlite:///...); default: $MLFLOW_TRACKING_URI",
    )


def _file(path: Path, flag: str) -> Path:
    if not path.is_file():
        raise InputError(f"{flag}: {path} is not a file")
    return path


def _contract(path: Path) -> WorkloadContract:

    return load_contract(_file(path, "--contract"))


def _trust(path: Path) -> TrustPolicy:

    return load_trust_policy(_file(path, "--trust"))


def _registry(ns: argparse.Namespace) -> Registry:

    return Registry(ns.tracking_uri)


def _sign(verdict: Any, key: Path) -> bytes:

    return sign_verdict(verdict, load_private_key(_file(key, "--key")))


# ------------------------------------------------------------------------------------------- promote


def configure_promote(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff promote``."""
    parser.add_argument(
        "--model", required=True, metavar="models:/NAME/VERSION", help="the version to promote"
    )
    parser.add_argument("--contract", required=True, type=Path, metavar="FILE", help="the workload contract")
    parser.add_argument("--trust", required=True, type=Path, metavar="FILE", help="the trust policy")
    parser.add_argument(
        "--key",
        required=True,
        type=Path,
        metavar="FILE",
        help="the ML team's private key (signs the promotion)",
    )
    parser.add_argument(
        "--envelope",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="a signed verdict to use (repeatable); default: the verdicts kept with the version in MLflow",
    )
    parser.add_argument(
        "--verdicts",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="use every *.envelope.json in DIR (signoff check GATE --key KEY --out DIR); repeatable",
    )
    parser.add_argument("--production-alias", default="production", metavar="ALIAS")
    parser.add_argument("--rollback-alias", default="previous", metavar="ALIAS")
    parser.add_argument(
        "--also-stage", action="store_true", help="also the legacy stage transition to Production"
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the signed promotion verdict here")
    _tracking(parser)
    parser.set_defaults(func=run_promote)


def run_promote(ns: argparse.Namespace) -> int:
    """Run the promotion step; promoted (exit 0), or refused with the registry untouched (exit 1)."""

    contract, trust = _contract(ns.contract), _trust(ns.trust)
    given = [_file(p, "--envelope").read_bytes() for p in ns.envelope] + _signed.verdicts_in(ns.verdicts)
    registry = _registry(ns)
    name, version = registry.resolve(ns.model, read=False)
    try:
        done = steps_promotion.promote(
            registry,
            contract,
            trust,
            name,
            version,
            key_file=_file(ns.key, "--key"),
            envelopes=given,
            production_alias=ns.production_alias,
            rollback_alias=ns.rollback_alias,
            also_stage=ns.also_stage,
        )
    except GateRefused as exc:
        print(f"REFUSED: {'; '.join(exc.reasons)}. The registry was not changed.", file=sys.stderr)
        return 1
    if done.resumed:
        print(f"resuming the interrupted promotion of {name} version {version}")
    else:
        for check in done.verdict.checks:
            print(f"  {check.outcome.value.upper():4}  {check.id}  {check.message}")
    if ns.out:
        ns.out.write_bytes(done.envelope)
    if done.result is None:
        print(
            f"REFUSED: {len(done.verdict.failures)} check(s) failed; the registry was not changed",
            file=sys.stderr,
        )
        return 1
    print(("already done: " if done.result.already_done else "PROMOTED: ") + str(done.result))
    return 0


# ------------------------------------------------------------------------------------------ rollback


def configure_rollback(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff rollback``."""

    parser.add_argument("model", metavar="MODEL", help="registered model name")
    parser.add_argument(
        "--to", required=True, metavar="previous|VERSION", help="where production goes back to"
    )
    parser.add_argument("--reason", required=True, help="why (kept in the signed record)")
    parser.add_argument(
        "--problem",
        required=True,
        choices=[p.value for p in ProblemKind],
        help="the kind of problem: the contract names which team decides each",
    )
    parser.add_argument("--contract", required=True, type=Path, metavar="FILE")
    parser.add_argument("--trust", required=True, type=Path, metavar="FILE")
    parser.add_argument(
        "--key", required=True, type=Path, metavar="FILE", help="the deciding team's private key"
    )
    parser.add_argument("--production-alias", default="production", metavar="ALIAS")
    parser.add_argument("--rollback-alias", default="previous", metavar="ALIAS")
    _tracking(parser)

    _serving.add_options(parser, rollback=True)
    parser.set_defaults(func=run_rollback)


def run_rollback(ns: argparse.Namespace) -> int:
    """Sign a rollback record as the deciding team and move production back."""

    contract, trust = _contract(ns.contract), _trust(ns.trust)
    problem = ProblemKind(ns.problem)
    role = contract.spec.rollback.decider(problem)
    if role is None:
        decided = ", ".join(f"{m.problem.value} ({m.decides.value})" for m in contract.spec.rollback.manual)
        raise InputError(
            f"--problem {problem.value}: the contract names no team for manual rollback on this kind of "
            f"problem (it names: {decided or 'none'})"
        )
    team = contract.spec.owners.of(role).team
    if not ns.reason.strip():
        raise InputError("--reason: say why (it is kept in the signed record)")
    registry = _registry(ns)
    name = ns.model
    aliases = registry.aliases(name)
    target = aliases.get(ns.rollback_alias) if ns.to == "previous" else ns.to
    if target is None:
        raise InputError(f"{name} has no {ns.rollback_alias!r} alias: pass --to VERSION")
    if not str(target).isdigit():
        raise InputError(f"--to: {ns.to!r} is not 'previous' or a version number")
    digest = registry.version_digest(name, str(target))
    if digest is None:
        raise InputError(
            f"{name} version {target} has no ML-artifact verdict: it was never promoted by signoff"
        )

    problem_with_target = audit.rollback_target_problem(registry.snapshot(name), trust, contract, str(target))
    if problem_with_target:
        raise InputError(problem_with_target)
    _serving.precheck(ns, registry, name, str(target))
    now = datetime.now(UTC)
    check = Check(
        id="rollback.decided",
        outcome=Outcome.PASS,
        message=f"{team} ({role.value}) decides a rollback for a {problem.value} problem: {ns.reason}"[:2000],
        figures={"problem": problem.value, "from": aliases.get(ns.production_alias), "to": str(target)},
    )
    verdict = Verdict.decide(
        gate=Gate.ROLLBACK,
        team=team,
        checks=[check],
        subject=Subject(model=name, version=str(target), digest=digest),
        contract_digest=contract.digest(),
        now=now,
        ttl=timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds),
        note=ns.reason[:4000],
    )
    envelope = _sign(verdict, ns.key)
    try:
        signing.verify_envelope(envelope, trust)
    except VerificationError as exc:
        raise VerificationError(
            [
                f"the contract says team {team} decides {problem.value} rollbacks; the key given "
                "is not one of its keys allowed to sign rollbacks in the trust policy",
                *exc.reasons,
            ]
        ) from None
    result = registry.rollback(
        name,
        to=str(target),
        reason=ns.reason,
        record_envelope=envelope,
        production_alias=ns.production_alias,
        rollback_alias=ns.rollback_alias,
    )
    print(
        f"ROLLED BACK: {name} production {result.from_version} -> {result.to_version} by {team}: {ns.reason}"
    )
    return _serving.move(ns, registry, name, result.to_version)


# --------------------------------------------------------------------------------------------- audit


def configure_audit(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff audit``."""
    parser.add_argument("model", metavar="MODEL", help="registered model name")
    parser.add_argument(
        "--trust",
        type=Path,
        metavar="FILE",
        help="verify every stored envelope against it (needed for BACKED)",
    )
    parser.add_argument(
        "--contract",
        type=Path,
        metavar="FILE",
        help="the workload contract: checks each verdict's owner and the team that decided a rollback "
        "(an alias a rollback put there is BACKED only with it)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--production-alias", default="production", metavar="ALIAS")
    _tracking(parser)

    _serving.add_options(parser, rollback=False)
    parser.set_defaults(func=run_audit)


def run_audit(ns: argparse.Namespace) -> int:
    """Print the audit; exit 0 when every alias is backed by a valid signoff record, 1 otherwise."""

    trust = _trust(ns.trust) if ns.trust else None
    contract = _contract(ns.contract) if ns.contract else None
    registry = _registry(ns)
    report = registry.audit(ns.model, trust, contract, production_alias=ns.production_alias)
    serving = _serving.state(ns, registry, ns.model, ns.production_alias)
    if ns.json:
        doc = report.to_json()
        if serving is not None:
            doc["serving"] = serving.to_json()
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(report.to_text())
        if serving is not None:
            print(serving.to_text())
    return 0 if report.ok and (serving is None or serving.matches) else 1
