"""The Markdown spelling of the workload contract: the interface document teams already write.

The format is the one of ``DESIGN.md``, plus lines for the fields its example leaves out. A
complete document (every line optional unless marked *required*)::

    ## Workload: recsys-ranker-v2                      (required; a DNS-1123 name)
    MLflow model: recsys-ranker                         (defaults to the workload name)
    ### Owner                                           (required)
    ML team: ranking-squad                              (required, likewise the next two)
      - Pager: pd-ranking-squad                         (pager / chat / runbook of the owner above)
      - Chat: #ranking-squad
      - Runbook: https://runbooks.example.com/ranking
    Platform contact: platform-gpu-team
    SRE contact: sre-ai-oncall
    ### SLOs                                            (required)
    - P99 inference latency: <80ms                      (required)
    - P50 inference latency: <25ms
    - Availability: 99.95%                              (required)
    - Error budget: 0.05%
    - Max cold start: 90 seconds                        (required)
    - Throughput: 200 requests/s per replica
    ### Resources                                       (required)
    - GPU: 2x H100 80GB per replica                     (or "GPU: none (CPU only)")
    - Replicas: 3 (min) — 12 (max)
    - Model size: 30GB in GPU memory
    - CPU: 8 cores per replica
    - Memory: 64GiB per replica
    ### Alerts
    - Latency > 80ms P99 over 10 min → pages SRE
    - Accuracy drift > 3% → pages ML team
    - GPU OOM → pages platform team
    ### Rollback
    - Automated: revert to previous model version on accuracy drift
    - Manual: ML team decision for quality issues, SRE for availability
    ### Quality
    - ndcg_at_10 ≥ 0.42                                 ("metric ≤ max", "min ≤ metric ≤ max" too)
    ### Promotion
    - Approval: automatic                               (or "manual (signed by the ML team)")
    - Verdicts valid for: 7 days

Tolerant where people are inconsistent: bullets (``-``, ``*``, ``+``, ``1.``) or none, ``→``,
``->``, ``=>``, an em or en dash or a hyphen before "pages", any case, ``>=`` for ``≥``,
"pages SRE" / "pages the SRE team" / "pages ML team" / "pages the platform team" / "pages
<team name>", "Owners" for "Owner", units as ``90 seconds``, ``90s`` or ``1.5 min``, HTML comments
(``<!-- ... -->``) anywhere. Strict where meaning is at stake: an unknown heading, SLO, resource or
alert line, an owner that cannot be resolved or a line that cannot be read is a
:class:`~contracts.errors.DocumentError` naming the line.

:func:`render_markdown` writes the form above; :func:`parse_markdown` reads it back to an equal
model (and reads the YAML spelling's every field), so the two spellings round-trip without loss.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from contracts._units import Duration, _fmt
from contracts._validate import validate_data
from contracts.errors import DocumentError, Problem
from contracts.workload import (
    Alert,
    Approval,
    ProblemKind,
    Role,
    Signal,
    WorkloadContract,
)

__all__ = ["parse_markdown", "render_markdown"]

Path_ = tuple[str | int, ...]

_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_DASHES = "—–-"

_SECTIONS: dict[str, str] = {
    "owner": "Owner", "owners": "Owner", "ownership": "Owner",
    "slos": "SLOs", "slo": "SLOs", "service level objectives": "SLOs",
    "resources": "Resources", "resource": "Resources",
    "alerts": "Alerts", "alert": "Alerts", "alerting": "Alerts",
    "rollback": "Rollback", "rollbacks": "Rollback",
    "quality": "Quality", "quality thresholds": "Quality", "quality gate": "Quality",
    "promotion": "Promotion",
}  # fmt: skip
_REQUIRED = ("Owner", "SLOs", "Resources")
_ORDER = ("Owner", "SLOs", "Resources", "Alerts", "Rollback", "Quality", "Promotion")

_SLO_KEYS: dict[str, str] = {
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
_SLO_LABEL = {
    "p99_latency": "P99 inference latency", "p50_latency": "P50 inference latency",
    "availability": "Availability", "error_rate": "Error budget", "max_cold_start": "Max cold start",
    "throughput_per_replica": "Throughput",
}  # fmt: skip
_RESOURCE_KEYS = {"gpu": "gpu", "gpus": "gpu", "replicas": "replicas", "model size": "model_size",
                  "cpu": "cpu", "cpus": "cpu", "memory": "memory", "host memory": "memory"}  # fmt: skip
_RESOURCE_LABEL = {
    "gpu": "GPU",
    "replicas": "Replicas",
    "model_size": "Model size",
    "cpu": "CPU",
    "memory": "Memory",
}

_SIGNALS: dict[str, Signal] = {
    "latency": Signal.LATENCY, "inference latency": Signal.LATENCY,
    "availability": Signal.AVAILABILITY,
    "error rate": Signal.ERROR_RATE, "errors": Signal.ERROR_RATE, "error": Signal.ERROR_RATE,
    "accuracy drift": Signal.ACCURACY_DRIFT, "data drift": Signal.DATA_DRIFT,
    "gpu oom": Signal.GPU_OOM, "oom": Signal.GPU_OOM, "gpu out of memory": Signal.GPU_OOM,
    "gpu utilization": Signal.GPU_UTILIZATION, "gpu utilisation": Signal.GPU_UTILIZATION,
    "cold start": Signal.COLD_START, "throughput": Signal.THROUGHPUT,
}  # fmt: skip
_SIGNAL_LABEL = {
    Signal.LATENCY: "Latency", Signal.AVAILABILITY: "Availability", Signal.ERROR_RATE: "Error rate",
    Signal.ACCURACY_DRIFT: "Accuracy drift", Signal.DATA_DRIFT: "Data drift", Signal.GPU_OOM: "GPU OOM",
    Signal.GPU_UTILIZATION: "GPU utilization", Signal.COLD_START: "Cold start",
    Signal.THROUGHPUT: "Throughput",
}  # fmt: skip
_ROLE_LABEL = {Role.ML: "ML team", Role.PLATFORM: "platform team", Role.SRE: "SRE"}
_OWNER_LABEL = {Role.ML: "ML team", Role.PLATFORM: "Platform contact", Role.SRE: "SRE contact"}
_OWNER_DETAIL = ("pager", "chat", "runbook")


class _Line:
    __slots__ = ("n", "text")

    def __init__(self, n: int, text: str) -> None:
        self.n = n
        self.text = text


def _norm(text: str) -> str:
    """Lower case, '_'/'-' as spaces, single spaces, no markup around."""
    text = text.strip().strip("*_`").strip()
    return re.sub(r"\s+", " ", re.sub(r"[_\-]", " ", text.lower())).strip()


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "`":
        return value[1:-1].strip()
    return value


def _split_kv(line: _Line, file: str, where: str, example: str) -> tuple[str, str]:
    key, sep, value = line.text.partition(":")
    if not sep or not key.strip():
        raise DocumentError(
            file, [Problem(where, f"cannot read {line.text!r}; write it as '{example}'", line.n)]
        )
    return key, _unquote(value)


def _unknown(what: str, got: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(got, valid, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} {got!r}{hint} (valid: {', '.join(valid)})"


# ------------------------------------------------------------------------------------------- parsing


def _strip_comments(text: str) -> str:
    return re.sub(r"<!--.*?-->", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.DOTALL)


def parse_markdown(text: str, file: str) -> WorkloadContract:
    """Parse the Markdown interface document into a :class:`WorkloadContract`.

    Args:
        text: the document (the format of this module's docstring).
        file: the name used in error messages.

    Raises:
        DocumentError: naming the line, the field and what would be valid.
    """
    if not text.strip():
        raise DocumentError(
            file, [Problem("", "the file is empty; a contract starts with '## Workload: NAME'")]
        )
    name: str | None = None
    name_line = 1
    preamble: list[_Line] = []
    sections: dict[str, tuple[int, list[_Line]]] = {}
    current: list[_Line] | None = None
    for n, raw in enumerate(_strip_comments(text).splitlines(), start=1):
        line = raw.replace("\t", "    ").rstrip()
        if len(line) > MAX_LINE:
            raise DocumentError(
                file,
                [
                    Problem(
                        "", f"line is {len(line)} characters long; keep contract lines under {MAX_LINE}", n
                    )
                ],
            )
        if not line.strip():
            continue
        head = _HEADING.match(line.strip())
        if head:
            level, title = len(head.group(1)), head.group(2)
            wl = re.match(r"^workload\s*:\s*(.*)$", title.strip("*_` "), re.IGNORECASE)
            if wl and level <= 2:
                if name is not None:
                    raise DocumentError(
                        file,
                        [
                            Problem(
                                "metadata.name",
                                f"a second workload heading (the first is at line {name_line}); one contract "
                                f"per file",
                                n,
                            )
                        ],
                    )
                name, name_line, current = _unquote(wl.group(1)), n, preamble
                continue
            if name is None:
                raise DocumentError(
                    file,
                    [
                        Problem(
                            "", f"expected the heading '## Workload: NAME' first, found {line.strip()!r}", n
                        )
                    ],
                )
            if level <= 2:
                raise DocumentError(
                    file,
                    [
                        Problem(
                            "",
                            f"unexpected heading {line.strip()!r}; sections are '### ' headings under '## "
                            f"Workload: NAME'",
                            n,
                        )
                    ],
                )
            section = _SECTIONS.get(_norm(title))
            if section is None:
                raise DocumentError(
                    file, [Problem("", _unknown("heading", title, [f"### {s}" for s in _ORDER]), n)]
                )
            if section in sections:
                raise DocumentError(
                    file,
                    [
                        Problem(
                            "",
                            f"heading '### {section}' appears twice (first at line {sections[section][0]})",
                            n,
                        )
                    ],
                )
            current = []
            sections[section] = (n, current)
            continue
        if current is None:
            raise DocumentError(
                file,
                [Problem("", f"expected the heading '## Workload: NAME' first, found {line.strip()!r}", n)],
            )
        current.append(_Line(n, _BULLET.sub("", line, count=1).strip()))
    if name is None:
        raise DocumentError(
            file, [Problem("", "missing heading '## Workload: NAME'; a Markdown contract starts with it")]
        )
    missing = [s for s in _REQUIRED if s not in sections]
    if missing:
        raise DocumentError(
            file,
            [
                Problem(
                    "", f"missing heading '### {m}' (a contract needs ### Owner, ### SLOs and ### Resources)"
                )
                for m in missing
            ],
        )

    lines: dict[Path_, int] = {(): name_line, ("spec",): name_line, ("metadata",): name_line,
                               ("metadata", "name"): name_line}  # fmt: skip
    model = name
    for pre in preamble:
        key, value = _split_kv(pre, file, "metadata.model", "MLflow model: NAME")
        if _norm(key) not in ("mlflow model", "model", "registered model", "mlflow registered model"):
            raise DocumentError(
                file,
                [
                    Problem(
                        "",
                        _unknown("line before the first ### heading:", key.strip(), ["MLflow model"]),
                        pre.n,
                    )
                ],
            )
        model = value
        lines[("metadata", "model")] = pre.n
    spec: dict[str, Any] = {}
    for section, (n, _body) in sections.items():
        lines[("spec", section.lower() if section != "Owner" else "owners")] = n
    owners = _owners(sections["Owner"][1], file, lines)
    spec["owners"] = owners
    spec["slos"] = _slos(sections["SLOs"][1], file, lines)
    spec["resources"] = _resources(sections["Resources"][1], file, lines)
    if "Alerts" in sections:
        spec["alerts"] = _alerts(sections["Alerts"][1], file, lines, owners)
    if "Rollback" in sections:
        spec["rollback"] = _rollback(sections["Rollback"][1], file, lines, owners)
    if "Quality" in sections:
        spec["quality"] = _quality(sections["Quality"][1], file, lines)
    if "Promotion" in sections:
        spec["promotion"] = _promotion(sections["Promotion"][1], file, lines)
    data = {"apiVersion": WorkloadContract.model_fields["apiVersion"].default, "kind": "WorkloadContract",
            "metadata": {"name": name, "model": model}, "spec": spec}  # fmt: skip
    try:
        return validate_data(WorkloadContract, data, file, lines)
    except DocumentError as exc:
        raise DocumentError(file, [_md_problem(p) for p in exc.problems]) from None


def _md_problem(p: Problem) -> Problem:
    """Say which Markdown line is missing instead of which field."""
    m = re.match(r"missing (?:required field|section) '(\w+)'", p.message)
    if not m:
        return p
    field = m.group(1)
    if p.path.startswith("spec.slos.") and field in _SLO_LABEL:
        return Problem(p.path, f"missing line '- {_SLO_LABEL[field]}: ...' under ### SLOs", p.line)
    if p.path.startswith("spec.resources.") and field in _RESOURCE_LABEL:
        return Problem(p.path, f"missing line '- {_RESOURCE_LABEL[field]}: ...' under ### Resources", p.line)
    if p.path.startswith("spec.owners.") and field in ("ml", "platform", "sre"):
        label = _OWNER_LABEL[Role(field)]
        return Problem(p.path, f"missing line '{label}: TEAM' under ### Owner", p.line)
    return p


def _role_key(text: str) -> Role | None:
    t = _norm(text)
    t = re.sub(r"\b(the|team|contact|owner|owners|squad|on ?call|engineers?)\b", " ", t)
    t = re.sub(r"\s+", " ", t).strip()
    aliases = {
        "ml": Role.ML, "machine learning": Role.ML, "data science": Role.ML, "platform": Role.PLATFORM,
        "sre": Role.SRE, "site reliability": Role.SRE, "site reliability engineering": Role.SRE,
    }  # fmt: skip
    return aliases.get(t)


def _resolve_owner(text: str, owners: dict[str, Any]) -> Role | None:
    """'SRE', 'the platform team', 'ML team' or an owner's team name -> its role.

    The labels this module renders ("ML team", "platform team", "SRE") win, then exact team
    names, then the looser spellings ("the SRE team", "ML", "platform contact").
    """
    raw = _unquote(text).strip().rstrip(".").strip()
    low = re.sub(r"\s+", " ", raw.lower())
    for role, label in _ROLE_LABEL.items():
        if low == label.lower():
            return role
    for role in Role:
        team = owners.get(role.value, {}).get("team")
        if team and low in (
            team.lower(),
            f"team {team.lower()}",
            f"{team.lower()} team",
            f"the {team.lower()} team",
        ):
            return role
    return _role_key(raw)


def _owners(body: list[_Line], file: str, lines: dict[Path_, int]) -> dict[str, Any]:
    owners: dict[str, dict[str, Any]] = {}
    last: Role | None = None
    for line in body:
        key, value = _split_kv(line, file, "spec.owners", "ML team: TEAM")
        k = _norm(key)
        if k in _OWNER_DETAIL:
            if last is None:
                raise DocumentError(
                    file,
                    [
                        Problem(
                            "spec.owners",
                            f"'{key.strip()}:' must follow the owner it belongs to ('ML team: TEAM')",
                            line.n,
                        )
                    ],
                )
            if k in owners[last.value]:
                raise DocumentError(
                    file,
                    [
                        Problem(
                            f"spec.owners.{last.value}.{k}",
                            f"{k} given twice for {_OWNER_LABEL[last]}",
                            line.n,
                        )
                    ],
                )
            owners[last.value][k] = value
            lines[("spec", "owners", last.value, k)] = line.n
            continue
        role = _role_key(key)
        if role is None:
            valid = [*_OWNER_LABEL.values(), "Pager", "Chat", "Runbook"]
            raise DocumentError(
                file, [Problem("spec.owners", _unknown("owner line", key.strip(), valid), line.n)]
            )
        if role.value in owners:
            raise DocumentError(
                file, [Problem(f"spec.owners.{role.value}", f"{_OWNER_LABEL[role]} given twice", line.n)]
            )
        owners[role.value] = {"team": value}
        lines[("spec", "owners", role.value)] = line.n
        lines[("spec", "owners", role.value, "team")] = line.n
        last = role
    return owners


def _slos(body: list[_Line], file: str, lines: dict[Path_, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in body:
        key, value = _split_kv(line, file, "spec.slos", "P99 inference latency: <80ms")
        field = _SLO_KEYS.get(_norm(key))
        if field is None:
            raise DocumentError(
                file, [Problem("spec.slos", _unknown("SLO", key.strip(), list(_SLO_LABEL.values())), line.n)]
            )
        if field in out:
            raise DocumentError(
                file,
                [
                    Problem(
                        f"spec.slos.{field}",
                        f"{_SLO_LABEL[field]} given twice (first at line {lines[('spec', 'slos', field)]})",
                        line.n,
                    )
                ],
            )
        if field == "throughput_per_replica":
            m = re.fullmatch(
                rf"({_NUM})\s*(?:(?:requests?|req)\s*/\s*s(?:ec)?|rps|qps|requests? per "
                rf"second)?(?:\s+per\s+replica)?",
                value,
                re.IGNORECASE,
            )
            if not m:
                raise DocumentError(
                    file,
                    [
                        Problem(
                            f"spec.slos.{field}",
                            f"cannot read throughput {value!r}; write e.g. 'Throughput: 200 requests/s per "
                            f"replica'",
                            line.n,
                        )
                    ],
                )
            out[field] = float(m.group(1))
        else:
            out[field] = value
        lines[("spec", "slos", field)] = line.n
    return out


def _resources(body: list[_Line], file: str, lines: dict[Path_, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in body:
        key, value = _split_kv(line, file, "spec.resources", "GPU: 2x H100 80GB per replica")
        field = _RESOURCE_KEYS.get(_norm(key))
        if field is None:
            raise DocumentError(
                file,
                [
                    Problem(
                        "spec.resources",
                        _unknown("resource", key.strip(), list(_RESOURCE_LABEL.values())),
                        line.n,
                    )
                ],
            )
        path = f"spec.resources.{field}"
        if field in out:
            raise DocumentError(file, [Problem(path, f"{_RESOURCE_LABEL[field]} given twice", line.n)])
        lines[("spec", "resources", field)] = line.n
        v = re.sub(r"\s+per\s+replica\s*$", "", value, flags=re.IGNORECASE).strip()
        if field == "gpu":
            if re.fullmatch(
                r"(none|no|0|null|-|—)(\s*\(?\s*cpu[- ]only\s*\)?)?|cpu[- ]only", v, re.IGNORECASE
            ):
                out["gpu"] = None
                continue
            m = re.fullmatch(r"(\d+)\s*[x×*]\s*(\S+)\s+(\S.*)", v)
            if not m:
                raise DocumentError(
                    file,
                    [
                        Problem(
                            path,
                            f"cannot read {value!r}; write 'GPU: 2x H100 80GB per replica' or 'GPU: none "
                            f"(CPU only)'",
                            line.n,
                        )
                    ],
                )
            out["gpu"] = {"count": int(m.group(1)), "product": m.group(2), "memory": m.group(3).strip()}
            for k in ("count", "product", "memory"):
                lines[("spec", "resources", "gpu", k)] = line.n
        elif field == "replicas":
            d = f"[{_DASHES}]"
            m = (
                re.fullmatch(rf"(\d+)\s*\(min(?:imum)?\)\s*(?:{d}|to|,)?\s*(\d+)\s*\(max(?:imum)?\)", v, re.I)
                or re.fullmatch(rf"(\d+)\s*(?:{d}|to|\.\.)\s*(\d+)", v, re.I)
                or re.fullmatch(r"min(?:imum)?\s*:?\s*(\d+)\s*,?\s*max(?:imum)?\s*:?\s*(\d+)", v, re.I)
            )
            fixed = re.fullmatch(r"(\d+)(?:\s*\(fixed\))?", v, re.I)
            if m:
                out["replicas"] = {"min": int(m.group(1)), "max": int(m.group(2))}
            elif fixed:
                out["replicas"] = {"min": int(fixed.group(1)), "max": int(fixed.group(1))}
            else:
                raise DocumentError(
                    file,
                    [Problem(path, f"cannot read {value!r}; write 'Replicas: 3 (min) — 12 (max)'", line.n)],
                )
            lines[("spec", "resources", "replicas", "min")] = lines[
                ("spec", "resources", "replicas", "max")
            ] = line.n
        elif field == "model_size":
            out["model_size"] = re.sub(
                r"\s+in\s+(?:the\s+)?(?:gpu\s+|host\s+)?memory\s*$", "", v, flags=re.I
            ).strip()
        elif field == "cpu":
            m = re.fullmatch(rf"({_NUM})\s*(?:cores?|cpus?|vcpus?)?", v, re.I)
            if not m:
                raise DocumentError(
                    file, [Problem(path, f"cannot read {value!r}; write 'CPU: 8 cores per replica'", line.n)]
                )
            out["cpu"] = float(m.group(1))
        else:
            out["memory"] = v
    return out


_PAGES = re.compile(r"\bpages?\b", re.IGNORECASE)
_ARROW_CHARS = " \t→⇒=<>—–-:,"
MAX_LINE = 1000
"""Longest line read; a contract line is short, and a bound keeps every pattern linear in practice."""


def _alerts(
    body: list[_Line], file: str, lines: dict[Path_, int], owners: dict[str, Any]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    example = "write e.g. 'Latency > 80ms P99 over 10 min → pages SRE'"
    for line in body:
        if _norm(line.text) in ("none", "no alerts"):
            continue
        i = len(out)
        path = f"spec.alerts[{i}]"
        hits = list(_PAGES.finditer(line.text))
        who = line.text[hits[-1].end() :].strip() if hits else ""
        if not who:
            raise DocumentError(
                file,
                [
                    Problem(
                        path, f"cannot read alert {line.text!r}: it must say who it pages; {example}", line.n
                    )
                ],
            )
        role = _resolve_owner(who, owners)
        if role is None:
            teams = [o.get("team") for o in owners.values() if o.get("team")]
            raise DocumentError(
                file,
                [
                    Problem(
                        f"{path}.pages",
                        f"alert pages {who!r}, which is not one of the three owners; write 'pages ML team', "
                        f"'pages platform team', 'pages SRE' or a team name ({', '.join(teams)})",
                        line.n,
                    )
                ],
            )
        left = line.text[: hits[-1].start()].rstrip(_ARROW_CHARS).strip()
        alert: dict[str, Any] = {}
        win = re.search(r"\s+(?:over|for|during)\s+(?:the\s+)?(?:last\s+)?(.+)$", left, re.IGNORECASE)
        if win:
            alert["window"] = win.group(1).strip()
            left = left[: win.start()]
        pct = re.search(r"(?<![\w.])p(\d{1,3})(?![\w.])", left, re.IGNORECASE)
        if pct:
            alert["percentile"] = int(pct.group(1))
            left = (left[: pct.start()] + " " + left[pct.end() :]).strip()
        cmp = re.search(r"(>|<|\babove\b|\bbelow\b)", left, re.IGNORECASE)
        if cmp:
            signal_text, threshold = left[: cmp.start()], left[cmp.end() :].strip()
            alert["comparison"] = "<" if cmp.group(1).lower() in ("<", "below") else ">"
            threshold = re.sub(
                r"\s*(?:(?:requests?|req)\s*/\s*s(?:ec)?|rps|qps)\s*$", "", threshold, flags=re.I
            )
            alert["threshold"] = threshold
        else:
            signal_text = left
        signal = _SIGNALS.get(_norm(signal_text))
        if signal is None:
            valid = list(_SIGNAL_LABEL.values())
            raise DocumentError(
                file,
                [
                    Problem(
                        f"{path}.signal",
                        _unknown("alert signal", signal_text.strip(), valid) + f"; {example}",
                        line.n,
                    )
                ],
            )
        alert = {"signal": signal.value, "pages": role.value, **alert}
        out.append(alert)
        lines[("spec", "alerts", i)] = line.n
        for k in alert:
            lines[("spec", "alerts", i, k)] = line.n
    return out


def _rollback(
    body: list[_Line], file: str, lines: dict[Path_, int], owners: dict[str, Any]
) -> dict[str, Any]:
    automated: list[dict[str, Any]] = []
    manual: list[dict[str, Any]] = []
    for line in body:
        key, value = _split_kv(
            line, file, "spec.rollback", "Automated: revert to previous model version on accuracy drift"
        )
        k = _norm(key)
        if _norm(value) in ("none", "no", "never", "n/a"):
            if k not in ("automated", "automatic", "manual"):
                raise DocumentError(
                    file,
                    [
                        Problem(
                            "spec.rollback",
                            _unknown("rollback line", key.strip(), ["Automated", "Manual"]),
                            line.n,
                        )
                    ],
                )
            continue
        if k in ("automated", "automatic"):
            action, sep, signals = value.partition(" on ")
            if not sep or not re.search(r"revert|previous|roll ?back", action, re.IGNORECASE):
                raise DocumentError(
                    file,
                    [
                        Problem(
                            "spec.rollback.automated",
                            f"cannot read {value!r}; write 'Automated: revert to previous model version on "
                            f"accuracy drift'",
                            line.n,
                        )
                    ],
                )
            for part in re.split(r",|;|\band\b|\bor\b", signals):
                if not part.strip():
                    continue
                sig = _SIGNALS.get(_norm(part))
                if sig is None:
                    raise DocumentError(
                        file,
                        [
                            Problem(
                                f"spec.rollback.automated[{len(automated)}].signal",
                                _unknown("signal", part.strip(), list(_SIGNAL_LABEL.values())),
                                line.n,
                            )
                        ],
                    )
                lines[("spec", "rollback", "automated", len(automated))] = line.n
                automated.append({"signal": sig.value, "action": "revert_to_previous"})
        elif k == "manual":
            for part in re.split(r",|;|\band\b", value):
                if not part.strip():
                    continue
                path = f"spec.rollback.manual[{len(manual)}]"
                m = re.fullmatch(
                    r"\s*(.+?)\s+(?:decision\s+|decides\s+|decides\s+on\s+)?for\s+(.+?)\s*", part, re.I
                )
                if not m:
                    raise DocumentError(
                        file,
                        [
                            Problem(
                                path,
                                f"cannot read {part.strip()!r}; write 'Manual: ML team decision for quality "
                                f"issues, SRE for availability'",
                                line.n,
                            )
                        ],
                    )
                role = _resolve_owner(re.sub(r"\s+(decision|decides)$", "", m.group(1), flags=re.I), owners)
                if role is None:
                    raise DocumentError(
                        file,
                        [
                            Problem(
                                f"{path}.decides",
                                f"{m.group(1).strip()!r} is not one of the three owners; write ML team, "
                                f"platform team, SRE or a team name",
                                line.n,
                            )
                        ],
                    )
                problem = re.sub(r"\s+(issues?|problems?)$", "", _norm(m.group(2)))
                if problem not in {p.value for p in ProblemKind}:
                    raise DocumentError(
                        file,
                        [
                            Problem(
                                f"{path}.problem",
                                _unknown("kind of problem", problem, [p.value for p in ProblemKind]),
                                line.n,
                            )
                        ],
                    )
                lines[("spec", "rollback", "manual", len(manual))] = line.n
                manual.append({"problem": problem, "decides": role.value})
        else:
            raise DocumentError(
                file,
                [
                    Problem(
                        "spec.rollback",
                        _unknown("rollback line", key.strip(), ["Automated", "Manual"]),
                        line.n,
                    )
                ],
            )
    return {"automated": automated, "manual": manual}


def _quality(body: list[_Line], file: str, lines: dict[Path_, int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ge, le = r"(?:≥|>=)", r"(?:≤|<=)"
    for line in body:
        if _norm(line.text) == "none":
            continue
        t = line.text
        both = re.fullmatch(rf"({_NUM})\s*{le}\s*(.+?)\s*{le}\s*({_NUM})", t)
        low = re.fullmatch(rf"(.+?)\s*{ge}\s*({_NUM})", t)
        high = re.fullmatch(rf"(.+?)\s*{le}\s*({_NUM})", t)
        if both:
            q = {"metric": _unquote(both.group(2)), "min": float(both.group(1)), "max": float(both.group(3))}
        elif low:
            q = {"metric": _unquote(low.group(1)), "min": float(low.group(2))}
        elif high:
            q = {"metric": _unquote(high.group(1)), "max": float(high.group(2))}
        else:
            raise DocumentError(
                file,
                [
                    Problem(
                        f"spec.quality[{len(out)}]",
                        f"cannot read {t!r}; write 'accuracy ≥ 0.9', 'log_loss ≤ 0.3' or '0.8 ≤ auc ≤ 0.99'",
                        line.n,
                    )
                ],
            )
        lines[("spec", "quality", len(out))] = line.n
        for k in q:
            lines[("spec", "quality", len(out), k)] = line.n
        out.append(q)
    return out


def _promotion(body: list[_Line], file: str, lines: dict[Path_, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in body:
        key, value = _split_kv(line, file, "spec.promotion", "Approval: automatic")
        k = _norm(key)
        if k == "approval":
            v = _norm(value)
            if v.startswith("manual"):
                out["approval"] = Approval.MANUAL.value
            elif v.startswith("auto"):
                out["approval"] = Approval.AUTOMATIC.value
            else:
                raise DocumentError(
                    file,
                    [
                        Problem(
                            "spec.promotion.approval",
                            f"approval {value!r} is not valid; write 'automatic' or 'manual (signed by the "
                            f"ML team)'",
                            line.n,
                        )
                    ],
                )
            lines[("spec", "promotion", "approval")] = line.n
        elif k in ("verdicts valid for", "verdict ttl", "verdict lifetime", "verdicts expire after"):
            out["verdict_ttl"] = value
            lines[("spec", "promotion", "verdict_ttl")] = line.n
        else:
            raise DocumentError(
                file,
                [
                    Problem(
                        "spec.promotion",
                        _unknown("promotion line", key.strip(), ["Approval", "Verdicts valid for"]),
                        line.n,
                    )
                ],
            )
    return out


# ----------------------------------------------------------------------------------------- rendering


def human_duration(d: Duration) -> str:
    """A duration as people write it: ``80ms``, ``90 seconds``, ``10 min``, ``2 hours``, ``7 days``."""
    c = d.canonical()
    m = re.fullmatch(r"([\d.]+)(ms|s|m|h|d)", c)
    assert m, c
    num, unit = m.groups()
    if unit == "ms":
        return c
    one = num == "1"
    word = {"s": "second" if one else "seconds", "m": "min", "h": "hour" if one else "hours",
            "d": "day" if one else "days"}[unit]  # fmt: skip
    return f"{num} {word}"


def _threshold(alert: Alert) -> str:
    t = alert.threshold
    if isinstance(t, Duration):
        return human_duration(t)
    if isinstance(t, float | int):
        return _fmt(float(t)) + (" requests/s" if alert.signal is Signal.THROUGHPUT else "")
    return str(t)


def render_markdown(contract: WorkloadContract) -> str:
    """The contract as the Markdown interface document (this module's format)."""
    spec = contract.spec
    out = [f"## Workload: {contract.metadata.name}"]
    if contract.metadata.model != contract.metadata.name:
        out.append(f"MLflow model: {contract.metadata.model}")
    out.append("### Owner")
    for role in Role:
        owner = spec.owners.of(role)
        out.append(f"{_OWNER_LABEL[role]}: {owner.team}")
        for k in _OWNER_DETAIL:
            v = getattr(owner, k)
            if v is not None:
                out.append(f"  - {k.capitalize()}: {v}")
    s = spec.slos
    out.append("### SLOs")
    out.append(f"- P99 inference latency: <{human_duration(s.p99_latency)}")
    if s.p50_latency is not None:
        out.append(f"- P50 inference latency: <{human_duration(s.p50_latency)}")
    out.append(f"- Availability: {s.availability}")
    if s.error_rate is not None:
        out.append(f"- Error budget: {s.error_rate}")
    out.append(f"- Max cold start: {human_duration(s.max_cold_start)}")
    if s.throughput_per_replica is not None:
        out.append(f"- Throughput: {_fmt(s.throughput_per_replica)} requests/s per replica")
    r = spec.resources
    out.append("### Resources")
    if r.gpu is None:
        out.append("- GPU: none (CPU only)")
    else:
        out.append(f"- GPU: {r.gpu.count}x {r.gpu.product} {r.gpu.memory} per replica")
    out.append(f"- Replicas: {r.replicas.min} (min) — {r.replicas.max} (max)")
    out.append(f"- Model size: {r.model_size} in {'GPU ' if r.gpu is not None else ''}memory")
    if r.cpu is not None:
        out.append(f"- CPU: {_fmt(r.cpu)} cores per replica")
    if r.memory is not None:
        out.append(f"- Memory: {r.memory} per replica")
    if spec.alerts:
        out.append("### Alerts")
        for a in spec.alerts:
            text = _SIGNAL_LABEL[a.signal]
            if a.threshold is not None:
                text += f" {a.comparison.value} {_threshold(a)}"
            if a.percentile is not None:
                text += f" P{a.percentile}"
            if a.window is not None:
                text += f" over {human_duration(a.window)}"
            out.append(f"- {text} → pages {_ROLE_LABEL[a.pages]}")
    rb = spec.rollback
    if rb.automated or rb.manual:
        out.append("### Rollback")
        if rb.automated:
            signals = ", ".join(_SIGNAL_LABEL[a.signal].lower().replace("gpu", "GPU") for a in rb.automated)
            out.append(f"- Automated: revert to previous model version on {signals}")
        else:
            out.append("- Automated: none")
        if rb.manual:
            parts = [
                f"{_ROLE_LABEL[m.decides]} decision for {m.problem.value} issues"
                if i == 0
                else f"{_ROLE_LABEL[m.decides]} for {m.problem.value}"
                for i, m in enumerate(rb.manual)
            ]
            out.append(f"- Manual: {', '.join(parts)}")
        else:
            out.append("- Manual: none")
    if spec.quality:
        out.append("### Quality")
        for q in spec.quality:
            if q.min is not None and q.max is not None:
                out.append(f"- {_fmt(q.min)} ≤ {q.metric} ≤ {_fmt(q.max)}")
            elif q.min is not None:
                out.append(f"- {q.metric} ≥ {_fmt(q.min)}")
            else:
                assert q.max is not None
                out.append(f"- {q.metric} ≤ {_fmt(q.max)}")
    p = spec.promotion
    out.append("### Promotion")
    out.append(
        "- Approval: " + ("manual (signed by the ML team)" if p.approval is Approval.MANUAL else "automatic")
    )
    out.append(f"- Verdicts valid for: {human_duration(p.verdict_ttl)}")
    return "\n".join(out) + "\n"
