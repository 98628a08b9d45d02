"""``signoff verify``: who signed what, and whether it holds for this contract and model digest.

    signoff verify ENVELOPE... --trust T --contract C --model-digest sha256:... [--version V] [--json]

For each envelope: the gate, the signing team and keyid, whether the verdict passed, when it
expires, and whether it holds (signed by the contract's owner of that gate, passed, about the
contract's model with this digest (and version, when given), judged against this contract, not
expired). Exit 0 when every envelope holds, 1 otherwise (reasons shown), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.canonical import DIGEST
from contracts.errors import InputError, VerificationError
from gates import _plain, holds
from pipelines._cli._documents import (
    contract_terms_checked,
    load_trust_checked,
    plain_trust_checked,
    read_envelopes,
)

if TYPE_CHECKING:
    from contracts.trust import TrustPolicy
    from gates.signing import SignedVerdict


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff verify``."""
    parser.add_argument("envelopes", nargs="+", type=Path, metavar="ENVELOPE", help="signed verdict files")
    parser.add_argument("--trust", required=True, type=Path, metavar="T", help="trust policy document")
    parser.add_argument(
        "--contract", required=True, type=Path, metavar="C", help="workload contract (.yaml or .md)"
    )
    parser.add_argument(
        "--model-digest", required=True, metavar="sha256:HEX", help="digest of the model's files"
    )
    parser.add_argument("--version", metavar="V", help="also require this MLflow model version")
    parser.add_argument("--json", action="store_true", help="print one JSON object per envelope, in a list")
    parser.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    """Verify each envelope and print what it says; 0 when all hold, 1 otherwise."""
    import re
    from datetime import UTC, datetime

    if re.fullmatch(DIGEST, ns.model_digest) is None:
        raise InputError(f"--model-digest: {ns.model_digest!r} is not sha256: and 64 lower-case hex digits")
    if ns.version is not None and re.fullmatch(r"[1-9][0-9]{0,9}", ns.version) is None:
        raise InputError(f"--version: {ns.version!r} is not a model version number such as 7")
    contract = contract_terms_checked(ns.contract)
    # A plainly valid trust policy and cleanly verifying, plainly valid envelopes are decided without
    # the models (gates._plain); the models read everything else, and word every reason.
    plain = plain_trust_checked(ns.trust)
    trust: TrustPolicy | None = None if plain is not None else load_trust_checked(ns.trust)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for path, data in zip(ns.envelopes, read_envelopes(ns.envelopes), strict=True):
        row: dict[str, Any] = {"file": str(path)}
        try:
            signed: _plain.PlainSigned | SignedVerdict | None = None
            if plain is not None:
                signed = _plain.verify_plain(data, plain)
            if signed is None:
                from gates import signing

                trust = trust or load_trust_checked(ns.trust)
                signed = signing.verify_envelope(data, trust)
        except VerificationError as exc:
            row.update(verified=False, holds=False, reasons=list(exc.reasons))
            rows.append(row)
            continue
        v = signed.verdict
        version = ns.version or v.subject.version
        subject = _plain.PlainSubject(model=contract.model, version=version, digest=ns.model_digest)
        reasons = holds.problems(signed, contract, subject, now)
        row.update(
            verified=True,
            gate=v.gate.value,
            team=signed.team,
            keyid=signed.keyid,
            passed=v.passed,
            subject=f"{v.subject.uri}@{v.subject.digest}",
            issued_at=v.issued_at.isoformat(),
            expires_at=v.expires_at.isoformat(),
            envelope_digest=signed.envelope_digest,
            holds=not reasons,
            reasons=reasons,
        )
        rows.append(row)
    if ns.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if not row["verified"]:
                print(f"{row['file']}: DOES NOT VERIFY")
            else:
                print(
                    f"{row['file']}: {row['gate']} verdict signed by {row['team']} "
                    f"(key {row['keyid'][:16]}...), "
                    f"{'passed' if row['passed'] else 'FAILED'}, about {row['subject']}, "
                    f"expires {row['expires_at']}: {'HOLDS' if row['holds'] else 'DOES NOT HOLD'}"
                )
            for reason in row["reasons"]:
                print(f"  - {reason}")
        print(
            f"{sum(r['holds'] for r in rows)} of {len(rows)} envelope(s) hold for contract {contract.name} "
            f"and model digest {ns.model_digest}"
        )
    return 0 if all(r["holds"] for r in rows) else 1
