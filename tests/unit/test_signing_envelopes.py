"""Signed verdicts: what verifies, what is refused and why. Every object here is really signed.

Each refusal starts from a real envelope and alters it one way; where the alteration is inside the
signed payload, the altered payload is re-signed with a real trusted key, so the test shows the
check that catches it rather than the signature check.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from _signoff_kit import ML, PLATFORM, SRE, key, trust, verdict
from _signoff_kit import envelope as make_envelope
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from securesystemslib import dsse
from securesystemslib.signer import SSlibKey

from contracts.errors import VerificationError
from contracts.trust import Gate
from contracts.workload import canonical_json
from gates import signing


def _doc(env: bytes) -> dict[str, Any]:
    return json.loads(env)


def _payload(env: bytes) -> dict[str, Any]:
    return json.loads(base64.b64decode(_doc(env)["payload"]))


def _sign_payload(payload: bytes, k: Ed25519PrivateKey, payload_type: str = signing.PAYLOAD_TYPE) -> bytes:
    """A DSSE envelope around arbitrary payload bytes, really signed (PAE per the DSSE spec)."""
    pae = dsse.Envelope(payload, payload_type, {}).pae()
    sig = k.sign(pae)
    return canonical_json(
        {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": payload_type,
            "signatures": [{"keyid": signing.keyid(k.public_key()), "sig": base64.b64encode(sig).decode()}],
        }
    )


def _refused(env: bytes, *fragments: str, policy: Any = None) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        signing.verify_envelope(env, policy or trust())
    text = "; ".join(info.value.reasons)
    for f in fragments:
        assert f in text, f"{f!r} not in reasons: {text}"
    return info.value


# --------------------------------------------------------------------------------------------- accepted


def test_a_signed_verdict_verifies_and_names_its_signer() -> None:
    v = verdict(Gate.PLATFORM)
    env = signing.sign_verdict(v, key(PLATFORM))
    signed = signing.verify_envelope(env, trust())
    assert signed.verdict == v
    assert signed.team == PLATFORM
    assert signed.keyid == signing.keyid(key(PLATFORM).public_key())
    assert signed.envelope_digest.startswith("sha256:") and len(signed.envelope_digest) == 71


def test_statement_layout_is_in_toto_v1_with_the_model_version_as_subject() -> None:
    env = make_envelope(Gate.ML_ARTIFACT)
    assert _doc(env)["payloadType"] == "application/vnd.in-toto+json"
    st_ = _payload(env)
    assert st_["_type"] == "https://in-toto.io/Statement/v1"
    assert st_["predicateType"] == "https://signoff.dev/verdict/v1"
    assert st_["subject"] == [{"name": "models:/recsys-ranker/7", "digest": {"sha256": "ab" * 32}}]
    assert st_["predicate"]["gate"] == "ml-artifact"


def test_envelope_verifies_with_securesystemslib_and_with_bare_cryptography() -> None:
    env = make_envelope(Gate.SRE_READINESS)
    doc = _doc(env)
    public = key(SRE).public_key()
    # 1. securesystemslib's own DSSE implementation, from the envelope's JSON.
    parsed = dsse.Envelope.from_dict(json.loads(env))
    accepted = parsed.verify([SSlibKey.from_crypto(public, keyid=doc["signatures"][0]["keyid"])], 1)
    assert list(accepted) == [signing.keyid(public)]
    # 2. Plain cryptography over the DSSE pre-authentication encoding, written out by hand.
    payload = base64.b64decode(doc["payload"])
    ptype = doc["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    public.verify(base64.b64decode(doc["signatures"][0]["sig"]), pae)  # raises InvalidSignature if not


def test_a_failed_verdict_validly_signed_verifies_as_a_failed_verdict() -> None:
    # Authentic but negative: verification says who signed; the promotion gate refuses it.
    signed = signing.verify_envelope(make_envelope(Gate.PLATFORM, passed=False), trust())
    assert not signed.verdict.passed
    assert [c.id for c in signed.verdict.failures] == ["a.second"]


# --------------------------------------------------------------------------------------------- refused


def test_payload_byte_flipped() -> None:
    env = make_envelope(Gate.PLATFORM)
    doc = _doc(env)
    payload = bytearray(base64.b64decode(doc["payload"]))
    payload[len(payload) // 2] ^= 0x01
    doc["payload"] = base64.b64encode(bytes(payload)).decode()
    _refused(canonical_json(doc), "does not verify over the payload")


def test_signature_from_a_key_not_in_the_trust_policy() -> None:
    env = signing.sign_verdict(verdict(Gate.PLATFORM), key("stranger"))
    kid = signing.keyid(key("stranger").public_key())
    _refused(env, f"signed by key {kid}, which the trust policy 'test-trust' does not list")


def test_a_valid_key_signing_a_gate_its_team_does_not_own() -> None:
    # The platform team's real key signs an ml-artifact verdict in its own name.
    env = signing.sign_verdict(verdict(Gate.ML_ARTIFACT, team=PLATFORM), key(PLATFORM))
    _refused(env, "team platform-gpu-team may sign platform but signed a ml-artifact verdict")


def test_a_verdict_naming_another_team_than_its_signer() -> None:
    env = signing.sign_verdict(verdict(Gate.ML_ARTIFACT, team=SRE), key(ML))
    _refused(env, "verdict names team 'sre-ai-oncall' but was signed by team 'ranking-squad'")


def test_one_key_listed_for_two_teams() -> None:
    shared = key("shared")
    policy = trust({ML: ((Gate.ML_ARTIFACT,), [shared]), PLATFORM: ((Gate.PLATFORM,), [shared])})
    env = signing.sign_verdict(verdict(Gate.ML_ARTIFACT), shared)
    _refused(env, "is listed for more than one team (ranking-squad, platform-gpu-team)", policy=policy)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (
            "_type",
            "https://in-toto.io/Statement/v0.1",
            "statement _type is 'https://in-toto.io/Statement/v0.1'",
        ),
        (
            "predicateType",
            "https://slsa.dev/provenance/v1",
            "predicateType is 'https://slsa.dev/provenance/v1'",
        ),
        ("subject", [], "statement subject is empty"),
    ],
)
def test_statement_fields_are_checked_even_when_validly_signed(field: str, value: Any, reason: str) -> None:
    statement = _payload(make_envelope(Gate.PLATFORM))
    statement[field] = value
    _refused(_sign_payload(canonical_json(statement), key(PLATFORM)), reason)


def test_subject_not_matching_the_verdicts_subject() -> None:
    statement = _payload(make_envelope(Gate.PLATFORM))
    statement["subject"][0]["name"] = "models:/recsys-ranker/8"
    _refused(_sign_payload(canonical_json(statement), key(PLATFORM)), "is not the verdict's subject")


def test_two_subjects() -> None:
    statement = _payload(make_envelope(Gate.PLATFORM))
    statement["subject"] = statement["subject"] * 2
    _refused(_sign_payload(canonical_json(statement), key(PLATFORM)), "names 2 subjects")


def test_wrong_payload_type_even_when_signed_over() -> None:
    payload = base64.b64decode(_doc(make_envelope(Gate.PLATFORM))["payload"])
    env = _sign_payload(payload, key(PLATFORM), payload_type="application/json")
    _refused(env, "payloadType is 'application/json'")


def test_every_reason_is_listed_not_just_the_first() -> None:
    statement = _payload(make_envelope(Gate.PLATFORM))
    statement["_type"] = "x"
    statement["predicateType"] = "y"
    statement["subject"] = []
    exc = _refused(_sign_payload(canonical_json(statement), key(PLATFORM)), "_type", "predicateType", "empty")
    assert len(exc.reasons) == 3


@pytest.mark.parametrize(
    ("where", "value", "reason"),
    [
        ("payload", "not base64!", "payload is not valid standard base64"),
        ("payload", "", "payload must be a non-empty base64 string"),
        ("sig", "@@@@", "signature is not valid standard base64"),
        ("payload", "url-safe_", "payload is not valid standard base64"),
    ],
)
def test_malformed_base64(where: str, value: str, reason: str) -> None:
    doc = _doc(make_envelope(Gate.PLATFORM))
    if where == "payload":
        doc["payload"] = value
    else:
        doc["signatures"][0]["sig"] = value
    _refused(canonical_json(doc), reason)


def test_non_canonical_base64_padding_bits() -> None:
    doc = _doc(make_envelope(Gate.PLATFORM))
    sig = doc["signatures"][0]["sig"]  # 64 bytes -> 88 chars ending "==": the last char carries 4 spare bits
    assert sig.endswith("==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(sig[-3])
    doc["signatures"][0]["sig"] = sig[:-3] + alphabet[last ^ 1] + "=="
    assert base64.b64decode(doc["signatures"][0]["sig"]) == base64.b64decode(sig)  # same bytes, other text
    _refused(canonical_json(doc), "not canonical base64")


@pytest.mark.parametrize("signatures", [[], None, "x"])
def test_missing_signature(signatures: Any) -> None:
    doc = _doc(make_envelope(Gate.PLATFORM))
    doc["signatures"] = signatures
    _refused(canonical_json(doc), "exactly one signature")


def test_signatures_field_absent() -> None:
    doc = _doc(make_envelope(Gate.PLATFORM))
    del doc["signatures"]
    _refused(canonical_json(doc), "envelope lacks signatures")


def test_two_signatures_are_refused() -> None:
    doc = _doc(make_envelope(Gate.PLATFORM))
    doc["signatures"] = doc["signatures"] * 2
    _refused(canonical_json(doc), "exactly one signature, found 2")


def test_duplicate_json_keys_in_the_payload_even_when_validly_signed() -> None:
    # A parser that keeps the first "passed" would read a different verdict than one keeping the last.
    text = canonical_json(_payload(make_envelope(Gate.PLATFORM, passed=False))).decode()
    assert '"passed":false' in text
    doubled = text.replace('"passed":false', '"passed":false,"passed":true')
    _refused(_sign_payload(doubled.encode(), key(PLATFORM)), "duplicate JSON key 'passed'")


def test_duplicate_json_keys_in_the_envelope() -> None:
    env = make_envelope(Gate.PLATFORM).decode()
    doubled = env.replace('"payloadType":', '"payloadType":"text/plain","payloadType":', 1)
    _refused(doubled.encode(), "duplicate JSON key 'payloadType'")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "envelope is not strict JSON"),
        (b"\xff\xfe{}", "envelope is not UTF-8"),
        (b"[]", "envelope must be a JSON object"),
        (b'{"payload": NaN}', "not strict JSON"),
    ],
)
def test_garbage_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    _refused(data, reason)


def test_unexpected_envelope_fields_are_refused() -> None:
    doc = _doc(make_envelope(Gate.PLATFORM))
    doc["extra"] = 1
    _refused(canonical_json(doc), "unexpected field(s) extra")


def test_trust_policy_keyid_that_does_not_match_its_key() -> None:
    policy = trust()
    data = policy.model_dump(mode="json")
    data["spec"]["teams"][1]["keys"][0]["keyid"] = "0" * 64
    bad = type(policy).model_validate(data)
    # The listed keyid is not the key's: the entry is unusable, and the reason says so.
    _refused(
        make_envelope(Gate.PLATFORM),
        f"trust policy lists keyid {'0' * 64} for a key whose keyid is",
        policy=bad,
    )


# ------------------------------------------------------------------------------------------- property


_ENVELOPE = make_envelope(Gate.PLATFORM)
_TRUST = trust()
_VERDICT = signing.verify_envelope(_ENVELOPE, _TRUST).verdict


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(_ENVELOPE) - 1), byte=st.integers(0, 255))
def test_any_single_byte_replacement_is_refused(index: int, byte: int) -> None:
    if _ENVELOPE[index] == byte:
        byte ^= 0x01
    mutated = _ENVELOPE[:index] + bytes([byte]) + _ENVELOPE[index + 1 :]
    with pytest.raises(VerificationError):
        signing.verify_envelope(mutated, _TRUST)


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, len(_ENVELOPE) - 1))
def test_any_single_byte_deletion_is_refused(index: int) -> None:
    with pytest.raises(VerificationError):
        signing.verify_envelope(_ENVELOPE[:index] + _ENVELOPE[index + 1 :], _TRUST)


@settings(max_examples=400, deadline=None)
@given(index=st.integers(0, len(_ENVELOPE)), byte=st.sampled_from(b' \t\n\r{}[],:"\\0aA+/=x\x00\xff'))
def test_a_single_byte_insertion_is_refused_unless_it_is_inert_json_whitespace(index: int, byte: int) -> None:
    """signoff writes compact JSON, so inserting a byte changes the envelope; the only insertions
    that leave it meaning the same are JSON whitespace between tokens of the (unsigned) envelope
    wrapper, and a backslash before a ``/`` of the base64 text (``\\/`` is JSON's escape for ``/``).
    Decided: those are accepted and yield the identical verdict and signer; everything else is
    refused."""
    mutated = _ENVELOPE[:index] + bytes([byte]) + _ENVELOPE[index:]
    try:
        same = json.loads(mutated) == json.loads(_ENVELOPE)
    except ValueError:
        same = False
    if same:
        signed = signing.verify_envelope(mutated, _TRUST)
        assert signed.verdict == _VERDICT and signed.team == PLATFORM
        escaped_solidus = byte == ord("\\") and _ENVELOPE[index : index + 1] == b"/"
        assert chr(byte) in " \t\n\r" or escaped_solidus
    else:
        with pytest.raises(VerificationError):
            signing.verify_envelope(mutated, _TRUST)


@pytest.mark.parametrize("where", ["start", "after-brace", "after-colon", "end"])
def test_inert_whitespace_outside_the_payload_yields_the_identical_verdict(where: str) -> None:
    env = _ENVELOPE
    mutated = {
        "start": b" " + env,
        "after-brace": env[:1] + b"\n" + env[1:],
        "after-colon": env.replace(b'"payloadType":', b'"payloadType": ', 1),
        "end": env + b"\n",
    }[where]
    signed = signing.verify_envelope(mutated, _TRUST)
    assert signed.verdict == _VERDICT and signed.team == PLATFORM
    # The envelope digest is over the bytes as presented, so the file itself stays identifiable.
    assert signed.envelope_digest != signing.verify_envelope(env, _TRUST).envelope_digest
