"""The three request shapes a probe speaks, built from a model's stored input example, and the
shape of a prediction each protocol answers.

* ``mlflow``: the MLflow scoring protocol, ``POST /invocations`` with ``dataframe_split``,
  ``dataframe_records``, ``inputs`` or ``instances`` (MLflow 3's ``serving_input_example.json`` is
  sent as is); readiness ``GET /ping``.
* ``kserve-v1``: ``POST /v1/models/<name>:predict`` with ``{"instances": [...]}``; readiness
  ``GET /v1/models/<name>``.
* ``kserve-v2``: the Open Inference Protocol, ``POST /v2/models/<name>/infer`` with
  ``{"inputs": [{"name", "shape", "datatype", "data"}]}``, one tensor per named column (what
  MLServer's MLflow runtime needs for a model with a column signature; checked against the real
  MLServer in ``tests/integration/test_mlserver_serving.py``), else one ``input-0`` tensor;
  readiness ``GET /v2/models/<name>/ready``.

No I/O but :func:`load_example`, which reads the example from a downloaded model folder.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from contracts import errors

__all__ = [
    "PROTOCOLS",
    "Protocol",
    "build_request",
    "default_ready_path",
    "example_rows",
    "load_example",
    "prediction_rows",
]

Protocol = Literal["mlflow", "kserve-v1", "kserve-v2"]
PROTOCOLS: tuple[str, ...] = get_args(Protocol)

_MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "inputs", "instances")


def build_request(
    protocol: Protocol, example: dict[str, Any] | list[Any], *, model_name: str
) -> tuple[str, dict[str, Any]]:
    """Build the inference request for one protocol from a model's input example.

    Args:
        protocol: ``mlflow``, ``kserve-v1`` or ``kserve-v2``.
        example: The input example: an MLflow scoring payload (``serving_input_example.json``,
            sent as is for ``mlflow``), a split-orient frame ``{"columns", "data"}``, a list of rows
            or of records, or a dict of columns.
        model_name: The model's name in the KServe paths (ignored by ``mlflow``).

    Returns:
        The path suffix to append to the endpoint URL and the JSON body.
    """
    if protocol == "mlflow":
        return "/invocations", _mlflow_payload(example)
    quoted = urllib.parse.quote(model_name, safe="")
    if not quoted:
        raise errors.InputError("a model name is needed for the KServe protocols (--model-name)")
    rows, columns = _rows(example)
    if protocol == "kserve-v1":
        return f"/v1/models/{quoted}:predict", {"instances": rows}
    if protocol == "kserve-v2":
        return f"/v2/models/{quoted}/infer", {"inputs": _v2_inputs(rows, columns)}
    raise errors.InputError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")


def default_ready_path(protocol: Protocol, model_name: str) -> str:
    """The readiness path a server of this protocol answers with 200 once it can serve."""
    quoted = urllib.parse.quote(model_name, safe="")
    return {
        "mlflow": "/ping",
        "kserve-v1": f"/v1/models/{quoted}",
        "kserve-v2": f"/v2/models/{quoted}/ready",
    }[protocol]


def _mlflow_payload(example: dict[str, Any] | list[Any]) -> dict[str, Any]:
    if isinstance(example, dict):
        if any(k in example for k in _MLFLOW_KEYS):
            return dict(example)
        if set(example) >= {"columns", "data"}:
            return {"dataframe_split": {k: example[k] for k in ("columns", "data", "index") if k in example}}
        return {"inputs": dict(example)}
    if isinstance(example, list):
        if example and all(isinstance(r, dict) for r in example):
            return {"dataframe_records": list(example)}
        return {"inputs": list(example)}
    raise errors.InputError(f"an input example must be a JSON object or array, not {type(example).__name__}")


def _rows(example: dict[str, Any] | list[Any]) -> tuple[list[Any], list[str] | None]:
    """Rows (list of lists, or scalars / tensors per row) and column names, from any example shape."""
    payload = _mlflow_payload(example)
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        return [list(r) if isinstance(r, list) else r for r in split.get("data", [])], list(
            split.get("columns") or []
        ) or None
    if "dataframe_records" in payload:
        return _records(payload["dataframe_records"])
    data = payload.get("inputs", payload.get("instances"))
    if isinstance(data, dict):  # columns -> values
        columns = list(data)
        values = [v if isinstance(v, list) else [v] for v in data.values()]
        n = len(values[0]) if values else 0
        if any(len(v) != n for v in values):
            raise errors.InputError("the input example's columns have different lengths")
        return [[v[i] for v in values] for i in range(n)], columns
    if isinstance(data, list):
        if data and all(isinstance(r, dict) for r in data):
            return _records(data)
        return list(data), None
    raise errors.InputError(
        "the input example has no rows: expected 'dataframe_split', 'dataframe_records', 'inputs' "
        "or 'instances'"
    )


def example_rows(example: dict[str, Any] | list[Any]) -> int:
    """How many rows an input example holds (what a well-formed prediction on it answers).

    Raises:
        InputError: the example has no rows, or its columns have different lengths.
    """
    rows, _ = _rows(example)
    if not rows:
        raise errors.InputError("the input example has no rows")
    return len(rows)


def _records(records: Sequence[dict[str, Any]]) -> tuple[list[Any], list[str] | None]:
    columns = list(records[0]) if records else []
    return [[r.get(c) for c in columns] for r in records], columns or None


def _datatype(values: Sequence[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def _shape_and_flat(value: Any) -> tuple[list[int], list[Any]]:
    """Shape and row-major data of a rectangular nested list; raises ValueError when ragged."""
    if not isinstance(value, list):
        return [], [value]
    parts = [_shape_and_flat(v) for v in value]
    shapes = {tuple(s) for s, _ in parts}
    if len(shapes) > 1:
        raise ValueError("ragged")
    inner = list(shapes.pop()) if shapes else []
    return [len(value), *inner], [x for _, flat in parts for x in flat]


def _v2_inputs(rows: list[Any], columns: list[str] | None) -> list[dict[str, Any]]:
    """Open Inference Protocol tensors: one per named column (MLServer's MLflow runtime decodes them
    into the DataFrame the model's column signature enforces), else one ``input-0`` tensor."""
    if columns and all(isinstance(r, list) and len(r) == len(columns) for r in rows):
        tensors = []
        for j, name in enumerate(columns):
            col = [r[j] for r in rows]
            dtype = _datatype(col)
            data = col if dtype != "BYTES" else [str(v) for v in col]
            tensors.append({"name": name, "shape": [len(col)], "datatype": dtype, "data": data})
        return tensors
    try:
        shape, flat = _shape_and_flat(rows)
    except ValueError:
        shape, flat = [], []
    kind = _datatype(flat) if flat else "BYTES"
    if shape and kind != "BYTES":
        return [{"name": "input-0", "shape": shape, "datatype": kind, "data": flat}]
    if shape:
        return [{"name": "input-0", "shape": shape, "datatype": "BYTES", "data": [str(v) for v in flat]}]
    raise errors.InputError(
        "the input example cannot be sent as an Open Inference Protocol tensor: rows must be "
        "rectangular, or records with the same columns"
    )


def load_example(model_dir: Path) -> dict[str, Any]:
    """Read a downloaded MLflow model folder's input example as an MLflow scoring payload.

    Prefers ``serving_input_example.json`` (MLflow 3 writes it in the scoring format already);
    falls back to ``input_example.json`` (a split-orient frame or a plain array), wrapped into
    ``dataframe_split`` / ``inputs``.

    Args:
        model_dir: The model folder (the one holding ``MLmodel``).

    Returns:
        The scoring payload, ready for :func:`build_request`.
    """
    model_dir = Path(model_dir)
    for name in ("serving_input_example.json", "input_example.json"):
        path = model_dir / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise errors.InputError(f"{path}: not a readable JSON input example: {exc}") from None
        if not isinstance(data, dict | list):
            raise errors.InputError(f"{path}: an input example must be a JSON object or array")
        return _mlflow_payload(data)
    raise errors.InputError(
        f"{model_dir}: no input example (looked for serving_input_example.json and input_example.json); "
        "log the model with input_example=..., or pass --example FILE"
    )


def prediction_rows(protocol: Protocol, answer: Any) -> int:
    """Rows of a prediction as each protocol answers it.

    * ``mlflow`` / ``kserve-v1``: ``{"predictions": [...]}`` (a list of rows, or columns of equal
      length ``{"predictions": {"col": [...]}}``); a bare list (older MLflow) too.
    * ``kserve-v2``: ``{"outputs": [{"shape": [rows, ...], ...}]}``: every output's first dimension.

    Raises:
        ValueError: not such an answer (the message says what was found).
    """
    if protocol == "kserve-v2":
        outputs = answer.get("outputs") if isinstance(answer, dict) else None
        if not isinstance(outputs, list) or not outputs:
            raise ValueError("the answer has no 'outputs' tensors")
        firsts = set()
        for out in outputs:
            shape = out.get("shape") if isinstance(out, dict) else None
            if not isinstance(shape, list) or not shape or not isinstance(shape[0], int):
                raise ValueError(f"output {out.get('name') if isinstance(out, dict) else out!r} has no shape")
            firsts.add(shape[0])
        if len(firsts) != 1:
            raise ValueError(f"the outputs disagree on their rows: {sorted(firsts)}")
        return firsts.pop()
    preds = answer.get("predictions") if isinstance(answer, dict) else answer
    if isinstance(preds, list):
        return len(preds)
    if isinstance(preds, dict) and preds:
        lengths = {len(v) if isinstance(v, list) else 1 for v in preds.values()}
        if len(lengths) != 1:
            raise ValueError(f"the prediction's columns have different lengths: {sorted(lengths)}")
        return lengths.pop()
    keys = ", ".join(sorted(answer)) if isinstance(answer, dict) else type(answer).__name__
    raise ValueError(f"the answer holds no 'predictions' (found: {keys or 'an empty object'})")
