"""Units parsed once, at the edge.

``"<200ms"``, ``"0.2s"``, ``"120 seconds"``, ``"2 min"`` become a :class:`Duration`; ``"99.9%"`` a
:class:`Percent`; ``"40GB"``, ``"12 GiB"`` a :class:`ByteSize`. Everything past the parser sees
typed values. Each type serialises back to one canonical string, so a value survives
YAML -> model -> Markdown -> model unchanged.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pydantic is imported by the models that use these types, not by the units
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import core_schema

_NUM = r"(?P<num>\d+(?:\.\d+)?|\.\d+)"


def _show(text: object, most: int = 60) -> str:
    """``repr`` of a user's value for a message, cut short so a message stays one readable line."""
    shown = repr(text)
    return shown if len(shown) <= most else shown[: most - 5] + "...'"


def _fmt(value: float) -> str:
    """Shortest exact decimal for a float (no exponent, no trailing zeros)."""
    text = format(Decimal(repr(float(value))).normalize(), "f")
    return text


class _Unit:
    """Base of the unit types: immutable, ordered, hashable, validated by pydantic."""

    __slots__ = ("_value",)
    _value: float
    _pattern: ClassVar[re.Pattern[str]]
    _examples: ClassVar[tuple[str, ...]]
    _what: ClassVar[str]

    def __init__(self, value: float) -> None:
        if value > 1e18 or not math.isfinite(value) or value < 0:
            raise ValueError(f"{self._what} must be a finite, non-negative number (at most 1e18)")
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @classmethod
    def parse(cls, text: str) -> _Unit:  # pragma: no cover - overridden
        raise NotImplementedError

    def canonical(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return self.canonical()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.canonical()!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._value == self._value

    def __lt__(self, other: _Unit) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self._value < other._value)

    def __le__(self, other: _Unit) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self._value <= other._value)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value))

    @classmethod
    def _validate(cls, value: Any) -> _Unit:
        if isinstance(value, cls):
            return value
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"expected {cls._what} such as {', '.join(cls._examples)}")
        return cls.parse(str(value))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: v.canonical(), when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": _json_pattern(cls._pattern), "examples": list(cls._examples)}


def _json_pattern(pattern: re.Pattern[str]) -> str:
    """A Python pattern as an ECMA-262 one for JSON Schema: no named groups, case folded by hand."""
    text = re.sub(r"\(\?P<\w+>", "(?:", pattern.pattern)
    if not pattern.flags & re.IGNORECASE:
        return text
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            out.append(text[i : i + 2])
            i += 2
            continue
        out.append(f"[{ch.lower()}{ch.upper()}]" if ch.isascii() and ch.isalpha() else ch)
        i += 1
    return "".join(out)


_DURATION_UNITS: dict[str, float] = {
    "ms": 0.001, "msec": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}  # fmt: skip


class Duration(_Unit):
    """A span of time, stored in seconds. Parses ``<200ms``, ``0.2s``, ``120 seconds``, ``2 min``."""

    _pattern = re.compile(
        r"^\s*(?:[<≤]=?\s*)?"
        + _NUM
        + r"\s*(?P<unit>"
        + "|".join(sorted(_DURATION_UNITS, key=len, reverse=True))
        + r")\s*$",
        re.IGNORECASE,
    )
    _examples = ("200ms", "0.2s", "120 seconds", "2 min", "1h", "3d")
    _what = "a duration"

    @property
    def seconds(self) -> float:
        return float(self._value)

    @property
    def milliseconds(self) -> float:
        return float(self._value) * 1000.0

    @classmethod
    def of_seconds(cls, seconds: float) -> Duration:
        return cls(float(seconds))

    @classmethod
    def parse(cls, text: str) -> Duration:
        m = cls._pattern.match(text)
        if not m:
            raise ValueError(
                f"{_show(text)} is not a duration; write a number and a unit (ms, s, min, h, d), "
                f"such as {', '.join(repr(e) for e in cls._examples)}"
            )
        return cls(float(Decimal(m["num"]) * Decimal(repr(_DURATION_UNITS[m["unit"].lower()]))))

    def canonical(self) -> str:
        ms = Decimal(repr(self._value)) * 1000
        for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
            if ms >= size and ms % size == 0:
                return f"{ms // size}{unit}"
        if ms >= 1000:
            return f"{_fmt(float(ms / 1000))}s"
        return f"{_fmt(float(ms))}ms"

    def promql(self) -> str:
        """The duration in Prometheus syntax (whole units; sub-second values in ms)."""
        c = self.canonical()
        return c if not re.search(r"\.", c) else f"{round(self.milliseconds)}ms"


class Percent(_Unit):
    """A percentage such as ``99.95%``; :attr:`fraction` is 0.9995."""

    _pattern = re.compile(r"^\s*(?:[<>≤≥]=?\s*)?" + _NUM + r"\s*%\s*$")
    _examples = ("99.9%", "5%", "0.1%")
    _what = "a percentage"

    @property
    def percent(self) -> float:
        return float(self._value)

    @property
    def fraction(self) -> float:
        return float(Decimal(repr(self._value)) / 100)

    @classmethod
    def parse(cls, text: str) -> Percent:
        m = cls._pattern.match(text)
        if not m:
            raise ValueError(
                f"{_show(text)} is not a percentage; write a number and '%', such as '99.9%' or '5%'"
            )
        value = float(m["num"])
        if value > 100:
            raise ValueError(f"{_show(text)} is over 100%")
        return cls(value)

    def canonical(self) -> str:
        return f"{_fmt(self._value)}%"


_BYTE_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
    "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40,
}  # fmt: skip


class ByteSize(_Unit):
    """An amount of memory in bytes. Parses ``40GB``, ``12 GiB``, ``512Mi``; GB is 10^9, GiB 2^30."""

    _pattern = re.compile(
        r"^\s*" + _NUM + r"\s*(?P<unit>" + "|".join(sorted(_BYTE_UNITS, key=len, reverse=True)) + r")\s*$",
        re.IGNORECASE,
    )
    _examples = ("40GB", "12 GiB", "512MiB", "30GB")
    _what = "an amount of memory"

    @property
    def bytes(self) -> int:
        return int(self._value)

    @property
    def gib(self) -> float:
        return self._value / 2**30

    @property
    def gb(self) -> float:
        return self._value / 10**9

    @classmethod
    def of_bytes(cls, n: int) -> ByteSize:
        return cls(int(n))

    @classmethod
    def parse(cls, text: str) -> ByteSize:
        m = cls._pattern.match(text)
        if not m:
            raise ValueError(
                f"{_show(text)} is not an amount of memory; write a number and a unit (MB, GB, MiB, GiB), "
                "such as '40GB' or '12 GiB'"
            )
        try:
            n = Decimal(m["num"]) * _BYTE_UNITS[m["unit"].lower()]
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
            raise ValueError(f"{_show(text)} is not a number") from exc
        if n != n.to_integral_value():
            raise ValueError(f"{_show(text)} is not a whole number of bytes")
        return cls(int(n))

    def canonical(self) -> str:
        n = int(self._value)
        for unit, size in (("TB", 10**12), ("TiB", 2**40), ("GB", 10**9), ("GiB", 2**30),
                           ("MB", 10**6), ("MiB", 2**20), ("KB", 10**3), ("KiB", 2**10)):  # fmt: skip
            if n >= size and n % size == 0:
                return f"{n // size}{unit}"
        return f"{n}B"

    def kubernetes_quantity(self) -> str:
        """The amount as a Kubernetes resource quantity (``40G``, ``12Gi``)."""
        c = self.canonical()
        return c.replace("iB", "i").replace("KB", "k").replace("B", "") or "0"

    def __init__(self, value: float) -> None:
        super().__init__(value)
        if value != int(value):
            raise ValueError("an amount of memory is a whole number of bytes")


def format_bytes(n: float) -> str:
    """An amount of bytes as a person reads it, in decimal units with three significant digits:
    ``512 B``, ``12.3 KB``, ``21.6 GB`` (never ``0 GB`` for a small model, nor ``2e-05 GB``)."""
    if n < 0:
        return "-" + format_bytes(-n)
    if n < 1000:
        return f"{n:.0f} B"
    units = ("KB", "MB", "GB", "TB", "PB")
    for i, unit in enumerate(units):
        value = float(f"{n / 1000 ** (i + 1):.3g}")
        if value < 1000 or unit == units[-1]:
            return f"{value:g} {unit}" if value < 1000 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")
