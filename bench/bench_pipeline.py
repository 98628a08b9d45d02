"""Benchmark of the local gated-promotion pipeline: KFP's local runner overhead next to the step work.

Starts one real ``mlflow server`` (``components.local_tracking``), registers three versions of a tiny
iris model, then, side by side in the same run:

* **baseline**: the four gate steps called directly in this process (``components.steps``:
  ML artifact, platform, SRE readiness with ``mlflow models serve`` and a live probe, promotion),
* **figure**: the whole pipeline through ``kfp.local`` (``pipelines.local.run_local``): each task a
  subprocess that loads the component, imports signoff and MLflow, then runs the same step.
* **process baseline** of the ML-artifact task: the same step as its own cold process
  (``python -m components.steps ml-artifact``, as an Argo container runs it), so the row tells
  KFP's share of the task from the cold imports of MLflow and the model's flavor any process pays.

Rows: the pipeline's wall time against the direct steps (the difference is the runner's overhead:
process start, imports, executor I/O, plus the rollback check and the run summary the direct path
does not run), and each gate task's time under KFP against the same step called directly. Run with
``python -m bench.bench_pipeline``; ``main()`` returns the rows for ``bench/run_all.py``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "contracts" / "examples" / "cluster-policy.yaml"
PROBE_SECONDS = 2.0
TEAMS = {"ml": "bench-ml", "platform": "bench-platform", "sre": "bench-sre"}
_GATES = {"ml": ["ml-artifact", "promotion", "rollback"], "platform": ["platform"], "sre": ["sre-readiness"]}
CONTRACT: dict[str, Any] = {
    "apiVersion": "signoff.dev/v1alpha1",
    "kind": "WorkloadContract",
    "metadata": {"name": "bench-iris", "model": "bench-iris"},
    "spec": {
        "owners": {
            "ml": {"team": TEAMS["ml"], "runbook": "https://runbooks.example.com/ml"},
            "platform": {"team": TEAMS["platform"], "runbook": "https://runbooks.example.com/platform"},
            "sre": {"team": TEAMS["sre"], "pager": "pd-sre", "runbook": "https://runbooks.example.com/sre"},
        },
        "slos": {
            "p99_latency": "2.5s",
            "availability": "99%",
            "max_cold_start": "120s",
            "throughput_per_replica": 5,
        },
        "resources": {
            "gpu": None,
            "replicas": {"min": 2, "max": 4},
            "model_size": "16KB",
            "cpu": 1,
            "memory": "1GiB",
        },
        "alerts": [
            {"signal": "latency", "percentile": 99, "threshold": "2.5s", "window": "5m", "pages": "sre"},
            {"signal": "error_rate", "threshold": "1%", "window": "5m", "pages": "sre"},
            {"signal": "accuracy_drift", "threshold": "3%", "pages": "ml"},
        ],
        "rollback": {
            "automated": [{"signal": "accuracy_drift"}],
            "manual": [{"problem": "quality", "decides": "ml"}],
        },
        "quality": [{"metric": "accuracy", "min": 0.9}],
    },
}
_TASK_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d+) - \w+ - (?:Executing task|Task) \W*\[\d+m'([a-z-]+)'")


def _keys(root: Path) -> tuple[Path, Path]:
    from components import keys

    folder = root / "keys"
    folder.mkdir()
    teams = []
    for role, team in TEAMS.items():
        private, public = keys.generate(team, root / "generated")
        (folder / f"{role}.pem").write_bytes(private.read_bytes())
        (folder / f"{role}.pem").chmod(0o600)
        entry = keys.trusted_key_entry(public.read_text(encoding="utf-8")).model_dump(mode="json")
        teams.append({"name": team, "gates": _GATES[role], "keys": [entry]})
    trust = root / "trust.yaml"
    doc = {
        "apiVersion": "signoff.dev/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": "bench"},
        "spec": {"teams": teams},
    }
    trust.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return folder, trust


def _register(url: str, name: str) -> str:
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    mlflow.set_experiment("bench-pipeline")
    x, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(x, y)
    with mlflow.start_run():
        mlflow.log_metrics({"accuracy": float(model.score(x, y))})
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, model.predict(x)),
            input_example=x.head(3),
            registered_model_name=name,
            pip_requirements=["scikit-learn", "mlflow"],
        )
    return str(info.registered_model_version)


def _direct(url: str, version: str, keys: Path, trust: Path, out: Path) -> dict[str, float]:
    """The four gate steps in this process; seconds per step."""
    from components import steps
    from contracts.trust import Gate
    from pipelines import local

    contract = yaml.safe_dump(CONTRACT)
    policy, trust_text = POLICY.read_text(encoding="utf-8"), trust.read_text(encoding="utf-8")
    name = CONTRACT["metadata"]["model"]
    times: dict[str, float] = {}
    t = time.perf_counter()
    steps.ml_artifact_step(
        contract_yaml=contract,
        policy_yaml=policy,
        model_name=name,
        model_version=version,
        tracking_uri=url,
        key_file=keys / "ml.pem",
        out_dir=out / "ml",
        artifact_store=local.LOCAL_ARTIFACT_STORE,
    )
    times["ml-artifact"], t = time.perf_counter() - t, time.perf_counter()
    ref = (out / "ml" / "model-ref.json").read_text(encoding="utf-8")
    steps.platform_step(
        contract_yaml=contract,
        policy_yaml=policy,
        trust_yaml=trust_text,
        model_ref_json=ref,
        ml_envelope=(out / "ml" / "envelope.json").read_bytes(),
        image=local.DEFAULT_SERVING_IMAGE,
        tracking_uri=url,
        key_file=keys / "platform.pem",
        out_dir=out / "platform",
    )
    times["platform"], t = time.perf_counter() - t, time.perf_counter()
    steps.sre_readiness_step(
        contract_yaml=contract,
        policy_yaml=policy,
        trust_yaml=trust_text,
        model_ref_json=ref,
        platform_envelope=(out / "platform" / "envelope.json").read_bytes(),
        image=local.DEFAULT_SERVING_IMAGE,
        staging_url="local",
        tracking_uri=url,
        key_file=keys / "sre.pem",
        out_dir=out / "sre",
        probe_duration_s=PROBE_SECONDS,
        first_release=True,  # the direct run promotes first; the kfp.local run then has a target
    )
    times["sre-readiness"], t = time.perf_counter() - t, time.perf_counter()
    envelopes = {
        g: (out / d / "envelope.json").read_bytes()
        for g, d in ((Gate.ML_ARTIFACT, "ml"), (Gate.PLATFORM, "platform"), (Gate.SRE_READINESS, "sre"))
    }
    steps.promotion_step(
        contract_yaml=contract,
        trust_yaml=trust_text,
        model_name=name,
        model_version=version,
        envelopes=envelopes,
        manifests_yaml=(out / "platform" / "manifests.yaml").read_text(),
        tracking_uri=url,
        key_file=keys / "ml.pem",
        out_dir=out / "promotion",
    )
    times["promotion"] = time.perf_counter() - t
    return times


def _ml_process(url: str, version: str, keys: Path, out: Path) -> float:
    """Seconds of the ML-artifact step as its own process (``python -m components.steps``), as an Argo
    container runs it: a cold interpreter that imports MLflow and the model's flavor, like a KFP task,
    without KFP's executor."""
    import subprocess
    import sys

    from pipelines import local

    name = CONTRACT["metadata"]["model"]
    command = [
        sys.executable, "-m", "components.steps", "ml-artifact",
        "--model-name", name, "--model-version", version,
        "--contract", yaml.safe_dump(CONTRACT), "--cluster-policy", POLICY.read_text(encoding="utf-8"),
        "--mlflow-tracking-uri", url, "--artifact-store", local.LOCAL_ARTIFACT_STORE,
        "--out-dir", str(out),
    ]  # fmt: skip
    env = dict(os.environ, SIGNOFF_KEYS_DIR=str(keys))
    t = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"the ML-artifact step process failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def _task_times(log: str) -> dict[str, float]:
    """Seconds per task from the local runner's log (``Executing task`` to ``Task ... finished``)."""
    starts: dict[str, datetime] = {}
    times: dict[str, float] = {}
    for line in log.splitlines():
        m = _TASK_LINE.match(line)
        if not m:
            continue
        stamp, task = datetime.strptime(m[1], "%H:%M:%S.%f"), m[2]
        if "Executing task" in line:
            starts[task] = stamp
        elif "finished with status" in line and task in starts:
            times[task] = (stamp - starts[task]).total_seconds()
    return times


def main() -> list[dict[str, Any]]:
    """Run the benchmark; print and return the rows."""
    from components import local_tracking
    from pipelines import local

    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="signoff-bench-pipeline-") as tmp:
        root = Path(tmp)
        server = local_tracking.start(root / "mlflow")
        try:
            keys, trust = _keys(root)
            name = CONTRACT["metadata"]["model"]
            direct_version, kfp_version = _register(server.url, name), _register(server.url, name)
            process_version = _register(server.url, name)
            ml_process = _ml_process(server.url, process_version, keys, root / "process")
            t = time.perf_counter()
            direct = _direct(server.url, direct_version, keys, trust, root / "direct")
            direct_wall = time.perf_counter() - t
            contract = root / "contract.yaml"
            contract.write_text(yaml.safe_dump(CONTRACT), encoding="utf-8")
            result = local.run_local(
                contract,
                f"models:/{name}/{kfp_version}",
                POLICY,
                trust,
                keys,
                tracking_uri=server.url,
                out_dir=root / "kfp",
                probe_seconds=PROBE_SECONDS,
            )
            if not result.passed:
                raise RuntimeError(f"the benchmark pipeline did not promote:\n{result.table()}")
            tasks = _task_times(result.log_path.read_text(encoding="utf-8"))
        finally:
            server.stop()
    rows.append(
        {
            "benchmark": "pipeline local run: kfp.local wall vs the 4 gate steps called directly",
            "figure": round(result.wall_s, 2),
            "baseline": round(direct_wall, 2),
            "ratio": round(result.wall_s / direct_wall, 2),
            "unit": "s",
        }
    )
    overhead = result.wall_s - direct_wall
    rows.append(
        {
            "benchmark": "pipeline local run: KFP runner overhead (incl. rollback check + summary tasks)",
            "figure": round(overhead, 2),
            "baseline": round(direct_wall, 2),
            "ratio": round(overhead / direct_wall, 2),
            "unit": "s",
        }
    )
    pairs = [(tasks[t], s) for t, s in direct.items() if t in tasks]
    if pairs:
        per_task = sum(k - d for k, d in pairs) / len(pairs)
        rows.append(
            {
                "benchmark": f"kfp.local overhead per task: mean over the {len(pairs)} gate tasks of "
                "(task under kfp.local - the step called directly) (goal <= 1 s)",
                "figure": round(per_task, 2),
                "baseline": round(sum(d for _, d in pairs) / len(pairs), 2),
                "ratio": None,
                "unit": "s (baseline: the mean direct step)",
            }
        )
    for task, seconds in direct.items():
        if task in tasks:
            rows.append(
                {
                    "benchmark": f"pipeline task {task}: under kfp.local vs direct step",
                    "figure": round(tasks[task], 2),
                    "baseline": round(seconds, 2),
                    "ratio": round(tasks[task] / seconds, 2),
                    "unit": "s",
                }
            )
    if "ml-artifact" in tasks:
        rows.append(
            {
                "benchmark": "pipeline task ml-artifact: under kfp.local vs the step as its own process "
                "(python -m components.steps, as an Argo container runs it; the rest of the direct "
                "step's gap is the cold import of MLflow and the model's flavor)",
                "figure": round(tasks["ml-artifact"], 2),
                "baseline": round(ml_process, 2),
                "ratio": round(tasks["ml-artifact"] / ml_process, 2),
                "unit": "s",
            }
        )
    for task in ("rollback-check", "run-summary"):
        if task in tasks:
            rows.append(
                {
                    "benchmark": f"pipeline task {task} (runs only under KFP)",
                    "figure": round(tasks[task], 2),
                    "baseline": None,
                    "ratio": None,
                    "unit": "s",
                }
            )
    for row in rows:
        print(json.dumps(row))
    return rows


if __name__ == "__main__":  # pragma: no cover
    main()
