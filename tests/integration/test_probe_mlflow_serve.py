"""The live probe against a real ``mlflow models serve`` of a tiny sklearn model.

One server for the whole module (it takes tens of seconds to start on a busy 2-core machine),
served from the model folder so no tracking server is needed. The model is saved in the test with
a signature and an input example, as the ML team's pipeline logs it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import local_serving, probe
from contracts.workload import WorkloadContract
from gates.evidence import ProbeResult
from pipelines._cli import main as cli

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 180.0


def _contract_data(**slos: Any) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "contracts" / "examples" / "recsys-ranker.yaml").read_text())
    # Loose latency objectives: this checks the whole path works on a shared CI machine, not speed.
    data["spec"]["slos"] = {"p99_latency": "2s", "p50_latency": "1s", "availability": "99.9%",
                            "max_cold_start": f"{START_DEADLINE_S:g}s", "throughput_per_replica": 20,
                            **slos}  # fmt: skip
    return data


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow.sklearn
    import pandas as pd  # type: ignore[import-untyped]
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(x, [0, 1, 1, 0])
    path = tmp_path_factory.mktemp("probe-model") / "model"
    mlflow.sklearn.save_model(
        model, str(path), signature=infer_signature(x, model.predict(x)), input_example=x.head(2),
        pip_requirements=["scikit-learn"],  # skips MLflow's slow requirement inference (a subprocess)
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def served(model_dir: Path) -> Iterator[local_serving.LocalServer]:
    server = local_serving.serve(model_dir, deadline_s=START_DEADLINE_S)
    try:
        assert server.ready, f"mlflow models serve did not start:\n{server.log_tail()}"
        yield server
    finally:
        server.stop()


def test_real_mlflow_serve_passes_the_contract(served: local_serving.LocalServer, model_dir: Path) -> None:
    contract = WorkloadContract.model_validate(_contract_data())
    example = probe.load_example(model_dir)
    assert "dataframe_split" in example  # MLflow 3's serving_input_example.json, sent as is
    result = probe.probe(
        served.url, contract, example=example, protocol="mlflow", model_name="m", duration_s=3
    )
    result = result.model_copy(update={"cold_start_s": served.cold_start_s})
    assert result.requests == 60
    assert result.errors == 0, result.first_error
    assert result.cold_start_s is not None and 0 < result.cold_start_s <= START_DEADLINE_S
    assert probe.passed(result, contract), probe.report_markdown(result, contract)


def test_cli_probes_a_running_server(
    served: local_serving.LocalServer, model_dir: Path, tmp_path: Path
) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(_contract_data()))
    out, report = tmp_path / "probe.json", tmp_path / "probe.md"
    code = cli.main([
        "probe", served.url, "--contract", str(contract), "--rate", "10", "--duration", "2",
        "--example", str(model_dir / "serving_input_example.json"),
        "--json", str(out), "--report", str(report),
    ])  # fmt: skip
    assert code == 0, report.read_text()
    result = ProbeResult.model_validate_json(out.read_text())
    assert (result.requests, result.errors, result.target_rate) == (20, 0, 10.0)
    assert report.read_text().startswith("## Live probe of recsys-ranker-v2: PASS")


def test_wrong_request_shape_fails_with_the_servers_message(served: local_serving.LocalServer) -> None:
    contract = WorkloadContract.model_validate(_contract_data())
    wrong = {"inputs": {"no_such_column": [1.0]}}
    result = probe.probe(served.url, contract, example=wrong, protocol="mlflow", model_name="m", duration_s=1,
                         rate=5)  # fmt: skip
    assert result.errors == result.requests == 5
    assert set(result.error_kinds) == {"HTTP 400"}
    assert result.first_error is not None and "HTTP 400" in result.first_error
    assert not probe.passed(result, contract)


def test_serve_of_a_folder_without_a_model_fails_fast_not_at_the_deadline(tmp_path: Path) -> None:
    (tmp_path / "not-a-model").mkdir()
    (tmp_path / "not-a-model" / "serving_input_example.json").write_text(json.dumps({"inputs": [[1.0]]}))
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(_contract_data()))
    started = time.monotonic()
    code = cli.main(["probe", "--serve", str(tmp_path / "not-a-model"), "--contract", str(contract),
                     "--json", str(tmp_path / "out.json")])  # fmt: skip
    elapsed = time.monotonic() - started
    assert code == 1
    result = ProbeResult.model_validate_json((tmp_path / "out.json").read_text())
    assert not result.ready
    assert result.server_exit is not None and result.server_exit.startswith(
        "mlflow models serve exited with code"
    )
    assert elapsed < START_DEADLINE_S / 2  # the dead process was noticed, the deadline not waited out
