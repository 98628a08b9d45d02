# ruff: noqa: E501  (a table of cases reads best one case to a line)
"""Bad documents: one clear message naming file, line, field path and the fix; exit 2; no traceback.

Each case starts from a shipped example and breaks one thing, then runs the real command line
(``signoff contract check FILE``) in-process, as a user would.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines._cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
YAML = (EXAMPLES / "recsys-ranker.yaml").read_text(encoding="utf-8")
MD = (EXAMPLES / "recsys-ranker.md").read_text(encoding="utf-8")


def _sub(text: str, old: str, new: str) -> str:
    assert old in text, f"test setup: {old!r} not in the example"
    return text.replace(old, new, 1)


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[], bytes | str]
    expect: tuple[str, ...]
    """Substrings the message must contain."""
    line_of: str | int | None = None
    """The line the message must name: a line number, or a marker on that line of the document."""
    suffix: str = ".yaml"


def _line(text: str, marker: str | int | None) -> int | None:
    if marker is None or isinstance(marker, int):
        return marker
    for n, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return n
    raise AssertionError(f"test setup: marker {marker!r} not found")


CASES = [
    # --- unknown and missing fields
    Case("unknown-field", lambda: _sub(YAML, "p99_latency: 75ms", "p99_latncy: 75ms"),
         ("spec.slos.p99_latncy", "unknown field 'p99_latncy'", "did you mean 'p99_latency'?"), "p99_latncy"),
    Case("unknown-top-field", lambda: _sub(YAML, "metadata:", "metdata:"),
         ("unknown field 'metdata'", "did you mean 'metadata'?"), "metdata"),
    Case("missing-section", lambda: _sub(YAML, "  slos:\n    p99_latency: 75ms\n    availability: 99.95%\n"
                                               "    max_cold_start: 90s\n    p50_latency: 25ms\n"
                                               "    throughput_per_replica: 200.0\n", ""),
         ("spec.slos", "missing section 'slos'", "p99_latency, availability, max_cold_start"), "spec:"),
    Case("missing-field", lambda: _sub(YAML, "    availability: 99.95%\n", ""),
         ("spec.slos.availability", "missing required field 'availability'"), "  slos:"),
    # --- units
    Case("wrong-duration-unit", lambda: _sub(YAML, "p99_latency: 75ms", "p99_latency: 80 parsecs"),
         ("spec.slos.p99_latency", "'80 parsecs' is not a duration", "ms, s, min"), "parsecs"),
    Case("percent-without-sign", lambda: _sub(YAML, "availability: 99.95%", "availability: 99.95"),
         ("spec.slos.availability", "is not a percentage", "'99.9%'"), "availability"),
    Case("memory-without-unit", lambda: _sub(YAML, "model_size: 30GB", "model_size: 30"),
         ("spec.resources.model_size", "is not an amount of memory", "GiB"), "model_size"),
    Case("percent-over-100", lambda: _sub(YAML, "availability: 99.95%", "availability: 199.95%"),
         ("spec.slos.availability", "over 100%"), "availability"),
    # --- meaning
    Case("min-above-max-replicas", lambda: _sub(YAML, "min: 3", "min: 30"),
         ("spec.resources.replicas", "min replicas (30) is greater than max replicas (12)"), "replicas:"),
    Case("alert-pages-stranger", lambda: _sub(YAML, "pages: platform", "pages: finance"),
         ("spec.alerts[2].pages", "'finance' is not one of the contract's three owners",
          "ml, platform or sre"), "finance"),
    Case("alert-pages-typo", lambda: _sub(YAML, "pages: platform", "pages: platfrom"),
         ("did you mean 'platform'?",), "platfrom"),
    Case("unknown-signal", lambda: _sub(YAML, "signal: gpu_oom", "signal: gpu_oomm"),
         ("spec.alerts[2].signal", "'gpu_oomm' is not valid", "did you mean 'gpu_oom'?"), "gpu_oomm"),
    Case("oom-with-threshold", lambda: _sub(YAML, "    - signal: gpu_oom\n", "    - signal: gpu_oom\n      threshold: 5%\n"),
         ("spec.alerts[2]", "gpu_oom alert takes no threshold"), "signal: gpu_oom"),
    Case("latency-threshold-percent", lambda: _sub(YAML, "threshold: 75ms", "threshold: 80%"),
         ("spec.alerts[0]", "latency alert's threshold must be a duration"), "signal: latency"),
    Case("same-team-twice", lambda: _sub(YAML, "team: sre-ai-oncall", "team: ranking-squad"),
         ("spec.owners", "three distinct teams"), "  owners:"),
    Case("bad-workload-name", lambda: _sub(YAML, "name: recsys-ranker-v2", "name: Recsys_Ranker"),
         ("metadata.name", "'Recsys_Ranker'", "DNS-1123 label"), "Recsys_Ranker"),
    Case("quality-min-above-max", lambda: _sub(YAML, "min: 0.42", "min: 0.42\n      max: 0.1"),
         ("spec.quality[0]", "min 0.42 is greater than max 0.1"), "metric: ndcg_at_10"),
    Case("nan-number", lambda: _sub(YAML, "min: 0.42", "min: .nan"),
         ("spec.quality[0].min", "not a finite number"), ".nan"),
    Case("section-is-text", lambda: _sub(YAML, "  promotion:\n    approval: automatic\n    verdict_ttl: 7d\n",
                                         "  promotion: manual\n"),
         ("spec.promotion", "must be a mapping of fields, not text ('manual')"), "promotion"),
    # --- header
    Case("wrong-api-version", lambda: _sub(YAML, "apiVersion: signoff.dev/v1alpha1", "apiVersion: signoff.dev/v2"),
         ("apiVersion: 'signoff.dev/v2' is not supported", "write 'apiVersion: signoff.dev/v1alpha1'"), "apiVersion"),
    Case("wrong-kind", lambda: _sub(YAML, "kind: WorkloadContract", "kind: WorkloadContrakt"),
         ("unknown kind 'WorkloadContrakt'", "did you mean 'WorkloadContract'?"), "kind:"),
    Case("missing-kind", lambda: _sub(YAML, "kind: WorkloadContract\n", ""),
         ("missing 'kind'", "WorkloadContract, ClusterPolicy, TrustPolicy"), "apiVersion"),
    Case("not-a-mapping", lambda: "- just\n- a list\n", ("must be a YAML mapping", "not a list"), 1),
    # --- YAML itself
    Case("duplicate-key", lambda: _sub(YAML, "    max_cold_start: 90s\n", "    max_cold_start: 90s\n    p99_latency: 99ms\n"),
         ("spec.slos.p99_latency", "duplicate key 'p99_latency' (first at line 23)", "keep one"), "99ms"),
    Case("tab", lambda: _sub(YAML, "    p99_latency", "\tp99_latency"),
         ("tab character at column 1", "indented with spaces"), "p99_latency"),
    Case("not-utf8", lambda: YAML.encode().replace(b"pd-sre-ai", b"pd-sr\xe9-ai"),
         ("is not UTF-8 text", "byte 0xe9", "save it as UTF-8"), "pd-sr"),
    Case("utf16", lambda: YAML.encode("utf-16"), ("is not UTF-8 text (it looks like UTF-16)",), 1),
    Case("alias", lambda: _sub(YAML, "  slos:\n", "  x: &a [1, 2]\n  y: *a\n  slos:\n"),
         ("YAML anchor '&a' refused", "write the value out"), "&a"),
    Case("python-object-tag", lambda: _sub(YAML, "model: recsys-ranker", "model: !!python/object/apply:os.system ['true']"),
         ("metadata.model", "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' refused"), "python/object"),
    Case("custom-tag", lambda: _sub(YAML, "model: recsys-ranker", "model: !Ref other"),
         ("YAML tag '!Ref' refused", "only plain strings, numbers"), "!Ref"),
    Case("binary-tag", lambda: _sub(YAML, "model: recsys-ranker", "model: !!binary aGk="),
         ("tag:yaml.org,2002:binary' refused",), "binary"),
    Case("empty", lambda: "", ("the file is empty", "signoff contract init NAME")),
    Case("only-comments", lambda: "# nothing here\n\n", ("the file is empty",)),
    Case("two-documents", lambda: YAML + "---\n" + YAML, ("more than one YAML document",), "---"),
    Case("syntax", lambda: _sub(YAML, "gpu:\n", "gpu: {count: 2\n"), ("is not valid YAML",), None),
    Case("deep-nesting", lambda: "a: " + "[" * 200 + "]" * 200 + "\n", ("nested more than 32 levels deep",), 1),
    Case("huge-integer", lambda: _sub(YAML, "count: 2", "count: " + "9" * 5000),
         ("spec.resources.gpu.count", "is not a usable int", "..."), "count: 999"),
    Case("scalar-tagged-map", lambda: _sub(YAML, "model: recsys-ranker", "model: !!map recsys-ranker"),
         ("YAML tag 'tag:yaml.org,2002:map' refused",), "!!map"),
    # --- Markdown
    Case("md-long-line", lambda: _sub(MD, "GPU OOM → pages platform team", "GPU OOM" + " " * 2000 + "→ pages platform team"),
         ("characters long; keep contract lines under 1000",), "GPU OOM", ".md"),
    Case("md-missing-heading", lambda: _sub(MD, "### SLOs\n", ""),
         ("missing heading '### SLOs'",), None, ".md"),
    Case("md-no-workload-heading", lambda: _sub(MD, "## Workload: recsys-ranker-v2\n", ""),
         ("expected the heading '## Workload: NAME' first",), 1, ".md"),
    Case("md-unknown-slo", lambda: _sub(MD, "- Availability: 99.95%", "- P95 latency: 50ms"),
         ("spec.slos", "unknown SLO 'P95 latency'", "P99 inference latency"), "P95", ".md"),
    Case("md-unknown-owner", lambda: _sub(MD, "GPU OOM → pages platform team", "GPU OOM → pages finance team"),
         ("spec.alerts[2].pages", "alert pages 'finance team'", "not one of the three owners",
          "ranking-squad"), "finance", ".md"),
    Case("md-unknown-heading", lambda: _sub(MD, "### Quality", "### Qualty"),
         ("unknown heading 'Qualty'", "did you mean '### Quality'?"), "Qualty", ".md"),
    Case("md-missing-line", lambda: _sub(MD, "- Availability: 99.95%\n", ""),
         ("spec.slos.availability", "missing line '- Availability: ...' under ### SLOs"), "### SLOs", ".md"),
    Case("md-wrong-unit", lambda: _sub(MD, "P99 inference latency: <75ms", "P99 inference latency: fast"),
         ("spec.slos.p99_latency", "'fast' is not a duration"), "fast", ".md"),
    Case("md-min-above-max", lambda: _sub(MD, "3 (min) — 12 (max)", "30 (min) — 12 (max)"),
         ("spec.resources.replicas", "min replicas (30) is greater than max replicas (12)"), "Replicas", ".md"),
    Case("md-unknown-signal", lambda: _sub(MD, "GPU OOM → pages", "GPU melted → pages"),
         ("unknown alert signal 'GPU melted'",), "melted", ".md"),
    Case("md-bad-gpu-line", lambda: _sub(MD, "2x H100 80GB", "two H100s"),
         ("spec.resources.gpu", "write 'GPU: 2x H100 80GB per replica'"), "two H100s", ".md"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_document_gets_one_clear_message(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = case.make()
    path = tmp_path / f"contract{case.suffix}"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    rc = main(["contract", "check", str(path)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert "Traceback" not in err and "ok " not in out
    assert err.startswith(f"signoff: error: {path}")
    for text in case.expect:
        assert text in err, f"{text!r} not in:\n{err}"
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    line = _line(text, case.line_of)
    if line is not None:
        assert f"{path}:{line}:" in err, f"line {line} not named in:\n{err}"


def test_at_least_25_cases() -> None:
    assert len(CASES) >= 25


def test_check_reports_every_file_and_fails_if_any_is_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(_sub(YAML, "p99_latency: 75ms", "p99_latncy: 75ms"), encoding="utf-8")
    good = EXAMPLES / "fraud-scorer.md"
    rc = main(["contract", "check", str(bad), str(good), str(tmp_path / "missing.yaml")])
    out, err = capsys.readouterr()
    assert rc == 2
    assert f"ok {good} (WorkloadContract sha256:" in out
    assert "p99_latncy" in err and "missing.yaml: no such file" in err
    assert "2 of 3 files have errors" in err


def test_oversized_file_is_refused_unread_and_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An alias bomb past the size cap: refused on size, before YAML sees it.
    big = tmp_path / "big.yaml"
    big.write_text("a: &a [" + ",".join(["x"] * 600_000) + "]\nb: [*a, *a, *a, *a]\n", encoding="utf-8")
    start = time.perf_counter()
    rc = main(["contract", "check", str(big)])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert rc == 2
    assert "is larger than 1024 KiB" in err and "refused unread" in err
    assert elapsed < 5  # generous: the point is that nothing is parsed


def test_billion_laughs_refused_at_first_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ['a0: "lol"'] + [f"a{i}: [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines).replace('a0: "lol"', 'a0: &a0 "lol"') + "\n", encoding="utf-8")
    rc = main(["contract", "check", str(bomb)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{bomb}:1:" in err and "YAML anchor '&a0' refused" in err


def test_convert_refuses_a_policy_where_a_contract_is_expected(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["contract", "convert", str(EXAMPLES / "cluster-policy.yaml"), "--to", "md"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "kind: this is a ClusterPolicy, but a WorkloadContract is expected here" in err


@pytest.mark.parametrize("case", [c for c in CASES if c.id in ("unknown-field", "tab", "md-unknown-owner")],
                         ids=lambda c: c.id)  # fmt: skip
def test_installed_command_exits_2_without_traceback(case: Case, tmp_path: Path) -> None:
    path = tmp_path / f"c{case.suffix}"
    content = case.make()
    assert isinstance(content, str)
    path.write_text(content, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines._cli.main", "contract", "check", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert all(text in proc.stderr for text in case.expect)


def test_a_kind_that_is_not_a_string_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the property test: `kind:` holding a mapping crashed with a TypeError."""
    path = tmp_path / "c.yaml"
    path.write_text("kind:\n  apiVersion: signoff.dev/v1alpha1\n", encoding="utf-8")
    assert main(["contract", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "c.yaml:1: kind: 'kind' must be a string, not dict; write one of WorkloadContract" in err
    assert "Traceback" not in err
