"""``signoff approve``: the ML team's signed manual approval of one model version under one contract.

    signoff approve --contract C --model NAME --version V --model-digest sha256:... \\
        --key TEAM.key --team TEAM [--note TEXT] --out approval.json

The approval is a verdict of gate ``approval`` in a DSSE envelope, like every other verdict; the
promotion gate needs it when the contract says ``promotion.approval: manual``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components import keys
from gates import signing
from gates.approval import make_approval
from pipelines._cli.check_promotion import load_contract_checked, subject_from_args


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff approve``."""
    parser.add_argument(
        "--contract", required=True, type=Path, metavar="C", help="workload contract (.yaml or .md)"
    )
    parser.add_argument("--model", required=True, metavar="NAME", help="MLflow registered model name")
    parser.add_argument("--version", required=True, metavar="V", help="MLflow model version number")
    parser.add_argument(
        "--model-digest", required=True, metavar="sha256:HEX", help="digest of the model's files"
    )
    parser.add_argument(
        "--key", required=True, type=Path, metavar="KEY", help="the ML team's private key file"
    )
    parser.add_argument(
        "--team", required=True, metavar="T", help="the approving team (the contract's ML team)"
    )
    parser.add_argument("--note", default="", metavar="TEXT", help="why: a ticket or review link (signed)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="where to write the envelope")
    parser.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    """Sign the approval and write its envelope."""
    from datetime import UTC, datetime

    contract = load_contract_checked(ns.contract)
    subject = subject_from_args(ns, contract)
    private = keys.load_private_key(ns.key)
    verdict = make_approval(contract, subject, ns.team, datetime.now(UTC), ns.note)
    envelope = signing.sign_verdict(verdict, private)
    ns.out.write_bytes(envelope)
    print(
        f"approval by {ns.team} (key {signing.keyid(private.public_key())}) of {subject.uri} "
        f"under {contract.name}, valid until {verdict.expires_at.isoformat()}: {ns.out}"
    )
    return 0
