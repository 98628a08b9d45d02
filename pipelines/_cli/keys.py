"""``signoff keys generate --team NAME --out DIR``: a team's Ed25519 signing key pair.

Writes ``DIR/NAME.key`` (private, mode 0600) and ``DIR/NAME.pub``, refuses to overwrite either,
and prints the paths, the keyid and the trust-policy entry for the public key. The private key is
never printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Subcommands of ``signoff keys``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    gen = sub.add_parser(
        "generate",
        help="generate a team's Ed25519 key pair",
        description="Generate a team's Ed25519 key pair (private key file mode 0600; never overwritten).",
    )
    gen.add_argument("--team", required=True, metavar="NAME", help="team name as in the trust policy")
    gen.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="folder for NAME.key and NAME.pub"
    )
    gen.add_argument(
        "--gate",
        action="append",
        default=[],
        metavar="GATE",
        help="a gate the team signs (repeatable): ml-artifact, platform, sre-readiness, promotion, "
        "approval, rollback",
    )
    gen.set_defaults(func=run_generate)


def run_generate(ns: argparse.Namespace) -> int:
    """Generate the key pair and print where it is, its keyid and its trust-policy entry."""
    import yaml

    from components import keys
    from contracts.errors import InputError
    from contracts.trust import Gate

    valid = [g.value for g in Gate]
    wrong = [g for g in ns.gate if g not in valid]
    if wrong:
        raise InputError(f"--gate {', '.join(wrong)}: not a gate; the gates are {', '.join(valid)}")

    private, public = keys.generate(ns.team, ns.out)
    entry = keys.trusted_key_entry(keys.load_public_pem(public))
    print(f"private key: {private} (mode 0600; keep it secret, never commit it)")
    print(f"public key:  {public}")
    print(f"keyid:       {entry.keyid}")
    gates = list(dict.fromkeys(ns.gate)) or ["<the gates this team signs, e.g. platform>"]
    print("trust policy entry (add the team's gates):" if not ns.gate else "trust policy entry:")
    snippet = {"name": ns.team, "gates": gates, "keys": [entry.model_dump(mode="json")]}
    print(yaml.safe_dump([snippet], sort_keys=False), end="")
    return 0
