"""``signoff contract check | convert | schema | init`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import loader, markdown, schema
from pipelines._cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"


def test_check_every_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".md"))
    assert len(files) >= 7
    assert main(["contract", "check", *files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(files)
    kinds = {line.split(" (")[1].split()[0] for line in out}
    assert {"WorkloadContract", "ClusterPolicy"} <= kinds
    for line, file in zip(out, files, strict=True):
        assert line.startswith(f"ok {file} (")
        assert "sha256:" in line


def test_check_prints_the_same_digest_for_both_spellings(capsys: pytest.CaptureFixture[str]) -> None:
    main(["contract", "check", str(EXAMPLES / "recsys-ranker.yaml"), str(EXAMPLES / "recsys-ranker.md")])
    a, b = capsys.readouterr().out.splitlines()
    assert a.split("(")[1] == b.split("(")[1]


@pytest.mark.parametrize(("source", "to"), [("recsys-ranker.yaml", "md"), ("fraud-scorer.md", "yaml")])
def test_convert_writes_the_other_spelling(source: str, to: str, tmp_path: Path) -> None:
    out = tmp_path / f"out.{to}"
    assert main(["contract", "convert", str(EXAMPLES / source), "--to", to, "-o", str(out)]) == 0
    assert loader.load_contract(out) == loader.load_contract(EXAMPLES / source)


def test_convert_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "convert", str(EXAMPLES / "support-llm-70b.yaml"), "--to", "md"]) == 0
    out = capsys.readouterr().out
    assert out == markdown.render_markdown(loader.load_contract(EXAMPLES / "support-llm-70b.yaml"))


def test_schema_write_check_and_print(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "schema", "--check", "--out", str(tmp_path)]) == 1
    assert "stale:" in capsys.readouterr().err
    assert main(["contract", "schema", "--write", "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [
        "cluster-policy.schema.json",
        "trust-policy.schema.json",
        "workload-contract.schema.json",
    ]
    for name in written:
        assert (tmp_path / name).read_text() == (schema.SCHEMA_DIR / name).read_text()
    capsys.readouterr()
    assert main(["contract", "schema", "--check", "--out", str(tmp_path)]) == 0
    assert main(["contract", "schema", "--check"]) == 0, "the committed schemas are stale"
    capsys.readouterr()
    assert main(["contract", "schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"workload-contract", "cluster-policy", "trust-policy"}


@pytest.mark.parametrize("md", [False, True])
def test_init_writes_a_commented_contract_that_checks_clean(
    md: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["contract", "init", "fraud-scorer", *(["--md"] if md else [])]) == 0
    path = tmp_path / ("fraud-scorer.md" if md else "fraud-scorer.yaml")
    text = path.read_text()
    assert ("<!--" in text) if md else text.count("\n  # ") >= 6
    contract = loader.load_contract(path)
    assert contract.metadata.name == "fraud-scorer"
    capsys.readouterr()
    assert main(["contract", "check", str(path)]) == 0
    # Refuses to overwrite unless asked.
    assert main(["contract", "init", "fraud-scorer", *(["--md"] if md else [])]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["contract", "init", "fraud-scorer", "--force", *(["--md"] if md else [])]) == 0


def test_init_refuses_a_bad_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "init", "Fraud_Scorer", "-o", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err
    assert "'Fraud_Scorer' is not a workload name" in err and "DNS-1123" in err
    assert not (tmp_path / "x.yaml").exists()


def test_init_yaml_and_md_describe_the_same_contract(capsys: pytest.CaptureFixture[str]) -> None:
    main(["contract", "init", "demo-model", "-o", "-"])
    yaml_text = capsys.readouterr().out
    main(["contract", "init", "demo-model", "--md", "-o", "-"])
    md_text = capsys.readouterr().out
    a = loader.parse_contract_text(yaml_text, "a.yaml", "yaml")
    b = loader.parse_contract_text(md_text, "b.md", "md")
    assert a == b
