"""CLI start-up of the offline commands next to ``python -c pass``.

The commands: ``signoff --help``, ``signoff contract check FILE``, ``signoff render`` (manifests of an
example contract into a temporary folder), ``signoff verify`` (one ML-artifact verdict signed with the
test key of its team) and ``signoff verify-model`` (the serving pod's init container, on a one-file
model folder: its start-up, which every pod's cold start pays). Speed is a feature: the CLI must not
import kfp, mlflow, hera or kubernetes for any of them. Goal: each <= 100 ms wall. Each command runs N
times in fresh processes, interleaved, and the median is reported with its ratio to a bare interpreter
start. Two more rows, with no goal, break ``render`` down: importing pydantic's ``BaseModel`` alone
(what any command that reads a document with the models pays), and reading the example contract and the
cluster policy with the models (pydantic, signoff's models, their validators built, both documents
validated; no rendering): the floor ``render`` cannot go below while it reads its documents with the
models. ``contract check`` and ``verify`` build none for plainly valid documents (their fast paths,
``contracts._fastcheck`` and ``gates._plain``).

The children run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` dropped from their environment)
after one warm-up run of each command, as an installed package runs: pip writes the ``.pyc`` files at
install time. Without them every start recompiles signoff's own modules (about 50 ms here), which no
user pays twice.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from components.digest import digest_folder

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "contracts" / "examples"
EXAMPLE = EXAMPLES / "recsys-ranker.yaml"
TEST_KEY = ROOT / "tests" / "fixtures" / "keys" / "ranking-squad.TEST-ONLY.key"
IMAGE = "registry.example.com/serving/mlserver@sha256:" + "ab" * 32
PYDANTIC = "import of pydantic's BaseModel"
FLOOR = "reading the contract and policy with the models"
BREAKDOWN = (PYDANTIC, FLOOR)
"""The breakdown rows (no goal): pydantic alone, and render's floor (its documents read, nothing rendered)."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(cmd: list[str], cpu: list[float] | None = None) -> float:
    started, cpu_before = time.perf_counter(), _cpu()
    done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_ENV)
    elapsed = time.perf_counter() - started
    if cpu is not None:
        cpu.append(_cpu() - cpu_before)
    # 1 is a verdict that verifies but no longer holds (the bench verdict's fixed date has passed):
    # the command did all its work. 2 or more is a usage or input error: the figure would be a lie.
    if done.returncode > 1:
        raise RuntimeError(f"{cmd[3:5]} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return elapsed


_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _envelope(folder: Path) -> tuple[Path, str]:
    """One signed ML-artifact verdict in ``folder``; returns its path and the model digest."""
    from bench.bench_signing import _verdict
    from gates import signing

    key = serialization.load_pem_private_key(TEST_KEY.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    verdict = _verdict()
    path = folder / "ml-artifact.envelope.json"
    path.write_bytes(signing.sign_verdict(verdict, key))
    return path, verdict.subject.digest


def main(runs: int = 15) -> list[dict[str, object]]:
    """Measure and print; return rows for ``bench/run_all.py``."""
    with tempfile.TemporaryDirectory(prefix="signoff-bench-cli-") as tmp:
        return _measure(runs, Path(tmp))


def _measure(runs: int, tmp: Path) -> list[dict[str, object]]:
    cli = [sys.executable, "-m", "pipelines._cli.main"]
    envelope, digest = _envelope(tmp)
    model = tmp / "model"  # the serving pod's init container on a one-file model folder: its start-up
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        PYDANTIC: [sys.executable, "-c", "from pydantic import BaseModel"],
        FLOOR: [
            sys.executable,
            "-c",
            "from contracts.loader import load_cluster_policy, load_contract; "
            f"load_contract({str(EXAMPLE)!r}); "
            f"load_cluster_policy({str(EXAMPLES / 'cluster-policy.yaml')!r})",
        ],
        "signoff --help": [*cli, "--help"],
        "signoff contract check": [*cli, "contract", "check", str(EXAMPLE)],
        "signoff render": [
            *cli,
            "render",
            "--policy",
            str(EXAMPLES / "cluster-policy.yaml"),
            "--model",
            "models:/recsys-ranker/7",
            "--image",
            IMAGE,
            "--storage-uri",
            "s3://models/recsys-ranker/7",
            "--model-digest",
            digest,
            "--out",
            str(tmp / "out"),
            str(EXAMPLE),
        ],
        "signoff verify": [
            *cli,
            "verify",
            "--trust",
            str(EXAMPLES / "trust-policy.yaml"),
            "--contract",
            str(EXAMPLE),
            "--model-digest",
            digest,
            str(envelope),
        ],
        "signoff verify-model": [*cli, "verify-model", str(model), "--digest", digest_folder(model).digest],
    }
    samples: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    for cmd in commands.values():  # warm-up: writes the bytecode caches, as an install does
        _time(cmd)
    for _ in range(runs):  # interleaved, so machine noise hits all alike
        for name, cmd in commands.items():
            samples[name].append(_time(cmd, cpu[name]))
    base = statistics.median(samples["python -c pass"])
    base_cpu = statistics.median(cpu["python -c pass"])
    rows = []

    for name in [n for n in commands if n != "python -c pass"]:
        med = statistics.median(samples[name])
        rows.append(
            {
                "benchmark": f"{name} (median of {runs}{'' if name in BREAKDOWN else '; goal <= 100 ms'})",
                "figure": med * 1000,
                "baseline": base * 1000,
                "ratio": med / base,
                "unit": "ms vs python -c pass",
            }
        )
        print(f"{name:28s} {med * 1000:7.1f} ms   python -c pass {base * 1000:6.1f} ms   x{med / base:.2f}")
    # CPU time (user + system) of the same runs: what the command itself costs, much less moved than
    # wall time by other work sharing the cores (then wall time also counts waiting for a core).
    for name in [n for n in commands if n != "python -c pass"]:
        med = statistics.median(cpu[name])
        rows.append(
            {
                "benchmark": f"{name}: CPU time, user + system (median of {runs})",
                "figure": med * 1000,
                "baseline": base_cpu * 1000,
                "ratio": med / base_cpu if base_cpu else None,
                "unit": "ms vs python -c pass",
            }
        )
        print(f"{name:28s} {med * 1000:7.1f} ms CPU   python -c pass {base_cpu * 1000:6.1f} ms CPU")
    return rows


if __name__ == "__main__":
    main()
