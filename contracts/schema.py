"""JSON Schema of each signoff document, for editors and for other tools.

The committed files in ``contracts/schema/`` are generated from the models by
``signoff contract schema --write``; a unit test fails when they are stale. Editors pick them up
from a first line ``# yaml-language-server: $schema=../schema/<name>.schema.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

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


def schemas() -> dict[str, dict[str, Any]]:
    """Each document's JSON Schema (draft 2020-12), keyed by ``workload-contract`` etc."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in _MODELS.items():
        body = model.model_json_schema(mode="validation")
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
