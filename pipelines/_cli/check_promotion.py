"""``signoff check promotion``: verify every signed verdict for one model version and contract.

    signoff check promotion --contract C --trust T --model NAME --version V \\
        --model-digest sha256:... ENVELOPE... [--verdicts DIR]... [--approval FILE]... [--verdict FILE]
        [--key KEY --out FILE]

Prints each check of the promotion gate (every reason for refusal, not just the first). Exit 0 when
promotion may proceed, 1 when refused, 2 on bad input. ``--key``/``--out`` sign the promotion
verdict with the ML team's key.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components import keys
from contracts.errors import InputError
from contracts.workload import WorkloadContract
from gates import promotion, signing
from gates.verdict import Subject
from pipelines._cli import _report, _signed
from pipelines._cli._documents import load_contract_checked, load_trust_checked, read_envelopes


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff check promotion``."""
    parser.add_argument(
        "--contract", required=True, type=Path, metavar="C", help="workload contract (.yaml or .md)"
    )
    parser.add_argument("--trust", required=True, type=Path, metavar="T", help="trust policy document")
    parser.add_argument("--model", required=True, metavar="NAME", help="MLflow registered model name")
    parser.add_argument("--version", required=True, metavar="V", help="MLflow model version number")
    parser.add_argument(
        "--model-digest", required=True, metavar="sha256:HEX", help="digest of the model's files"
    )
    parser.add_argument("envelopes", nargs="*", type=Path, metavar="ENVELOPE", help="signed verdicts")
    parser.add_argument(
        "--verdicts",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="every *.envelope.json in DIR (signoff check GATE --key KEY --out DIR); repeatable",
    )
    parser.add_argument(
        "--approval",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a signed approval (signoff approve); repeatable",
    )
    parser.add_argument(
        "--verdict", type=Path, metavar="FILE", help="write the (unsigned) verdict as JSON here"
    )
    parser.add_argument(
        "--key", type=Path, metavar="KEY", help="the ML team's private key, to sign the verdict"
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="with --key: write the signed verdict here")
    parser.set_defaults(func=run)


def subject_from_args(ns: argparse.Namespace, contract: WorkloadContract) -> Subject:
    """The subject named by ``--model``, ``--version`` and ``--model-digest``."""
    from pydantic import ValidationError

    if ns.model != contract.metadata.model:
        raise InputError(f"--model: {ns.model!r} is not the contract's model {contract.metadata.model!r}")
    try:
        return Subject(model=ns.model, version=ns.version, digest=ns.model_digest)
    except ValidationError as exc:
        flags = {"model": "--model", "version": "--version", "digest": "--model-digest"}
        raise InputError(
            "; ".join(f"{flags.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors())
            + " (a version is a number such as 7; a digest is sha256: and 64 lower-case hex digits)"
        ) from None


def run(ns: argparse.Namespace) -> int:
    """Evaluate the promotion gate and print its checks; 0 when it passes, 1 when it refuses."""
    from datetime import UTC, datetime

    if bool(ns.key) != bool(ns.out):
        raise InputError("--key and --out go together: the key signs the verdict written to --out")
    contract = load_contract_checked(ns.contract)
    trust = load_trust_checked(ns.trust)
    subject = subject_from_args(ns, contract)

    envelopes = read_envelopes(ns.envelopes) + _signed.verdicts_in(ns.verdicts)
    if not envelopes:
        raise InputError("no signed verdicts: pass ENVELOPE files or --verdicts DIR")
    approvals = read_envelopes(ns.approval, "--approval")
    private = None
    if ns.key:
        private = keys.load_private_key(ns.key)
    verdict = promotion.evaluate(contract, subject, envelopes, trust, datetime.now(UTC), approvals=approvals)
    print(f"promotion gate for {subject.uri} ({subject.digest}) under contract {contract.name}")
    _report.print_checks(verdict)
    if ns.verdict:
        ns.verdict.write_text(verdict.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if private is not None:
        ns.out.write_bytes(signing.sign_verdict(verdict, private))
        print(f"signed promotion verdict: {ns.out}")
    if _report.print_refusal(verdict):
        return 1
    print(f"PASSED: every required verdict holds; valid until {verdict.expires_at.isoformat()}")
    return 0
