"""Reading a signoff document's YAML into plain data, refusing what YAML must not carry.

The part of :mod:`contracts.loader` that needs no model (so no pydantic): the size cap, UTF-8,
emptiness, tabs, anchors and aliases, duplicate keys, tags outside the plain YAML types, nesting
depth and non-finite numbers, each refused with the file, the line and the field path. It also
records the line of every field path, for the models' messages. ``signoff contract check`` reads
through it before anything imports pydantic (:mod:`contracts._fastcheck`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from contracts._units import _show
from contracts.errors import DocumentError, Problem

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "Path_",
    "Spelling",
    "fmt_path",
    "read_text",
    "spelling_of",
    "yaml_to_data",
]

Path_ = tuple[str | int, ...]
"""A field path in a document: keys and list indexes."""


def fmt_path(path: Sequence[str | int]) -> str:
    """A field path as people write it: ``spec.alerts[0].threshold``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


MAX_BYTES = 1 << 20
"""Largest document signoff reads (1 MiB); a contract is a few KiB."""
MAX_DEPTH = 32
"""Deepest YAML nesting accepted; a contract nests five levels."""

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


def yaml_to_data(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
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


_FAST_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's safe dumper where PyYAML was built with it (the wheels are), else the pure-Python one."""


def dump_block_all(docs: Sequence[Any]) -> str:
    """``yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=1000)``, through
    libyaml when present: the same YAML several times faster (Kubernetes manifests, rules, routes).

    Only where long strings may fold differently does the text differ between the two emitters,
    never what it loads to; every digest signoff signs covers canonical JSON, not this text.
    """
    return yaml.dump_all(docs, Dumper=_FAST_DUMPER, sort_keys=False, default_flow_style=False, width=1000)


def dump_block(doc: Any) -> str:
    """One document, as :func:`dump_block_all`."""
    return dump_block_all([doc])
