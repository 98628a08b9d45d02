"""``signoff probe --serve models:/NAME/VERSION`` builds its request from the version's own example.

Against the session's real ``mlflow server``: only the example file is downloaded (by the
``mlflow`` command), and it comes back as the scoring payload the probe sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components import local_serving, probe

pytestmark = pytest.mark.integration


def test_fetch_example_downloads_only_the_example(
    mlflow_server: Any, register_sklearn_model: Callable[..., str]
) -> None:
    version = register_sklearn_model("probe-example")
    example = local_serving.fetch_example(
        f"models:/probe-example/{version}", env={"MLFLOW_TRACKING_URI": mlflow_server.url}
    )
    split = example["dataframe_split"]
    assert split["columns"][0] == "sepal length (cm)"
    assert len(split["data"]) == 3
    # The payload converts to the other protocols' shapes too.
    # v2: one tensor per named column, what MLServer's MLflow runtime enforces the signature by.
    tensors = probe.build_request("kserve-v2", example, model_name="iris")[1]["inputs"]
    assert [t["name"] for t in tensors] == split["columns"]
    assert all(t["shape"] == [3] and t["datatype"] == "FP64" for t in tensors)
