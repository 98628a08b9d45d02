"""``signoff probe --serve PATH``: launch ``mlflow models serve``, measure the cold start, probe, stop.

The user's one command for a local staging probe, end to end (its own server: slow).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from gates.evidence import ProbeResult
from pipelines._cli import main as cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _save_model(path: Path) -> None:
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    model = LinearRegression().fit(x, [0.0, 1.0, 2.0, 3.0])
    mlflow.sklearn.save_model(
        model, str(path), signature=infer_signature(x, model.predict(x)), input_example=x[:2],
        pip_requirements=["scikit-learn"],
    )  # fmt: skip


def test_serve_measures_the_cold_start_probes_and_stops(tmp_path: Path, capsys: Any) -> None:
    _save_model(tmp_path / "model")
    data = yaml.safe_load((ROOT / "contracts" / "examples" / "recsys-ranker.yaml").read_text())
    data["spec"]["slos"] = {"p99_latency": "2s", "availability": "99.9%", "max_cold_start": "180s",
                            "throughput_per_replica": 10}  # fmt: skip
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(data))
    out = tmp_path / "probe.json"
    code = cli.main(["probe", "--serve", str(tmp_path / "model"), "--contract", str(contract),
                     "--duration", "2", "--json", str(out)])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    result = ProbeResult.model_validate_json(out.read_text())
    assert result.ready and result.cold_start_s is not None and 0 < result.cold_start_s <= 180
    assert (result.requests, result.errors) == (20, 0)
    assert f"| cold start | {result.cold_start_s:.1f} s | ≤ 3m | pass |" in printed.out
    # The server is gone: its port refuses connections and no process of it is left.
    port = int(result.url.rsplit(":", 1)[1])
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))
    assert not [cmd for cmd in _command_lines() if f"--port\0{port}\0" in cmd and "uvicorn" in cmd]


def _command_lines() -> list[str]:
    lines = []
    for proc in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(proc.read_bytes().decode("utf-8", "replace") + "\0")
        except OSError:  # the process ended meanwhile
            continue
    return lines


def test_a_server_that_crashes_is_reported_with_its_exit_code_and_log(tmp_path: Path, capsys: Any) -> None:
    """A real `mlflow models serve` that exits at once (a model folder without a pyfunc flavour):
    the report and stderr say it exited, with what code, after how long, and its log's last lines,
    and the log is kept where --log-dir says."""
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "MLmodel").write_text("artifact_path: model\nflavors: {}\n", encoding="utf-8")
    data = yaml.safe_load((ROOT / "contracts" / "examples" / "recsys-ranker.yaml").read_text())
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(data))
    example = tmp_path / "example.json"
    example.write_text('{"inputs": [[1.0, 2.0]]}', encoding="utf-8")
    logs = tmp_path / "logs"
    code = cli.main(["probe", "--serve", str(broken), "--contract", str(contract), "--example", str(example),
                     "--log-dir", str(logs), "--duration", "1"])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 1
    log = logs / "mlflow-models-serve.log"
    assert log.is_file() and log.read_text().strip()
    assert "signoff: mlflow models serve exited with code 1 after " in printed.err
    assert f"; its log: {log}" in printed.err
    last_line = log.read_text().strip().splitlines()[-1]
    assert last_line in printed.err
    assert "The server exited before it was ready: mlflow models serve exited with code 1" in printed.out
    assert "never became ready" not in printed.out + printed.err
    assert "already running" not in printed.out + printed.err
