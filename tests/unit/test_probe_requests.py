"""Request bodies for the three serving protocols, built from MLflow input examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components import probe
from contracts import errors

SPLIT = {"dataframe_split": {"columns": ["a", "b"], "data": [[0.0, 1.0], [1.0, 0.0]]}}


def test_mlflow_sends_serving_input_example_as_is() -> None:
    path, body = probe.build_request("mlflow", SPLIT, model_name="m")
    assert path == "/invocations"
    assert body == SPLIT


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ({"columns": ["a"], "data": [[1]]}, {"dataframe_split": {"columns": ["a"], "data": [[1]]}}),
        ([[1, 2], [3, 4]], {"inputs": [[1, 2], [3, 4]]}),
        ([{"a": 1}, {"a": 2}], {"dataframe_records": [{"a": 1}, {"a": 2}]}),
        ({"inputs": {"x": [1, 2]}}, {"inputs": {"x": [1, 2]}}),
        ({"instances": [[1]]}, {"instances": [[1]]}),
    ],
)
def test_mlflow_wraps_plain_input_examples(example: object, expected: dict[str, object]) -> None:
    assert probe.build_request("mlflow", example, model_name="m")[1] == expected  # type: ignore[arg-type]


def test_kserve_v1_instances_are_rows() -> None:
    path, body = probe.build_request("kserve-v1", SPLIT, model_name="recsys-ranker")
    assert path == "/v1/models/recsys-ranker:predict"
    assert body == {"instances": [[0.0, 1.0], [1.0, 0.0]]}


def test_kserve_v1_from_records_keeps_column_order() -> None:
    _, body = probe.build_request("kserve-v1", [{"b": 2, "a": 1}, {"b": 4, "a": 3}], model_name="m")
    assert body == {"instances": [[2, 1], [4, 3]]}


def test_kserve_v2_named_columns_are_one_tensor_each_and_bare_rows_one_tensor() -> None:
    # MLServer's MLflow runtime enforces a column signature by input name: one tensor per column.
    path, body = probe.build_request("kserve-v2", SPLIT, model_name="recsys-ranker")
    assert path == "/v2/models/recsys-ranker/infer"
    assert body["inputs"] == [
        {"name": "a", "shape": [2], "datatype": "FP64", "data": [0.0, 1.0]},
        {"name": "b", "shape": [2], "datatype": "FP64", "data": [1.0, 0.0]},
    ]
    _, bare = probe.build_request("kserve-v2", {"inputs": [[0.0, 1.0], [1.0, 0.0]]}, model_name="m")
    tensor = {"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [0.0, 1.0, 1.0, 0.0]}
    assert bare == {"inputs": [tensor]}


def test_kserve_v2_integer_and_nested_tensors_keep_their_shape() -> None:
    example = {"inputs": [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]]}
    (tensor,) = probe.build_request("kserve-v2", example, model_name="m")[1]["inputs"]
    assert tensor["shape"] == [3, 2, 2]
    assert tensor["datatype"] == "INT64"
    assert tensor["data"] == list(range(1, 13))


def test_kserve_v2_mixed_columns_are_one_tensor_each() -> None:
    example = {"columns": ["user", "score", "new"], "data": [["u1", 0.5, True], ["u2", 1, False]]}
    inputs = probe.build_request("kserve-v2", example, model_name="m")[1]["inputs"]
    assert inputs == [
        {"name": "user", "shape": [2], "datatype": "BYTES", "data": ["u1", "u2"]},
        {"name": "score", "shape": [2], "datatype": "FP64", "data": [0.5, 1]},
        {"name": "new", "shape": [2], "datatype": "BOOL", "data": [True, False]},
    ]


def test_kserve_paths_quote_the_model_name() -> None:
    assert probe.build_request("kserve-v1", [[1]], model_name="a/b c")[0] == "/v1/models/a%2Fb%20c:predict"
    assert probe.default_ready_path("kserve-v2", "m") == "/v2/models/m/ready"
    assert probe.default_ready_path("mlflow", "m") == "/ping"


def test_kserve_needs_a_model_name() -> None:
    with pytest.raises(errors.InputError, match="model name"):
        probe.build_request("kserve-v2", [[1]], model_name="")


def test_ragged_rows_without_columns_are_refused_for_v2() -> None:
    with pytest.raises(errors.InputError, match="rectangular"):
        probe.build_request("kserve-v2", {"inputs": [[1, 2], [3]]}, model_name="m")


def test_load_example_prefers_the_serving_example(tmp_path: Path) -> None:
    (tmp_path / "serving_input_example.json").write_text(json.dumps(SPLIT))
    (tmp_path / "input_example.json").write_text(json.dumps([[9]]))
    assert probe.load_example(tmp_path) == SPLIT


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"columns": ["a"], "data": [[0.0]]}, {"dataframe_split": {"columns": ["a"], "data": [[0.0]]}}),
        ([[0.0, 1.0], [1.0, 0.0]], {"inputs": [[0.0, 1.0], [1.0, 0.0]]}),
    ],
)  # fmt: skip
def test_load_example_wraps_input_example_json(tmp_path: Path, stored: object, expected: object) -> None:
    (tmp_path / "input_example.json").write_text(json.dumps(stored))
    assert probe.load_example(tmp_path) == expected


def test_load_example_names_the_folder_when_missing(tmp_path: Path) -> None:
    with pytest.raises(errors.InputError, match=r"no input example .*serving_input_example\.json"):
        probe.load_example(tmp_path)


def test_load_example_names_the_file_when_not_json(tmp_path: Path) -> None:
    (tmp_path / "serving_input_example.json").write_text("{not json")
    with pytest.raises(errors.InputError, match=r"serving_input_example\.json: not a readable JSON"):
        probe.load_example(tmp_path)
