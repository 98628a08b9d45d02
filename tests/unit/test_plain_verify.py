"""``signoff verify``'s fast path (``gates._plain``) agrees with the models.

It may only say "this trust policy is valid" or "this envelope verifies, and says this" where the
models (``contracts.trust``, ``gates.signing.verify_envelope``) say exactly the same; anything else it
leaves to them. Checked on the example policy and envelopes signoff writes, on generated verdicts, and
on mutations of policies and of signed predicates (wrong types, unusual spellings, missing and unknown
fields); its copies of the models' vocabulary are held equal to the models'.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from components import keys
from contracts import _yaml
from contracts.canonical import canonical_json
from contracts.errors import VerificationError
from contracts.trust import Gate, Team, TrustedKey, TrustMetadata, TrustPolicy
from gates import _plain, dsse, signing
from gates.verdict import Check, Outcome, Subject, Verdict

ROOT = Path(__file__).resolve().parents[2]
TRUST_FILE = ROOT / "contracts" / "examples" / "trust-policy.yaml"
KEY = ROOT / "tests" / "fixtures" / "keys" / "ranking-squad.TEST-ONLY.key"
TRUST_DATA = _yaml.yaml_to_data(TRUST_FILE.read_text(encoding="utf-8"), "trust")[0]
TRUST = TrustPolicy.model_validate(TRUST_DATA)
PLAIN_TRUST = _plain.plain_trust(TRUST_DATA)


def _key():  # type: ignore[no-untyped-def]
    KEY.chmod(0o600)  # git does not keep the mode
    return keys.load_private_key(KEY)


def _pattern(model: Any, field: str) -> str:
    found = [getattr(m, "pattern", None) for m in model.model_fields[field].metadata]
    return next(p for p in found if p)


def _most(model: Any, field: str) -> int:
    found = [getattr(m, "max_length", None) for m in model.model_fields[field].metadata]
    return next(n for n in found if n)


def test_the_vocabulary_is_the_models() -> None:
    p = _plain.PATTERNS
    assert _pattern(TrustMetadata, "name") == p["policy_name"]
    assert _pattern(Team, "name") == p["team"]
    assert _pattern(TrustedKey, "public_key") == p["public_key"]
    assert _most(TrustedKey, "public_key") == _plain.PUBLIC_KEY_MAX
    assert _pattern(Check, "id") == p["check_id"]
    assert _most(Check, "message") == _plain.CHECK_MESSAGE_MAX
    assert _most(Verdict, "note") == _plain.NOTE_MAX
    assert _most(Verdict, "team") == _plain.TEAM_MAX
    assert _most(Subject, "model") == _plain.MODEL_MAX
    assert _pattern(Subject, "version") == p["version"]
    assert _pattern(Subject, "digest") == _pattern(Verdict, "contract_digest") == p["digest"]
    assert tuple(o.value for o in Outcome) == _plain.OUTCOMES
    # keyid is `str | None` with its pattern on the str member
    assert TrustedKey.model_validate({"public_key": TRUST.spec.teams[0].keys[0].public_key}).keyid is None


def _same_trust(plain: _plain.PlainTrust, model: TrustPolicy) -> None:
    assert plain.name == model.metadata.name
    assert [(t.name, tuple(t.gates)) for t in plain.teams] == [(t.name, t.gates) for t in model.spec.teams]
    assert [[(k.public_key, k.keyid) for k in t.keys] for t in plain.teams] == [
        [(k.public_key, k.keyid) for k in t.keys] for t in model.spec.teams
    ]


def test_the_example_trust_policy_is_decided_here_as_the_models_read_it() -> None:
    assert PLAIN_TRUST is not None
    _same_trust(PLAIN_TRUST, TRUST)


_ODD = [None, True, 0, 1, "", " ", "x", "ml-artifact", "nope", "a" * 70, "ab" * 32, "AB" * 32, [], ["x"],
        ["ml-artifact"], {}, {"a": 1}, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n\n",
        "signoff.dev/v1alpha1", "TrustPolicy"]  # fmt: skip


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _mutate(draw: st.DrawFn, base: Any, extra_keys: list[str]) -> Any:
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["set", "set", "drop", "add", "copy"]))
        if action == "set":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(_ODD)))
        elif action == "drop":
            del parent[path[-1]]
        elif action == "copy" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(extra_keys))] = copy.deepcopy(draw(st.sampled_from(_ODD)))
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_mutated_trust_policy_is_decided_here_only_as_the_models_read_it(data: st.DataObject) -> None:
    doc = _mutate(data.draw, TRUST_DATA, ["extra", "keyid", "gates", "name"])
    plain = _plain.plain_trust(doc)
    if plain is None:
        return
    try:
        model = TrustPolicy.model_validate(doc)
    except ValidationError as exc:
        pytest.fail(f"the fast path accepted a policy the models refuse: {exc}")
    _same_trust(plain, model)


# ------------------------------------------------------------------------------------------ verdicts

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@st.composite
def verdicts(draw: st.DrawFn) -> Verdict:
    outcomes = draw(st.lists(st.sampled_from(list(Outcome)), min_size=0, max_size=4))
    figures = st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=10),
        ),
        max_size=3,
    )
    checks = [
        Check(id=f"c.{i}", outcome=o, message=draw(st.text(max_size=30)), figures=draw(figures))
        for i, o in enumerate(outcomes)
    ]
    return Verdict.decide(
        gate=Gate.ML_ARTIFACT,
        team="ranking-squad",
        checks=checks,
        subject=Subject(
            model=draw(st.text(min_size=1, max_size=20)),
            version=str(draw(st.integers(1, 10**9))),
            digest="sha256:" + "ab" * 32,
        ),
        contract_digest="sha256:" + "cd" * 32,
        now=NOW + timedelta(microseconds=draw(st.integers(0, 10**6))),
        ttl=timedelta(seconds=draw(st.integers(1, 10**6))),
        artifacts=draw(st.dictionaries(st.text(max_size=5), st.just("sha256:" + "ef" * 32), max_size=2)),
        note=draw(st.text(max_size=20)),
    )


def _signed_predicate(predicate: Any, subject: Any) -> bytes:
    """An envelope around any predicate, signed by the example policy's ranking-squad key."""
    statement = {
        "_type": dsse.STATEMENT_TYPE,
        "subject": subject,
        "predicateType": dsse.PREDICATE_TYPE,
        "predicate": predicate,
    }
    payload = canonical_json(statement)
    key = _key()
    sig = key.sign(dsse.pae(dsse.PAYLOAD_TYPE, payload))
    return canonical_json(
        {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": dsse.PAYLOAD_TYPE,
            "signatures": [{"keyid": dsse.keyid(key.public_key()), "sig": base64.b64encode(sig).decode()}],
        }
    )


def _agrees(envelope: bytes) -> bool:
    """The fast path's answer equals the models' when it gives one; True when it decided."""
    assert PLAIN_TRUST is not None
    plain = _plain.verify_plain(envelope, PLAIN_TRUST)
    if plain is None:
        return False
    try:
        model = signing.verify_envelope(envelope, TRUST)
    except VerificationError as exc:
        pytest.fail(f"the fast path verified an envelope the models refuse: {exc.reasons}")
    v, m = plain.verdict, model.verdict
    assert (plain.team, plain.keyid, plain.envelope_digest) == (
        model.team,
        model.keyid,
        model.envelope_digest,
    )
    assert (v.gate, v.team, v.passed, v.contract_digest) == (m.gate, m.team, m.passed, m.contract_digest)
    assert (v.subject.model, v.subject.version, v.subject.digest, v.subject.uri) == (
        m.subject.model, m.subject.version, m.subject.digest, m.subject.uri,
    )  # fmt: skip
    assert (v.issued_at, v.expires_at) == (m.issued_at, m.expires_at)
    assert (v.issued_at.isoformat(), v.expires_at.isoformat()) == (
        m.issued_at.isoformat(),
        m.expires_at.isoformat(),
    )
    assert [c.id for c in v.failures] == [c.id for c in m.failures]
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(verdicts())
def test_an_envelope_signoff_signs_is_decided_here_as_the_models_read_it(verdict: Verdict) -> None:
    assert _agrees(signing.sign_verdict(verdict, _key()))


_BASE = Verdict.decide(
    gate=Gate.ML_ARTIFACT,
    team="ranking-squad",
    checks=[Check(id="a.b", outcome=Outcome.PASS, message="ok", figures={"x": 1.5, "y": "z"})],
    subject=Subject(model="recsys-ranker", version="7", digest="sha256:" + "ab" * 32),
    contract_digest="sha256:" + "cd" * 32,
    now=NOW,
    ttl=timedelta(days=1),
)
_PREDICATE = json.loads(canonical_json(_BASE.model_dump(mode="json")))
_SUBJECT = signing.statement(_BASE)["subject"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_mutated_signed_verdict_is_decided_here_only_as_the_models_read_it(data: st.DataObject) -> None:
    predicate = _mutate(data.draw, _PREDICATE, ["extra", "note", "policy_digest", "figures", "gate"])
    subject = _SUBJECT if data.draw(st.booleans()) else _mutate(data.draw, _SUBJECT, ["extra", "name"])
    _agrees(_signed_predicate(predicate, subject))


@pytest.mark.parametrize(
    "spelling",
    [
        "2026-12-01T12:00:00Z",
        "2026-12-01T12:00:00+00:00",
        "2026-12-01T13:30:00.5+01:30",
        "2026-12-01T12:00:00.123456Z",
    ],
)
def test_the_times_signoff_and_others_write_are_read_as_the_models_read_them(spelling: str) -> None:
    predicate = {**_PREDICATE, "issued_at": spelling}
    assert _agrees(_signed_predicate(predicate, _SUBJECT))


def test_an_envelope_that_does_not_verify_is_left_to_the_models() -> None:
    """Refusals are always worded by gates.signing: the fast path never decides one."""
    assert PLAIN_TRUST is not None
    good = signing.sign_verdict(_BASE, _key())
    doc = json.loads(good)
    doc["signatures"][0]["sig"] = base64.b64encode(b"\0" * 64).decode()
    bad_sig = canonical_json(doc)
    other_team = _signed_predicate({**_PREDICATE, "team": "platform-gpu-team"}, _SUBJECT)
    wrong_gate = _signed_predicate({**_PREDICATE, "gate": "platform"}, _SUBJECT)
    for envelope in (bad_sig, other_team, wrong_gate, b"{}", good + b" x"):
        assert _plain.verify_plain(envelope, PLAIN_TRUST) is None
        with pytest.raises(VerificationError):
            signing.verify_envelope(envelope, TRUST)
