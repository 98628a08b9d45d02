"""The words of the Markdown contract: its headings and labels, the spellings people write for
each, and the line helpers. The reader (:mod:`contracts._md_sections`,
:func:`contracts.markdown.parse_markdown`) and the writer (:func:`contracts.markdown.render_markdown`) share
them, so what is written is what is read.
"""

from __future__ import annotations

import difflib
import re

from contracts.errors import DocumentError
from contracts.workload import Role, Signal

FieldPath = tuple[str | int, ...]
"""A field's path in the contract's data (``("spec", "slos", "p99_latency")``), keying its line."""

BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
DASHES = "—–-"

SECTIONS: dict[str, str] = {
    "owner": "Owner", "owners": "Owner", "ownership": "Owner",
    "slos": "SLOs", "slo": "SLOs", "service level objectives": "SLOs",
    "resources": "Resources", "resource": "Resources",
    "alerts": "Alerts", "alert": "Alerts", "alerting": "Alerts",
    "rollback": "Rollback", "rollbacks": "Rollback",
    "quality": "Quality", "quality thresholds": "Quality", "quality gate": "Quality",
    "promotion": "Promotion",
}  # fmt: skip
REQUIRED = ("Owner", "SLOs", "Resources")
ORDER = ("Owner", "SLOs", "Resources", "Alerts", "Rollback", "Quality", "Promotion")

SLO_KEYS: dict[str, str] = {
    "p99 inference latency": "p99_latency", "p99 latency": "p99_latency", "latency p99": "p99_latency",
    "p50 inference latency": "p50_latency", "p50 latency": "p50_latency", "median latency": "p50_latency",
    "latency p50": "p50_latency",
    "availability": "availability",
    "max cold start": "max_cold_start", "maximum cold start": "max_cold_start",
    "cold start": "max_cold_start",
    "error budget": "error_rate", "error rate": "error_rate", "error rate budget": "error_rate",
    "throughput": "throughput_per_replica", "throughput per replica": "throughput_per_replica",
    "expected throughput": "throughput_per_replica",
    "expected throughput per replica": "throughput_per_replica",
}  # fmt: skip
SLO_LABEL = {
    "p99_latency": "P99 inference latency", "p50_latency": "P50 inference latency",
    "availability": "Availability", "error_rate": "Error budget", "max_cold_start": "Max cold start",
    "throughput_per_replica": "Throughput",
}  # fmt: skip
RESOURCE_KEYS = {"gpu": "gpu", "gpus": "gpu", "replicas": "replicas", "model size": "model_size",
                  "cpu": "cpu", "cpus": "cpu", "memory": "memory", "host memory": "memory"}  # fmt: skip
RESOURCE_LABEL = {
    "gpu": "GPU",
    "replicas": "Replicas",
    "model_size": "Model size",
    "cpu": "CPU",
    "memory": "Memory",
}

SIGNALS: dict[str, Signal] = {
    "latency": Signal.LATENCY, "inference latency": Signal.LATENCY,
    "availability": Signal.AVAILABILITY,
    "error rate": Signal.ERROR_RATE, "errors": Signal.ERROR_RATE, "error": Signal.ERROR_RATE,
    "accuracy drift": Signal.ACCURACY_DRIFT, "data drift": Signal.DATA_DRIFT,
    "gpu oom": Signal.GPU_OOM, "oom": Signal.GPU_OOM, "gpu out of memory": Signal.GPU_OOM,
    "gpu utilization": Signal.GPU_UTILIZATION, "gpu utilisation": Signal.GPU_UTILIZATION,
    "cold start": Signal.COLD_START, "throughput": Signal.THROUGHPUT,
}  # fmt: skip
SIGNAL_LABEL = {
    Signal.LATENCY: "Latency", Signal.AVAILABILITY: "Availability", Signal.ERROR_RATE: "Error rate",
    Signal.ACCURACY_DRIFT: "Accuracy drift", Signal.DATA_DRIFT: "Data drift", Signal.GPU_OOM: "GPU OOM",
    Signal.GPU_UTILIZATION: "GPU utilization", Signal.COLD_START: "Cold start",
    Signal.THROUGHPUT: "Throughput",
}  # fmt: skip
ROLE_LABEL = {Role.ML: "ML team", Role.PLATFORM: "platform team", Role.SRE: "SRE"}
OWNER_LABEL = {Role.ML: "ML team", Role.PLATFORM: "Platform contact", Role.SRE: "SRE contact"}
OWNER_DETAIL = ("pager", "chat", "runbook")


class Line:
    """One line of a section: its number in the file and its text without the bullet."""

    __slots__ = ("n", "text")

    def __init__(self, n: int, text: str) -> None:
        self.n = n
        self.text = text


def norm(text: str) -> str:
    """Lower case, '_'/'-' as spaces, single spaces, no markup around."""
    text = text.strip().strip("*_`").strip()
    return re.sub(r"\s+", " ", re.sub(r"[_\-]", " ", text.lower())).strip()


def unquote(value: str) -> str:
    """The value without the backticks around it."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "`":
        return value[1:-1].strip()
    return value


def split_kv(line: Line, file: str, where: str, example: str) -> tuple[str, str]:
    """``Key: value`` -> ``(key, value)``; a line without a key is refused with ``example`` as the fix."""
    key, sep, value = line.text.partition(":")
    if not sep or not key.strip():
        raise DocumentError.at(file, where, f"cannot read {line.text!r}; write it as '{example}'", line.n)
    return key, unquote(value)


def unknown(what: str, got: str, valid: list[str]) -> str:
    """The message for a word that is none of ``valid``, with the closest one as a hint."""
    close = difflib.get_close_matches(got, valid, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} {got!r}{hint} (valid: {', '.join(valid)})"


MAX_LINE = 1000
"""Longest line read; a contract line is short, and a bound keeps every pattern linear in practice."""
