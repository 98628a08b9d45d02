"""gates.listen (pure): MLflow webhook signatures, what a delivery asks for, what an alert automates;
and the ``signoff listen`` command's bad-input errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.loader import load_contract
from contracts.trust import Gate
from gates import listen
from gates.verdict import Subject
from pipelines._cli.main import main as signoff

ROOT = Path(__file__).resolve().parents[2]
FRAUD = load_contract(ROOT / "contracts" / "examples" / "fraud-scorer.yaml")
RECSYS = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
DELIVERY = "8f0e4c6a-1b2c-4d3e-8f00-0123456789ab"


def headers(
    body: bytes, *, secret: str = "s3cret", stamp: int | None = None, delivery: str = DELIVERY
) -> dict[str, str]:
    ts = str(int(NOW.timestamp()) if stamp is None else stamp)
    return {
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": ts,
        "X-MLflow-Signature": listen.mlflow_signature(secret, delivery, ts, body),
    }


def problem(body: bytes, hdrs: dict[str, str], secret: str = "s3cret", now: datetime = NOW) -> str | None:
    return listen.mlflow_signature_problem(secret=secret, headers=hdrs, body=body, now=now)


def test_signature_is_mlflows_scheme_v1_base64_hmac_sha256_of_id_dot_timestamp_dot_body() -> None:
    # mlflow/webhooks/delivery.py: _generate_hmac_signature
    body = b'{"entity": "model_version_alias"}'
    want = base64.b64encode(
        hmac.new(b"k", f"{DELIVERY}.1700000000.".encode() + body, hashlib.sha256).digest()
    )
    assert listen.mlflow_signature("k", DELIVERY, "1700000000", body) == "v1," + want.decode()


def test_a_genuine_fresh_delivery_passes_and_header_case_does_not_matter() -> None:
    body = b'{"a": 1}'
    assert problem(body, headers(body)) is None
    assert problem(body, {k.lower(): v for k, v in headers(body).items()}) is None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda h: {k: v for k, v in h.items() if k != "X-MLflow-Signature"}, "no X-MLflow-Signature"),
        (lambda h: {**h, "X-MLflow-Timestamp": "yesterday"}, "malformed X-MLflow-Timestamp"),
        (lambda h: {**h, "X-MLflow-Delivery-Id": "a b"}, "malformed X-MLflow-Delivery-Id"),
        (lambda h: {**h, "X-MLflow-Signature": "v1,!!!"}, "not 'v1,<base64>'"),
        (lambda h: {**h, "X-MLflow-Signature": "v2," + h["X-MLflow-Signature"][3:]}, "version 'v2'"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(change: Any, why: str) -> None:
    body = b"{}"
    got = problem(body, change(headers(body)))
    assert got is not None and why in got


def test_the_replay_window_refuses_old_and_future_timestamps() -> None:
    body = b"{}"
    old = int((NOW - timedelta(seconds=301)).timestamp())
    assert "replay window" in (problem(body, headers(body, stamp=old)) or "")
    future = int((NOW + timedelta(seconds=301)).timestamp())
    assert "replay window" in (problem(body, headers(body, stamp=future)) or "")
    edge = int((NOW - timedelta(seconds=299)).timestamp())
    assert problem(body, headers(body, stamp=edge)) is None


@settings(max_examples=200, deadline=None)
@given(body=st.binary(min_size=1, max_size=200), flip=st.integers(min_value=0), bit=st.integers(0, 7))
def test_never_accepts_a_mutated_body(body: bytes, flip: int, bit: int) -> None:
    hdrs = headers(body)
    i = flip % len(body)
    mutated = body[:i] + bytes([body[i] ^ (1 << bit)]) + body[i + 1 :]
    assert problem(mutated, hdrs) is not None


@settings(max_examples=100, deadline=None)
@given(secret=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_never_accepts_another_secret(secret: str, other: str) -> None:
    body = b'{"x": 1}'
    if secret != other:
        assert problem(body, headers(body, secret=other), secret=secret) is not None


@settings(max_examples=200, deadline=None)
@given(
    junk=st.dictionaries(st.text(max_size=30), st.text(max_size=80), max_size=5), body=st.binary(max_size=64)
)
def test_never_crashes_on_arbitrary_headers(junk: dict[str, str], body: bytes) -> None:
    assert problem(body, junk) is not None


def _event(entity: str = "model_version_alias", action: str = "created", **data: Any) -> bytes:
    return json.dumps({"entity": entity, "action": action, "timestamp": "t", "data": data}).encode()


def test_promotion_request_for_the_candidate_alias_only() -> None:
    got = listen.promotion_request(
        _event(name="m", alias="candidate", version="3"), candidate_alias="candidate"
    )
    assert isinstance(got, listen.PromotionRequest) and got.model_uri == "models:/m/3"
    other = listen.promotion_request(
        _event(name="m", alias="champion", version="3"), candidate_alias="candidate"
    )
    assert isinstance(other, str) and "not the candidate alias" in other
    deleted = listen.promotion_request(
        _event(action="deleted", name="m", alias="candidate"), candidate_alias="candidate"
    )
    assert isinstance(deleted, str) and "model_version_alias.deleted" in deleted
    foreign = listen.promotion_request(
        _event(name="x", alias="candidate", version="1"), candidate_alias="candidate", models=frozenset({"m"})
    )
    assert isinstance(foreign, str) and "not one this listener promotes" in foreign
    assert isinstance(listen.promotion_request(b"[1]", candidate_alias="candidate"), str)
    assert isinstance(listen.promotion_request(b"\xff", candidate_alias="candidate"), str)


def _alert(
    signal: str,
    status: str = "firing",
    workload: str = "fraud-scorer",
    starts: str = "2026-12-03T09:00:00Z",
    fingerprint: str = "abc123",
) -> dict[str, Any]:
    name = "Signoff" + "".join(p.capitalize() for p in signal.split("_"))
    return {
        "status": status,
        "labels": {"alertname": name, "signal": signal, "workload": workload},
        "startsAt": starts,
        "fingerprint": fingerprint,
    }


def test_only_firing_alerts_on_automated_signals_of_this_workload_roll_back() -> None:
    payload = {
        "alerts": [
            _alert("accuracy_drift"),
            _alert("data_drift"),
            _alert("latency"),
            _alert("accuracy_drift", workload="recsys-ranker"),
            _alert("accuracy_drift", status="resolved"),
        ]
    }
    got = [d.action for d in listen.rollback_decisions(FRAUD, payload)]
    A = listen.Action
    assert got == [A.ROLLBACK, A.ROLLBACK, A.IGNORE, A.IGNORE, A.RESOLVED]
    # recsys-ranker automates accuracy drift only: its data-drift alert is for people
    recsys = listen.rollback_decisions(RECSYS, {"alerts": [_alert("data_drift", workload=RECSYS.name)]})
    assert recsys[0].action is A.IGNORE and "automates no rollback" in recsys[0].reason


def test_one_episode_one_key_a_new_start_a_new_episode() -> None:
    a, b = _alert("accuracy_drift"), _alert("accuracy_drift", status="resolved")
    assert listen.episode_key(a) == listen.episode_key(b)
    assert listen.episode_key(a) != listen.episode_key(
        _alert("accuracy_drift", starts="2026-12-03T11:00:00Z")
    )
    assert listen.episode_key({"labels": {}}) == ""


@pytest.mark.parametrize("payload", [[], {"alerts": "x"}, {"alerts": [1]}, {"alerts": [{"labels": []}]}])
def test_a_body_that_is_not_a_notification_is_a_value_error(payload: Any) -> None:
    with pytest.raises(ValueError, match="not an Alertmanager notification"):
        listen.rollback_decisions(FRAUD, payload)


def test_the_automated_rollback_verdict_is_signed_by_the_alerts_owner() -> None:
    d = listen.rollback_decisions(FRAUD, {"alerts": [_alert("accuracy_drift")]})[0]
    v = listen.automated_rollback_verdict(
        FRAUD,
        d,
        subject=Subject(model="fraud-scorer-gbm", version="6", digest="sha256:" + "a" * 64),
        from_version="7",
        now=NOW,
    )
    assert v.gate is Gate.ROLLBACK and v.team == "risk-ml" and v.passed
    assert v.checks[0].figures["from"] == "7" and v.checks[0].figures["episode"] == d.episode


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [
                "listen",
                "alertmanager",
                "--contract",
                "nope.yaml",
                "--trust",
                "t",
                "--key",
                "k",
                "--alias-only",
            ],
            "nope.yaml is not a file",
        ),
        (
            [
                "listen",
                "mlflow",
                "--secret-file",
                "missing-secret",
                "--engine",
                "argo",
                "--contract",
                "c",
                "--policy",
                "p",
                "--trust",
                "t",
                "--image",
                "i",
                "--staging-url",
                "u",
            ],
            "--secret-file: cannot read",
        ),
    ],
)
def test_bad_input_is_one_clear_message_and_exit_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert signoff(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_bad_listen_address_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s").write_text("x")
    argv = [
        "listen",
        "mlflow",
        "--secret-file",
        str(tmp_path / "s"),
        "--engine",
        "argo",
        "--contract",
        str(ROOT / "contracts" / "examples" / "fraud-scorer.yaml"),
        "--policy",
        str(ROOT / "contracts" / "examples" / "cluster-policy.yaml"),
        "--trust",
        str(ROOT / "contracts" / "examples" / "trust-policy.yaml"),
        "--image",
        "i",
        "--staging-url",
        "u",
        "--listen",
        "nowhere",
    ]
    assert signoff(argv) == 2
    assert "--listen: 'nowhere' is not HOST:PORT" in capsys.readouterr().err


def test_alertmanager_needs_a_namespace_or_alias_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        signoff(["listen", "alertmanager", "--contract", "c", "--trust", "t", "--key", "k"])
    assert exc.value.code == 2
    assert "--namespace" in capsys.readouterr().err
