"""JSON Schema of each signoff document, for editors and for other tools.

The committed files in ``contracts/schema/`` are generated from the models by
``signoff contract schema --write``; a unit test fails when they are stale. Editors pick them up
from a first line ``# yaml-language-server: $schema=../schema/<name>.schema.json``.

Field descriptions are the attribute docstrings under each field. They are read from the source
here, when a schema is made, not by pydantic at class creation (``use_attribute_docstrings``): that
reads and compiles every model's source on every import and was a fifth of ``signoff contract
check``'s start-up. The schema is the same either way (the golden test holds the committed files).
Likewise a field whose default is a nested model takes it from a ``default_factory``: a default
instance made in the class body builds that model's validator on import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic._internal._docs_extraction import extract_docstrings_from_cls
from pydantic.json_schema import GenerateJsonSchema, JsonRef, JsonSchemaValue
from pydantic_core import core_schema

from contracts.cluster import ClusterPolicy
from contracts.trust import TrustPolicy
from contracts.workload import WorkloadContract

__all__ = ["SCHEMA_DIR", "file_name", "render", "schemas", "write"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
"""Where the committed schema files live."""

_MODELS: dict[str, type[BaseModel]] = {
    "workload-contract": WorkloadContract,
    "cluster-policy": ClusterPolicy,
    "trust-policy": TrustPolicy,
}
_ID = "https://signoff.dev/schema/{name}.schema.json"


class _WithFieldDocs(GenerateJsonSchema):
    """Pydantic's generator, plus each field's attribute docstring as its ``description``."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        cls = schema["cls"]
        docs: dict[str, str] = {}
        for klass in reversed(cls.__mro__):  # a subclass's docstring wins over its base's
            if issubclass(klass, BaseModel) and klass is not BaseModel:
                docs.update(extract_docstrings_from_cls(klass, use_inspect=True))
        target = self.get_schema_from_definitions(JsonRef(out["$ref"])) if "$ref" in out else out
        for name, prop in (target or {}).get("properties", {}).items():
            field = cls.model_fields.get(name)
            if field is not None and field.description is None and name in docs:
                prop.setdefault("description", docs[name])
        return out

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        """A nested model's default is built by its factory (so importing the models builds no
        validator); the schema still shows it, as pydantic shows a plain default."""
        factory = schema.get("default_factory")
        if isinstance(factory, type) and issubclass(factory, BaseModel):
            return factory().model_dump(mode="json")
        return super().get_default_value(schema)


def schemas() -> dict[str, dict[str, Any]]:
    """Each document's JSON Schema (draft 2020-12), keyed by ``workload-contract`` etc."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in _MODELS.items():
        body = model.model_json_schema(mode="validation", schema_generator=_WithFieldDocs)
        out[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": _ID.format(name=name),
            **body,
        }
    return out


def file_name(name: str) -> str:
    """``workload-contract`` -> ``workload-contract.schema.json``."""
    return f"{name}.schema.json"


def render(schema: dict[str, Any]) -> str:
    """A schema as the committed file's text (sorted keys, two-space indent, final newline)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / file_name(name)
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
