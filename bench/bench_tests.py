"""The unit test tier's wall time on this machine, next to the issue's 90 s goal.

Runs ``pytest -q -p no:cacheprovider tests/unit`` once in a subprocess (the tier as CI runs it, in
the same interpreter) and reports its wall time; the baseline is the goal, ratio = seconds / 90.
The figure means something only on a machine doing nothing else: ``bench/RESULTS.md`` prints the
load average beside it.

    python -m bench.bench_tests
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 90.0


def main() -> list[dict[str, object]]:
    """Measure and print; return rows for ``bench/run_all.py``."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"unit tier: {seconds:.1f} s ({summary})")
    return [
        {
            "benchmark": f"unit test tier, wall ({summary}; goal <= 90 s on 2 cores)",
            "figure": seconds,
            "baseline": GOAL_S,
            "ratio": seconds / GOAL_S,
            "unit": "s vs the goal",
        }
    ]


if __name__ == "__main__":
    main()
