"""One reader per section of the Markdown contract (``### Owner`` ... ``### Promotion``).

Each takes the section's lines and returns the section as the data of
:class:`contracts.workload.WorkloadContract` (validated afterwards by
:func:`contracts.markdown.parse_markdown`), recording the line of every field it read in ``lines``, so a
validation error can name the line. A line it cannot read is a
:class:`~contracts.errors.DocumentError` naming the line, the field and what would be valid.
"""

from __future__ import annotations

import re
from typing import Any

from contracts import _md_words as words
from contracts.errors import DocumentError
from contracts.workload import Approval, ProblemKind, Role

__all__ = [
    "read_alerts",
    "read_owners",
    "read_promotion",
    "read_quality",
    "read_resources",
    "read_rollback",
    "read_slos",
]


def _role_key(text: str) -> Role | None:
    t = words.norm(text)
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
    raw = words.unquote(text).strip().rstrip(".").strip()
    low = re.sub(r"\s+", " ", raw.lower())
    for role, label in words.ROLE_LABEL.items():
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


def read_owners(body: list[words.Line], file: str, lines: dict[words.FieldPath, int]) -> dict[str, Any]:
    """``### Owner``: one line per owner (``ML team: TEAM``), each followed by its pager, chat and runbook."""
    owners: dict[str, dict[str, Any]] = {}
    last: Role | None = None
    for line in body:
        key, value = words.split_kv(line, file, "spec.owners", "ML team: TEAM")
        k = words.norm(key)
        if k in words.OWNER_DETAIL:
            if last is None:
                raise DocumentError.at(
                    file,
                    "spec.owners",
                    f"'{key.strip()}:' must follow the owner it belongs to ('ML team: TEAM')",
                    line.n,
                )
            if k in owners[last.value]:
                raise DocumentError.at(
                    file,
                    f"spec.owners.{last.value}.{k}",
                    f"{k} given twice for {words.OWNER_LABEL[last]}",
                    line.n,
                )
            owners[last.value][k] = value
            lines[("spec", "owners", last.value, k)] = line.n
            continue
        role = _role_key(key)
        if role is None:
            valid = [*words.OWNER_LABEL.values(), "Pager", "Chat", "Runbook"]
            raise DocumentError.at(
                file, "spec.owners", words.unknown("owner line", key.strip(), valid), line.n
            )
        if role.value in owners:
            raise DocumentError.at(
                file, f"spec.owners.{role.value}", f"{words.OWNER_LABEL[role]} given twice", line.n
            )
        owners[role.value] = {"team": value}
        lines[("spec", "owners", role.value)] = line.n
        lines[("spec", "owners", role.value, "team")] = line.n
        last = role
    return owners


_FIELDS = {
    "slos": (words.SLO_KEYS, words.SLO_LABEL),
    "resources": (words.RESOURCE_KEYS, words.RESOURCE_LABEL),
}


def _field_line(
    line: words.Line, file: str, lines: dict[words.FieldPath, int], section: str, what: str, example: str
) -> tuple[str, str]:
    """``Label: value`` in a section of one line per field -> ``(field, value)``; an unknown label,
    or a field given twice (``lines`` holds the fields read so far), is refused naming the line."""
    keys, labels = _FIELDS[section]
    key, value = words.split_kv(line, file, f"spec.{section}", example)
    field = keys.get(words.norm(key))
    if field is None:
        raise DocumentError.at(
            file, f"spec.{section}", words.unknown(what, key.strip(), list(labels.values())), line.n
        )
    first = lines.get(("spec", section, field))
    if first is not None:
        raise DocumentError.at(
            file, f"spec.{section}.{field}", f"{labels[field]} given twice (first at line {first})", line.n
        )
    return field, value


def read_slos(body: list[words.Line], file: str, lines: dict[words.FieldPath, int]) -> dict[str, Any]:
    """``### SLOs``: one objective per line (``P99 inference latency: <80ms``)."""
    out: dict[str, Any] = {}
    for line in body:
        field, value = _field_line(line, file, lines, "slos", "SLO", "P99 inference latency: <80ms")
        if field == "throughput_per_replica":
            m = re.fullmatch(
                rf"({words.NUM})\s*(?:(?:requests?|req)\s*/\s*s(?:ec)?|rps|qps|requests? per "
                rf"second)?(?:\s+per\s+replica)?",
                value,
                re.IGNORECASE,
            )
            if not m:
                raise DocumentError.at(
                    file,
                    f"spec.slos.{field}",
                    f"cannot read throughput {value!r}; write e.g. 'Throughput: 200 requests/s per replica'",
                    line.n,
                )
            out[field] = float(m.group(1))
        else:
            out[field] = value
        lines[("spec", "slos", field)] = line.n
    return out


def read_resources(body: list[words.Line], file: str, lines: dict[words.FieldPath, int]) -> dict[str, Any]:
    """``### Resources``: GPU, replicas, model size, CPU and memory, one per line."""
    out: dict[str, Any] = {}
    for line in body:
        field, value = _field_line(
            line, file, lines, "resources", "resource", "GPU: 2x H100 80GB per replica"
        )
        path = f"spec.resources.{field}"
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
                raise DocumentError.at(
                    file,
                    path,
                    f"cannot read {value!r}; write 'GPU: 2x H100 80GB per replica' or 'GPU: none (CPU only)'",
                    line.n,
                )
            out["gpu"] = {"count": int(m.group(1)), "product": m.group(2), "memory": m.group(3).strip()}
            for k in ("count", "product", "memory"):
                lines[("spec", "resources", "gpu", k)] = line.n
        elif field == "replicas":
            d = f"[{words.DASHES}]"
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
                raise DocumentError.at(
                    file, path, f"cannot read {value!r}; write 'Replicas: 3 (min) — 12 (max)'", line.n
                )
            lines[("spec", "resources", "replicas", "min")] = lines[
                ("spec", "resources", "replicas", "max")
            ] = line.n
        elif field == "model_size":
            out["model_size"] = re.sub(
                r"\s+in\s+(?:the\s+)?(?:gpu\s+|host\s+)?memory\s*$", "", v, flags=re.I
            ).strip()
        elif field == "cpu":
            m = re.fullmatch(rf"({words.NUM})\s*(?:cores?|cpus?|vcpus?)?", v, re.I)
            if not m:
                raise DocumentError.at(
                    file, path, f"cannot read {value!r}; write 'CPU: 8 cores per replica'", line.n
                )
            out["cpu"] = float(m.group(1))
        else:
            out["memory"] = v
    return out


_PAGES = re.compile(r"\bpages?\b", re.IGNORECASE)
_ARROW_CHARS = " \t→⇒=<>—–-:,"


def read_alerts(
    body: list[words.Line], file: str, lines: dict[words.FieldPath, int], owners: dict[str, Any]
) -> list[dict[str, Any]]:
    """``### Alerts``: ``SIGNAL [> THRESHOLD] [PNN] [over WINDOW] → pages OWNER``, one per line."""
    out: list[dict[str, Any]] = []
    example = "write e.g. 'Latency > 80ms P99 over 10 min → pages SRE'"
    for line in body:
        if words.norm(line.text) in ("none", "no alerts"):
            continue
        i = len(out)
        path = f"spec.alerts[{i}]"
        hits = list(_PAGES.finditer(line.text))
        who = line.text[hits[-1].end() :].strip() if hits else ""
        if not who:
            raise DocumentError.at(
                file, path, f"cannot read alert {line.text!r}: it must say who it pages; {example}", line.n
            )
        role = _resolve_owner(who, owners)
        if role is None:
            teams = [o.get("team") for o in owners.values() if o.get("team")]
            raise DocumentError.at(
                file,
                f"{path}.pages",
                f"alert pages {who!r}, which is not one of the three owners; write 'pages ML team', "
                f"'pages platform team', 'pages SRE' or a team name ({', '.join(teams)})",
                line.n,
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
        signal = words.SIGNALS.get(words.norm(signal_text))
        if signal is None:
            valid = list(words.SIGNAL_LABEL.values())
            raise DocumentError.at(
                file,
                f"{path}.signal",
                words.unknown("alert signal", signal_text.strip(), valid) + f"; {example}",
                line.n,
            )
        alert = {"signal": signal.value, "pages": role.value, **alert}
        out.append(alert)
        lines[("spec", "alerts", i)] = line.n
        for k in alert:
            lines[("spec", "alerts", i, k)] = line.n
    return out


def read_rollback(
    body: list[words.Line], file: str, lines: dict[words.FieldPath, int], owners: dict[str, Any]
) -> dict[str, Any]:
    """``### Rollback``: the automated signals and who decides by hand for which kind of problem."""
    automated: list[dict[str, Any]] = []
    manual: list[dict[str, Any]] = []
    for line in body:
        key, value = words.split_kv(
            line, file, "spec.rollback", "Automated: revert to previous model version on accuracy drift"
        )
        k = words.norm(key)
        if words.norm(value) in ("none", "no", "never", "n/a"):
            if k not in ("automated", "automatic", "manual"):
                raise DocumentError.at(
                    file,
                    "spec.rollback",
                    words.unknown("rollback line", key.strip(), ["Automated", "Manual"]),
                    line.n,
                )
            continue
        if k in ("automated", "automatic"):
            action, sep, signals = value.partition(" on ")
            if not sep or not re.search(r"revert|previous|roll ?back", action, re.IGNORECASE):
                raise DocumentError.at(
                    file,
                    "spec.rollback.automated",
                    f"cannot read {value!r}; write 'Automated: revert to previous model version on "
                    f"accuracy drift'",
                    line.n,
                )
            for part in re.split(r",|;|\band\b|\bor\b", signals):
                if not part.strip():
                    continue
                sig = words.SIGNALS.get(words.norm(part))
                if sig is None:
                    raise DocumentError.at(
                        file,
                        f"spec.rollback.automated[{len(automated)}].signal",
                        words.unknown("signal", part.strip(), list(words.SIGNAL_LABEL.values())),
                        line.n,
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
                    raise DocumentError.at(
                        file,
                        path,
                        f"cannot read {part.strip()!r}; write 'Manual: ML team decision for quality "
                        f"issues, SRE for availability'",
                        line.n,
                    )
                role = _resolve_owner(re.sub(r"\s+(decision|decides)$", "", m.group(1), flags=re.I), owners)
                if role is None:
                    raise DocumentError.at(
                        file,
                        f"{path}.decides",
                        f"{m.group(1).strip()!r} is not one of the three owners; write ML team, "
                        f"platform team, SRE or a team name",
                        line.n,
                    )
                problem = re.sub(r"\s+(issues?|problems?)$", "", words.norm(m.group(2)))
                if problem not in {p.value for p in ProblemKind}:
                    raise DocumentError.at(
                        file,
                        f"{path}.problem",
                        words.unknown("kind of problem", problem, [p.value for p in ProblemKind]),
                        line.n,
                    )
                lines[("spec", "rollback", "manual", len(manual))] = line.n
                manual.append({"problem": problem, "decides": role.value})
        else:
            raise DocumentError.at(
                file,
                "spec.rollback",
                words.unknown("rollback line", key.strip(), ["Automated", "Manual"]),
                line.n,
            )
    return {"automated": automated, "manual": manual}


def read_quality(
    body: list[words.Line], file: str, lines: dict[words.FieldPath, int]
) -> list[dict[str, Any]]:
    """``### Quality``: ``metric ≥ min``, ``metric ≤ max`` or ``min ≤ metric ≤ max``, one per line."""
    out: list[dict[str, Any]] = []
    ge, le = r"(?:≥|>=)", r"(?:≤|<=)"
    for line in body:
        if words.norm(line.text) == "none":
            continue
        t = line.text
        both = re.fullmatch(rf"({words.NUM})\s*{le}\s*(.+?)\s*{le}\s*({words.NUM})", t)
        low = re.fullmatch(rf"(.+?)\s*{ge}\s*({words.NUM})", t)
        high = re.fullmatch(rf"(.+?)\s*{le}\s*({words.NUM})", t)
        if both:
            q = {
                "metric": words.unquote(both.group(2)),
                "min": float(both.group(1)),
                "max": float(both.group(3)),
            }
        elif low:
            q = {"metric": words.unquote(low.group(1)), "min": float(low.group(2))}
        elif high:
            q = {"metric": words.unquote(high.group(1)), "max": float(high.group(2))}
        else:
            raise DocumentError.at(
                file,
                f"spec.quality[{len(out)}]",
                f"cannot read {t!r}; write 'accuracy ≥ 0.9', 'log_loss ≤ 0.3' or '0.8 ≤ auc ≤ 0.99'",
                line.n,
            )
        lines[("spec", "quality", len(out))] = line.n
        for k in q:
            lines[("spec", "quality", len(out), k)] = line.n
        out.append(q)
    return out


def read_promotion(body: list[words.Line], file: str, lines: dict[words.FieldPath, int]) -> dict[str, Any]:
    """``### Promotion``: the approval and how long verdicts stay valid."""
    out: dict[str, Any] = {}
    for line in body:
        key, value = words.split_kv(line, file, "spec.promotion", "Approval: automatic")
        k = words.norm(key)
        if k == "approval":
            v = words.norm(value)
            if v.startswith("manual"):
                out["approval"] = Approval.MANUAL.value
            elif v.startswith("auto"):
                out["approval"] = Approval.AUTOMATIC.value
            else:
                raise DocumentError.at(
                    file,
                    "spec.promotion.approval",
                    f"approval {value!r} is not valid; write 'automatic' or 'manual (signed by the ML team)'",
                    line.n,
                )
            lines[("spec", "promotion", "approval")] = line.n
        elif k in ("verdicts valid for", "verdict ttl", "verdict lifetime", "verdicts expire after"):
            out["verdict_ttl"] = value
            lines[("spec", "promotion", "verdict_ttl")] = line.n
        else:
            raise DocumentError.at(
                file,
                "spec.promotion",
                words.unknown("promotion line", key.strip(), ["Approval", "Verdicts valid for"]),
                line.n,
            )
    return out
