"""The one process entry of the steps: Argo's containers, KFP's component bodies and the local runner.

``python -m components.steps STEP --PARAM value ... --input NAME=FILE ... --out-dir DIR`` runs one
step as a process (the Argo templates), mapping errors to exit codes: 1 gate refused, 2 bad input,
3 try again. KFP's component bodies (and so ``kfp.local``, the local runner) call :func:`run` with
the same names. The parameters and inputs a step takes are those :mod:`components.steps.spec`
declares for it; the parser is built from the spec.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from components.steps import ml_artifact, platform, promotion, rollback, spec, sre_readiness, summary
from components.steps._common import StepArgs, key_path
from contracts import errors
from contracts.workload import Role

__all__ = ["main", "run"]

_RUNNERS: dict[str, Callable[[StepArgs], Any]] = {
    "ml-artifact": ml_artifact.run,
    "platform": platform.run,
    "sre-readiness": sre_readiness.run,
    "promotion": promotion.run,
    "rollback-check": rollback.run,
    "run-summary": summary.run,
}
"""Each step that runs as a signoff process (``deploy`` runs ``signoff deploy`` itself)."""


def run(
    step: str,
    values: Mapping[str, Any],
    inputs: Mapping[str, str | Path],
    out_dir: str | Path,
    *,
    role: Role | str | None = None,
    log_dir: str | Path | None = None,
    status: str = "",
    error: str = "",
) -> Any:
    """Run one step.

    Args:
        step: the step's name (``ml-artifact``, ..., ``run-summary``).
        values: its parameters by ``snake_case`` name (others are ignored; missing ones default).
        inputs: each of its declared inputs -> the upstream output file.
        out_dir: its output folder.
        role: whose key to read (default: the step's owner).
        log_dir: sre-readiness: where a local server's log is kept.
        status: run-summary: the engine's final status.
        error: run-summary: the engine's error message.

    Returns:
        What the step returns (a ``StepResult``, the rollback finding, the summary text).
    """
    s = spec.step(step)
    missing = [i.name for i in s.inputs if i.name not in inputs]
    if missing and step != "rollback-check":  # the rollback check's input only orders it
        raise errors.InputError(f"step {step}: missing input(s) {', '.join(missing)}")
    owner = role or s.owner or Role.ML
    args = StepArgs(
        step=s,
        values={k: v for k, v in values.items() if k.replace("_", "-") in s.params},
        inputs={k: Path(v) for k, v in inputs.items()},
        out_dir=Path(out_dir),
        key_file=key_path(owner),
        log_dir=Path(log_dir) if log_dir is not None else None,
        status=status,
        error=error,
    )
    return _RUNNERS[step](args)


def _flag(text: str) -> bool:
    """A boolean parameter as the engines pass it (``true``/``false``, any case)."""
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"{text!r} is not true or false")
    return value == "true"


_TYPES: dict[str, Callable[[str], Any]] = {"str": str, "float": float, "bool": _flag}
_ARGV_DEFAULTS: dict[str, Any] = {"probe-seconds": None, "model-name": None, "model-version": None}
"""Process defaults that differ from the pipeline's: no ``--probe-seconds`` means the probe's own; a
missing document is empty text (the step says which parameter is empty); a missing model is an error."""


def _input(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=FILE")
    return name, path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m components.steps", description="run one signoff step")
    p.add_argument("step", choices=list(_RUNNERS))
    for param in spec.PARAMETERS:
        kind = "true|false" if param.kind == "bool" else None
        p.add_argument(
            f"--{param.name}", dest=param.snake, type=_TYPES[param.kind], metavar=kind,
            default=_ARGV_DEFAULTS.get(param.name, "" if param.default is None else param.default),
            help=param.help,
        )  # fmt: skip
    p.add_argument(
        "--input", type=_input, action="append", default=[], metavar="NAME=FILE",
        help="an upstream output this step reads (its declared inputs)",
    )  # fmt: skip
    p.add_argument("--out-dir", required=True)
    p.add_argument("--status", default="", help="run-summary: the engine's final status")
    p.add_argument("--failures", default="", help="run-summary: the engine's failure list (JSON)")
    p.add_argument(
        "--role", choices=[r.value for r in Role], help="whose key to read (default: the gate's owner)"
    )
    return p


def _failures(text: str) -> str:
    """Argo's ``{{workflow.failures}}`` (a JSON list of failed nodes) as one line."""
    try:
        nodes = json.loads(text) if text.strip() else []
    except ValueError:
        return text
    if not isinstance(nodes, list):
        return text
    return "; ".join(
        f"{n.get('displayName', '?')}: {n.get('message', '')}" for n in nodes if isinstance(n, dict)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step as a process; exit 0 passed, 1 refused, 2 bad input, 3 temporary failure."""
    ns = _parser().parse_args(argv)
    values = {p.snake: getattr(ns, p.snake) for p in spec.PARAMETERS}
    try:
        result = run(
            ns.step, values, dict(ns.input), ns.out_dir, role=ns.role,
            status=ns.status, error=_failures(ns.failures),
        )  # fmt: skip
    except errors.SignoffError as exc:
        print(f"signoff {ns.step}: {exc}", file=sys.stderr)
        return exc.exit_code
    if ns.step == "run-summary":
        print(result)
    return 0
