"""The digest of a plainly valid workload contract, without pydantic: ``signoff contract check``'s fast path.

Importing pydantic and building the contract's models costs several times a whole ``python`` start;
most contracts checked are valid and written plainly (strings where the model wants text and units,
whole numbers where it wants integers). For exactly those, :func:`plain_contract_digest` decides the
contract is valid and returns the same digest :meth:`WorkloadContract.digest
<contracts.workload.WorkloadContract.digest>` gives, from the same canonical JSON.

It only ever says "valid, with this digest" or "not decided here" (``None``): anything it does not
recognise as plainly valid (a mistake, an unusual spelling pydantic would coerce, text outside
printable ASCII where a pattern applies) is not decided here, and the caller validates with the
models, which are the authority and write the error messages. So it can never refuse a contract
the models accept, and never word an error. The vocabulary below copies the models' (enum values,
patterns, bounds); ``tests/unit/test_contract_fastcheck.py`` holds the copies equal to the models
and the digests equal on every example and on generated contracts.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

from contracts import _yaml
from contracts._units import ByteSize, Duration, Percent, _Unit
from contracts.canonical import API_VERSION, canonical_json
from contracts.model_uri import MODEL_NAME

__all__ = ["plain_contract_digest", "plain_contract_file"]

ROLES = ("ml", "platform", "sre")
SIGNALS = (
    "latency",
    "availability",
    "error_rate",
    "accuracy_drift",
    "data_drift",
    "gpu_oom",
    "gpu_utilization",
    "cold_start",
    "throughput",
)
COMPARISONS = (">", "<")
PROBLEM_KINDS = ("quality", "availability", "latency", "cost", "security")
ROLLBACK_ACTIONS = ("revert_to_previous",)
APPROVALS = ("automatic", "manual")
THRESHOLD_KIND: dict[str, type | None] = {
    "latency": Duration,
    "cold_start": Duration,
    "availability": Percent,
    "error_rate": Percent,
    "accuracy_drift": Percent,
    "data_drift": Percent,
    "gpu_utilization": Percent,
    "gpu_oom": None,
    "throughput": float,
}
PATTERNS = {
    "name": r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
    "model": f"^{MODEL_NAME}$",
    "team": r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$",
    "handle": r"^[^\s<>](?:[^\r\n\t<>]*[^\s<>])?$",
    "runbook": r"^https?://\S+$",
    "product": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
    "metric": r"^[A-Za-z0-9_./-](?:[A-Za-z0-9_.\-/ ]{0,248}[A-Za-z0-9_./-])?$",
}
"""The models' ``Field(pattern=...)`` patterns, by what they check."""
_RE = {k: re.compile(v) for k, v in PATTERNS.items()}
DEFAULT_TTL = "7d"


class _NotPlain(Exception):
    """Not decided here: the models decide (and word the error, if there is one)."""


def _keys(obj: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if type(obj) is not dict or not obj.keys() >= set(required) or not obj.keys() <= {*required, *optional}:
        raise _NotPlain
    return obj


def _text(value: Any, pattern: str, most: int | None = None) -> str:
    # Printable ASCII only: there Python's and pydantic's (Rust) regex engines agree on \s and \S.
    if type(value) is not str or not value.isascii() or not value.isprintable():
        raise _NotPlain
    if (most is not None and len(value) > most) or _RE[pattern].fullmatch(value) is None:
        raise _NotPlain
    return value


def _optional_text(value: Any, pattern: str, most: int) -> str | None:
    return None if value is None else _text(value, pattern, most)


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    if type(value) is not str or value not in allowed:
        raise _NotPlain
    return value


def _int(value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _NotPlain
    return value


def _float(value: Any, above: float, high: float) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or not above < value <= high:
        raise _NotPlain
    return float(value)


def _bound(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _NotPlain
    return float(value)


def _unit(cls: type[_Unit], value: Any) -> _Unit:
    if type(value) not in (str, int, float):
        raise _NotPlain
    try:
        return cls._validate(value)
    except ValueError:
        raise _NotPlain from None


def _owner(obj: Any) -> dict[str, Any]:
    o = _keys(obj, ("team",), ("pager", "chat", "runbook"))
    return {
        "team": _text(o["team"], "team"),
        "pager": _optional_text(o.get("pager"), "handle", 200),
        "chat": _optional_text(o.get("chat"), "handle", 200),
        "runbook": _optional_text(o.get("runbook"), "runbook", 2000),
    }


def _slos(obj: Any) -> dict[str, Any]:
    s = _keys(
        obj,
        ("p99_latency", "availability", "max_cold_start"),
        ("p50_latency", "error_rate", "throughput_per_replica"),
    )
    p99 = _unit(Duration, s["p99_latency"])
    availability = _unit(Percent, s["availability"])
    p50 = None if s.get("p50_latency") is None else _unit(Duration, s["p50_latency"])
    if (p50 is not None and p99 < p50) or not isinstance(availability, Percent) or availability.percent <= 0:
        raise _NotPlain
    return {
        "p99_latency": p99.canonical(),
        "availability": availability.canonical(),
        "max_cold_start": _unit(Duration, s["max_cold_start"]).canonical(),
        "p50_latency": None if p50 is None else p50.canonical(),
        "error_rate": None if s.get("error_rate") is None else _unit(Percent, s["error_rate"]).canonical(),
        "throughput_per_replica": _float(s.get("throughput_per_replica"), 0, 1_000_000),
    }


def _resources(obj: Any) -> dict[str, Any]:
    r = _keys(obj, ("gpu", "replicas", "model_size"), ("cpu", "memory"))
    gpu = None
    if r["gpu"] is not None:
        g = _keys(r["gpu"], ("count", "product", "memory"))
        gpu = {
            "count": _int(g["count"], 1, 64),
            "product": _text(g["product"], "product"),
            "memory": _unit(ByteSize, g["memory"]).canonical(),
        }
    n = _keys(r["replicas"], ("min", "max"))
    low, high = _int(n["min"], 0, 10_000), _int(n["max"], 1, 10_000)
    if low > high:
        raise _NotPlain
    return {
        "gpu": gpu,
        "replicas": {"min": low, "max": high},
        "model_size": _unit(ByteSize, r["model_size"]).canonical(),
        "cpu": _float(r.get("cpu"), 0, 1024),
        "memory": None if r.get("memory") is None else _unit(ByteSize, r["memory"]).canonical(),
    }


def _threshold(value: Any) -> _Unit | float | None:
    """The model's before-validator, for text only (a bare number goes through a union: not here)."""
    if value is None:
        return None
    if type(value) is not str:
        raise _NotPlain
    text = value.strip()
    try:
        if text.endswith("%"):
            return Percent.parse(text)
        try:
            return Duration.parse(text)
        except ValueError:
            number = float(text)
    except ValueError:
        raise _NotPlain from None
    if not math.isfinite(number):
        raise _NotPlain
    return number


def _alert(obj: Any) -> tuple[str, dict[str, Any]]:
    a = _keys(obj, ("signal", "pages"), ("comparison", "threshold", "percentile", "window"))
    signal = _choice(a["signal"], SIGNALS)
    comparison = _choice(a.get("comparison", ">"), COMPARISONS)
    threshold = _threshold(a.get("threshold"))
    percentile = None if a.get("percentile") is None else _int(a["percentile"], 1, 100)
    kind = THRESHOLD_KIND[signal]
    if kind is None:
        if threshold is not None or comparison != ">" or percentile is not None:
            raise _NotPlain
    elif threshold is None or type(threshold) is not kind or (percentile is not None and signal != "latency"):
        raise _NotPlain
    alert_id = signal.replace("_", "-") + (f"-p{percentile}" if percentile else "")
    shown = threshold.canonical() if isinstance(threshold, _Unit) else threshold
    return alert_id, {
        "signal": signal,
        "pages": _choice(a["pages"], ROLES),
        "comparison": comparison,
        "threshold": shown,
        "percentile": percentile,
        "window": None if a.get("window") is None else _unit(Duration, a["window"]).canonical(),
    }


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise _NotPlain
    return value


def _rollback(obj: Any) -> dict[str, Any]:
    r = _keys(obj, (), ("automated", "manual"))
    automated = [
        {
            "signal": _choice(a["signal"], SIGNALS),
            "action": _choice(a.get("action", "revert_to_previous"), ROLLBACK_ACTIONS),
        }
        for a in (_keys(x, ("signal",), ("action",)) for x in _list(r.get("automated", [])))
    ]
    manual = [
        {"problem": _choice(m["problem"], PROBLEM_KINDS), "decides": _choice(m["decides"], ROLES)}
        for m in (_keys(x, ("problem", "decides")) for x in _list(r.get("manual", [])))
    ]
    problems = [m["problem"] for m in manual]
    if len(set(problems)) != len(problems):
        raise _NotPlain
    return {"automated": automated, "manual": manual}


def _quality(obj: Any) -> dict[str, Any]:
    q = _keys(obj, ("metric",), ("min", "max"))
    low, high = _bound(q.get("min")), _bound(q.get("max"))
    if (low is None and high is None) or (low is not None and high is not None and low > high):
        raise _NotPlain
    return {"metric": _text(q["metric"], "metric"), "min": low, "max": high}


def _promotion(obj: Any) -> dict[str, Any]:
    p = _keys(obj, (), ("approval", "verdict_ttl"))
    return {
        "approval": _choice(p.get("approval", "automatic"), APPROVALS),
        "verdict_ttl": _unit(Duration, p.get("verdict_ttl", DEFAULT_TTL)).canonical(),
    }


def _spec(obj: Any) -> dict[str, Any]:
    s = _keys(obj, ("owners", "slos", "resources"), ("alerts", "rollback", "quality", "promotion"))
    o = _keys(s["owners"], ("ml", "platform", "sre"))
    owners = {role: _owner(o[role]) for role in ROLES}
    if len({owner["team"] for owner in owners.values()}) != 3:
        raise _NotPlain
    alerts = [_alert(a) for a in _list(s.get("alerts", []))]
    quality = [_quality(q) for q in _list(s.get("quality", []))]
    ids = [i for i, _ in alerts]
    metrics = [q["metric"] for q in quality]
    if len(set(ids)) != len(ids) or len(set(metrics)) != len(metrics):
        raise _NotPlain
    return {
        "owners": owners,
        "slos": _slos(s["slos"]),
        "resources": _resources(s["resources"]),
        "alerts": [a for _, a in alerts],
        "rollback": _rollback(s.get("rollback", {})),
        "quality": quality,
        "promotion": _promotion(s.get("promotion", {})),
    }


def plain_json(data: Any) -> dict[str, Any] | None:
    """``WorkloadContract.model_dump(mode="json")`` of ``data`` when it is plainly valid, else None."""
    try:
        doc = _keys(data, ("apiVersion", "kind", "metadata", "spec"))
        if doc["apiVersion"] != API_VERSION or doc["kind"] != "WorkloadContract":
            raise _NotPlain
        meta = _keys(doc["metadata"], ("name", "model"))
        return {
            "apiVersion": API_VERSION,
            "kind": "WorkloadContract",
            "metadata": {"name": _text(meta["name"], "name"), "model": _text(meta["model"], "model")},
            "spec": _spec(doc["spec"]),
        }
    except _NotPlain:
        return None


def plain_contract_digest(data: Any) -> str | None:
    """The contract's ``sha256:<hex>`` digest when ``data`` (parsed YAML) is a plainly valid workload
    contract; None when the models must decide."""
    dumped = plain_json(data)
    return None if dumped is None else "sha256:" + hashlib.sha256(canonical_json(dumped)).hexdigest()


def plain_contract_file(path: str | Path) -> tuple[dict[str, Any], str] | None:
    """``(plain_json, digest)`` of a YAML contract file that is plainly valid; None when the models
    must decide (a Markdown spelling, any other kind, anything not plainly valid).

    Raises:
        DocumentError: the file cannot be read or is not acceptable YAML (the loader's own refusals,
            worded by the same code).
    """
    if _yaml.spelling_of(path) != "yaml":
        return None
    data, _lines = _yaml.yaml_to_data(_yaml.read_text(path), str(path))
    dumped = plain_json(data)
    if dumped is None:
        return None
    return dumped, "sha256:" + hashlib.sha256(canonical_json(dumped)).hexdigest()
