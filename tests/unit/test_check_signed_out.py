"""``signoff check GATE --key KEY --out DIR``: the shared signing helper's folder rules and messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.errors import InputError
from contracts.trust import Gate
from pipelines._cli import _signed
from pipelines._cli.main import main


def test_a_folder_gets_gate_named_envelopes_and_a_json_path_is_the_file(tmp_path: Path) -> None:
    assert _signed.envelope_path(tmp_path, Gate.PLATFORM) == tmp_path / "platform.envelope.json"
    assert _signed.envelope_path(tmp_path / "ml.json", Gate.ML_ARTIFACT) == tmp_path / "ml.json"


def test_verdicts_folder_without_envelopes_says_which_command_writes_them(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        _signed.verdicts_in([tmp_path])
    assert str(exc.value) == (
        f"--verdicts: {tmp_path} holds no signed verdicts (*.envelope.json); "
        "'signoff check GATE --key KEY --out DIR' writes them"
    )
    (tmp_path / "b.envelope.json").write_bytes(b"B")
    (tmp_path / "a.envelope.json").write_bytes(b"A")
    assert _signed.verdicts_in([tmp_path]) == [b"A", b"B"]


def test_readiness_without_flags_or_folder_names_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).resolve().parents[2] / "contracts" / "examples"
    args = ["check", "readiness", "--contract", str(root / "recsys-ranker.yaml"),
            "--policy", str(root / "cluster-policy.yaml"), "--first-release"]  # fmt: skip
    monkeypatch.setattr("sys.argv", ["signoff", *args])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        "pass --model, --version, --model-digest, --manifests: no ML verdict and manifests without "
        "--out DIR to take them from (run 'signoff check ml' and 'signoff check platform' with "
        "--key KEY --out DIR first)"
    ) in err
    assert "Traceback" not in err


def test_keys_generate_with_gates_prints_an_entry_the_trust_loader_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from contracts.loader import load_trust_policy

    args = ["keys", "generate", "--team", "ml-team", "--gate", "ml-artifact", "--gate", "promotion"]
    assert main([*args, "--out", str(tmp_path / "k")]) == 0
    entry = yaml.safe_load(capsys.readouterr().out.split("trust policy entry:\n", 1)[1])
    doc = {"apiVersion": "signoff.dev/v1alpha1", "kind": "TrustPolicy", "metadata": {"name": "t"},
           "spec": {"teams": entry}}  # fmt: skip
    (tmp_path / "trust.yaml").write_text(yaml.safe_dump(doc))
    team = load_trust_policy(tmp_path / "trust.yaml").spec.teams[0]
    assert [g.value for g in team.gates] == ["ml-artifact", "promotion"]
    assert main(["keys", "generate", "--team", "x", "--gate", "ml", "--out", str(tmp_path / "j")]) == 2
    assert (
        "--gate ml: not a gate; the gates are ml-artifact, platform, sre-readiness, promotion, approval, "
        "rollback"
    ) in capsys.readouterr().err
