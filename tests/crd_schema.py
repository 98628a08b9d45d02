"""Validate generated Kubernetes objects the way an API server would, for tests.

* :func:`validate_crd_object` checks a custom resource against its CRD's ``openAPIV3Schema``
  (the CRD files in ``../shared/schemas``), turned into a *strict* JSON Schema:

  - ``x-kubernetes-int-or-string: true`` becomes ``anyOf: [integer, string]`` (where the CRD does
    not already spell the ``anyOf``);
  - ``nullable: true`` also admits ``null``;
  - every object schema that does not carry ``x-kubernetes-preserve-unknown-fields: true`` and gives
    no ``additionalProperties`` map schema gets ``additionalProperties: false``: the API server
    prunes (or, with field validation ``Strict``, refuses) unknown fields, so a misspelled field
    would silently vanish in the cluster; here it is an error;
  - Go regular expressions with mid-pattern flags (``^(?i)...``) are rewritten for Python;
  - the root ``metadata`` (which CRDs leave as a bare ``type: object``) is checked as a small
    ObjectMeta: name/namespace strings, labels and annotations maps of strings.

* :func:`validate_core_object` checks a core object (Deployment, Service, ...) with the
  ``kubernetes-validate`` package's *strict* schemas (unknown fields refused) for a Kubernetes
  version, returning every error rather than the first.

Both return a list of messages ``"<field path>: <what is wrong>"``; empty means valid.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = ["crd_json_schema", "validate_core_object", "validate_crd_object"]

_OBJECT_META: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 253},
        "generateName": {"type": "string"},
        "namespace": {"type": "string", "maxLength": 63},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}


def _python_regex(pattern: str) -> str:
    """Go (RE2) patterns may put flags mid-way (``^(?i)(a|b)$``); Python wants them first."""
    for flag in ("(?i)", "(?s)", "(?m)"):
        if flag in pattern and not pattern.startswith(flag):
            pattern = flag + pattern.replace(flag, "")
    return pattern


def _strict(node: Any) -> Any:
    """Return a strict JSON Schema copy of one OpenAPI v3 (structural) schema node."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions", "$defs"):
            out[key] = {k: _strict(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf"):
            out[key] = _strict(value)
        elif key == "pattern" and isinstance(value, str):
            out[key] = _python_regex(value)
        elif key.startswith("x-kubernetes-"):
            continue  # handled below; list-type/map-type/validations have no JSON Schema meaning here
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        if "anyOf" not in out:
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable"):
        out.pop("nullable", None)
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
    is_object = out.get("type") == "object" or "properties" in out
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(node.get("x-kubernetes-embedded-resource"))
    if is_object and not preserve and not embedded and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@functools.lru_cache(maxsize=16)
def _load_crd(path: str, mtime: float) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        docs = [d for d in yaml.load_all(fh, Loader=loader) if d]
    crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
    if len(crds) != 1:
        raise ValueError(f"{path}: expected one CustomResourceDefinition, found {len(crds)}")
    return crds[0]


@functools.lru_cache(maxsize=32)
def _crd_schema_cached(path: str, mtime: float, version: str) -> tuple[str, str, dict[str, Any]]:
    crd = _load_crd(path, mtime)
    spec = crd["spec"]
    for v in spec["versions"]:
        if v["name"] == version:
            schema = _strict(copy.deepcopy(v["schema"]["openAPIV3Schema"]))
            schema.setdefault("properties", {})["metadata"] = _OBJECT_META
            schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
            # (no check_schema: meta-validating the 2 MB KServe schema takes ~20 s)
            return spec["group"], spec["names"]["kind"], schema
    names = [v["name"] for v in spec["versions"]]
    raise ValueError(f"{path}: CRD serves versions {names}, not {version!r}")


def crd_json_schema(crd_file: Path, api_version: str) -> dict[str, Any]:
    """The strict JSON Schema (2020-12) of one version of a CRD, e.g. ``serving.kserve.io/v1beta1``."""
    _group, _, version = api_version.rpartition("/")
    return _crd_schema_cached(str(crd_file), crd_file.stat().st_mtime, version)[2]


def _path(err: jsonschema.ValidationError) -> str:
    out = ""
    for part in err.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _messages(validator: jsonschema.protocols.Validator, obj: dict[str, Any]) -> list[str]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{_path(e)}: {e.message}" for e in errors]


def validate_crd_object(crd_file: Path, obj: dict[str, Any]) -> list[str]:
    """Validate a custom resource against a CRD file, refusing unknown fields.

    Args:
        crd_file: a YAML file holding one ``CustomResourceDefinition``.
        obj: the object (``apiVersion``, ``kind``, ``metadata``, ``spec``...).

    Returns:
        Error messages ``"<field path>: <message>"``; empty when the object is valid.
    """
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    crd_group, crd_kind, schema = _crd_schema_cached(str(crd_file), crd_file.stat().st_mtime, version)
    problems: list[str] = []
    if group != crd_group:
        problems.append(f"apiVersion: {api_version!r} is not in group {crd_group!r} of {crd_file.name}")
    if obj.get("kind") != crd_kind:
        problems.append(f"kind: {obj.get('kind')!r} is not {crd_kind!r}")
    return problems + _messages(jsonschema.Draft202012Validator(schema), obj)


@functools.lru_cache(maxsize=64)
def _core_validator(
    kind: str, api_version: str, k8s_version: str
) -> tuple[str, jsonschema.protocols.Validator]:
    import re

    from kubernetes_validate import utils as kv
    from referencing import Registry, Resource

    wanted = kv.major_minor(k8s_version.removeprefix("v"))
    if wanted > kv.latest_version():
        raise ValueError(f"kubernetes-validate ships schemas up to {kv.latest_version()}, not {wanted}")
    version = [v for v in kv.all_versions() if kv.major_minor(v) <= wanted][-1]
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    schema = kv.schema_contents(f"{folder}/{kind.lower()}-{api}.json", k8s_version)
    defs = kv.schema_contents(f"{folder}/_definitions.json", k8s_version)
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(defs) @ registry
    return kv.major_minor(version), jsonschema.Draft202012Validator(schema, registry=registry)


def validate_core_object(obj: dict[str, Any], k8s_version: str) -> list[str]:
    """Validate a core Kubernetes object with kubernetes-validate's strict schemas.

    Args:
        obj: the object.
        k8s_version: a Kubernetes version such as ``"1.30"``; the newest shipped schema not newer
            than it is used.

    Returns:
        Error messages ``"<field path>: <message>"``; empty when the object is valid.
    """
    try:
        _, validator = _core_validator(str(obj["kind"]), str(obj["apiVersion"]), k8s_version)
    except FileNotFoundError:
        return [f"(root): no {k8s_version} schema for {obj.get('apiVersion')} {obj.get('kind')}"]
    return _messages(validator, obj)
