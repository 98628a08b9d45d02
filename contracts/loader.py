"""Read signoff documents (YAML or Markdown) into their models, refusing bad input clearly.

Every refusal is one :class:`~contracts.errors.DocumentError` naming the file, the line (YAML and
Markdown both give one), the field path and what would be valid. What is refused, and why:

* files over :data:`MAX_BYTES` (checked before parsing: bounded memory, fast), empty files,
  bytes that are not UTF-8, tab characters in YAML;
* YAML anchors and aliases (no alias bombs: refused at the first one), duplicate keys (PyYAML
  would silently keep the last), any tag outside the plain YAML types (``!!python/object``,
  ``!custom``, ``!!binary``...), nesting deeper than :data:`MAX_DEPTH`, non-finite numbers;
* a wrong ``apiVersion`` or ``kind``, unknown fields (with the nearest valid name), missing
  sections, wrong units and everything else the models check (min > max replicas, an alert paging
  someone who is not ``ml``, ``platform`` or ``sre``...). Pydantic's messages are rewritten into
  plain English.

The public names: :func:`load_document`, :func:`load_contract`, :func:`load_cluster_policy`,
:func:`load_trust_policy`, :func:`parse_contract_text`, :func:`parse_document_text`,
:func:`dump_contract_yaml` and :func:`dump_yaml`.

Each kind's models are imported when a document of that kind is first read, so loading a trust
policy (``signoff verify``) does not build the workload contract's or cluster policy's models.
"""

from __future__ import annotations

import difflib
import importlib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from contracts._yaml import (
    _EMPTY,
    MAX_BYTES,
    MAX_DEPTH,
    Path_,
    Spelling,
    _decode,
    read_text,
    spelling_of,
    yaml_to_data,
)
from contracts.canonical import API_VERSION
from contracts.errors import DocumentError, Problem

if TYPE_CHECKING:
    from pydantic import BaseModel

    from contracts.cluster import ClusterPolicy
    from contracts.trust import TrustPolicy
    from contracts.workload import WorkloadContract

__all__ = [
    "KINDS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "Document",
    "dump_contract_yaml",
    "dump_yaml",
    "load_cluster_policy",
    "load_contract",
    "load_document",
    "load_trust_policy",
    "parse_contract_text",
    "parse_document_bytes",
    "parse_document_text",
    "read_text",
    "spelling_of",
    "validate_data",
]

Document: typing.TypeAlias = "WorkloadContract | ClusterPolicy | TrustPolicy"
M = TypeVar("M", bound="BaseModel")
KINDS: dict[str, str] = {
    "WorkloadContract": "contracts.workload",
    "ClusterPolicy": "contracts.cluster",
    "TrustPolicy": "contracts.trust",
}
"""Each document kind and the module of its model (the model class has the kind's name)."""


def model_of(kind: str) -> type[BaseModel]:
    """The model of a document kind (one of :data:`KINDS`), imported on first use."""
    return typing.cast("type[BaseModel]", getattr(importlib.import_module(KINDS[kind]), kind))


# ------------------------------------------------------------------------- errors in plain English


def _check_header(data: Any, file: str, lines: Mapping[Path_, int], want: str | None) -> type[BaseModel]:
    from contracts._validate import kind_of

    if not isinstance(data, dict):
        raise DocumentError(
            file,
            [
                Problem(
                    "",
                    f"must be a YAML mapping with apiVersion, kind, metadata and spec, not {kind_of(data)}",
                    lines.get(()),
                )
            ],
        )
    kind = data.get("kind")
    valid = ", ".join(KINDS)
    if kind is None:
        raise DocumentError(file, [Problem("kind", f"missing 'kind'; write one of {valid}", lines.get(()))])
    if not isinstance(kind, str):
        raise DocumentError(
            file,
            [Problem("kind", f"'kind' must be a string, not {kind_of(kind)}; write one of {valid}",
                     lines.get(("kind",)))],
        )  # fmt: skip
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, list(KINDS), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise DocumentError(
            file, [Problem("kind", f"unknown kind {kind!r}{hint} (valid: {valid})", lines.get(("kind",)))]
        )
    if want is not None and kind != want:
        raise DocumentError(
            file, [Problem("kind", f"this is a {kind}, but a {want} is expected here", lines.get(("kind",)))]
        )
    api = data.get("apiVersion")
    if api != API_VERSION:
        what = "missing 'apiVersion'" if api is None else f"{api!r} is not supported"
        raise DocumentError(
            file,
            [
                Problem(
                    "apiVersion",
                    f"{what}; write 'apiVersion: {API_VERSION}'",
                    lines.get(("apiVersion",), lines.get(())),
                )
            ],
        )
    return model_of(kind)


def parse_document_text(
    text: str, file: str, spelling: Spelling = "yaml", kind: str | None = None
) -> Document:
    """Parse a document of any kind from its text (Markdown is always a WorkloadContract).

    Args:
        text: the document.
        file: the name used in error messages.
        spelling: ``"yaml"`` or ``"md"``.
        kind: the kind expected (``"WorkloadContract"``...), or None for whichever it declares.

    Raises:
        DocumentError: the document is invalid; names file, line, field path and the fix.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise DocumentError(file, [Problem("", f"is larger than {MAX_BYTES // 1024} KiB; refused unread")])
    if not text.strip():
        raise DocumentError(file, [Problem("", _EMPTY)])
    if spelling == "md":
        if kind not in (None, "WorkloadContract"):
            raise DocumentError(
                file, [Problem("", f"a Markdown document is a WorkloadContract, not a {kind}")]
            )
        from contracts import markdown

        return markdown.parse_markdown(text, file)
    data, lines = yaml_to_data(text, file)
    model = _check_header(data, file, lines, kind)
    return typing.cast(Document, validate_data(model, data, file, lines))


def validate_data(model: type[M], data: Any, file: str, lines: Mapping[Path_, int] | None = None) -> M:
    """:func:`contracts._validate.validate_data` (pydantic is imported with it, when first needed)."""
    from contracts import _validate

    return _validate.validate_data(model, data, file, lines)


def parse_document_bytes(
    data: bytes, file: str, spelling: Spelling = "yaml", kind: str | None = None
) -> Document:
    """Like :func:`parse_document_text` for raw bytes: size cap, UTF-8 and emptiness checked first.

    Raises:
        DocumentError: the bytes are not a valid document.
    """
    return parse_document_text(_decode(data[: MAX_BYTES + 1], file), file, spelling, kind)


def parse_contract_text(text: str, file: str, spelling: Spelling = "yaml") -> WorkloadContract:
    """Parse a workload contract from YAML or Markdown text.

    Raises:
        DocumentError: the contract is invalid.
    """
    from contracts.workload import WorkloadContract

    doc = parse_document_text(text, file, spelling, "WorkloadContract")
    assert isinstance(doc, WorkloadContract)
    return doc


def load_document(path: str | Path, kind: str | None = None) -> Document:
    """Load any signoff document; the spelling follows the extension, the model its ``kind``."""
    return parse_document_text(read_text(path), str(path), spelling_of(path), kind)


def load_contract(path: str | Path) -> WorkloadContract:
    """Load a workload contract from YAML (``.yaml``/``.yml``) or Markdown (``.md``).

    Raises:
        DocumentError: the file is missing or the contract is invalid (file, line, field, fix).
    """
    return parse_contract_text(read_text(path), str(path), spelling_of(path))


def load_cluster_policy(path: str | Path) -> ClusterPolicy:
    """Load a cluster policy document (YAML).

    Raises:
        DocumentError: the file is missing or the policy is invalid.
    """
    from contracts.cluster import ClusterPolicy

    doc = parse_document_text(read_text(path), str(path), "yaml", "ClusterPolicy")
    assert isinstance(doc, ClusterPolicy)
    return doc


def load_trust_policy(path: str | Path) -> TrustPolicy:
    """Load a trust policy document (YAML).

    Raises:
        DocumentError: the file is missing or the policy is invalid.
    """
    from contracts.trust import TrustPolicy

    doc = parse_document_text(read_text(path), str(path), "yaml", "TrustPolicy")
    assert isinstance(doc, TrustPolicy)
    return doc


# ------------------------------------------------------------------------------------------ writing


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, no aliases."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(doc: BaseModel, schema: str | None = None) -> str:
    """Any signoff document as YAML, fields in model order, defaults left out.

    Args:
        doc: the document.
        schema: when given, a first line ``# yaml-language-server: $schema=<schema>`` for editors.
    """
    data = doc.model_dump(mode="json", exclude_defaults=True)
    full = doc.model_dump(mode="json")
    out = {"apiVersion": full["apiVersion"], "kind": full["kind"], **data}
    if full["kind"] == "WorkloadContract":  # say how promotion decides, even when it is the default
        out["spec"]["promotion"] = full["spec"]["promotion"]
    text = yaml.dump(
        out, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    return (f"# yaml-language-server: $schema={schema}\n" if schema else "") + text


def dump_contract_yaml(contract: WorkloadContract, schema: str | None = None) -> str:
    """The contract in its YAML spelling; ``parse_contract_text`` reads it back unchanged."""
    return dump_yaml(contract, schema)
