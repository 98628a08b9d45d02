"""The drift producer and the drift alert meet in a real Prometheus.

``signoff drift`` pushes to a real Pushgateway (Debian's ``prometheus-pushgateway``); a real
Prometheus (Debian's ``prometheus``) scrapes it with ``honor_labels: true`` and evaluates the rules
signoff renders for the contract. The contract's accuracy-drift alert must fire, with the owner's
labels, when the published drift is above the contract's threshold, and stop when it falls below:
the metric name and labels the producer writes are the ones the rule reads, proven by Prometheus,
not by reading YAML. ``make system-deps`` installs both binaries.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.loader import load_contract
from gates import observability as obs

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RANKER = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"
NS = "ml-prod"
DEADLINE_S = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(name: str) -> str:
    exe = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if exe is None:
        pytest.skip(f"{name} not installed (Debian package {name}; make system-deps installs it)")
    return exe


def _pushgateway_cmd(exe: str, port: int, root: Path) -> list[str]:
    # Debian's build persists to /var/lib/prometheus by default: keep every run's state its own.
    return [exe, f"--web.listen-address=127.0.0.1:{port}", f"--persistence.file={root / 'pushgateway.data'}"]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _wait(what: str, check: Any, log: Path, deadline_s: float = DEADLINE_S) -> Any:
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        try:
            last = check()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise AssertionError(f"{what} not within {deadline_s} s; last: {last!r}\nlog {log}:\n{tail}")


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A Pushgateway and a Prometheus evaluating the ranker's rendered rules every second."""
    root = tmp_path_factory.mktemp("drift")
    pg_port, prom_port = _free_port(), _free_port()
    pushgateway, prometheus = _binary("prometheus-pushgateway"), _binary("prometheus")
    contract = load_contract(RANKER)
    rules = obs.rule_groups(contract, obs.MetricNames.mlserver(), namespace=NS)
    (root / "rules.yml").write_text(obs.to_yaml(rules), encoding="utf-8")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(root / "rules.yml")],
        "scrape_configs": [
            {
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": [f"127.0.0.1:{pg_port}"]}],
            }
        ],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    pg_log, prom_log = root / "pushgateway.log", root / "prometheus.log"
    procs = [
        _start(_pushgateway_cmd(pushgateway, pg_port, root), pg_log),
        _start(
            [
                prometheus,
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            prom_log,
        ),
    ]
    try:
        pg = f"http://127.0.0.1:{pg_port}"
        prom = f"http://127.0.0.1:{prom_port}"
        _wait("the Pushgateway to answer", lambda: urllib.request.urlopen(pg + "/-/ready", timeout=2), pg_log)
        _wait(
            "Prometheus to load the rules",
            lambda: _get(prom + "/api/v1/rules")["data"]["groups"],
            prom_log,
        )
        yield {"pushgateway": pg, "prometheus": prom, "log": prom_log, "contract": contract}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _drift(signoff_exe: str, pushgateway: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [signoff_exe, "drift", str(RANKER), "--namespace", NS, "--model-version", "7", *args]
    return subprocess.run([*cmd, "--pushgateway", pushgateway], capture_output=True, text=True, timeout=60)


def _alerts(prom: str, name: str) -> list[dict[str, Any]]:
    return [a for a in _get(prom + "/api/v1/alerts")["data"]["alerts"] if a["labels"]["alertname"] == name]


def _query(prom: str, expr: str) -> list[dict[str, Any]]:
    return list(_get(prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["data"]["result"])


def test_pushed_drift_fires_the_contracts_alert_to_its_owner_and_clears(
    stack: dict[str, Any], signoff_exe: str
) -> None:
    prom, pg, log = stack["prometheus"], stack["pushgateway"], stack["log"]
    name = "SignoffAccuracyDrift"
    # ndcg_at_10 0.45 -> 0.43 is a 4.4% loss: above the ranker's 3%.
    done = _drift(signoff_exe, pg, "--baseline", "0.45", "--current", "0.43")
    assert done.returncode == 0, done.stderr
    assert "fires above 3.00% and pages ml: it will fire" in done.stderr
    assert "rolls back automatically" in done.stderr

    series = _wait(
        "the pushed drift in Prometheus",
        lambda: _query(prom, f'signoff_model_accuracy_drift_ratio{{namespace="{NS}"}}'),
        log,
    )
    assert series[0]["metric"]["workload"] == "recsys-ranker-v2"
    assert series[0]["metric"]["model_version"] == "7"
    assert abs(float(series[0]["value"][1]) - 0.02 / 0.45) < 1e-9

    firing = _wait(
        "the drift alert to fire", lambda: [a for a in _alerts(prom, name) if a["state"] == "firing"], log
    )
    labels = firing[0]["labels"]
    assert labels["team"] == stack["contract"].spec.owners.of(obs.Role.ML).team
    assert labels["owner"] == "ml"
    assert labels["workload"] == "recsys-ranker-v2"
    assert labels["namespace"] == NS

    # 0.45 -> 0.44 is 2.2%: under the threshold; the alert clears once Prometheus re-evaluates.
    done = _drift(signoff_exe, pg, "--baseline", "0.45", "--current", "0.44")
    assert done.returncode == 0, done.stderr
    assert "quiet" in done.stderr
    _wait("the drift alert to clear", lambda: not _alerts(prom, name) or None, log)


def test_a_pushgateway_refusal_is_reported_with_its_message(tmp_path: Path, signoff_exe: str) -> None:
    """A real refusal: the Pushgateway keeps metric types consistent across groups, so a gauge push
    after another job pushed the same name as a counter is answered 400 with the reason."""
    port, log = _free_port(), tmp_path / "pushgateway.log"
    proc = _start(_pushgateway_cmd(_binary("prometheus-pushgateway"), port, tmp_path), log)
    try:
        pg = f"http://127.0.0.1:{port}"
        _wait("the Pushgateway to answer", lambda: urllib.request.urlopen(pg + "/-/ready", timeout=2), log)
        counter = "# TYPE signoff_model_accuracy_drift_ratio counter\nsignoff_model_accuracy_drift_ratio 1\n"
        req = urllib.request.Request(pg + "/metrics/job/someone-else", data=counter.encode(), method="PUT")
        urllib.request.urlopen(req, timeout=5).read()
        done = _drift(signoff_exe, pg, "--accuracy-drift", "0.01")
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"the Pushgateway at {pg} answered 400" in done.stderr
        # the Pushgateway names the metric whose type conflicts (which group it names first varies)
        assert '"signoff_model_accuracy_drift_ratio"' in done.stderr
        assert "is not a COUNTER" in done.stderr or "is not a GAUGE" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
