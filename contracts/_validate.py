"""Validation of parsed document data against its model, with pydantic's errors in plain English.

Shared by both spellings: :mod:`contracts.loader` (YAML) and :mod:`contracts.markdown` validate
through :func:`validate_data`, so a mistake reads the same whichever spelling it was made in.
"""

from __future__ import annotations

import difflib
import enum
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, Union

from pydantic import BaseModel, ValidationError

from contracts._units import _show
from contracts._yaml import Path_, fmt_path
from contracts.errors import DocumentError, Problem

__all__ = ["Path_", "fmt_path", "kind_of", "validate_data"]

M = TypeVar("M", bound=BaseModel)
_MAX_PROBLEMS = 20
"""At most this many problems are reported for one document."""


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside Annotated / Optional / Union / tuple[X, ...]."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, tuple, list):
        return [t for a in typing.get_args(annotation) if a is not Ellipsis for t in _unwrap(a)]
    return [annotation]


def _model_at(root: type[BaseModel], path: Sequence[str | int]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = next(
            (t for t in _unwrap(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)), None
        )
    return model


def _field_type(root: type[BaseModel], path: Sequence[str | int]) -> list[Any]:
    parent = _model_at(root, [p for p in path[:-1]])
    if parent is None or not path or isinstance(path[-1], int):
        return []
    field = parent.model_fields.get(path[-1])
    return _unwrap(field.annotation) if field else []


def _resolve_loc(data: Any, loc: Sequence[str | int]) -> list[str | int]:
    """Keep the parts of a pydantic error location that are real document keys.

    Pydantic puts union members and validator names into locations; those are dropped. A last
    part that is not in the data (a missing field) is kept.
    """
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        in_map = isinstance(cur, Mapping) and isinstance(part, str) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_map or in_list:
            out.append(part)
            cur = cur[part]
        elif i == len(loc) - 1 and isinstance(part, str) and isinstance(cur, Mapping):
            out.append(part)
    return out


def _line_of(lines: Mapping[Path_, int], path: Sequence[str | int]) -> int | None:
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get(())


_PATTERNS = {
    "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$": "a DNS-1123 label: lower-case letters, digits and '-', "
    "starting and ending with a letter or digit, at most 63 characters (e.g. 'recsys-ranker-v2')",
}


def _english(err: Mapping[str, Any], root: type[BaseModel], path: list[str | int]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    name = path[-1] if path else ""
    if kind == "extra_forbidden":
        parent = _model_at(root, path[:-1])
        valid = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"unknown field '{name}'{hint} (valid fields here: {', '.join(valid)})"
    if kind == "missing":
        types_ = _field_type(root, path)
        section = next((t for t in types_ if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if section is not None:
            need = [k for k, f in section.model_fields.items() if f.is_required()]
            return f"missing section '{name}'" + (f" (it needs {', '.join(need)})" if need else "")
        return f"missing required field '{name}'"
    if kind == "literal_error":
        return f"must be {ctx.get('expected', 'one of the allowed values')}, not {_show(given)}"
    if kind == "enum":
        types_ = _field_type(root, path)
        enum_t = next((t for t in types_ if isinstance(t, type) and issubclass(t, enum.Enum)), None)
        valid = [str(m.value) for m in enum_t] if enum_t else []
        close = difflib.get_close_matches(str(given), valid, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        if name in ("pages", "decides"):
            return (
                f"{_show(given)} is not one of the contract's three owners{hint} "
                "(write ml, platform or sre; the teams are named under spec.owners)"
            )
        return f"{_show(given)} is not valid{hint} (valid: {', '.join(valid)})"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        what = _PATTERNS.get(pattern, f"text matching {pattern}")
        return f"{_show(given)} is not valid here; write {what}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping of fields, not {kind_of(given)}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, not {kind_of(given)}"
    if kind in ("string_type",):
        return f"must be text, not {kind_of(given)}"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = str(err["msg"])
    if msg.startswith("Input should be "):
        msg = "must be " + msg.removeprefix("Input should be ")
    if not isinstance(given, dict | list):
        msg += f" (got {_show(given)})"
    return msg


def kind_of(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def validate_data(model: type[M], data: Any, file: str, lines: Mapping[Path_, int] | None = None) -> M:
    """Validate plain data against ``model``; every problem becomes plain English with its line.

    Raises:
        DocumentError: listing each problem with its field path and line.
    """
    lines = lines or {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems: list[Problem] = []
        seen: set[tuple[str, str]] = set()
        for err in exc.errors(include_url=False):
            path = _resolve_loc(data, err["loc"])
            text = _english(err, model, path)
            key = (fmt_path(path), text)
            if key in seen:
                continue
            seen.add(key)
            problems.append(Problem(fmt_path(path), text, _line_of(lines, path)))
        # An unknown field whose suggestion is a missing field is one mistake (a typo), not two.
        typos = {
            (pr.path.rpartition(".")[0], m)
            for pr in problems
            if "unknown field" in pr.message
            for m in re.findall(r"did you mean '([^']+)'", pr.message)
        }
        problems = [
            pr
            for pr in problems
            if not (
                pr.message.startswith("missing")
                and (pr.path.rpartition(".")[0], pr.path.rpartition(".")[2]) in typos
            )
        ]
        if len(problems) > _MAX_PROBLEMS:
            more = len(problems) - _MAX_PROBLEMS
            problems = [*problems[:_MAX_PROBLEMS], Problem("", f"... and {more} more problems")]
        raise DocumentError(file, problems) from None


# --------------------------------------------------------------------------------------- documents
