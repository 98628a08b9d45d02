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

import re
from typing import Any

from contracts import _md_sections
from contracts import _md_words as words
from contracts._units import Duration, _fmt
from contracts._validate import validate_data
from contracts.errors import DocumentError, Problem
from contracts.workload import Alert, Approval, Role, Signal, WorkloadContract

__all__ = ["parse_markdown", "render_markdown"]


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
        raise DocumentError.at(file, "", "the file is empty; a contract starts with '## Workload: NAME'")
    name: str | None = None
    name_line = 1
    preamble: list[words.Line] = []
    sections: dict[str, tuple[int, list[words.Line]]] = {}
    current: list[words.Line] | None = None
    for n, raw in enumerate(_strip_comments(text).splitlines(), start=1):
        line = raw.replace("\t", "    ").rstrip()
        if len(line) > words.MAX_LINE:
            raise DocumentError.at(
                file,
                "",
                f"line is {len(line)} characters long; keep contract lines under {words.MAX_LINE}",
                n,
            )
        if not line.strip():
            continue
        head = words.HEADING.match(line.strip())
        if head:
            level, title = len(head.group(1)), head.group(2)
            wl = re.match(r"^workload\s*:\s*(.*)$", title.strip("*_` "), re.IGNORECASE)
            if wl and level <= 2:
                if name is not None:
                    raise DocumentError.at(
                        file,
                        "metadata.name",
                        f"a second workload heading (the first is at line {name_line}); one contract "
                        f"per file",
                        n,
                    )
                name, name_line, current = words.unquote(wl.group(1)), n, preamble
                continue
            if name is None:
                raise DocumentError.at(
                    file, "", f"expected the heading '## Workload: NAME' first, found {line.strip()!r}", n
                )
            if level <= 2:
                raise DocumentError.at(
                    file,
                    "",
                    f"unexpected heading {line.strip()!r}; sections are '### ' headings under '## "
                    f"Workload: NAME'",
                    n,
                )
            section = words.SECTIONS.get(words.norm(title))
            if section is None:
                raise DocumentError.at(
                    file, "", words.unknown("heading", title, [f"### {s}" for s in words.ORDER]), n
                )
            if section in sections:
                raise DocumentError.at(
                    file,
                    "",
                    f"heading '### {section}' appears twice (first at line {sections[section][0]})",
                    n,
                )
            current = []
            sections[section] = (n, current)
            continue
        if current is None:
            raise DocumentError.at(
                file, "", f"expected the heading '## Workload: NAME' first, found {line.strip()!r}", n
            )
        current.append(words.Line(n, words.BULLET.sub("", line, count=1).strip()))
    if name is None:
        raise DocumentError.at(
            file, "", "missing heading '## Workload: NAME'; a Markdown contract starts with it"
        )
    missing = [s for s in words.REQUIRED if s not in sections]
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

    lines: dict[words.FieldPath, int] = {(): name_line, ("spec",): name_line, ("metadata",): name_line,
                               ("metadata", "name"): name_line}  # fmt: skip
    model = name
    for pre in preamble:
        key, value = words.split_kv(pre, file, "metadata.model", "MLflow model: NAME")
        if words.norm(key) not in ("mlflow model", "model", "registered model", "mlflow registered model"):
            raise DocumentError.at(
                file,
                "",
                words.unknown("line before the first ### heading:", key.strip(), ["MLflow model"]),
                pre.n,
            )
        model = value
        lines[("metadata", "model")] = pre.n
    spec: dict[str, Any] = {}
    for section, (n, _body) in sections.items():
        lines[("spec", section.lower() if section != "Owner" else "owners")] = n
    owners = _md_sections.read_owners(sections["Owner"][1], file, lines)
    spec["owners"] = owners
    spec["slos"] = _md_sections.read_slos(sections["SLOs"][1], file, lines)
    spec["resources"] = _md_sections.read_resources(sections["Resources"][1], file, lines)
    if "Alerts" in sections:
        spec["alerts"] = _md_sections.read_alerts(sections["Alerts"][1], file, lines, owners)
    if "Rollback" in sections:
        spec["rollback"] = _md_sections.read_rollback(sections["Rollback"][1], file, lines, owners)
    if "Quality" in sections:
        spec["quality"] = _md_sections.read_quality(sections["Quality"][1], file, lines)
    if "Promotion" in sections:
        spec["promotion"] = _md_sections.read_promotion(sections["Promotion"][1], file, lines)
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
    if p.path.startswith("spec.slos.") and field in words.SLO_LABEL:
        return Problem(p.path, f"missing line '- {words.SLO_LABEL[field]}: ...' under ### SLOs", p.line)
    if p.path.startswith("spec.resources.") and field in words.RESOURCE_LABEL:
        return Problem(
            p.path, f"missing line '- {words.RESOURCE_LABEL[field]}: ...' under ### Resources", p.line
        )
    if p.path.startswith("spec.owners.") and field in ("ml", "platform", "sre"):
        label = words.OWNER_LABEL[Role(field)]
        return Problem(p.path, f"missing line '{label}: TEAM' under ### Owner", p.line)
    return p


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
        out.append(f"{words.OWNER_LABEL[role]}: {owner.team}")
        for k in words.OWNER_DETAIL:
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
            text = words.SIGNAL_LABEL[a.signal]
            if a.threshold is not None:
                text += f" {a.comparison.value} {_threshold(a)}"
            if a.percentile is not None:
                text += f" P{a.percentile}"
            if a.window is not None:
                text += f" over {human_duration(a.window)}"
            out.append(f"- {text} → pages {words.ROLE_LABEL[a.pages]}")
    rb = spec.rollback
    if rb.automated or rb.manual:
        out.append("### Rollback")
        if rb.automated:
            signals = ", ".join(
                words.SIGNAL_LABEL[a.signal].lower().replace("gpu", "GPU") for a in rb.automated
            )
            out.append(f"- Automated: revert to previous model version on {signals}")
        else:
            out.append("- Automated: none")
        if rb.manual:
            parts = [
                f"{words.ROLE_LABEL[m.decides]} decision for {m.problem.value} issues"
                if i == 0
                else f"{words.ROLE_LABEL[m.decides]} for {m.problem.value}"
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
