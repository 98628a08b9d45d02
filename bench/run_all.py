"""Run every benchmark and write ``bench/RESULTS.md``, the table the README quotes.

Each ``bench/bench_*.py`` module has ``main() -> list[dict]`` returning rows with the keys
``benchmark``, ``figure``, ``baseline``, ``ratio`` and ``unit``; the figure and its baseline are
measured side by side in the same run, so the ratio holds on any machine even when the absolute
numbers do not.

    python -m bench.run_all            # all of them (the last one runs the unit test tier)
    python -m bench.run_all cli digest # some of them
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

ORDER = [
    "cli",
    "gates",
    "signing",
    "digest",
    "render",
    "probe",
    "admission",
    "registry",
    "pipeline",
    "demo",
    "cluster",
    "tests",
]
HERE = Path(__file__).resolve().parent


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or [
        n for n in ORDER if (HERE / f"bench_{n}.py").exists()
    ]
    rows: list[dict[str, object]] = []
    load_before = _loadavg()
    for name in names:
        print(f"== bench_{name}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            got = module.main()
        except Exception as exc:  # a benchmark that cannot run here says why, the others go on
            traceback.print_exc()
            got = [{"benchmark": f"{name}: not run ({type(exc).__name__}: {exc})"}]
        for row in got:
            rows.append({"group": name, **row})
        print(f"   ({time.perf_counter() - started:.1f}s)", flush=True)
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {platform.machine()}, {_cpu_count()} cores, Python {platform.python_version()}. "
        "Each figure is measured next to its baseline in the same run; the ratio is figure / baseline.",
        "",
        f"Load average (1, 5, 15 min) before the run: {load_before}; after it: {_loadavg()}. A load "
        f"above {_cpu_count()} means other work shared these cores: absolute figures are then slower "
        "and noisier than on a quiet machine, the ratios less so.",
        "",
        "| group | benchmark | figure | baseline | ratio | unit |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            "| "
            + " | ".join(
                _fmt(r.get(k)) for k in ("group", "benchmark", "figure", "baseline", "ratio", "unit")
            )
            + " |"
        )
    text = "\n".join(lines) + "\n"
    (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


def _loadavg() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # not available on this platform
        return "unknown"


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
