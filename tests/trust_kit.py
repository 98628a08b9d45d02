"""Team keys and a trust policy for tests that sign real verdicts (integration and cluster tiers).

``team_keys(gates, folder)`` generates one Ed25519 key pair per team with ``components.keys`` and
writes ``trust.yaml`` granting each team its gates; it returns the private key files and the trust
policy file. Imported as ``trust_kit`` (``tests/`` is on ``sys.path`` beside ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from components import keys


def team_keys(
    gates: Mapping[str, Iterable[str]], folder: Path, trust_file: Path | None = None
) -> tuple[dict[str, Path], Path]:
    """Key pairs in ``folder`` for each team in ``gates`` (team -> gate names), and the trust policy
    naming them (``trust_file``, default ``folder/trust.yaml``)."""
    key_files: dict[str, Path] = {}
    teams = []
    for team, granted in gates.items():
        private, public = keys.generate(team, folder)
        key_files[team] = Path(private)
        teams.append(
            {"name": team, "gates": list(granted), "keys": [{"public_key": keys.load_public_pem(public)}]}
        )
    trust_file = folder / "trust.yaml"
    policy = {"apiVersion": "signoff.dev/v1alpha1", "kind": "TrustPolicy", "metadata": {"name": "it"}}
    trust_file.write_text(yaml.safe_dump({**policy, "spec": {"teams": teams}}))
    return key_files, trust_file
