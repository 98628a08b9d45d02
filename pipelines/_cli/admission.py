"""``signoff admission``: the admission policy's parts that come from the cluster policy.

    signoff admission variables --cluster-policy FILE                 # print the generated block
    signoff admission variables --cluster-policy FILE --check POLICY  # exit 1 when POLICY's is stale
    signoff admission variables --cluster-policy FILE --write POLICY  # rewrite POLICY's block

POLICY is ``infra/policies/require-promotion/policy.yaml``; the block is its GPU-route variables
(vendor resources, DRA device classes, GPU runtime classes, device env variables, CPU-only KServe
runtimes), rendered by :mod:`gates.admission` from ``spec.gpu_routes``. Offline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contracts import errors, loader
from gates import admission

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``admission`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    var = sub.add_parser("variables", help="the policy's GPU-route variables, from the cluster policy")
    var.add_argument("--cluster-policy", required=True, metavar="FILE", help="cluster policy (.yaml)")
    mode = var.add_mutually_exclusive_group()
    mode.add_argument("--check", type=Path, metavar="POLICY", help="exit 1 when POLICY's block differs")
    mode.add_argument("--write", type=Path, metavar="POLICY", help="rewrite POLICY's block in place")
    var.set_defaults(func=_variables)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.InputError(f"{path}: cannot read: {exc.strerror}") from None


def _variables(ns: argparse.Namespace) -> int:

    policy = loader.load_cluster_policy(ns.cluster_policy)
    target = ns.check or ns.write
    if target is None:
        sys.stdout.write(admission.variables_block(policy))
        return 0
    text = _read(target)
    try:
        new = admission.replace_block(text, policy)
    except ValueError as exc:
        raise errors.InputError(
            f"{target}: {exc}; spec.variables must hold the lines {admission.BEGIN.strip()!r} and "
            f"{admission.END.strip()!r}"
        ) from None
    if ns.check:
        if new != text:
            print(f"{target}: the generated GPU-route variables are stale; run with --write", file=sys.stderr)
            return 1
        print(f"{target}: generated GPU-route variables are current", file=sys.stderr)
        return 0
    if new != text:
        try:
            target.write_text(new, encoding="utf-8")
        except OSError as exc:
            raise errors.InputError(f"{target}: cannot write: {exc.strerror}") from None
    print(f"wrote {target}", file=sys.stderr)
    return 0
