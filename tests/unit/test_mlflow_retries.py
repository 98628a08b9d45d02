"""The registry adapter's retries: transient failures are retried with backoff, then reported as
``TemporaryError``; refusals are not retried; a lock creation (a non-idempotent write) is never
re-sent blindly."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from components.mlflow_registry import Registry
from contracts import errors


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_retried_then_a_temporary_error() -> None:
    reg = Registry(f"http://127.0.0.1:{_closed_port()}", attempts=3, backoff_s=0.01)
    with pytest.raises(errors.TemporaryError, match="after 3 tries") as info:
        reg.resolve("models:/ranker/3")
    assert reg.calls == 3
    assert info.value.exit_code == 3


class _Flaky:
    """A stand-in MLflow REST endpoint (a fake: a real server cannot be made to answer 503 on cue).

    Answers the first ``failures`` requests with 503, then a model version; counts every request.
    """

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures, self.status, self.requests = failures, status, []
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                flaky.requests.append(self.path)
                if len(flaky.requests) <= flaky.failures:
                    body = json.dumps({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}).encode()
                    self.send_response(flaky.status)
                elif "model-versions/get" in self.path:
                    mv = {"name": "ranker", "version": "3", "status": "READY", "source": "s3://b/m"}
                    body = json.dumps({"model_version": mv}).encode()
                    self.send_response(200)
                else:
                    body = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}).encode()
                    self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def flaky() -> Iterator[_Flaky]:
    f = _Flaky(failures=2)
    yield f
    f.server.shutdown()
    f.server.server_close()


def test_5xx_is_retried_until_the_server_answers(flaky: _Flaky) -> None:
    reg = Registry(flaky.url, attempts=4, backoff_s=0.01)
    assert reg.resolve("models:/ranker/3") == ("ranker", "3")
    assert len(flaky.requests) == 3  # two 503s, then the answer


def test_not_found_is_an_input_error_naming_it_and_not_retried(flaky: _Flaky) -> None:
    flaky.failures = 0
    reg = Registry(flaky.url, attempts=4, backoff_s=0.01)
    with pytest.raises(errors.InputError, match="alias 'production' of model 'ranker'"):
        reg.resolve("models:/ranker@production")
    assert len(flaky.requests) == 1


def test_a_lock_creation_is_not_resent_blindly(flaky: _Flaky) -> None:
    flaky.failures = 10**6  # always 503
    reg = Registry(flaky.url, attempts=3, backoff_s=0.01)
    with pytest.raises(errors.SignoffError):
        reg._call("lock", reg.client.create_registered_model, "signoff-lock.ranker", retry=False)
    assert reg.calls == 1 and len(flaky.requests) == 1
