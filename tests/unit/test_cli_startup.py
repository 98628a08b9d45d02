"""`signoff --help` and `signoff contract check` never import kfp, mlflow, hera or kubernetes, and
importing the document models builds none of them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from components.digest import digest_folder

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"
HEAVY = ("kfp", "mlflow", "hera", "kubernetes")

_PROBE = """
import sys
from pipelines._cli.main import main
watched = set(sys.argv[1].split(","))
try:
    rc = main(sys.argv[2:])
except SystemExit as exc:  # argparse's --help exits
    rc = int(exc.code or 0)
heavy = sorted(m for m in sys.modules if m in watched or m.split(".")[0] in watched)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(rc)
"""


def _run(argv: list[str], watched: Iterable[str] = HEAVY) -> subprocess.CompletedProcess[str]:
    """The command in a fresh interpreter; its stderr ends with ``HEAVY=`` and the ``watched``
    modules (names, or packages by their top-level name) it imported."""
    return subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(watched), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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
        ["keys", "--help"],
        ["check", "platform", "--help"],
    ],
    ids=[
        "help",
        "contract-help",
        "contract-check",
        "drift",
        "listen-help",
        "listen-mlflow-help",
        "listen-am-help",
        "keys-help",
        "check-platform-help",
    ],
)
def test_no_heavy_module_in_sys_modules(argv: list[str]) -> None:
    proc = _run(argv)
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


_MODELS_PROBE = """
import importlib, pkgutil, sys
import contracts, gates
from pydantic import BaseModel
for pkg in (contracts, gates):
    for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
for cmd in ("main", "render", "verify", "contract_check"):
    importlib.import_module("pipelines._cli." + cmd)
models = [
    (mod.__name__, name, obj)
    for mod in list(sys.modules.values())
    if getattr(mod, "__name__", "").split(".")[0] in ("contracts", "gates", "pipelines")
    for name, obj in vars(mod).items()
    if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == mod.__name__
]
print("MODELS=" + str(len(models)))
print("BUILT=" + ",".join(sorted(f"{m}.{n}" for m, n, o in models if o.__pydantic_complete__)))
"""


def test_importing_the_models_builds_no_validator() -> None:
    """Every command that reads a document pays for importing the models: a default made in a class
    body (``field: Model = Model()``, a module-level constant instance) builds that model's validator
    on import, and pydantic's scan of every installed distribution for plugins with it. A model
    builds only when a document of its kind is read."""
    proc = subprocess.run(
        [sys.executable, "-c", _MODELS_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    assert int(lines["MODELS"]) > 30  # the probe saw the models
    assert lines["BUILT"] == ""


def test_verify_model_digests_the_model_with_the_standard_library_only(tmp_path: Path) -> None:
    """`signoff verify-model` runs in every serving pod before the server starts (its cold start):
    it verifies the downloaded files without pydantic or any model of signoff's documents."""
    (tmp_path / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    argv = ["verify-model", str(tmp_path), "--digest", digest_folder(tmp_path).digest]
    proc = _run(argv, watched=("pydantic", "yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "is the signed digest (1 files" in proc.stderr
    assert "HEAVY=\n" in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("argv", "absent"),
    [
        (["keys", "--help"], {"cryptography"}),
        (["check", "platform", "--help"], {"components.mlflow_registry", "http"}),
    ],
    ids=["keys-help", "check-platform-help"],
)
def test_help_of_a_command_imports_none_of_what_only_its_work_needs(
    argv: list[str], absent: set[str]
) -> None:
    """Key generation needs cryptography, keeping a verdict in MLflow its adapter: not their --help."""
    proc = _run(argv, watched=absent)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stderr, proc.stderr
