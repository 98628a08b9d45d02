"""The session MLflow server fixture: a registered version is readable; stop/start keeps the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_registered_version_survives_restart(
    mlflow_server: Any, register_sklearn_model: Callable[..., str]
) -> None:
    from mlflow import MlflowClient

    version = register_sklearn_model("fixture-check", metrics={"f1": 0.9})
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    mv = client.get_model_version("fixture-check", version)
    assert mv.status == "READY"
    mlflow_server.stop()
    assert not mlflow_server.running
    mlflow_server.start()
    assert client.get_model_version("fixture-check", version).source == mv.source
    run = client.get_run(mv.run_id)
    assert run.data.metrics["f1"] == 0.9
