"""How long the cluster tier's control plane takes to start, against the goal of 20 s.

Starts the control plane of ``tests/cluster`` (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok with a GPU node and a CPU node; ``tests/cluster/_controlplane.py``) N times,
each in a fresh folder, and prints when each component was ready (seconds from the start, and the
step from the previous one) and the total, until both nodes are Ready and the controller-manager
has made the default service account: the moment a test can create pods. The figure is the median
total; the baseline is the goal, 20 s; ratio = figure / goal (under 1 meets it).

The binaries come from ``tools/cluster/build`` (``$SIGNOFF_CLUSTER_BIN``, else what
``tools/cluster/build --print-bin`` names; ``make cluster-tools`` builds them).

    python -m bench.bench_cluster [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 20.0
# the order components get ready in (ControlPlane._start); each is recorded once ready
STAGES = ("etcd", "kube-apiserver", "kwok", "kube-controller-manager")
_LABELS = {
    "etcd": "etcd healthy",
    "kube-apiserver": "kube-apiserver /readyz",
    "kwok": "kwok: nodes Ready",
    "kube-controller-manager": "controller-manager: default SA",
}


def _control_plane() -> object:
    sys.path.insert(0, str(ROOT / "tests" / "cluster"))
    import _controlplane

    return _controlplane


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    """Start the control plane ``--runs`` times; rows ``{benchmark, figure, baseline, ratio, unit}``."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_cluster", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="control-plane starts (default 3)")
    ns = parser.parse_args(argv if argv is not None else [])
    cp_mod = _control_plane()
    try:
        bin_dir = cp_mod.find_bin_dir()  # type: ignore[attr-defined]
    except cp_mod.ClusterError as exc:  # type: ignore[attr-defined]
        return [{"benchmark": f"control-plane start: not run ({exc})"}]
    runs: list[dict[str, float]] = []
    for i in range(ns.runs):
        with (
            tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp,
            cp_mod.running(bin_dir, Path(tmp)) as cp,  # type: ignore[attr-defined]
        ):
            seconds = dict(cp.start_seconds)
        runs.append(seconds)
        previous = 0.0
        steps = []
        for stage in STAGES:
            at = seconds.get(stage, float("nan"))
            steps.append(f"{_LABELS[stage]} {at:5.2f} s (+{at - previous:4.2f})")
            previous = at
        print(f"run {i + 1}: " + "; ".join(steps) + f"; total {seconds['total']:.2f} s", flush=True)
    rows: list[dict[str, object]] = []
    for stage in STAGES:
        median = statistics.median(r[stage] for r in runs)
        rows.append({"benchmark": f"control plane: {_LABELS[stage]} (from start, median of {len(runs)})",
                     "figure": round(median, 2), "baseline": None, "ratio": None, "unit": "s"})  # fmt: skip
    total = statistics.median(r["total"] for r in runs)
    rows.append({
        "benchmark": f"control plane start, total (median of {len(runs)}) vs goal",
        "figure": round(total, 2),
        "baseline": GOAL_S,
        "ratio": round(total / GOAL_S, 2),
        "unit": "s",
    })  # fmt: skip
    return rows


if __name__ == "__main__":
    for row in main(sys.argv[1:]):
        if "figure" not in row:
            print(row["benchmark"])
        elif row["baseline"] is None:
            print(f"{row['benchmark']}: {row['figure']} {row['unit']}")
        else:
            print(
                f"{row['benchmark']}: {row['figure']} {row['unit']} "
                f"(goal {row['baseline']} {row['unit']}, ratio {row['ratio']}x)"
            )
