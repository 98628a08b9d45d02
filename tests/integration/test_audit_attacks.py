"""``signoff audit`` against someone who can write MLflow tags: each attack is built for real.

The registry is the session's real ``mlflow server``; the verdicts are really signed with the teams'
keys and promoted through the real gate and registry; the attacker edits tags and aliases with the
MLflow client only (no private key, except where a test says an insider signs). Each test asserts
the audit's refusal and its reason, and that ``signoff audit`` exits 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from audit_kit import ML, SRE, AuditKit

from components.mlflow_registry import AliasStatus
from contracts.trust import Gate
from gates.verdict import Check, Outcome, digest_bytes
from pipelines._cli.main import main as signoff

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kit(
    mlflow_server: Any, register_sklearn_model: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> AuditKit:
    version = register_sklearn_model("at-base")
    return AuditKit.create(mlflow_server.url, "at-base", version, tmp_path_factory.mktemp("audit-keys"))


def _status(kit: AuditKit, name: str) -> dict[str, tuple[str, AliasStatus, str]]:
    report = kit.registry().audit(name, kit.trust, kit.contract)
    return {a.alias: (a.version, a.status, a.detail) for a in report.aliases}


def _record(kit: AuditKit, name: str, version: str, pid: str) -> dict[str, Any]:
    return dict(json.loads(kit.client.get_model_version(name, version).tags[f"signoff.promotion.{pid[:16]}"]))


def test_a_real_history_is_backed_and_the_command_says_so(
    kit: AuditKit, capsys: pytest.CaptureFixture[str]
) -> None:
    reg, name = kit.registry(), "at-good"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.promote(reg, name, v1)
    kit.promote(reg, name, v2)
    assert kit.audit_cli(name) == 0
    out = capsys.readouterr().out
    assert f"production -> version {v2}: BACKED: promotion " in out and f"signed by {ML}" in out
    assert f"previous -> version {v1}: BACKED" in out


def test_a_hand_written_complete_record_backs_nothing_and_is_no_rollback_target(
    kit: AuditKit, capsys: pytest.CaptureFixture[str]
) -> None:
    reg, name = kit.registry(), "at-forged"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    pid1 = kit.promote(reg, name, v1)
    kit.keep_handoffs(reg, name, v2)  # checked, never promoted
    # The attacker copies v1's real record and envelope onto v2, says "complete", moves production.
    tags1 = kit.client.get_model_version(name, v1).tags
    fake = {**_record(kit, name, v1, pid1), "version": v2, "previous": v1}
    for key in [k for k in tags1 if k.startswith(f"signoff.promotion-envelope.{pid1[:16]}")]:
        kit.client.set_model_version_tag(name, v2, key, tags1[key])  # the envelope (and any parts)
    kit.client.set_model_version_tag(name, v2, f"signoff.promotion.{pid1[:16]}", json.dumps(fake))
    kit.client.set_registered_model_alias(name, "production", v2)
    placed = {"version": v2, "record": pid1, "record_version": v2, "kind": "promotion"}
    kit.client.set_registered_model_tag(name, "signoff.alias.production", json.dumps(placed))
    ver, status, detail = _status(kit, name)["production"]
    assert (ver, status) == (v2, AliasStatus.INVALID)
    assert f"its verdict is about {name} version {v1}, not {name} version {v2}" in detail
    assert kit.audit_cli(name) == 1
    capsys.readouterr()
    # Nor is v2 a rollback target now: the "complete" tag was written by hand.
    kit.client.set_registered_model_alias(name, "production", v1)
    kit.client.set_registered_model_tag(
        name, "signoff.alias.production", json.dumps({**placed, "version": v1, "record_version": v1})
    )
    before = kit.tags_of(name)
    assert kit.rollback_cli(name, to=v2) == 2
    assert f"{name} version {v2} has no verified promotion of this workload" in capsys.readouterr().err
    assert kit.tags_of(name) == before


def test_a_record_around_a_refused_promotion_verdict_counts_for_nothing(
    kit: AuditKit, capsys: pytest.CaptureFixture[str]
) -> None:
    reg, name = kit.registry(), "at-refused"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.promote(reg, name, v1)
    # v2's platform gate failed; the promotion gate refused, and its refused verdict is kept (signed).
    reg.store_envelope(name, v2, Gate.ML_ARTIFACT, kit.sign(kit.verdict(Gate.ML_ARTIFACT, name, v2)))
    reg.store_envelope(name, v2, Gate.SRE_READINESS, kit.sign(kit.verdict(Gate.SRE_READINESS, name, v2)))
    reg.store_envelope(name, v2, Gate.PLATFORM, kit.sign(kit.verdict(Gate.PLATFORM, name, v2, passed=False)))
    refused = kit.promotion_verdict(reg, name, v2)
    assert not refused.passed
    env = kit.sign(refused)
    reg.store_envelope(name, v2, Gate.PROMOTION, env)
    report = reg.audit(name, kit.trust, kit.contract)
    assert report.ok  # refused attempts do not spoil a sound registry, and they are shown
    kinds = [(h.kind, h.version, h.state) for h in report.history]
    assert ("refused platform", v2, "refused") in kinds and ("refused promotion", v2, "refused") in kinds
    assert kit.audit_cli(name) == 0
    assert "refused promotion -> " in capsys.readouterr().out
    # The attacker writes a complete record around the refused verdict and moves production to it.
    pid = digest_bytes(env).removeprefix("sha256:")
    tags = kit.client.get_model_version(name, v2).tags
    key = f"signoff.promotion-envelope.{pid[:16]}"
    kit.client.set_model_version_tag(name, v2, key, tags["signoff.verdict.promotion"])
    kit.client.set_model_version_tag(name, v2, f"{key}.digest", "sha256:" + pid)
    rec = {"kind": "promotion", "id": pid, "model": name, "version": v2, "state": "complete", "by": ML,
           "envelope_digest": "sha256:" + pid, "verdicts": dict(refused.artifacts)}  # fmt: skip
    kit.client.set_model_version_tag(name, v2, f"signoff.promotion.{pid[:16]}", json.dumps(rec))
    kit.client.set_registered_model_alias(name, "production", v2)
    placed = {"version": v2, "record": pid, "record_version": v2, "kind": "promotion"}
    kit.client.set_registered_model_tag(name, "signoff.alias.production", json.dumps(placed))
    _, status, detail = _status(kit, name)["production"]
    assert status is AliasStatus.INVALID and "its promotion verdict was refused" in detail
    assert kit.audit_cli(name) == 1


def test_production_moved_by_hand_to_an_older_promoted_version_is_not_backed(kit: AuditKit) -> None:
    reg, name = kit.registry(), "at-silent-rollback"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    pid1 = kit.promote(reg, name, v1)
    kit.promote(reg, name, v2)
    # A rollback without a signed record: the alias and signoff's placement tag both rewritten.
    kit.client.set_registered_model_alias(name, "production", v1)
    placed = {"version": v1, "record": pid1, "record_version": v1, "kind": "promotion"}
    kit.client.set_registered_model_tag(name, "signoff.alias.production", json.dumps(placed))
    _, status, detail = _status(kit, name)["production"]
    assert status is AliasStatus.UNBACKED
    assert f"latest signed move of production is the promotion of version {v2}" in detail
    assert kit.audit_cli(name) == 1


def test_unsigned_fields_are_never_shown_as_signed(kit: AuditKit, capsys: pytest.CaptureFixture[str]) -> None:
    reg, name = kit.registry(), "at-unsigned"
    v1 = kit.new_version(name)
    pid = kit.promote(reg, name, v1)
    forged = {"by": "mallory", "at": "2001-01-01T00:00:00+00:00", "approved_by": "ceo"}
    rec = {**_record(kit, name, v1, pid), **forged}
    kit.client.set_model_version_tag(name, v1, f"signoff.promotion.{pid[:16]}", json.dumps(rec))
    assert kit.audit_cli(name, "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    (alias,) = doc["aliases"]
    assert alias["status"] == "backed" and alias["signed"]["promotion_team"] == ML
    (entry,) = doc["history"]
    assert entry["by"] == ML and entry["unsigned"]["by"] == "mallory" and not entry["at"].startswith("2001")
    assert kit.audit_cli(name) == 0
    text = capsys.readouterr().out
    assert "signed by mallory" not in text and "unsigned: at 2001-01-01T00:00:00+00:00, by mallory" in text


def test_a_verdict_the_promotion_names_replaced_or_gone_is_flagged(kit: AuditKit) -> None:
    reg, name = kit.registry(), "at-swapped"
    v1 = kit.new_version(name)
    kit.promote(reg, name, v1)
    # The platform verdict swapped for another, validly signed, passing one (digest tag kept in step).
    again = [Check(id="x", outcome=Outcome.PASS, message="re-checked")]
    other = kit.sign(kit.verdict(Gate.PLATFORM, name, v1, checks=again))
    reg.store_envelope(name, v1, Gate.PLATFORM, other)
    _, status, detail = _status(kit, name)["production"]
    assert status is AliasStatus.INVALID and "the platform verdict it names" in detail
    assert "is not kept with the version" in detail


def test_rollback_records_signed_by_another_team_than_the_contract_names(kit: AuditKit) -> None:
    reg, name = kit.registry(), "at-wrong-team"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.promote(reg, name, v1)
    kit.promote(reg, name, v2)
    # An ML insider signs an availability rollback (SRE's call in the contract) and writes it directly.
    why = {"problem": "availability"}
    check = Check(id="rollback.decided", outcome=Outcome.PASS, message="ml decides", figures=why)
    env = kit.sign(kit.verdict(Gate.ROLLBACK, name, v1, team=ML, checks=[check]))
    reg.rollback(name, to="previous", reason="because", record_envelope=env)
    _, status, detail = _status(kit, name)["production"]
    assert status is AliasStatus.INVALID
    assert f"a rollback for a availability problem, signed by {ML}; the contract names {SRE}" in detail
    assert kit.audit_cli(name) == 1


def test_the_real_rollback_command_is_backed_and_an_unsigned_automated_one_is_not(kit: AuditKit) -> None:
    reg, name = kit.registry(), "at-rollbacks"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.promote(reg, name, v1)
    kit.promote(reg, name, v2)
    assert kit.rollback_cli(name) == 0
    status = _status(kit, name)
    assert status["production"][:2] == (v1, AliasStatus.BACKED) and "rollback " in status["production"][2]
    assert kit.audit_cli(name) == 0
    # An automated rollback nobody signed (the registry call without a record envelope).
    name = "at-auto-unsigned"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.promote(reg, name, v1)
    kit.promote(reg, name, v2)
    reg.auto_rollback(name, reason="drift")
    _, status, detail = _status(kit, name)["production"]
    assert status is AliasStatus.INVALID and "the record has no envelope" in detail
    assert kit.audit_cli(name) == 1


def test_signoff_audit_needs_a_trust_policy_to_say_backed(
    kit: AuditKit, capsys: pytest.CaptureFixture[str]
) -> None:
    reg, name = kit.registry(), "at-no-trust"
    kit.promote(reg, name, kit.new_version(name))
    assert signoff(["audit", name, "--tracking-uri", kit.url]) == 1
    assert "UNVERIFIED: nothing verified: pass --trust" in capsys.readouterr().out


def test_a_refused_verdict_is_never_a_rollback_target_either(
    kit: AuditKit, capsys: pytest.CaptureFixture[str]
) -> None:
    reg, name = kit.registry(), "at-refused-target"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.promote(reg, name, v2)
    # v1 only ever had a refused promotion verdict; the attacker points the rollback alias at it.
    kit.keep_handoffs(reg, name, v1)
    reg.store_envelope(name, v1, Gate.PLATFORM, kit.sign(kit.verdict(Gate.PLATFORM, name, v1, passed=False)))
    reg.store_envelope(name, v1, Gate.PROMOTION, kit.sign(kit.promotion_verdict(reg, name, v1)))
    kit.client.set_registered_model_alias(name, "previous", v1)
    before = kit.tags_of(name)
    assert kit.rollback_cli(name) == 2
    assert f"version {v1} has no verified promotion of this workload" in capsys.readouterr().err
    assert kit.tags_of(name) == before
