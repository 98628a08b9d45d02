"""The strict CRD validation the render (and observability) tests rely on: it must refuse what the API
server would refuse or prune, and accept what it would accept."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import kubernetes_validate

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from crd_schema import validate_core_object, validate_crd_object  # noqa: E402

KSERVE = "kserve-v0.20.0-inferenceservices.crd.yaml"
RULES = "prometheus-operator-v0.93.0-prometheusrules.crd.yaml"


def _isvc(**predictor: Any) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m", "namespace": "ml-prod", "labels": {"a": "b"}},
        "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": "i"}], **predictor}},
    }


def test_int_or_string_quantities_accept_both_spellings(shared_schemas: Path) -> None:
    for cpu in (2, "2", "500m"):
        obj = _isvc()
        obj["spec"]["predictor"]["containers"][0]["resources"] = {"limits": {"cpu": cpu}}
        assert validate_crd_object(shared_schemas / KSERVE, obj) == []
    obj = _isvc()
    obj["spec"]["predictor"]["containers"][0]["resources"] = {"limits": {"cpu": [2]}}
    assert validate_crd_object(shared_schemas / KSERVE, obj)


def test_unknown_fields_at_any_depth_are_refused(shared_schemas: Path) -> None:
    errors = validate_crd_object(shared_schemas / KSERVE, _isvc(nodeSelecter={"x": "y"}))
    assert errors == ["spec.predictor: Additional properties are not allowed ('nodeSelecter' was unexpected)"]
    obj = _isvc()
    obj["spec"]["predictor"]["containers"][0]["securityContext"] = {"runAsNonroot": True}
    assert any(
        "'runAsNonroot' was unexpected" in e for e in validate_crd_object(shared_schemas / KSERVE, obj)
    )
    obj = _isvc()
    obj["metadata"]["labels"] = {"replicas": 3}
    assert any(
        e.startswith("metadata.labels.replicas") for e in validate_crd_object(shared_schemas / KSERVE, obj)
    )


def test_maps_stay_open_and_preserved_fields_stay_open(shared_schemas: Path) -> None:
    obj = _isvc(nodeSelector={"any.label/key": "v"}, annotations={"free": "form"})
    obj["status"] = {"anything": {"goes": 1}}  # x-kubernetes-preserve-unknown-fields
    assert validate_crd_object(shared_schemas / KSERVE, obj) == []


def test_wrong_group_or_kind_is_reported(shared_schemas: Path) -> None:
    obj = _isvc()
    obj["apiVersion"] = "serving.kubeflow.org/v1beta1"
    obj["kind"] = "InferenceServices"
    errors = validate_crd_object(shared_schemas / KSERVE, obj)
    assert any(e.startswith("apiVersion:") for e in errors) and any(e.startswith("kind:") for e in errors)


def test_go_regex_flags_are_understood(shared_schemas: Path) -> None:
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "r"},
        "spec": {"groups": [{"name": "g", "partial_response_strategy": "WARN", "rules": []}]},
    }
    assert validate_crd_object(shared_schemas / RULES, rule) == []  # ^(?i)(abort|warn)?$
    rule["spec"]["groups"][0]["partial_response_strategy"] = "maybe"
    assert validate_crd_object(shared_schemas / RULES, rule)


def test_core_objects_are_strict_for_each_version() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": "http"}], "selectr": {}},
    }
    for version in ("1.30", kubernetes_validate.latest_version()):
        assert validate_core_object(svc, version) == [
            "spec: Additional properties are not allowed ('selectr' was unexpected)"
        ]
    unknown = validate_core_object({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {}}, "1.30")
    assert unknown and "no 1.30 schema" in unknown[0]
