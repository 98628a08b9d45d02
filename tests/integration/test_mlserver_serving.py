"""The real MLServer, the runtime the rendered InferenceService (``kserve-mlserver``) and the plain
Deployment run: signoff's probe speaks its Open Inference Protocol, and the alert rules read the
series it really exports.

MLServer 1.7.1 with ``mlserver-mlflow`` comes from PyPI into its own venv (``make serving-peers``,
part of ``make test``; ``$SIGNOFF_MLSERVER`` names its ``mlserver``). It serves an MLflow
scikit-learn model saved here, the way KServe's storage initializer lays it out for the runtime.
Its metrics port is scraped after real traffic (good requests, requests its schema refuses with
500, readiness GETs); the scraped samples become ``promtool test rules`` input, with the two labels
the rendered PodMonitor adds (``namespace`` from the target, ``workload`` by relabelling), and the
recorded error and latency ratios must equal what the traffic was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import http_client
from components import probe as probing
from contracts.workload import WorkloadContract
from gates import observability as obs
from pipelines._cli.contract_tools import init_text

VERSION = "1.7.1"
MODEL = "iris-clf"
NS = "ml-staging"


def _mlserver_exe() -> Path:
    named = os.environ.get("SIGNOFF_MLSERVER")
    if named:
        return Path(named)
    cache = os.environ.get("SIGNOFF_TOOLS_CACHE") or str(Path.home() / ".cache" / "signoff-tools")
    return Path(cache) / f"mlserver-{VERSION}-py311" / "bin" / "mlserver"


@dataclass
class Served:
    url: str
    metrics_url: str
    example: dict[str, Any]
    log: Path


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str, body: dict[str, Any]) -> int:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def mlserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    exe = _mlserver_exe()
    assert exe.is_file(), (
        f"MLServer {VERSION} is not installed at {exe}: run 'make serving-peers' (make test does), "
        "or set SIGNOFF_MLSERVER to its mlserver"
    )
    import mlflow.sklearn
    import sklearn.datasets
    import sklearn.linear_model

    root = tmp_path_factory.mktemp("mlserver")
    x, y = sklearn.datasets.load_iris(return_X_y=True, as_frame=True)
    model = sklearn.linear_model.LogisticRegression(max_iter=500).fit(x, y)
    model_dir = root / "model"
    mlflow.sklearn.save_model(model, str(model_dir), input_example=x[:2])
    http, grpc, metrics = (http_client.free_port() for _ in range(3))
    (root / "settings.json").write_text(
        json.dumps({"http_port": http, "grpc_port": grpc, "metrics_port": metrics, "parallel_workers": 0})
    )
    (root / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MODEL,
                "implementation": "mlserver_mlflow.MLflowRuntime",
                "parameters": {"uri": str(model_dir)},
            }
        )
    )
    log = root / "mlserver.log"
    env = {**os.environ, "PATH": f"{exe.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "start", str(root)], cwd=root, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    url = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlserver exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if _get(f"{url}/v2/models/{MODEL}/ready", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlserver not ready within 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Served(url, f"http://127.0.0.1:{metrics}/metrics", probing.load_example(model_dir), log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _contract() -> WorkloadContract:
    import tempfile

    from contracts.loader import load_contract

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(init_text(MODEL, model_size="11KB"), encoding="utf-8")
        return load_contract(path)


def test_the_probe_speaks_the_open_inference_protocol_to_mlserver(mlserver: Served) -> None:
    result = probing.probe(
        mlserver.url, _contract(), example=mlserver.example, protocol="kserve-v2", model_name=MODEL,
        rate=20, duration_s=3,
    )  # fmt: skip
    assert result.ready, result.first_error
    assert result.requests >= 55 and result.errors == 0, (result.requests, result.errors, result.first_error)
    assert result.p99_ms is not None and result.p99_ms < 250


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _samples(text: str, names: set[str]) -> list[tuple[str, dict[str, str], float]]:
    """The samples of ``names`` in a Prometheus text exposition (label values unescaped)."""
    out = []
    for line in text.splitlines():
        found = _SAMPLE.match(line)
        if not found or found.group(1) not in names:
            continue
        labels = {k: json.loads(f'"{v}"') for k, v in _PAIR.findall(found.group(2) or "")}
        out.append((found.group(1), labels, float(found.group(3))))
    return out


def test_the_alert_rules_read_the_series_mlserver_exports(mlserver: Served, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: make test installs it (Debian package 'prometheus')"
    metrics = obs.MetricNames.mlserver()
    _, before = _get(mlserver.metrics_url)
    path, good = probing.build_request("kserve-v2", mlserver.example, model_name=MODEL)
    bad = {"inputs": [{"name": "sepal length (cm)", "shape": [1], "datatype": "FP64", "data": [5.1]}]}
    codes = [_post(mlserver.url + path, good) for _ in range(30)]
    codes += [_post(mlserver.url + path, bad) for _ in range(10)]
    codes += [_get(f"{mlserver.url}/v2/models/{MODEL}/ready")[0] for _ in range(20)]
    assert codes.count(200) == 50 and codes.count(500) == 10, codes
    _, after = _get(mlserver.metrics_url)
    wanted = {metrics.requests_total, metrics.latency_bucket}
    old = {(n, tuple(sorted(labels.items()))): v for n, labels, v in _samples(before.decode(), wanted)}
    series = []
    infer_total = infer_errors = infer_fast = infer_all = 0.0
    for name, labels, value in _samples(after.decode(), wanted):
        delta = value - old.get((name, tuple(sorted(labels.items()))), 0.0)
        labels = {**labels, "namespace": NS, "workload": MODEL}
        body = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
        series.append({"series": f"{name}{{{body}}}", "values": f"0x4 {delta:g}x10"})
        if labels.get("path", "").endswith("/infer"):
            if name == metrics.requests_total:
                infer_total += delta
                infer_errors += delta if labels["status_code"].startswith("5") else 0
            elif labels["le"] == "0.25":
                infer_fast += delta
            elif labels["le"] == "+Inf":
                infer_all += delta
    # What MLServer exported, as the rules' matchers expect it: exact status codes, seconds buckets
    # with a 0.25 bound, the route template as path, readiness GETs counted (and to be left out).
    assert infer_total == 40 and infer_errors == 10 and infer_all == 40, (
        infer_total,
        infer_errors,
        infer_all,
    )
    assert any('path="/v2/models/{model_name}/ready"' in s["series"] for s in series)
    contract = _contract()  # p99 250 ms: a bucket of MLServer's histogram
    rules = obs.rule_groups(contract, metrics, namespace=NS)

    def strip(rule: dict[str, Any]) -> dict[str, Any]:  # promtool compares annotations exactly
        return {k: v for k, v in rule.items() if k != "annotations"}

    bare = {"groups": [{**g, "rules": [strip(r) for r in g["rules"]]} for g in rules["groups"]]}
    (tmp_path / "rules.yml").write_text(obs.to_yaml(bare), encoding="utf-8")
    sel = f'namespace="{NS}", workload="{MODEL}"'
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": [
                {"expr": f"signoff:request_errors:ratio_rate5m{{{sel}}}", "eval_time": "6m",
                 "exp_samples": [{"labels": f"signoff:request_errors:ratio_rate5m{{{sel}}}",
                                  "value": infer_errors / infer_total}]},
                {"expr": f"signoff:request_latency_slo_violations:ratio_rate5m{{{sel}}}", "eval_time": "6m",
                 "exp_samples": [{"labels": f"signoff:request_latency_slo_violations:ratio_rate5m{{{sel}}}",
                                  "value": 1 - infer_fast / infer_all}]},
            ],
        }],
    }  # fmt: skip
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    done = subprocess.run(
        [promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert infer_errors / infer_total == 0.25  # 10 refused of 40 inference requests; GETs left out
