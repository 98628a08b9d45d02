"""``signoff check ml``: the ML-artifact gate on an MLflow model version.

Downloads the version into a fresh temporary folder (refusing sources and paths that escape it),
gathers the evidence (MLmodel, signature, a prediction on the stored input example, metrics, size,
file digests), runs the gate and prints each check with its figures. With ``--key`` the ML team
signs the verdict; the envelope is kept with the model version in MLflow (unless ``--no-keep``)
and written to ``--out``. Exit 1 when the gate refuses.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from contracts.errors import InputError
from pipelines._cli import _report


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
    parser.add_argument(
        "--key", type=Path, metavar="FILE", help="the ML team's private key: sign the verdict"
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write the signed envelope here (needs --key)"
    )
    parser.add_argument(
        "--no-keep", action="store_true", help="do not keep the signed verdict with the version in MLflow"
    )
    parser.add_argument(
        "--evidence", type=Path, metavar="FILE", help="write the gathered evidence (JSON) here"
    )
    parser.add_argument(
        "--tracking-uri", metavar="URI", help="MLflow tracking URI; default: $MLFLOW_TRACKING_URI"
    )
    parser.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    """Gather evidence, evaluate the ML-artifact gate, print; sign and keep with ``--key``."""
    from datetime import UTC, datetime

    from components.mlflow_registry import Registry
    from contracts.loader import load_cluster_policy, load_contract
    from contracts.trust import Gate
    from gates import ml_artifact

    for flag, path in (("--contract", ns.contract), ("--policy", ns.policy), ("--key", ns.key)):
        if path is not None and not path.is_file():
            raise InputError(f"{flag}: {path} is not a file")
    if ns.out is not None and ns.key is None:
        raise InputError("--out writes the signed envelope: pass --key too")
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
    if ns.key is not None:
        from components.keys import load_private_key
        from gates.signing import sign_verdict

        envelope = sign_verdict(verdict, load_private_key(ns.key))
        if ns.out is not None:
            ns.out.write_bytes(envelope)
        if not ns.no_keep:
            digest = registry.store_envelope(subject.model, subject.version, Gate.ML_ARTIFACT, envelope)
            print(f"signed verdict kept with {subject.uri} ({digest})")
    return _report.print_outcome(verdict)
