"""``signoff keys generate``: Ed25519 signing key pairs, and the trust policy that lists them.

* ``--team NAME --out DIR [--gate G ...]``: one team's pair. Writes ``DIR/NAME.key`` (private, mode
  0600) and ``DIR/NAME.pub``, refuses to overwrite either, and prints the paths, the keyid and the
  trust-policy entry for the public key (valid as printed when ``--gate`` is given).
* ``--contract C --out DIR [--trust FILE]``: a pair for each of the contract's three owner teams,
  each allowed the gates its role signs (:data:`ROLE_GATES`), and with ``--trust`` the whole trust
  policy. For a first try by one person; in real use each team runs ``--team`` on its own machine.
  Nothing is written unless every file is new.

The files are what ``signoff check ... --key``, ``signoff run --keys-dir DIR`` (which finds each
role's ``<team>.key`` through the contract) and the pipelines' key Secrets take as they are.
The private key is never printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from contracts.errors import InputError
from contracts.gate import Gate
from contracts.loader import load_contract, load_trust_policy


def configure(parser: argparse.ArgumentParser) -> None:
    """Subcommands of ``signoff keys``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    gen = sub.add_parser(
        "generate",
        help="generate a team's Ed25519 key pair",
        description="Generate a team's Ed25519 key pair (private key file mode 0600; never overwritten).",
    )
    who = gen.add_mutually_exclusive_group(required=True)
    who.add_argument("--team", metavar="NAME", help="team name as in the trust policy")
    who.add_argument(
        "--contract",
        type=Path,
        metavar="FILE",
        help="a key pair for each of this contract's three owner teams",
    )
    gen.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="folder for NAME.key and NAME.pub"
    )
    gen.add_argument(
        "--trust",
        type=Path,
        metavar="FILE",
        help="with --contract: also write the trust policy listing the three teams' keys",
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

    from components import keys  # cryptography and the trust models: only when generating

    valid = [g.value for g in Gate]
    wrong = [g for g in ns.gate if g not in valid]
    if wrong:
        raise InputError(f"--gate {', '.join(wrong)}: not a gate; the gates are {', '.join(valid)}")
    if ns.contract is not None:
        if ns.gate:
            raise InputError("--gate goes with --team; with --contract each team gets its role's gates")
        return _generate_for_contract(ns.contract, ns.out, ns.trust)
    if ns.trust is not None:
        raise InputError("--trust goes with --contract (for one team, paste the printed entry)")

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


# The gates each owner role signs: the ML team its artifact, the approval, the promotion and the
# rollbacks it decides; the platform team its gate; SRE readiness and the rollbacks it decides.
ROLE_GATES: dict[str, tuple[str, ...]] = {
    "ml": ("ml-artifact", "approval", "promotion", "rollback"),
    "platform": ("platform",),
    "sre": ("sre-readiness", "rollback"),
}


def _generate_for_contract(contract_path: Path, out: Path, trust_path: Path | None) -> int:
    """A key pair per owner team of the contract, and (with ``trust_path``) the trust policy."""
    import yaml

    from components import keys

    contract = load_contract(contract_path)
    owners = contract.spec.owners
    teams = {"ml": owners.ml.team, "platform": owners.platform.team, "sre": owners.sre.team}
    planned = [out / f"{t}.{ext}" for t in teams.values() for ext in ("key", "pub")]
    if trust_path is not None:
        planned.append(trust_path)
    existing = [str(p) for p in planned if p.exists() or p.is_symlink()]
    if existing:
        raise InputError(
            f"{', '.join(existing)} already exist(s); nothing was written (move them away, or pass "
            "another --out / --trust)"
        )
    entries = []
    for role, team in teams.items():
        private, public = keys.generate(team, out)
        entry = keys.trusted_key_entry(keys.load_public_pem(public))
        entries.append(
            {"name": team, "gates": list(ROLE_GATES[role]), "keys": [entry.model_dump(mode="json")]}
        )
        print(f"{role:<9} {team}: private key {private} (mode 0600; keep it secret), public key {public}")
    if trust_path is None:
        print("trust policy entries:")
        print(yaml.safe_dump(entries, sort_keys=False), end="")
        return 0
    policy = {
        "apiVersion": "signoff.dev/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": f"{contract.metadata.name}-trust"},
        "spec": {"teams": entries},
    }
    header = (
        "# Which team's key may sign which gate (written by 'signoff keys generate --contract').\n"
        "# In real use each team generates its own key and sends only the public half.\n"
    )
    trust_path.parent.mkdir(parents=True, exist_ok=True)
    trust_path.write_text(header + yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    load_trust_policy(trust_path)  # what was written loads, as a reader will load it
    print(f"trust policy: {trust_path}")
    return 0
