"""Run every benchmark and write ``bench/RESULTS.md``, the table the README quotes.

Each ``bench/bench_*.py`` module has ``main() -> list[dict]`` returning rows with the keys
``benchmark``, ``figure``, ``baseline``, ``ratio`` and ``unit``; the figure and its baseline are
measured side by side in the same run, so the ratio holds on any machine even when the absolute
numbers do not.

    python -m bench.run_all            # all of them (the last one runs the unit test tier)
    python -m bench.run_all cli digest # some of them: their rows are replaced, the others kept
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
    unknown = [n for n in names if not (HERE / f"bench_{n}.py").exists()]
    if unknown:
        print(f"run_all: no benchmark {', '.join(unknown)}; known: {', '.join(ORDER)}", file=sys.stderr)
        return 2
    measured: dict[str, tuple[list[dict[str, object]], str]] = {}
    for name in names:
        print(f"== bench_{name}", flush=True)
        load_before = _loadavg()
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            got = module.main()
        except Exception as exc:  # a benchmark that cannot run here says why, the others go on
            traceback.print_exc()
            got = [{"benchmark": f"{name}: not run ({type(exc).__name__}: {exc})"}]
        took = time.perf_counter() - started
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        measured[name] = (got, f"| {name} | {when} UTC | {took:,.0f} | {load_before} | {_loadavg()} |")
        print(f"   ({took:.1f}s)", flush=True)
    path = HERE / "RESULTS.md"
    text = compose(path.read_text(encoding="utf-8") if path.is_file() else "", measured)
    path.write_text(text, encoding="utf-8")
    print(text)
    return 0


def compose(previous: str, measured: dict[str, tuple[list[dict[str, object]], str]]) -> str:
    """RESULTS.md: the groups just ``measured`` (their rows and run line) replace theirs in ``previous``;
    every other group's rows and run line are kept as they were (a group's figures always come from
    one run of it)."""
    kept_rows, kept_runs = _read(previous)
    rows = {g: r for g, r in kept_rows.items() if g not in measured}
    runs = {g: r for g, r in kept_runs.items() if g in rows}
    for name, (got, run) in measured.items():
        rows[name] = [_row({"group": name, **row}) for row in got]
        runs[name] = run
    order = [g for g in ORDER if g in rows] + sorted(g for g in rows if g not in ORDER)
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {platform.machine()}, {_cpu_count()} cores, Python {platform.python_version()}. "
        "Each figure is measured next to its baseline in the same run; the ratio is figure / baseline.",
        "",
        "`python -m bench.run_all` runs every group; `python -m bench.run_all GROUP...` re-runs those "
        "and keeps the others' rows. When each group last ran, and the load average (1, 5, 15 min) "
        f"before and after it: a load above {_cpu_count()} means other work shared these cores, so "
        "absolute figures are slower and noisier than on a quiet machine, the ratios less so.",
        "",
        RUNS_HEAD,
        "|---|---|---|---|---|",
        *(runs[g] for g in order if g in runs),
        "",
        ROWS_HEAD,
        "|---|---|---|---|---|---|",
        *(line for g in order for line in rows[g]),
    ]
    return "\n".join(lines) + "\n"


RUNS_HEAD = "| group | ran at | seconds | load before | load after |"
ROWS_HEAD = "| group | benchmark | figure | baseline | ratio | unit |"


def _row(r: dict[str, object]) -> str:
    cells = (
        _fmt(r.get(k)).replace("|", "\\|")
        for k in ("group", "benchmark", "figure", "baseline", "ratio", "unit")
    )
    return "| " + " | ".join(cells) + " |"


def _read(text: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The rows (verbatim, by group) and run lines of a RESULTS.md's text."""
    rows: dict[str, list[str]] = {}
    runs: dict[str, str] = {}
    table = None
    for line in text.splitlines():
        if line in (RUNS_HEAD, ROWS_HEAD):
            table = line
            continue
        if not line.startswith("| ") or table is None:
            table = None if not line.startswith("|") else table
            continue
        group = line[2:].split(" | ", 1)[0]
        if table == ROWS_HEAD:
            rows.setdefault(group, []).append(line)
        else:
            runs[group] = line
    return rows, runs


def _loadavg() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # not available on this platform
        return "unknown"


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
