# ruff: noqa: E501  (tables of cases read best one case to a line)
"""The Markdown spelling: tolerant of how people write, strict where meaning is at stake."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import loader, markdown
from contracts._units import Duration
from contracts.errors import DocumentError
from contracts.workload import Role, Signal, WorkloadContract

ROOT = Path(__file__).resolve().parents[2]
DESIGN = (ROOT / "tests" / "golden" / "contracts" / "design-example.md").read_text(encoding="utf-8")


def _parse(text: str) -> WorkloadContract:
    return markdown.parse_markdown(text, "c.md")


def _sub(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


BASE = _parse(DESIGN)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("- ", "* "),  # another bullet
        ("- ", ""),  # no bullets at all
        ("→", "->"),
        ("→", "—"),
        ("→", "–"),
        ("→", "-"),
        ("→", "=>"),
        ("### SLOs", "### slos"),
        ("### Owner", "### Owners"),
        ("## Workload", "# workload"),
        ("pages SRE", "pages the SRE team"),
        ("pages SRE", "pages sre-ai-oncall"),
        ("pages ML team", "pages the ML team"),
        ("pages ML team", "pages ranking-squad"),
        ("pages platform team", "pages the platform team"),
        ("pages platform team", "pages Platform"),
        ("3 (min) — 12 (max)", "3 (min) - 12 (max)"),
        ("3 (min) — 12 (max)", "3–12"),
        ("3 (min) — 12 (max)", "3 to 12"),
        ("90 seconds", "90s"),
        ("90 seconds", "1.5 min"),
        ("<80ms", "80 ms"),
        ("<80ms", "0.08s"),
        ("10 min", "10 minutes"),
        ("Latency > 80ms P99", "P99 latency > 80ms"),
        ("ML team: ranking-squad", "**ML team**: ranking-squad"),
        ("P99 inference latency", "p99 latency"),
        ("SRE contact: sre-ai-oncall", "SRE contact: sre-ai-oncall\n<!-- the on-call rotation -->"),
        ("Manual: ML team decision for quality issues, SRE for availability",
         "Manual: ML team decides for quality; SRE for availability issues"),
    ],
)  # fmt: skip
def test_people_write_it_differently_and_it_means_the_same(old: str, new: str) -> None:
    assert _parse(_sub(DESIGN, old, new)) == BASE


def test_design_example_reads_as_intended() -> None:
    c = BASE
    assert c.spec.owners.ml.team == "ranking-squad"
    assert c.spec.slos.p99_latency == Duration.parse("80ms")
    assert c.spec.slos.availability.fraction == pytest.approx(0.9995)
    gpu = c.spec.resources.gpu
    assert gpu is not None and (gpu.count, gpu.product, gpu.memory.gb) == (2, "H100", 80)
    assert (c.spec.resources.replicas.min, c.spec.resources.replicas.max) == (3, 12)
    latency, drift, oom = c.spec.alerts
    assert (latency.signal, latency.percentile, latency.pages) == (Signal.LATENCY, 99, Role.SRE)
    assert latency.window == Duration.parse("10 min")
    assert (drift.signal, drift.pages, str(drift.threshold)) == (Signal.ACCURACY_DRIFT, Role.ML, "3%")
    assert (oom.signal, oom.threshold, oom.pages) == (Signal.GPU_OOM, None, Role.PLATFORM)
    assert [a.signal for a in c.spec.rollback.automated] == [Signal.ACCURACY_DRIFT]
    assert [(m.problem.value, m.decides) for m in c.spec.rollback.manual] == [
        ("quality", Role.ML),
        ("availability", Role.SRE),
    ]


def test_yaml_and_markdown_digests_agree_for_the_design_example() -> None:
    again = loader.parse_contract_text(loader.dump_contract_yaml(BASE), "c.yaml")
    assert again.digest() == BASE.digest()


@pytest.mark.parametrize(
    ("old", "new", "expect", "line"),
    [
        ("- Availability: 99.95%", "- Availability 99.95%", "cannot read 'Availability 99.95%'", 8),
        ("- Availability: 99.95%", "- Uptime: 99.95%", "unknown SLO 'Uptime'", 8),
        ("pages SRE", "pages finance", "alert pages 'finance', which is not one of the three owners", 15),
        ("→ pages SRE", "", "it must say who it pages", 15),
        ("Accuracy drift", "Accuracy drfit", "did you mean 'Accuracy drift'?", 16),
        ("Manual: ML team decision", "Manual: legal decision", "'legal' is not one of the three owners", 20),
        ("quality issues", "vibes issues", "unknown kind of problem 'vibes'", 20),
        ("revert to previous model version on", "page everyone on", "cannot read", 19),
        ("### Rollback", "### Rollback\n### Rollback", "heading '### Rollback' appears twice (first at line 18)", 19),
        ("ML team: ranking-squad", "ML team: ranking-squad\nML team: other", "ML team given twice", 4),
        ("ML team: ranking-squad", "Pager: pd\nML team: ranking-squad", "must follow the owner", 3),
        ("ML team: ranking-squad", "Finance: ranking-squad", "unknown owner line 'Finance'", 3),
        ("## Workload: recsys-ranker-v2", "Some prose first\n## Workload: recsys-ranker-v2",
         "expected the heading '## Workload: NAME' first", 1),
        ("## Workload: recsys-ranker-v2", "## Workload: Recsys Ranker", "DNS-1123 label", 1),
        ("### Owner", "Owner: someone\n### Owner", "unknown line before the first ### heading: 'Owner' (valid: MLflow model)", 2),
        ("GPU: 2x H100 80GB", "GPU: 2x H100 80 gigs", "is not an amount of memory", 11),
        ("- Latency > 80ms P99", "- Latency > 80% P99", "latency alert's threshold must be a duration", 15),
    ],
)  # fmt: skip
def test_where_meaning_is_at_stake_it_refuses_with_the_line(
    old: str, new: str, expect: str, line: int
) -> None:
    with pytest.raises(DocumentError) as info:
        _parse(_sub(DESIGN, old, new))
    message = str(info.value)
    assert expect in message
    assert f"c.md:{line}:" in message


def test_render_is_stable_text_for_the_yaml_example() -> None:
    c = loader.load_contract(ROOT / "contracts" / "examples" / "support-llm-70b.yaml")
    text = markdown.render_markdown(c)
    assert "- GPU: 8x H100 80GB per replica" in text
    assert "- Approval: manual (signed by the ML team)" in text
    assert (
        "- Manual: ML team decision for quality issues, SRE for availability, platform team for cost" in text
    )
    assert markdown.render_markdown(markdown.parse_markdown(text, "x.md")) == text
