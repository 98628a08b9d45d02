"""The one ``models:/`` parser: what each command accepts as a model reference, and what it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import InputError
from contracts.model_uri import ModelUri, logged_model_id, parse_model_uri, split_model_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/recsys-ranker/3", ModelUri("recsys-ranker", version="3")),
        ("  models:/a.b_c-1/1234567890 ", ModelUri("a.b_c-1", version="1234567890")),
    ],
)
def test_a_version_uri_gives_name_and_version(uri: str, expected: ModelUri) -> None:
    assert parse_model_uri(uri) == expected
    assert str(expected) == uri.strip()
    assert not expected.moves


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("models:/recsys-ranker@production", "is not models:/NAME/VERSION with a version number"),
        ("models:/recsys-ranker/latest", "a stage or 'latest' moves"),
        ("models:/recsys-ranker/Production", "a stage or 'latest' moves"),
        ("models:/recsys-ranker/0", "version '0' is not a version number"),
        ("models:/recsys-ranker/12345678901", "version '12345678901' is not a version number"),
        ("models:/my model/3", "model name 'my model' is not valid"),
        ("models:/-x/3", "model name '-x' is not valid"),
        ("models:/a/b/3", "is not models:/NAME/VERSION"),
        ("models:/m-0123456789abcdef", "is not models:/NAME/VERSION"),
        ("runs:/abc/model", "is not models:/NAME/VERSION"),
        ("", "is not models:/NAME/VERSION"),
    ],
)
def test_anything_but_one_exact_version_is_refused_saying_why(uri: str, why: str) -> None:
    with pytest.raises(InputError, match=r"^--model: ") as info:
        parse_model_uri(uri)
    assert why in str(info.value)


def test_an_alias_is_accepted_only_where_asked_for() -> None:
    ref = parse_model_uri("models:/ranker@champion", what="model URI", alias=True)
    assert ref == ModelUri("ranker", alias="champion") and ref.moves
    with pytest.raises(InputError, match=r"model URI: .* is not models:/NAME/VERSION or models:/NAME@ALIAS"):
        parse_model_uri("models:/ranker/latest", what="model URI", alias=True)
    with pytest.raises(InputError, match=r"alias 'a\.b' is not valid"):
        parse_model_uri("models:/ranker@a.b", alias=True)


def test_split_tells_the_forms_apart_without_judging() -> None:
    assert split_model_uri("models:/x/7") == ModelUri("x", version="7")
    assert split_model_uri("models:/x@prod") == ModelUri("x", alias="prod")
    assert split_model_uri("models:/x/Staging") == ModelUri("x", stage="Staging")
    assert split_model_uri("models:/m-0123456789abcdef") is None
    assert split_model_uri("s3://bucket/x/7") is None


def test_logged_model_ids() -> None:
    assert logged_model_id("models:/m-0123456789abcdef") == "m-0123456789abcdef"
    assert logged_model_id("models:/m-xyz") is None
    assert logged_model_id("models:/other-model/3") is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_never_crashes_and_what_it_accepts_round_trips(text: str) -> None:
    try:
        ref = parse_model_uri("models:/" + text)
    except InputError:
        return
    assert ref.version is not None
    assert str(ref) == ("models:/" + text).strip()
    assert parse_model_uri(str(ref)) == ref


def test_exact_version_is_the_pair_every_command_gates() -> None:
    from contracts.model_uri import exact_version

    assert exact_version(" models:/ranker/12 ") == ("ranker", "12")
    with pytest.raises(InputError, match="--model: 'models:/ranker@production' is not models:/NAME/VERSION"):
        exact_version("models:/ranker@production")
