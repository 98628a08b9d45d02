"""The newcomer's first commands: ``contract init --out``, ``keys generate --contract``, and the keys
folder ``signoff run --keys-dir`` takes as ``keys generate`` wrote it.

A new team's starting documents must pass every gate's static checks as written; every error of
these commands names what to do, exits 2 and leaves nothing half-written.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import errors
from contracts.loader import load_cluster_policy, load_contract, load_trust_policy
from gates import observability as obs
from gates import platform, readiness
from gates.render import ModelRef, render
from gates.verdict import Outcome, Subject

DIGEST = "sha256:" + "a" * 64
IMAGE = "registry.example.com/ml/mlserver@sha256:" + "b" * 64


def _signoff(exe: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def started(signoff_exe: str, tmp_path: Path) -> Path:
    """``signoff contract init iris-clf --model-size 11KB --out iris-clf`` in a new folder."""
    done = _signoff(
        signoff_exe, "contract", "init", "iris-clf", "--model-size", "11KB", "--out", "iris-clf", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "next: signoff keys generate --contract iris-clf/contract.yaml" in done.stdout
    return tmp_path / "iris-clf"


def test_init_out_writes_a_contract_and_policy_that_pass_the_static_gates(started: Path) -> None:
    contract = load_contract(started / "contract.yaml")
    policy = load_cluster_policy(started / "cluster-policy.yaml")
    assert contract.spec.resources.model_size.bytes == 11_000
    model = ModelRef(name="iris-clf", version="1", storage_uri="s3://models/iris-clf/1", digest=DIGEST)
    manifests = render(contract, policy, model, IMAGE)
    subject = Subject(model="iris-clf", version="1", digest=DIGEST)
    now = datetime.now(UTC)
    plat = platform.evaluate(contract, policy, manifests, subject, now, image=IMAGE)
    assert plat.passed, [c.message for c in plat.failures]
    ready = readiness.evaluate(
        contract,
        manifests=list(manifests.objects),
        observability=obs.render_observability(contract, namespace="ml-staging", mode=policy.spec.serving),
        alertmanager=obs.alertmanager_config(contract),
        probe=None,
        rollback_target=None,
        first_release=True,
        subject=subject,
        now=now,
    )
    # Only the live probe (not run here) may fail: every paging alert has its owner's runbook.
    failed = {c.id for c in ready.failures}
    assert failed and all(f.startswith("probe.") for f in failed), failed
    runbooks = next(c for c in ready.checks if c.id == "alerts.runbooks")
    assert runbooks.outcome is Outcome.PASS, runbooks.message


def test_init_out_refuses_to_overwrite_and_a_bad_size(signoff_exe: str, started: Path) -> None:
    before = (started / "contract.yaml").read_bytes()
    again = _signoff(signoff_exe, "contract", "init", "iris-clf", "--out", "iris-clf", cwd=started.parent)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "iris-clf/contract.yaml, iris-clf/cluster-policy.yaml exist(s); pass --force" in again.stderr
    assert (started / "contract.yaml").read_bytes() == before
    bad = _signoff(
        signoff_exe, "contract", "init", "x", "--model-size", "11QB", "--out", "x", cwd=started.parent
    )
    assert bad.returncode == 2
    assert "--model-size '11QB': '11QB' is not an amount of memory" in bad.stderr
    assert not (started.parent / "x").exists()


def test_keys_generate_for_a_contract_writes_keys_and_a_trust_policy_that_loads(
    signoff_exe: str, started: Path
) -> None:
    done = _signoff(
        signoff_exe, "keys", "generate", "--contract", "iris-clf/contract.yaml", "--out", "iris-clf/keys",
        "--trust", "iris-clf/trust-policy.yaml", cwd=started.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trust = load_trust_policy(started / "trust-policy.yaml")
    gates = {t.name: {g.value for g in t.gates} for t in trust.spec.teams}
    assert gates == {
        "ml-team": {"ml-artifact", "approval", "promotion", "rollback"},
        "platform-team": {"platform"},
        "sre-team": {"sre-readiness", "rollback"},
    }
    for team in gates:
        assert (started / "keys" / f"{team}.key").stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in done.stdout  # paths only, never key material
    # A second run writes nothing and says so.
    again = _signoff(
        signoff_exe, "keys", "generate", "--contract", "iris-clf/contract.yaml", "--out", "iris-clf/keys",
        "--trust", "iris-clf/other-trust.yaml", cwd=started.parent,
    )  # fmt: skip
    assert again.returncode == 2 and "nothing was written" in again.stderr
    assert not (started / "other-trust.yaml").exists()


def test_keys_generate_flag_mistakes_say_what_goes_with_what(signoff_exe: str, started: Path) -> None:
    gate_with_contract = _signoff(
        signoff_exe, "keys", "generate", "--contract", "iris-clf/contract.yaml", "--out", "k",
        "--gate", "platform", cwd=started.parent,
    )  # fmt: skip
    assert gate_with_contract.returncode == 2
    assert (
        "--gate goes with --team; with --contract each team gets its role's gates"
        in gate_with_contract.stderr
    )
    trust_with_team = _signoff(
        signoff_exe, "keys", "generate", "--team", "a", "--out", "k", "--trust", "t.yaml", cwd=started.parent
    )
    assert trust_with_team.returncode == 2
    assert "--trust goes with --contract" in trust_with_team.stderr
    assert not (started.parent / "k").exists()


def test_run_keys_dir_takes_the_files_keys_generate_wrote(
    signoff_exe: str, started: Path, tmp_path: Path
) -> None:
    from pipelines import local

    contract = load_contract(started / "contract.yaml")
    keys = started / "keys"
    with pytest.raises(errors.InputError, match=r"missing ml-team\.key \(or ml\.pem\), platform-team\.key"):
        local._role_keys(keys, contract)
    _signoff(
        signoff_exe,
        "keys",
        "generate",
        "--contract",
        "iris-clf/contract.yaml",
        "--out",
        "iris-clf/keys",
        cwd=started.parent,
    )
    found = local._role_keys(keys, contract)
    assert found == {
        r: keys / f"{t}.key"
        for r, t in (("ml", "ml-team"), ("platform", "platform-team"), ("sre", "sre-team"))
    }
    folder = local._keys_folder(found, tmp_path)
    for role, team in (("ml", "ml-team"), ("platform", "platform-team"), ("sre", "sre-team")):
        assert (folder / f"{role}.pem").read_bytes() == (keys / f"{team}.key").read_bytes()
        assert (folder / f"{role}.pem").is_symlink()  # linked, never copied
