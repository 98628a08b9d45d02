"""``signoff contract check``'s fast path (``contracts._fastcheck``) agrees with the models.

The fast path may only say "valid, with this digest" for a contract the models accept with exactly
that digest; anything else it leaves to the models. Checked on every example, on generated valid
contracts, and on mutations of the examples (wrong types, unusual spellings, missing and unknown
fields); its copies of the models' vocabulary are held equal to the models'.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import _fastcheck, _yaml, loader
from contracts.errors import DocumentError
from contracts.model_uri import MODEL_NAME
from contracts.workload import (
    _THRESHOLD_KIND,
    API_VERSION,
    Alert,
    Approval,
    AutomatedRollback,
    Comparison,
    Gpu,
    Metadata,
    Owner,
    ProblemKind,
    Promotion,
    QualityThreshold,
    Role,
    RollbackAction,
    Signal,
    WorkloadContract,
)
from gates.holds import ContractTerms
from tests.unit.test_contract_properties import contracts

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "contracts" / "examples").glob("*.yaml"))
CONTRACT_EXAMPLES = [p for p in EXAMPLES if "kind: WorkloadContract" in p.read_text(encoding="utf-8")]


def _data(text: str) -> Any:
    return _yaml.yaml_to_data(text, "test.yaml")[0]


def _models_digest(text: str) -> str | None:
    """The models' verdict: the digest, or None when they refuse the document."""
    try:
        doc = loader.parse_document_text(text, "test.yaml", "yaml", "WorkloadContract")
    except DocumentError:
        return None
    assert isinstance(doc, WorkloadContract)
    return doc.digest()


def test_the_vocabulary_is_the_models() -> None:
    assert _fastcheck.API_VERSION == API_VERSION
    assert tuple(r.value for r in Role) == _fastcheck.ROLES
    assert tuple(s.value for s in Signal) == _fastcheck.SIGNALS
    assert tuple(c.value for c in Comparison) == _fastcheck.COMPARISONS
    assert tuple(p.value for p in ProblemKind) == _fastcheck.PROBLEM_KINDS
    assert tuple(a.value for a in RollbackAction) == _fastcheck.ROLLBACK_ACTIONS
    assert tuple(a.value for a in Approval) == _fastcheck.APPROVALS
    assert AutomatedRollback.model_fields["action"].default.value == "revert_to_previous"
    assert str(Promotion.model_fields["verdict_ttl"].default) == _fastcheck.DEFAULT_TTL
    assert {s.value: k for s, k in _THRESHOLD_KIND.items()} == _fastcheck.THRESHOLD_KIND

    def patterns(model: Any, field: str) -> str:  # read from the models' Field(pattern=...)
        found = [getattr(m, "pattern", None) for m in model.model_fields[field].metadata]
        return next(p for p in found if p)

    assert patterns(Metadata, "name") == _fastcheck.PATTERNS["name"]
    assert patterns(Metadata, "model") == _fastcheck.PATTERNS["model"] == f"^{MODEL_NAME}$"
    assert patterns(Owner, "team") == _fastcheck.PATTERNS["team"]
    assert patterns(Owner, "pager") == patterns(Owner, "chat") == _fastcheck.PATTERNS["handle"]
    assert patterns(Owner, "runbook") == _fastcheck.PATTERNS["runbook"]
    assert patterns(Gpu, "product") == _fastcheck.PATTERNS["product"]
    assert patterns(QualityThreshold, "metric") == _fastcheck.PATTERNS["metric"]
    assert Alert.model_fields["comparison"].default is Comparison.ABOVE


@pytest.mark.parametrize("path", CONTRACT_EXAMPLES, ids=lambda p: p.name)
def test_every_example_contract_is_decided_here_with_the_models_digest(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    digest = _fastcheck.plain_contract_digest(_data(text))
    assert digest is not None, f"{path.name}: the fast path should decide a plain example"
    assert digest == loader.load_contract(path).digest()


@pytest.mark.parametrize("path", CONTRACT_EXAMPLES, ids=lambda p: p.name)
def test_a_plain_contract_file_gives_the_terms_the_models_give(path: Path) -> None:
    """``signoff verify`` judges verdicts against these terms; read either way they are equal."""
    plain = _fastcheck.plain_contract_file(path)
    assert plain is not None
    assert ContractTerms.of_plain(*plain) == ContractTerms.of(loader.load_contract(path))
    assert _fastcheck.plain_contract_file(path.with_suffix(".md")) is None  # the models read Markdown


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contracts())
def test_generated_valid_contracts_get_the_models_digest_or_none(contract: WorkloadContract) -> None:
    text = loader.dump_contract_yaml(contract)
    digest = _fastcheck.plain_contract_digest(_data(text))
    assert digest in (None, contract.digest())


# Values a person (or a typo) puts where another was meant: text for numbers, numbers for text,
# unusual spellings the models coerce, blanks, control characters, lists and mappings.
_ODD = [
    None, True, False, 0, 1, 2, -1, 64, 65, 10_001, 0.5, 2.0, 1e6, 1e7, "", " ", "2", "2.0", "ml", "sre",
    "platform", "ml ", "x\n", "a\tb", "é", "80ms", "80", "0.5s", "3%", "150%", "0%", "99.9%", "1e3", "nan",
    "inf", "30GB", "30GiB", "1.5B", "<200ms", "revert_to_previous", "manual", ">", "<", "latency",
    "gpu_oom", "https://x.example.com/rb", "#chan", "<b>", [], [1], {}, {"a": 1},
]  # fmt: skip


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> str:
    base = _data(draw(st.sampled_from(CONTRACT_EXAMPLES)).read_text(encoding="utf-8"))
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["set", "set", "set", "drop", "add"]))
        if action == "set":
            # a copy: the same list or mapping of _ODD put in twice could end up inside itself
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(_ODD)))
        elif action == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "team", "min", "threshold", "gpu", "window"]))] = (
                copy.deepcopy(draw(st.sampled_from(_ODD)))
            )
        break_out = isinstance(parent, list) and not parent
        if break_out:
            break
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_contract_is_decided_here_only_when_the_models_accept_it(text: str) -> None:
    try:
        data = _data(text)
    except DocumentError:
        return  # refused before any model or fast path is asked
    digest = _fastcheck.plain_contract_digest(data)
    if digest is not None:
        assert digest == _models_digest(text)


_PROBE = """
import sys
from pipelines._cli.main import main
rc = main(sys.argv[1:])
print("PYDANTIC=" + str("pydantic" in sys.modules), file=sys.stderr)
sys.exit(rc)
"""


def test_check_of_a_plain_contract_prints_the_models_digest_without_importing_pydantic() -> None:
    path = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, "contract", "check", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"ok {path} (WorkloadContract {loader.load_contract(path).digest()})\n"
    assert "PYDANTIC=False" in proc.stderr
