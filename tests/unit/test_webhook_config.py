"""infra/webhook/validating-webhook.yaml: fail closed, scoped so housekeeping is never wedged, and its
matchConditions mirroring the CEL policy's (the cluster tier runs it in the API server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gates import admission_review

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "infra" / "webhook" / "validating-webhook.yaml"
POLICY = ROOT / "infra" / "policies" / "require-promotion" / "policy.yaml"


def _webhook() -> dict[str, Any]:
    (hook,) = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["webhooks"]
    return dict(hook)


def test_fails_closed_without_side_effects() -> None:
    hook = _webhook()
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["clientConfig"]["service"] == {
        "namespace": "signoff-system",
        "name": "signoff-admission",
        "path": "/validate",
        "port": 443,
    }
    assert hook["namespaceSelector"] == {"matchLabels": {"signoff.dev/environment": "production"}}


def test_only_creates_and_updates_of_kinds_that_run_pods() -> None:
    rules = _webhook()["rules"]
    assert all(r["operations"] == ["CREATE", "UPDATE"] for r in rules)
    resources = {(g, res) for r in rules for g in r["apiGroups"] for res in r["resources"]}
    # no status, scale or finalize subresource: controllers' and the HPA's writes never wait on it
    assert not [res for _, res in resources if "/" in res and res != "pods/ephemeralcontainers"]
    assert {("apps", "deployments"), ("", "pods"), ("serving.kserve.io", "inferenceservices")} <= resources
    # every kind the judgement trusts a controller for is sent (so derived objects are judged too)
    kinds = {"Pod": "pods", "ReplicaSet": "replicasets", "Deployment": "deployments", "Job": "jobs"}
    assert set(kinds.values()) <= {res for _, res in resources}


def test_match_conditions_mirror_the_cel_policy() -> None:
    policy = yaml.safe_load(POLICY.read_text(encoding="utf-8"))["spec"]["matchConditions"]
    mine = {c["name"]: c["expression"] for c in _webhook()["matchConditions"]}
    theirs = {c["name"]: c["expression"] for c in policy}
    assert mine["not-being-deleted"] == theirs["not-being-deleted"]
    # the same expression, with the bundle added to the promotion annotations it compares
    assert mine["changes-what-runs"] == theirs["changes-what-runs"].replace(
        "'signoff.dev/promotion-record']",
        f"'signoff.dev/promotion-record', '{admission_review.BUNDLE_ANNOTATION}']",
    )
    assert admission_review.BUNDLE_ANNOTATION in mine["claims-a-promotion"]
    assert "signoff.dev/promotion-record" in mine["claims-a-promotion"]
