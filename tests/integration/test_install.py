"""Installing signoff as a user does: no setuptools deprecation or "package would be ignored"
warnings, and the wheel holds every data file the package reads (examples, schemas, compiled)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_builds_without_warnings_and_holds_the_data_files(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    for bad in ("Deprecat", "deprecated", "would be ignored", "absent from"):
        assert bad not in output, f"pip wheel printed {bad!r}:\n{output[-3000:]}"
    (wheel,) = tmp_path.glob("signoff-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("contracts/examples/recsys-ranker.md", "contracts/schema/workload-contract.schema.json",
                 "pipelines/compiled/gated-promotion.kfp.yaml", "components/procenv.py"):  # fmt: skip
        assert data in names, f"{data} is not in the wheel"
    assert not [n for n in names if n.split("/")[0] in ("tests", "bench", "infra")], "test code in the wheel"
