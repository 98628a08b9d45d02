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
"""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from contracts import markdown
from contracts._units import _show
from contracts._validate import Path_, fmt_path, kind_of, validate_data
from contracts.cluster import ClusterPolicy
from contracts.errors import DocumentError, Problem
from contracts.trust import TrustPolicy
from contracts.workload import API_VERSION, WorkloadContract

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

MAX_BYTES = 1 << 20
"""Largest document signoff reads (1 MiB); a contract is a few KiB."""
MAX_DEPTH = 32
"""Deepest YAML nesting accepted; a contract nests five levels."""

Document = WorkloadContract | ClusterPolicy | TrustPolicy
KINDS: dict[str, type[BaseModel]] = {
    "WorkloadContract": WorkloadContract,
    "ClusterPolicy": ClusterPolicy,
    "TrustPolicy": TrustPolicy,
}
Spelling = Literal["yaml", "md"]

_SCALAR_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


# ------------------------------------------------------------------------------------------- reading


def read_text(path: str | Path) -> str:
    """Read a document's text: at most :data:`MAX_BYTES`, UTF-8, not empty.

    Raises:
        DocumentError: the file is missing, too large, not UTF-8 or empty.
    """
    p = Path(path)
    file = str(p)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise DocumentError(file, [Problem("", "no such file")]) from None
    except IsADirectoryError:
        raise DocumentError(file, [Problem("", "is a directory, not a document")]) from None
    except OSError as exc:
        raise DocumentError(file, [Problem("", f"cannot be read: {exc.strerror}")]) from None
    return _decode(data, file)


def _decode(data: bytes, file: str) -> str:
    if len(data) > MAX_BYTES:
        raise DocumentError(
            file,
            [
                Problem(
                    "",
                    f"is larger than {MAX_BYTES // 1024} KiB; a signoff document is a few KiB, refused "
                    f"unread",
                )
            ],
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise DocumentError(
            file,
            [
                Problem(
                    "",
                    f"is not UTF-8 text{hint}: byte 0x{data[exc.start]:02x} cannot be decoded; save it as "
                    f"UTF-8",
                    line,
                )
            ],
        ) from None
    if not text.strip():
        raise DocumentError(file, [Problem("", _EMPTY)])
    return text


_EMPTY = (
    "the file is empty; a workload contract needs apiVersion, kind, metadata and spec "
    "(run 'signoff contract init NAME' for a commented start)"
)


def spelling_of(path: str | Path) -> Spelling:
    """``"md"`` for ``.md``/``.markdown`` files, else ``"yaml"``."""
    return "md" if Path(path).suffix.lower() in (".md", ".markdown") else "yaml"


# ------------------------------------------------------------------------------------ YAML, checked

_EventLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser where installed (several times faster), PyYAML's own otherwise. Only its
event stream is used: the composing below is ours, so aliases, tags and duplicates are seen."""
_CONSTRUCTOR = SafeConstructor()


class _Walk:
    """Turn a YAML event stream into plain data, recording the line of every field path."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.parser = _EventLoader(text)

    def refuse(self, path: Path_, message: str, line: int | None) -> DocumentError:
        return DocumentError(self.file, [Problem(fmt_path(path), message, line)])

    def document(self) -> Any:
        p = self.parser
        p.get_event()  # StreamStart
        if p.check_event(yaml.StreamEndEvent):
            return None
        p.get_event()  # DocumentStart
        data = self.node((), 1)
        p.get_event()  # DocumentEnd
        if not p.check_event(yaml.StreamEndEvent):
            line = p.peek_event().start_mark.line + 1
            raise self.refuse(
                (), "holds more than one YAML document ('---'); put one document in each file", line
            )
        return data

    def node(self, path: Path_, depth: int) -> Any:
        p = self.parser
        event = p.get_event()
        line = event.start_mark.line + 1
        self.lines.setdefault(path, line)
        if isinstance(event, yaml.AliasEvent):
            raise self.refuse(
                path,
                f"YAML alias '*{event.anchor}' refused: signoff documents allow no anchors or aliases "
                "(they can expand without bound); write the value out",
                line,
            )
        if event.anchor is not None:
            raise self.refuse(
                path,
                f"YAML anchor '&{event.anchor}' refused: signoff documents allow no anchors or aliases; "
                "write the value out",
                line,
            )
        if depth > MAX_DEPTH:
            raise self.refuse(
                (), f"nested more than {MAX_DEPTH} levels deep; a signoff document is shallow", line
            )
        if isinstance(event, yaml.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = p.resolve(ScalarNode, event.value, event.implicit)
            self.check_tag(path, tag, line, _SCALAR_TAGS)
            if tag.endswith(":timestamp"):
                return event.value
            construct = _CONSTRUCTOR.yaml_constructors[tag]  # plain scalars only: tags were checked above
            try:
                value = construct(_CONSTRUCTOR, ScalarNode(tag, event.value))
            except ValueError:  # e.g. an integer of thousands of digits
                kind = tag.rsplit(":", 1)[-1]
                raise self.refuse(path, f"{_show(event.value)} is not a usable {kind}", line) from None
            if isinstance(value, float) and not math.isfinite(value):
                raise self.refuse(path, f"{_show(event.value)} is not a finite number", line)
            return value
        if isinstance(event, yaml.SequenceStartEvent):
            self.check_tag(path, event.tag or _SEQ, line, {_SEQ})
            items: list[Any] = []
            while not p.check_event(yaml.SequenceEndEvent):
                items.append(self.node((*path, len(items)), depth + 1))
            p.get_event()
            return items
        assert isinstance(event, yaml.MappingStartEvent)
        self.check_tag(path, event.tag or _MAP, line, {_MAP})
        out: dict[str, Any] = {}
        while not p.check_event(yaml.MappingEndEvent):
            key_event = p.peek_event()
            kline = key_event.start_mark.line + 1
            if not isinstance(key_event, yaml.ScalarEvent):
                raise self.refuse(path, "a mapping key must be plain text", kline)
            if key_event.anchor is not None or (key_event.tag not in (None, "!")):
                raise self.refuse(path, "a mapping key must be plain text (no anchor or tag)", kline)
            p.get_event()
            key = str(key_event.value)
            if key in out:
                raise self.refuse(
                    (*path, key),
                    f"duplicate key '{key}' (first at line {self.lines[(*path, key)]}); "
                    "YAML would silently keep the last one: keep one",
                    kline,
                )
            self.lines[(*path, key)] = kline
            out[key] = self.node((*path, key), depth + 1)
            self.lines[(*path, key)] = kline
        p.get_event()
        return out

    def check_tag(self, path: Path_, tag: str, line: int, allowed: set[str]) -> None:
        if tag not in allowed:
            raise self.refuse(
                path,
                f"YAML tag '{tag}' refused: only plain strings, numbers, booleans, null, mappings and lists "
                "are allowed",
                line,
            )


def _yaml_to_data(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML into plain data and a map from each field path to its 1-based line."""
    for n, row in enumerate(text.splitlines(), start=1):
        col = row.find("\t")
        if col >= 0:
            raise DocumentError(
                file,
                [
                    Problem(
                        "",
                        f"tab character at column {col + 1}; YAML is indented with spaces, replace the tab",
                        n,
                    )
                ],
            )
    walk: _Walk | None = None
    try:
        walk = _Walk(text, file)
        data = walk.document()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid"
        raise DocumentError(
            file, [Problem("", f"is not valid YAML: {what}", mark.line + 1 if mark else None)]
        ) from None
    except yaml.reader.ReaderError as exc:
        at = text[: exc.position].count("\n") + 1 if isinstance(exc.character, int) else None
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "a character"
        raise DocumentError(
            file, [Problem("", f"contains the control character {char}, which YAML does not allow", at)]
        ) from None
    except yaml.YAMLError as exc:  # anything else libyaml reports
        raise DocumentError(file, [Problem("", f"is not valid YAML: {exc}")]) from None
    finally:
        if walk is not None:
            walk.parser.dispose()
    if data is None:
        raise DocumentError(file, [Problem("", _EMPTY)])
    return data, walk.lines


# ------------------------------------------------------------------------- errors in plain English


def _check_header(data: Any, file: str, lines: Mapping[Path_, int], want: str | None) -> type[BaseModel]:
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
    return KINDS[kind]


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
        return markdown.parse_markdown(text, file)
    data, lines = _yaml_to_data(text, file)
    model = _check_header(data, file, lines, kind)
    return typing.cast(Document, validate_data(model, data, file, lines))


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
    doc = parse_document_text(read_text(path), str(path), "yaml", "ClusterPolicy")
    assert isinstance(doc, ClusterPolicy)
    return doc


def load_trust_policy(path: str | Path) -> TrustPolicy:
    """Load a trust policy document (YAML).

    Raises:
        DocumentError: the file is missing or the policy is invalid.
    """
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
    if isinstance(doc, WorkloadContract):  # say how promotion decides, even when it is the default
        out["spec"]["promotion"] = full["spec"]["promotion"]
    text = yaml.dump(
        out, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    return (f"# yaml-language-server: $schema={schema}\n" if schema else "") + text


def dump_contract_yaml(contract: WorkloadContract, schema: str | None = None) -> str:
    """The contract in its YAML spelling; ``parse_contract_text`` reads it back unchanged."""
    return dump_yaml(contract, schema)
