"""``signoff probe``: bad input is exit 2 with one clear line; an endpoint that is not there is exit 1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines._cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    path = tmp_path / "example.json"
    path.write_text(json.dumps({"inputs": [[0.0, 1.0]]}))
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://127.0.0.1:1"], "--example FILE is needed"),
        (["--serve", "models:/m/1", "http://127.0.0.1:1"], "either a URL to probe or --serve"),
        ([], "either a URL to probe or --serve"),
        (["ftp://host", "--example", "{example}"], "'ftp://host' is not an http(s) URL"),
        (["http://127.0.0.1:1", "--example", "{example}", "--rate", "0"], "--rate 0: give a number"),
        (["http://h", "--example", "{example}", "--duration", "-1"], "--duration -1: give a number"),
        (["--serve", "m", "--protocol", "kserve-v2", "--example", "{example}"], "speaks --protocol mlflow"),
        (["http://127.0.0.1:1", "--example", "{missing}"], "no such file (--example)"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_the_reason(
    args: list[str], message: str, example: Path, tmp_path: Path, capsys: Any
) -> None:
    args = [a.format(example=example, missing=tmp_path / "missing.json") for a in args]
    assert cli.main(["probe", *args, "--contract", str(CONTRACT)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_an_invalid_example_file_names_the_file(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli.main(["probe", "http://127.0.0.1:1", "--contract", str(CONTRACT), "--example", str(bad)]) == 2
    assert f"{bad}: not a JSON input example" in capsys.readouterr().err


def test_an_endpoint_that_is_not_there_fails_at_the_cold_start_deadline(
    example: Path, tmp_path: Path, capsys: Any
) -> None:
    data = yaml.safe_load(CONTRACT.read_text())
    data["spec"]["slos"]["max_cold_start"] = "1s"
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(data))
    started = time.monotonic()
    code = cli.main(["probe", f"http://127.0.0.1:{_closed_port()}", "--contract", str(contract),
                     "--example", str(example), "--json", str(tmp_path / "out.json")])  # fmt: skip
    assert code == 1
    assert time.monotonic() - started < 4
    assert "| cold start | not ready after 1 s | ≤ 1s | FAIL |" in capsys.readouterr().out
    assert json.loads((tmp_path / "out.json").read_text())["ready"] is False


def test_probe_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\nfrom pipelines._cli import main\n"
        "try:\n    main.main(['probe', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('mlflow', 'kfp', 'hera', 'kubernetes', 'requests') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"
