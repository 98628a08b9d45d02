"""``signoff check ml``: the ML-artifact gate on an MLflow model version.

Downloads the version into a fresh temporary folder (refusing sources and paths that escape it),
gathers the evidence (MLmodel, signature, a prediction on the stored input example, metrics, size,
file digests), runs the gate and prints each check with its figures. With ``--key`` the ML team
signs the verdict; the envelope is written to ``--out DIR`` (``DIR/ml-artifact.envelope.json``) and
kept with the model version in MLflow (unless ``--no-keep``), see ``pipelines._cli._signed``.
Exit 1 when the gate refuses.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from components.mlflow_registry import Registry
from contracts.errors import InputError
from contracts.loader import load_cluster_policy, load_contract
from gates import ml_artifact
from pipelines._cli import _report, _signed


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff check ml``."""
    parser.add_argument(
        "--model",
        required=True,
        metavar="models:/NAME/VERSION",
        help="the model version (or models:/NAME@ALIAS)",
    )
    parser.add_argument("--contract", required=True, type=Path, metavar="FILE", help="the workload contract")
    parser.add_argument("--policy", required=True, type=Path, metavar="FILE", help="the cluster policy")
    _signed.add_arguments(parser, "ML")
    parser.add_argument(
        "--evidence", type=Path, metavar="FILE", help="write the gathered evidence (JSON) here"
    )
    parser.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    """Gather evidence, evaluate the ML-artifact gate, print; sign and keep with ``--key``."""
    from datetime import UTC, datetime

    for flag, path in (("--contract", ns.contract), ("--policy", ns.policy)):
        if not path.is_file():
            raise InputError(f"{flag}: {path} is not a file")
    _signed.check_arguments(ns)
    contract = load_contract(ns.contract)
    policy = load_cluster_policy(ns.policy)
    registry = Registry(ns.tracking_uri)
    with tempfile.TemporaryDirectory(prefix="signoff-model-") as work:
        subject, evidence = registry.gather_evidence(ns.model, Path(work))
    if ns.evidence:
        ns.evidence.write_text(evidence.model_dump_json(indent=2) + "\n", encoding="utf-8")
    verdict = ml_artifact.evaluate(contract, evidence, policy, subject, datetime.now(UTC))
    print(f"ML-artifact gate for {subject.uri} (digest {subject.digest}) under contract {contract.name}")
    _report.print_checks(verdict)
    _signed.sign_and_keep(verdict, ns)
    return _report.print_outcome(verdict)
