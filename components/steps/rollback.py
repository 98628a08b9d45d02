"""The automated rollback check after promotion: is a rollback target armed, and must it fire?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.steps._common import (
    StepArgs,
    _contract,
    _registry,
)
from components.steps.spec import REPORT
from gates import rollback as rollback_rule

if TYPE_CHECKING:
    pass


def rollback_check_step(
    *,
    contract_yaml: str,
    model_name: str,
    model_version: str,
    tracking_uri: str | None,
    out_dir: str | Path,
    observed_drift: float | None = None,
) -> dict[str, Any]:
    """The automated rollback check after promotion: is a rollback target armed, and must it fire?

    With ``observed_drift`` (a fraction, e.g. 0.05) above the contract's accuracy-drift alert and an
    automated rollback on accuracy drift in the contract, the rule fires (``fire``), but this step
    does not move the alias: it holds no key, and an automated rollback record must be signed by a
    key the trust policy grants that role. The signed rollback is ``signoff listen alertmanager``'s
    (the alert's team's key) or ``signoff rollback``'s (the contract's team).

    Returns:
        ``{"target": version or None, "armed": bool, "fire": bool, "rolled_back": False, "reason": str}``
        (also written to ``rollback.json`` and ``report.md``).
    """
    out = Path(out_dir)
    contract = _contract(contract_yaml)
    registry = _registry(tracking_uri)
    target = registry.previous_production_version(model_name)
    decision = rollback_rule.decide(contract, observed_drift)
    fire = False
    if target is None:
        reason = f"first release of {model_name}: no earlier production version to roll back to"
    elif not decision.automated:
        reason = f"no automated rollback in the contract; version {target} is the manual rollback target"
    elif not decision.fire:
        reason = f"armed: accuracy drift above {decision.limit} moves production back to version {target}"
    else:
        fire = True
        reason = (
            f"{decision.reason}: production must move back to version {target}; this step holds no key, "
            "so the signed rollback is signoff listen alertmanager's (the alert's team) or signoff "
            "rollback's (the contract's team)"
        )
    outcome = {
        "model": model_name,
        "version": str(model_version),
        "target": target,
        "armed": decision.automated and target is not None,
        "fire": fire,
        "rolled_back": False,
        "reason": reason,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "rollback.json").write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf-8")
    (out / REPORT).write_text(f"# rollback check\n\n{reason}\n", encoding="utf-8")
    return outcome


def run(args: StepArgs) -> dict[str, Any]:
    """The step as the process entry calls it (the promotion envelope only orders it after promotion)."""
    return rollback_check_step(
        contract_yaml=args.value("contract"),
        model_name=args.value("model-name"),
        model_version=args.value("model-version"),
        tracking_uri=args.tracking_uri,
        out_dir=args.out_dir,
    )
