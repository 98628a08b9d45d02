"""``signoff demo`` end to end, as a newcomer runs it (README's first command).

The default run starts its own local MLflow (sqlite under the working folder), trains and
registers a model, runs the four gates with KFP's local runner (the SRE gate probes the version
served by ``mlflow models serve``) and promotes. Every verdict it wrote must then verify with
``signoff verify``, and ``signoff audit`` must show the production alias backed by a promotion
record. The ``--break`` variants run against the session's MLflow server (saving a server start
each) and must end refused at the broken gate with the production alias untouched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SIGNOFF = [sys.executable, "-m", "pipelines._cli.main"]


def _run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ if env is None else env)
    return subprocess.run(
        [*SIGNOFF, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def test_demo_promotes_and_every_verdict_verifies(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)  # the embedded default: the demo starts its own MLflow
    done = _run(["demo"], cwd=tmp_path, env=env)
    out = done.stdout
    assert done.returncode == 0, f"demo failed:\n{out}\n{done.stderr[-3000:]}"
    assert "PROMOTED: models:/signoff-demo-iris/1 is now @production" in out
    for gate in ("ml-artifact", "platform", "sre-readiness", "promotion"):
        assert re.search(rf"^{gate}\s+\S+\s+demo-\S+-team\s+passed", out, re.MULTILINE), f"{gate} row:\n{out}"
    assert re.search(r"P99 [0-9.]+ ms \(SLO 250 ms\)", out), out

    workdir = tmp_path / "signoff-demo"
    assert (workdir / "mlflow" / "mlflow.db").is_file()
    assert (workdir / "contract.md").read_text().startswith("## Workload: iris-classifier")
    envelopes = sorted(workdir.glob("runs/v1/kfp/*/*/envelope"))
    assert {p.parent.name for p in envelopes} == {"ml-artifact", "platform", "sre-readiness", "promotion"}
    digest = re.search(r"--model-digest (sha256:[0-9a-f]{64})", out)
    assert digest, out

    verify = _run(
        ["verify", *map(str, envelopes), "--trust", str(workdir / "trust-policy.yaml"),
         "--contract", str(workdir / "contract.yaml"), "--model-digest", digest[1], "--json"],
        cwd=tmp_path,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr

    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow' / 'mlflow.db'}"
    audit = _run(["audit", "signoff-demo-iris", "--trust", str(workdir / "trust-policy.yaml"), "--json"],
                 cwd=tmp_path, env=env)  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr
    report = json.loads(audit.stdout)
    aliases = {a["alias"]: a for a in report["aliases"]}
    assert aliases["production"]["version"] == "1", report
    assert aliases["production"]["status"] == "backed", report
    assert report["verified"] is True, report
    assert [h["kind"] for h in report["history"]] == ["promotion"], report

    # The hints work pasted into a fresh shell: no venv on PATH, nothing inherited.
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    for label in ("verify a verdict", "the audit"):
        line = _hint(out, label)
        pasted = subprocess.run(["bash", "-c", line], env=fresh, capture_output=True, text=True, timeout=300)
        assert pasted.returncode == 0, f"{label}: {line}\n{pasted.stdout}\n{pasted.stderr}"
    assert "--artifacts-destination" in _hint(out, "MLflow UI")
    assert re.search(r"model [0-9.]+ KB fits [0-9.]+ GB of GPU memory", out), out


def _hint(out: str, label: str) -> str:
    """The command of one 'Where to look next' line."""
    found = re.search(rf"^  {re.escape(label)}:\s+(.+)$", out, re.MULTILINE)
    assert found, f"no '{label}' hint in:\n{out}"
    return found[1]


@pytest.mark.parametrize(
    ("broken", "gate", "reason"),
    [
        ("ml", "ml-artifact", "accuracy"),
        ("platform", "platform", "digest"),
        ("sre", "sre-readiness", "p99"),
    ],
)
def test_demo_break_is_refused_with_the_registry_unchanged(
    broken: str, gate: str, reason: str, tmp_path: Path, mlflow_server: object
) -> None:
    env = dict(os.environ, MLFLOW_TRACKING_URI=mlflow_server.url)  # type: ignore[attr-defined]
    done = _run(["demo", "--break", broken], cwd=tmp_path, env=env)
    out = done.stdout
    assert done.returncode == 0, (
        f"--break {broken} did not end refused where asked:\n{out}\n{done.stderr[-3000:]}"
    )
    assert f"REFUSED at {gate}:" in out, out
    assert "Registry aliases unchanged" in out, out
    refused = out.split(f"REFUSED at {gate}:", 1)[1].split("Registry aliases", 1)[0]
    assert reason in refused.lower(), refused
    assert "PROMOTED" not in out
    # Every path the hints name exists, and the demo's own contract is the good one again.
    hints = out.split("Where to look next:", 1)[1]
    for path in re.findall(r"(/\S+?/signoff-demo/\S+)", hints):
        assert Path(path.rstrip("'")).exists(), f"a hint names a missing path {path}:\n{hints}"
    workdir = tmp_path / "signoff-demo"
    assert "250ms" in (workdir / "contract.yaml").read_text()
    assert (workdir / "runs" / f"v{_version(out)}-break-{broken}" / "contract.yaml").is_file()


def _version(out: str) -> str:
    found = re.search(r"models:/signoff-demo-iris/(\d+)", out)
    assert found, out
    return found[1]
