"""The signing commands as a user runs them: keys generate, verify, approve, check promotion.

Signs with the published TEST-ONLY keys of ``tests/fixtures/keys`` that the example trust policy
lists, so these tests also hold the example trust policy to its keys.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from components import keys
from contracts.loader import load_contract, load_trust_policy
from contracts.trust import Gate
from gates import signing
from gates.verdict import Check, Outcome, Subject, Verdict
from pipelines._cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
CONTRACT = EXAMPLES / "recsys-ranker.yaml"
TRUST = EXAMPLES / "trust-policy.yaml"
FIXTURE_KEYS = ROOT / "tests" / "fixtures" / "keys"
DIGEST = "sha256:" + "ab" * 32
TEAMS = {
    Gate.ML_ARTIFACT: "ranking-squad",
    Gate.PLATFORM: "platform-gpu-team",
    Gate.SRE_READINESS: "sre-ai-oncall",
}


def _key(team: str):  # type: ignore[no-untyped-def]
    path = FIXTURE_KEYS / f"{team}.TEST-ONLY.key"
    path.chmod(0o600)  # git does not keep the mode
    return keys.load_private_key(path)


def _run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["signoff", *args])  # 'signoff check' picks its gate from argv
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _sign_all(
    tmp_path: Path, *, version: str = "7", passed: bool = True, contract_path: Path = CONTRACT
) -> list[Path]:
    contract = load_contract(contract_path)
    subject = Subject(model="recsys-ranker", version=version, digest=DIGEST)
    now = datetime.now(UTC) - timedelta(minutes=1)
    paths = []
    for gate, team in TEAMS.items():
        ok = passed or gate is not Gate.SRE_READINESS
        check = Check(
            id="x.check", outcome=Outcome.PASS if ok else Outcome.FAIL, message="p99 40ms", figures={"ms": 40}
        )
        checks = [check]
        if gate is Gate.ML_ARTIFACT:  # the example prediction ran in the ML step
            checks.append(Check(id="prediction.example", outcome=Outcome.PASS, message="predicted"))
        v = Verdict.decide(
            gate=gate,
            team=team,
            checks=checks,
            subject=subject,
            contract_digest=contract.digest(),
            now=now,
            ttl=timedelta(days=1),
        )
        path = tmp_path / f"{gate.value}.dsse.json"
        path.write_bytes(signing.sign_verdict(v, _key(team)))
        paths.append(path)
    return paths


def test_example_trust_policy_lists_the_fixture_keys() -> None:
    trust = load_trust_policy(TRUST)
    for team in (t.name for t in trust.spec.teams):
        entry = keys.trusted_key_entry(keys.load_public_pem(FIXTURE_KEYS / f"{team}.TEST-ONLY.pub"))
        listed = trust.spec.team(team)
        assert listed is not None and entry in listed.keys


def test_keys_generate_prints_paths_and_keyid_never_the_private_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = _run(
        capsys, monkeypatch, "keys", "generate", "--team", "ranking-squad", "--out", str(tmp_path)
    )
    assert code == 0, err
    private = (tmp_path / "ranking-squad.key").read_text()
    secret = "".join(private.splitlines()[1:-1])
    assert secret not in out and "PRIVATE KEY" not in out
    kid = signing.keyid(keys.load_private_key(tmp_path / "ranking-squad.key").public_key())
    assert f"keyid:       {kid}" in out
    snippet = yaml.safe_load(out.split("trust policy entry (add the team's gates):\n", 1)[1])
    assert snippet[0]["keys"][0]["keyid"] == kid
    again, _, err = _run(
        capsys, monkeypatch, "keys", "generate", "--team", "ranking-squad", "--out", str(tmp_path)
    )
    assert again == 2 and "refusing to overwrite" in err and "Traceback" not in err


def test_verify_prints_who_signed_what_and_that_it_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    envs = [str(p) for p in _sign_all(tmp_path)]
    args = ["verify", *envs, "--trust", str(TRUST), "--contract", str(CONTRACT), "--model-digest", DIGEST]
    code, out, _ = _run(capsys, monkeypatch, *args)
    assert code == 0
    assert "platform verdict signed by platform-gpu-team" in out and out.count(": HOLDS") == 3
    code, out, _ = _run(capsys, monkeypatch, *args, "--json")
    rows = json.loads(out)
    assert [r["gate"] for r in rows] == ["ml-artifact", "platform", "sre-readiness"]
    assert all(r["holds"] and r["passed"] and r["verified"] for r in rows)


_VERIFY_PROBE = """
import sys
from pipelines._cli.main import main
rc = main(sys.argv[1:])
built = [m for m in ("contracts.workload", "contracts.cluster") if m in sys.modules]
print("BUILT=" + ",".join(built), file=sys.stderr)
sys.exit(rc)
"""


def test_verify_reads_a_plain_yaml_contract_without_its_models_and_agrees_with_the_markdown_one(
    tmp_path: Path,
) -> None:
    """The plain YAML contract takes the fast path (no contract models built); its Markdown spelling,
    read by the models, gives the same answer for the same envelopes, and a changed contract's
    digest is refused on the fast path as on the models'."""
    import subprocess

    envs = [str(p) for p in _sign_all(tmp_path)]

    def verify(contract: Path) -> tuple[int, list[dict[str, object]], str]:
        args = ["verify", *envs, "--trust", str(TRUST), "--contract", str(contract), "--model-digest", DIGEST]
        proc = subprocess.run(
            [sys.executable, "-c", _VERIFY_PROBE, *args, "--json"],
            capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
        )  # fmt: skip
        built = next(line for line in proc.stderr.splitlines() if line.startswith("BUILT="))
        return proc.returncode, json.loads(proc.stdout), built

    code, rows, built = verify(CONTRACT)
    assert code == 0 and all(r["holds"] for r in rows)
    assert built == "BUILT="  # neither the contract's nor the cluster policy's models
    md_code, md_rows, md_built = verify(EXAMPLES / "recsys-ranker.md")
    assert (md_code, md_rows) == (code, rows)
    assert "contracts.workload" in md_built
    changed = tmp_path / "changed.yaml"
    changed.write_text(CONTRACT.read_text(encoding="utf-8").replace("ranking-squad", "other-squad"))
    code, rows, built = verify(changed)
    assert code == 1 and built == "BUILT="
    assert all(any("the contract changed after it was signed" in x for x in r["reasons"]) for r in rows)
    assert any("but the contract names other-squad as owner of ml-artifact" in x for x in rows[0]["reasons"])


def test_verify_shows_why_an_envelope_does_not_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    envs = _sign_all(tmp_path, passed=False)
    tampered = tmp_path / "tampered.json"
    doc = json.loads(envs[1].read_bytes())
    doc["payloadType"] = "application/json"
    tampered.write_text(json.dumps(doc))
    other = "sha256:" + "cd" * 32
    code, out, _ = _run(
        capsys,
        monkeypatch,
        "verify",
        *map(str, envs),
        str(tampered),
        "--trust",
        str(TRUST),
        "--contract",
        str(CONTRACT),
        "--model-digest",
        other,
    )
    assert code == 1
    assert f"its model digest {DIGEST} is not this version's {other}" in out
    assert "the verdict failed (x.check)" in out
    assert "tampered.json: DOES NOT VERIFY" in out and "payloadType is 'application/json'" in out
    assert "0 of 4 envelope(s) hold" in out


def test_check_promotion_passes_and_refuses_with_every_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    envs = [str(p) for p in _sign_all(tmp_path)]
    base = [
        "check",
        "promotion",
        "--contract",
        str(CONTRACT),
        "--trust",
        str(TRUST),
        "--model",
        "recsys-ranker",
    ]
    code, out, err = _run(
        capsys,
        monkeypatch,
        *base,
        "--version",
        "7",
        "--model-digest",
        DIGEST,
        *envs,
        "--verdict",
        str(tmp_path / "promotion.json"),
    )
    assert code == 0, out + err
    assert "PASSED: every required verdict holds" in out
    assert json.loads((tmp_path / "promotion.json").read_text())["gate"] == "promotion"
    code, out, _ = _run(capsys, monkeypatch, *base, "--version", "8", "--model-digest", DIGEST, *envs)
    assert code == 1
    assert out.count("not recsys-ranker version 8") == 3
    assert "REFUSED: 3 check(s) failed: gate.ml-artifact, gate.platform, gate.sre-readiness" in out


def test_approve_then_promote_under_a_manual_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manual = tmp_path / "manual.yaml"
    data = yaml.safe_load(CONTRACT.read_text())
    data["spec"]["promotion"]["approval"] = "manual"
    manual.write_text(yaml.safe_dump(data))
    envs = [str(p) for p in _sign_all(tmp_path, contract_path=manual)]
    key = FIXTURE_KEYS / "ranking-squad.TEST-ONLY.key"
    key.chmod(0o600)
    base = ["--contract", str(manual), "--model", "recsys-ranker", "--version", "7", "--model-digest", DIGEST]
    check = ["check", "promotion", *base, "--trust", str(TRUST), *envs]
    code, out, _ = _run(capsys, monkeypatch, *check)
    assert code == 1 and "gate.approval" in out
    approval = tmp_path / "approval.json"
    code, out, err = _run(
        capsys,
        monkeypatch,
        "approve",
        *base,
        "--key",
        str(key),
        "--team",
        "ranking-squad",
        "--note",
        "CHG-1234",
        "--out",
        str(approval),
    )
    assert code == 0, err
    assert signing.verify_envelope(approval.read_bytes(), load_trust_policy(TRUST)).verdict.note == "CHG-1234"
    code, out, _ = _run(capsys, monkeypatch, *check, "--approval", str(approval))
    assert code == 0, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "verify",
                "missing.json",
                "--trust",
                str(TRUST),
                "--contract",
                str(CONTRACT),
                "--model-digest",
                DIGEST,
            ],
            "ENVELOPE: cannot read missing.json",
        ),
        (
            [
                "verify",
                "x.json",
                "--trust",
                str(TRUST),
                "--contract",
                str(CONTRACT),
                "--model-digest",
                "sha256:12",
            ],
            "--model-digest: 'sha256:12' is not sha256: and 64 lower-case hex digits",
        ),
        (
            [
                "check",
                "promotion",
                "--contract",
                str(CONTRACT),
                "--trust",
                "nope.yaml",
                "--model",
                "recsys-ranker",
                "--version",
                "7",
                "--model-digest",
                DIGEST,
                "x.json",
            ],
            "--trust: nope.yaml is not a file",
        ),
        (
            [
                "approve",
                "--contract",
                str(CONTRACT),
                "--model",
                "other-model",
                "--version",
                "7",
                "--model-digest",
                DIGEST,
                "--key",
                "k",
                "--team",
                "ranking-squad",
                "--out",
                "o",
            ],
            "--model: 'other-model' is not the contract's model 'recsys-ranker'",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = _run(capsys, monkeypatch, *args)
    assert code == 2
    assert message in err and "Traceback" not in err
