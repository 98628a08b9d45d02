"""How the registry adapter spells its tags and reads a registry's refusal of a long value.

Unity Catalog allows no ``.`` or ``-`` in tag keys: signoff writes ``__`` and ``_`` for them and
reads either spelling back to its own keys. A refusal that names a limit is learned from; one that
names none falls back to the limits hosted registries have (5,000, then 1,000).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components import mlflow_registry as mr
from contracts import errors

_PART = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).filter(
    lambda p: not p.startswith("-") and not p.endswith("-") and "--" not in p
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PART, min_size=1, max_size=5))
def test_a_signoff_key_survives_the_unity_catalog_spelling(parts: list[str]) -> None:
    key = "signoff." + ".".join(parts)
    wire = mr._wire(key, uc=True)
    assert "." not in wire and "-" not in wire
    assert mr._canon({wire: "v"}) == {key: "v"}
    assert mr._wire(key, uc=False) == key and mr._canon({key: "v"}) == {key: "v"}


def test_known_keys_in_the_unity_catalog_spelling() -> None:
    assert mr._wire("signoff.verdict.ml-artifact.part-0", uc=True) == "signoff__verdict__ml_artifact__part_0"
    assert mr._wire("mlflow.prompt.text", uc=True) == "mlflow.prompt.text"  # not signoff's: untouched
    with pytest.raises(errors.InputError, match="cannot be told apart"):
        mr._wire("signoff.alias.my_alias", uc=True)


def test_the_lock_model_name_is_a_valid_unity_catalog_model_name() -> None:
    uc = mr.Registry("http://127.0.0.1:1", tag_style="uc")
    assert uc._lock_name("main.ml.ranker") == "main.ml.signoff_lock__ranker"
    assert mr.Registry("http://127.0.0.1:1")._lock_name("ranker") == "signoff-lock.ranker"


@pytest.mark.parametrize(
    ("message", "length", "learned"),
    [
        ("'value' exceeds the maximum length of 5000 characters", 9000, 5000),
        ("Tag value exceeds the maximum length of 1000 characters", 4000, 1000),
        ("Tag value is too long", 9000, 5000),
        ("Tag value is too long", 4000, 1000),
        ("Tag value is too long", 800, None),  # short values are never the reason
        ("RESOURCE_DOES_NOT_EXIST: no such version 12345", 9000, None),
    ],
)
def test_a_refusal_of_a_long_value_names_the_limit_to_split_within(
    message: str, length: int, learned: int | None
) -> None:
    assert mr._limit_in(message, length) == learned


def test_a_configured_limit_is_checked() -> None:
    assert mr.Registry("http://127.0.0.1:1", tag_limit=1000)._limit == 1000
    with pytest.raises(errors.InputError, match="at least 250"):
        mr.Registry("http://127.0.0.1:1", tag_limit=10)
    with pytest.raises(errors.InputError, match="'mlflow' or 'uc'"):
        mr.Registry("http://127.0.0.1:1", tag_style="hive")


def test_a_server_reached_through_a_proxy_is_called_through_mlflowclient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """signoff's own REST calls do not go through proxies; MlflowClient (``requests``) does."""
    for var in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    assert mr.Registry("http://mlflow.example:5000")._rest is not None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert mr.Registry("http://mlflow.example:5000")._rest is None
    monkeypatch.setenv("NO_PROXY", "mlflow.example")
    assert mr.Registry("http://mlflow.example:5000")._rest is not None
