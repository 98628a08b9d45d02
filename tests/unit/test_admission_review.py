"""The admission webhook's judgement (gates.admission_review): real promotions, real envelopes, and
every way round the signature refused with its reason."""

from __future__ import annotations

import base64
import copy
import json
import zlib
from datetime import timedelta
from typing import Any

import _door_kit as door
import _signoff_kit as kit
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.cluster import ServingMode
from contracts.trust import Gate
from contracts.workload import canonical_json
from gates import admission_review as ar
from gates import render, signing
from gates.verdict import digest_bytes

ROUTES = door.policy().spec.gpu_routes
RS_CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"


@pytest.fixture(scope="module")
def promoted() -> door.Promoted:
    return door.promote(ServingMode.DEPLOYMENT)


@pytest.fixture(scope="module")
def promoted_isvc() -> door.Promoted:
    return door.promote(ServingMode.KSERVE)


def judge(obj: dict[str, Any], **kw: Any) -> ar.Decision:
    now = kw.pop("now", door.NOW)
    return ar.review(door.request(obj, **kw), door.trust(), ROUTES, now)


def pod_from(deployment: dict[str, Any]) -> dict[str, Any]:
    """The Pod a ReplicaSet creates from the Deployment's template."""
    tpl = copy.deepcopy(deployment["spec"]["template"])
    meta = {**tpl["metadata"], "generateName": "recsys-ranker-v2-abc-", "namespace": "ml-prod"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": tpl["spec"]}


def rebundle(p: door.Promoted, change: Any) -> str:
    """The bundle after ``change(doc)`` edits its decoded JSON document."""
    doc = json.loads(zlib.decompress(base64.b64decode(p.bundle), 31))
    change(doc)
    return base64.b64encode(ar.zlib_gzip(canonical_json(doc))).decode()


def with_bundle(obj: dict[str, Any], value: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    for meta in (obj["metadata"], obj["spec"]["template"]["metadata"]):
        meta["annotations"][ar.BUNDLE_ANNOTATION] = value
    return obj


# ------------------------------------------------------------------------------------------- admitted


def test_promoted_deployment_from_the_deployer_is_admitted(promoted: door.Promoted) -> None:
    d = judge(promoted.obj("Deployment"))
    assert d.allowed and d.judged, d.reason
    assert d.reason == "Deployment recsys-ranker-v2: signed promotion verifies"


def test_promoted_inference_service_is_admitted(promoted_isvc: door.Promoted) -> None:
    d = judge(promoted_isvc.obj("InferenceService"))
    assert d.allowed and d.judged, d.reason


def test_pods_of_an_admitted_deployment_are_admitted_even_after_expiry(promoted: door.Promoted) -> None:
    pod = pod_from(promoted.obj("Deployment"))
    later = door.NOW + timedelta(days=60)
    d = judge(pod, user=RS_CONTROLLER, now=later)
    assert d.allowed and d.judged, d.reason
    assert "judged at the promotion's time" in d.reason
    # the same pod sent by a person at that time is judged at the door: refused, expired
    d = judge(pod, user="alice", now=later)
    assert not d.allowed and "the promotion record: it expired at" in d.reason


def test_cpu_object_without_promotion_is_not_judged() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ml-prod"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "x@sha256:" + "1" * 64}]}}},
    }
    d = judge(obj, user="alice")
    assert d.allowed and not d.judged and "not a GPU workload" in d.reason


@pytest.mark.parametrize(
    ("operation", "change", "why"),
    [
        ("DELETE", None, "operation 'DELETE' is not judged"),
        ("UPDATE", "deleting", "being deleted"),
        ("UPDATE", "label", "changes neither the spec nor a promotion annotation"),
    ],
)
def test_housekeeping_is_not_wedged(operation: str, change: str | None, why: str) -> None:
    unpromoted = door.promote().manifests.by_kind("Deployment")[0]
    new = copy.deepcopy(unpromoted)
    if change == "deleting":
        new["metadata"]["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    if change == "label":
        new["metadata"]["labels"]["team-note"] = "x"
    d = judge(new, operation=operation, old=unpromoted, user="system:serviceaccount:kube-system:generic-gc")
    assert d.allowed and why in d.reason


# -------------------------------------------------------------------------------------------- refused


def test_unpromoted_gpu_deployment_from_the_deployer_is_refused(promoted: door.Promoted) -> None:
    d = judge(promoted.manifests.by_kind("Deployment")[0])
    assert not d.allowed
    assert "container 'kserve-container' asks for GPUs" in d.reason
    assert f"carries no {ar.BUNDLE_ANNOTATION} annotation" in d.reason


def test_changed_object_is_refused(promoted: door.Promoted) -> None:
    obj = promoted.obj("Deployment")
    obj["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "mine"]
    d = judge(obj)
    assert not d.allowed
    assert "it is not the object platform signed: spec.template.spec.containers.0.command added" in d.reason
    obj = promoted.obj("Deployment")
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/ml/x@sha256:" + "9" * 64
    assert "spec.template.spec.containers.0.image is" in judge(obj).reason


def test_other_model_digest_is_refused(promoted: door.Promoted) -> None:
    obj = promoted.obj("Deployment")
    obj["spec"]["template"]["metadata"]["annotations"][render.ANNOTATION_DIGEST] = kit.OTHER_DIGEST
    d = judge(obj)
    assert not d.allowed
    assert f"pod metadata annotation {render.ANNOTATION_DIGEST} is '{kit.OTHER_DIGEST}'" in d.reason


def test_record_digest_of_another_record_is_refused(promoted: door.Promoted) -> None:
    obj = promoted.obj("Deployment")
    for meta in (obj["metadata"], obj["spec"]["template"]["metadata"]):
        meta["annotations"][render.ANNOTATION_PROMOTION] = kit.OTHER_DIGEST
    d = judge(obj)
    assert not d.allowed and f"annotation {render.ANNOTATION_PROMOTION} is '{kit.OTHER_DIGEST}'" in d.reason


def test_promotion_signed_by_an_unknown_key_is_refused(promoted: door.Promoted) -> None:
    record = signing.verify_envelope(promoted.promotion, door.trust()).verdict
    forged = signing.sign_verdict(record, kit.key("mallory"))
    value = rebundle(promoted, lambda doc: doc.update(promotion=base64.b64encode(forged).decode()))
    d = judge(with_bundle(promoted.obj("Deployment"), value))
    assert not d.allowed
    assert "the promotion envelope does not verify: signed by key" in d.reason
    assert "which the trust policy 'test-trust' does not list" in d.reason


def test_a_missing_owner_verdict_is_refused(promoted: door.Promoted) -> None:
    value = rebundle(promoted, lambda doc: doc.update(verdicts=doc["verdicts"][:2]))
    d = judge(with_bundle(promoted.obj("Deployment"), value))
    assert not d.allowed
    assert (
        "the bundle does not hold exactly the verdicts the promotion accepted (2 bundled, 3 accepted)"
        in d.reason
    )
    assert "no verified verdict was presented" in d.reason


def test_manifests_platform_did_not_sign_are_refused(promoted: door.Promoted) -> None:
    def edit(doc: dict[str, Any]) -> None:
        dep = next(o for o in doc["manifests"] if o["kind"] == "Deployment")
        dep["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh"]

    obj = promoted.obj("Deployment")
    obj["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh"]
    d = judge(with_bundle(obj, rebundle(promoted, edit)))
    assert not d.allowed and "are not the ones platform signed" in d.reason


def test_expired_promotion_is_refused_at_the_door(promoted: door.Promoted) -> None:
    d = judge(promoted.obj("Deployment"), now=door.NOW + timedelta(days=8))
    assert not d.allowed
    assert "the promotion record: it expired at" in d.reason
    assert "the platform verdict: it expired at" in d.reason


def test_promotion_of_another_workload_is_refused(promoted: door.Promoted) -> None:
    obj = promoted.obj("Deployment")
    obj["spec"]["template"]["metadata"]["labels"]["signoff.dev/workload"] = "fraud-scorer"
    d = judge(obj, user=RS_CONTROLLER)  # derived: only the carried promotion is judged
    assert not d.allowed
    assert "pod label signoff.dev/workload is 'fraud-scorer', but the promotion is for workload" in d.reason


def test_a_verdict_signed_by_the_wrong_team_is_refused() -> None:
    p = door.promote()
    # the platform key signs an SRE verdict: the trust policy does not let platform sign sre-readiness
    wrong = signing.sign_verdict(kit.verdict(Gate.SRE_READINESS, team=kit.PLATFORM), kit.key(kit.PLATFORM))

    def edit(doc: dict[str, Any]) -> None:
        doc["verdicts"][0] = base64.b64encode(wrong).decode()

    d = judge(with_bundle(p.obj("Deployment"), rebundle(p, edit)))
    assert not d.allowed and "does not verify" in d.reason


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("not base64!", "is not standard base64"),
        (base64.b64encode(b"plain").decode(), "is not gzip data"),
        (base64.b64encode(ar.zlib_gzip(b"[1]")).decode(), "is not a version-1 bundle"),
        (base64.b64encode(ar.zlib_gzip(b"\0" * (ar.MAX_BUNDLE_BYTES + 10))).decode(), "inflates beyond"),
    ],
    ids=["not-base64", "not-gzip", "not-a-bundle", "gzip-bomb"],
)
def test_undecodable_bundle_is_refused(promoted: door.Promoted, value: str, why: str) -> None:
    d = judge(with_bundle(promoted.obj("Deployment"), value))
    assert not d.allowed and why in d.reason


def test_request_without_object_fails_closed() -> None:
    d = ar.review({"uid": "1", "operation": "CREATE"}, door.trust(), ROUTES, door.NOW)
    assert not d.allowed and "fail closed" in d.reason


def test_response_is_an_admission_review_v1(promoted: door.Promoted) -> None:
    req = door.request(promoted.manifests.by_kind("Deployment")[0], uid="abc")
    body = ar.response(req, ar.review(req, door.trust(), ROUTES, door.NOW))
    assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == "abc" and body["response"]["allowed"] is False
    assert body["response"]["status"]["code"] == 403
    assert ar.BUNDLE_ANNOTATION in body["response"]["status"]["message"]


def test_with_promotion_stamps_and_without_promotion_removes_the_bundle(promoted: door.Promoted) -> None:
    dep = promoted.obj("Deployment")
    assert dep["metadata"]["annotations"][ar.BUNDLE_ANNOTATION] == promoted.bundle
    assert dep["spec"]["template"]["metadata"]["annotations"][ar.BUNDLE_ANNOTATION] == promoted.bundle
    assert render.without_promotion(promoted.deployable).digest() == promoted.manifests.digest()
    assert digest_bytes(promoted.promotion) == dep["metadata"]["annotations"][render.ANNOTATION_PROMOTION]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_bundle_is_never_admitted(promoted: door.Promoted, data: st.DataObject) -> None:
    """Any one-byte change of the bundle's JSON (re-compressed, so it decodes) is refused."""
    raw = zlib.decompress(base64.b64decode(promoted.bundle), 31)
    at = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[at]))
    mutated = raw[:at] + bytes([byte]) + raw[at + 1 :]
    value = base64.b64encode(ar.zlib_gzip(mutated)).decode()
    d = judge(with_bundle(promoted.obj("Deployment"), value))
    assert not d.allowed, (at, byte, d.reason)
