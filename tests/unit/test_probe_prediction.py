"""The probe's one prediction on the stored example: rows out must equal rows in, per protocol."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from components import probe

EXAMPLE = {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4], [5, 6]]}}


@pytest.mark.parametrize(
    ("protocol", "answer", "rows"),
    [
        ("mlflow", {"predictions": [0, 1, 2]}, 3),
        ("mlflow", {"predictions": {"label": [0, 1], "score": [0.1, 0.9]}}, 2),
        ("mlflow", [1, 2, 3, 4], 4),
        ("kserve-v1", {"predictions": [[0.1], [0.2]]}, 2),
        (
            "kserve-v2",
            {"outputs": [{"name": "o", "shape": [3, 1], "datatype": "FP64", "data": [1, 2, 3]}]},
            3,
        ),
    ],
)
def test_prediction_rows_per_protocol(protocol: probe.Protocol, answer: Any, rows: int) -> None:
    assert probe.prediction_rows(protocol, answer) == rows


@pytest.mark.parametrize(
    ("protocol", "answer", "why"),
    [
        ("mlflow", {"error_code": "BAD_REQUEST"}, "no 'predictions' (found: error_code)"),
        ("mlflow", {"predictions": {"a": [1], "b": [1, 2]}}, "different lengths"),
        ("kserve-v2", {"outputs": []}, "no 'outputs'"),
        ("kserve-v2", {"outputs": [{"name": "o", "shape": [2]}, {"name": "p", "shape": [3]}]}, "disagree"),
    ],
)
def test_malformed_predictions_say_what_was_found(protocol: probe.Protocol, answer: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        probe.prediction_rows(protocol, answer)


@contextmanager
def _server(status: int, answer: Any) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(
    ("status", "answer", "out", "error"),
    [
        (200, {"predictions": [0, 1, 2]}, 3, None),
        (200, {"predictions": [0, 1]}, 2, "2 prediction rows for 3 input rows"),
        (400, {"error_code": "BAD_REQUEST"}, None, "HTTP 400 to the stored example"),
        (200, {"nothing": 1}, None, "not a well-formed mlflow prediction"),
    ],
)
def test_check_prediction_against_a_server(
    status: int, answer: Any, out: int | None, error: str | None
) -> None:
    path, body = probe.build_request("mlflow", EXAMPLE, model_name="m")
    with _server(status, answer) as url:
        rows_in, rows_out, err = probe.check_prediction(url + path, body, "mlflow", EXAMPLE, 5.0)
    assert (rows_in, rows_out) == (3, out)
    assert err is None if error is None else error in (err or "")
