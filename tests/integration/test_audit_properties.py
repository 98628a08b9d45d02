"""Property: no single-field edit of any tag signoff writes makes the audit say something else is verified.

Once per module a real history is made on the session's real ``mlflow server`` (two promotions
through the real gate, a rollback by the real ``signoff rollback`` command, a third promotion, and a
refused attempt whose platform verdict is long enough to be split into parts) and its tags are read
back with the MLflow client. Each example then edits ONE field of ONE of those tags (any tag signoff
wrote, on a version or on the registered model: delete it, replace it, change one character, or
change, delete or add one field of its JSON, including the fields of a DSSE envelope's payload) and
runs the audit's judgement on the copy: the same code ``signoff audit`` runs
(:meth:`Registry.snapshot_from_tags` then :func:`gates.audit.judge`). The edit must be refused or
flagged (the audit is not ok), or leave everything the audit presents as verified exactly as it was.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from audit_kit import ML, AuditKit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.mlflow_registry import Registry
from contracts.trust import Gate
from gates import audit
from gates.verdict import Check, Outcome

pytestmark = pytest.mark.integration

Tags = tuple[dict[str, str], dict[str, str], dict[str, dict[str, str]]]
NAME = "ap-history"
_BASE: dict[int, audit.AuditReport] = {}
"""The unedited history's audit, judged once."""


@pytest.fixture(scope="module")
def history(
    mlflow_server: Any, register_sklearn_model: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[AuditKit, Tags]:
    version = register_sklearn_model("ap-base")
    kit = AuditKit.create(mlflow_server.url, "ap-base", version, tmp_path_factory.mktemp("audit-keys"))
    reg = kit.registry()
    v1, v2, v3, v4 = (kit.new_version(NAME) for _ in range(4))
    kit.promote(reg, NAME, v1)
    kit.promote(reg, NAME, v2)
    assert kit.rollback_cli(NAME) == 0  # SRE moves production back to v1, signed
    kit.promote(reg, NAME, v3)
    # v4: a refused attempt, its long platform verdict split into parts.
    long = [Check(id=f"c{i}", outcome=Outcome.FAIL, message="x" * 2000) for i in range(40)]
    kit.keep_handoffs(reg, NAME, v4)
    reg.store_envelope(NAME, v4, Gate.PLATFORM, kit.sign(kit.verdict(Gate.PLATFORM, NAME, v4, checks=long)))
    reg.store_envelope(NAME, v4, Gate.PROMOTION, kit.sign(kit.promotion_verdict(reg, NAME, v4)))
    return kit, kit.tags_of(NAME)


def _judge(kit: AuditKit, tags: Tags) -> audit.AuditReport:
    aliases, model_tags, version_tags = tags
    snap = Registry.snapshot_from_tags(NAME, aliases, model_tags, version_tags)
    return audit.judge(snap, kit.trust, kit.contract)


def _verified(report: audit.AuditReport) -> Any:
    """Everything the audit presents as verified."""
    return (
        [(a.alias, a.version, a.status, dict(a.signed)) for a in report.aliases],
        [(h.kind, h.id, h.version, h.at, h.by, h.reason) for h in report.history if h.valid],
    )


def _keys(tags: Tags) -> list[tuple[str, str]]:
    """Every tag signoff wrote: (version or "" for the registered model, key)."""
    _, model_tags, version_tags = tags
    out = [("", k) for k in model_tags if k.startswith("signoff.")]
    out += [(v, k) for v, t in version_tags.items() for k in t if k.startswith("signoff.")]
    return sorted(out)


def _edited(tags: Tags, where: tuple[str, str], value: str | None) -> Tags:
    out = copy.deepcopy(tags)
    ver, key = where
    target = out[1] if ver == "" else out[2][ver]
    if value is None:
        del target[key]
    else:
        target[key] = value
    return out


def _value(tags: Tags, where: tuple[str, str]) -> str:
    ver, key = where
    return tags[1][key] if ver == "" else tags[2][ver][key]


def _holds(kit: AuditKit, base: audit.AuditReport, edited: Tags) -> audit.AuditReport:
    report = _judge(kit, edited)
    assert not report.ok or _verified(report) == _verified(base), report.to_text()
    return report


def test_the_real_history_is_backed_and_judged_as_the_registry_judges_it(
    history: tuple[AuditKit, Tags],
) -> None:
    kit, tags = history
    base = _judge(kit, tags)
    assert base.ok, base.to_text()
    assert [a.alias for a in base.aliases] == ["previous", "production"]
    assert kit.registry().audit(NAME, kit.trust, kit.contract).to_json() == base.to_json()
    kinds = [h.kind for h in base.history]
    assert kinds.count("promotion") == 3 and "rollback" in kinds and "refused platform" in kinds
    assert any(".part-" in k for _, k in _keys(tags))  # the long envelope really is split
    assert all(a.signed["promotion_team"] == ML for a in base.aliases)


def test_deleting_or_garbling_any_tag_is_refused_or_flagged(history: tuple[AuditKit, Tags]) -> None:
    kit, tags = history
    base = _judge(kit, tags)
    flagged = 0
    for where in _keys(tags):
        old = _value(tags, where)
        for value in (None, "", old[:-1] + ("0" if old[-1:] != "0" else "1"), old + " ", "{}"):
            flagged += not _holds(kit, base, _edited(tags, where, value)).ok
    edits = 5 * len(_keys(tags))
    print(f"figure: {len(_keys(tags))} tags signoff wrote, {edits} edits, {flagged} flagged, the rest inert")
    assert flagged > len(_keys(tags))  # most edits are caught, not merely inert


# ------------------------------------------------------------------------------------ hypothesis

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], op: str, new: Any) -> Any:
    if not path:
        return new
    doc = copy.deepcopy(doc)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "add" and isinstance(parent, dict):
        parent[f"{last}x"] = new
    else:
        parent[last] = new
    return doc


@st.composite
def _edit(draw: st.DrawFn, tags: Tags) -> tuple[tuple[str, str], str | None]:
    where = draw(st.sampled_from(_keys(tags)))
    old = _value(tags, where)
    how = draw(st.sampled_from(["delete", "text", "char", "json", "payload"]))
    if how == "delete":
        return where, None
    if how == "text":
        return where, draw(st.text(max_size=40))
    try:
        doc = json.loads(old)
    except ValueError:
        doc = None
    if how in ("json", "payload") and isinstance(doc, dict):
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        new = draw(_json)
        if how == "payload" and isinstance(doc.get("payload"), str):
            inner = json.loads(base64.b64decode(doc["payload"]))
            path = draw(st.sampled_from(_paths(inner)[1:]))
            payload = json.dumps(_set(inner, path, op, new), separators=(",", ":"))
            return where, json.dumps({**doc, "payload": base64.b64encode(payload.encode()).decode()})
        path = draw(st.sampled_from(_paths(doc)[1:] or [()]))
        return where, json.dumps(_set(doc, path, op, new))
    if not old:
        return where, draw(st.text(min_size=1, max_size=4))
    i = draw(st.integers(0, len(old) - 1))
    return where, old[:i] + draw(st.characters(codec="ascii")) + old[i + 1 :]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_field_edit_of_any_tag_or_envelope_is_refused_or_flagged(
    history: tuple[AuditKit, Tags], data: st.DataObject
) -> None:
    kit, tags = history
    where, value = data.draw(_edit(tags))
    _holds(kit, _BASE.setdefault(id(tags), _judge(kit, tags)), _edited(tags, where, value))
