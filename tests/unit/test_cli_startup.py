"""`signoff --help` and `signoff contract check` never import kfp, mlflow, hera or kubernetes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"
HEAVY = ("kfp", "mlflow", "hera", "kubernetes")

_PROBE = """
import sys
from pipelines._cli.main import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:  # argparse's --help exits
    rc = int(exc.code or 0)
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"kfp", "mlflow", "hera", "kubernetes"})
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(rc)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["contract", "--help"],
        ["contract", "check", str(EXAMPLE), str(EXAMPLE.with_suffix(".md"))],
        ["drift", str(EXAMPLE), "--namespace", "ml-prod", "--model-version", "1", "--accuracy-drift", "0.01"],
        ["listen", "--help"],
        ["listen", "mlflow", "--help"],
        ["listen", "alertmanager", "--help"],
    ],
    ids=[
        "help",
        "contract-help",
        "contract-check",
        "drift",
        "listen-help",
        "listen-mlflow-help",
        "listen-am-help",
    ],
)
def test_no_heavy_module_in_sys_modules(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    "argv", [["--help"], ["contract", "check", str(EXAMPLE)]], ids=["help", "contract-check"]
)
def test_installed_command_imports_nothing_heavy(argv: list[str], signoff_exe: str) -> None:
    """The real console script, with Python's import-time log: no heavy package is ever imported."""
    exe = signoff_exe
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=120, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert imported, "no import-time log: PYTHONPROFILEIMPORTTIME not honoured"
    # the check did its work (read the YAML); a plain contract is checked without pydantic
    assert "yaml" in imported or argv == ["--help"]
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert heavy == []
