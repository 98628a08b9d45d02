"""CLI start-up: ``signoff --help`` and ``signoff contract check`` next to ``python -c pass``.

Speed is a feature: the CLI must not import kfp, mlflow, hera or kubernetes to print its help or
check a contract. Each command runs N times in fresh processes, interleaved, and the median is
reported with its ratio to a bare interpreter start.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"


def _time(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(runs: int = 15) -> list[dict[str, object]]:
    cli = [sys.executable, "-m", "pipelines._cli.main"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "signoff --help": [*cli, "--help"],
        "signoff contract check": [*cli, "contract", "check", str(EXAMPLE)],
    }
    samples: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(runs):  # interleaved, so machine noise hits all alike
        for name, cmd in commands.items():
            samples[name].append(_time(cmd))
    base = statistics.median(samples["python -c pass"])
    rows = []
    for name in ("signoff --help", "signoff contract check"):
        med = statistics.median(samples[name])
        rows.append(
            {
                "benchmark": f"{name} (median of {runs})",
                "figure": med * 1000,
                "baseline": base * 1000,
                "ratio": med / base,
                "unit": "ms vs python -c pass",
            }
        )
        print(f"{name:28s} {med * 1000:7.1f} ms   python -c pass {base * 1000:6.1f} ms   x{med / base:.2f}")
    return rows


if __name__ == "__main__":
    main()
