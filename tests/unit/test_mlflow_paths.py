"""The registry adapter's refusals of sources and artifact paths that could escape the download folder.

Each refused form is one MLflow's own CVE history shows (path traversal through ``..``, its
URL-encoded and double-encoded forms, absolute paths, ``#``/``?`` tricks, local files outside the
store, a model version pointing at another version).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.mlflow_registry import Registry, _decode, _encode
from components.model_files import check_artifact_path, check_source, check_tree
from contracts import errors

GOOD_SOURCES = [
    "models:/m-0123456789abcdef0123456789abcdef",
    "runs:/0123456789abcdef0123456789abcdef/model",
    "mlflow-artifacts:/1/models/m-0123/artifacts",
    "s3://bucket/models/ranker/v7",
    "gs://bucket/m",
]
BAD_SOURCES = [
    ("", "is empty"),
    ("mlflow-artifacts:/1/../../etc", "'..'"),
    ("mlflow-artifacts:/1/%2e%2e/%2e%2e/etc", "'..'"),
    ("mlflow-artifacts:/1/%2E%2E%2F%2E%2E%2Fetc", "'..'"),
    ("mlflow-artifacts:/1/%252e%252e/etc", "'..'"),
    ("s3://bucket/model#/../../etc", "'#' or '?'"),
    ("s3://bucket/model%23frag", "'#' or '?'"),
    ("mlflow-artifacts:/1/model?x=1", "'#' or '?'"),
    ("runs:/0123456789abcdef/../../x", "'..'"),
    ("models:/other-model/3", "not a logged model id"),
    ("models:/ranker@production", "not a logged model id"),
    ("/etc", "not local"),
    ("file:///etc/passwd", "not local"),
    ("file://evil.example/share/model", "another host"),
    ("ftp://example.com/model", "unsupported scheme"),
    ("s3://bucket/a\\..\\b", "backslash"),
]


@pytest.mark.parametrize("source", GOOD_SOURCES)
def test_plain_sources_are_accepted(source: str) -> None:
    check_source(source)


@pytest.mark.parametrize(("source", "why"), BAD_SOURCES)
def test_escaping_sources_are_refused_naming_the_source(source: str, why: str) -> None:
    with pytest.raises(errors.PermanentError) as info:
        check_source(source)
    assert repr(source) in str(info.value) and why in str(info.value)


def test_local_sources_only_inside_the_artifact_store(tmp_path: Path) -> None:
    store = tmp_path / "mlruns"
    (store / "1" / "model").mkdir(parents=True)
    check_source(str(store / "1" / "model"), file_root=str(store))
    check_source((store / "1" / "model").as_uri(), file_root=str(store))
    (tmp_path / "outside").mkdir()
    (store / "1" / "link").symlink_to(tmp_path / "outside")
    for bad in [str(tmp_path / "outside"), (store / "1" / "link").as_uri(), (tmp_path / "mlruns2").as_uri()]:
        with pytest.raises(errors.PermanentError, match="outside the artifact store"):
            check_source(bad, file_root=str(store))


@pytest.mark.parametrize("path", ["MLmodel", "model/model.pkl", "data/a b.json", "x..y"])
def test_plain_artifact_paths_are_accepted(path: str) -> None:
    check_artifact_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "a/../../x",
        "%2e%2e/x",
        "a/%2E%2E/x",
        "%252e%252e/x",
        "/etc/passwd",
        "C:/x",
        "a\\..\\b",
        "a#b",
        "a?b",
        "a\x00b",
        "",
        "./x",
    ],
)
def test_escaping_artifact_paths_are_refused(path: str) -> None:
    with pytest.raises(errors.PermanentError, match="refusing to download"):
        check_artifact_path(path)


def test_a_downloaded_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: {}")
    check_tree(tmp_path)
    (tmp_path / "weights").symlink_to("/etc/hostname")
    with pytest.raises(errors.PermanentError, match="symlink"):
        check_tree(tmp_path)


def test_envelope_bytes_round_trip_through_tag_text() -> None:
    for env in [b'{"payload": "abc"}', b"\xff\x00not json", b"[1]"]:
        assert _decode(_encode(env)) == env


def test_registry_needs_a_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(errors.InputError, match="MLFLOW_TRACKING_URI"):
        Registry()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert Registry().tracking_uri == "http://127.0.0.1:9"


def test_the_adapter_and_the_registry_commands_do_not_import_mlflow_at_import() -> None:
    code = (
        "import sys, components.mlflow_registry, pipelines._cli.registry, pipelines._cli.check_ml; "
        "assert 'mlflow' not in sys.modules, 'mlflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
