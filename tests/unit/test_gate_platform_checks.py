"""The platform gate: passes for the examples, refuses with figures, and binds the manifests' digest."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _render_kit import IMAGE, changed, contract, example_contract_files, model_for, policy, subject_for

from contracts.cluster import ClusterPolicy, ServingMode
from contracts.loader import load_contract
from contracts.trust import Gate
from contracts.workload import WorkloadContract
from gates.platform import check_manifests_digest, evaluate, restricted_violations
from gates.render import Manifests, pod_specs, render, with_promotion
from gates.verdict import Check, Outcome, Verdict

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DIGEST_IMAGE = "registry.example.com/ml/serving-runtime@sha256:" + "2" * 64


def _gate(
    c: WorkloadContract,
    p: ClusterPolicy | None = None,
    *,
    image: str = IMAGE,
    mode: ServingMode = ServingMode.KSERVE,
    manifests: Manifests | None = None,
) -> Verdict:
    p = p or policy()
    m = model_for(c)
    manifests = manifests or render(c, p, m, image, mode=mode)
    return evaluate(c, p, manifests, subject_for(m), NOW, image=image)


def _check(verdict: Verdict, id_: str) -> Check:
    return next(ch for ch in verdict.checks if ch.id == id_)


@pytest.mark.parametrize("mode", list(ServingMode))
@pytest.mark.parametrize("path", example_contract_files(), ids=lambda p: p.stem)
def test_every_example_passes_in_both_modes(path: Any, mode: ServingMode) -> None:
    c = load_contract(path)
    verdict = _gate(c, mode=mode)
    assert verdict.passed, [f"{ch.id}: {ch.message}" for ch in verdict.failures]
    assert verdict.gate is Gate.PLATFORM and verdict.team == c.spec.owners.platform.team
    assert verdict.policy_digest == policy().digest() and verdict.contract_digest == c.digest()
    assert verdict.expires_at - verdict.issued_at == timedelta(seconds=c.spec.promotion.verdict_ttl.seconds)


def test_cpu_only_contract_skips_gpu_checks() -> None:
    c = changed(contract("recsys-ranker"), {"spec.resources.gpu": None})
    verdict = _gate(c)
    gpu = [ch for ch in verdict.checks if ch.id.startswith("gpu.")]
    assert len(gpu) == 5 and all(ch.outcome is Outcome.SKIP for ch in gpu)
    assert verdict.passed


def test_h100_only_policy_refuses_an_a100_contract() -> None:
    p = changed(policy(), {"spec.gpus": [policy().spec.gpus[0].model_dump(mode="json")]})  # H100 only
    c = changed(
        contract("recsys-ranker"), {"spec.resources.gpu": {"count": 1, "product": "A100", "memory": "40GB"}}
    )
    verdict = _gate(c, p)
    check = _check(verdict, "gpu.product-allowed")
    assert check.outcome is Outcome.FAIL
    assert check.figures == {"product": "A100", "offered": "H100"}
    assert "A100 is not offered" in check.message and "offers H100" in check.message
    assert not verdict.passed


def test_50gb_model_on_one_40gb_gpu_does_not_fit() -> None:
    c = changed(
        contract("recsys-ranker"),
        {
            "spec.resources.gpu": {"count": 1, "product": "A100", "memory": "40GB"},
            "spec.resources.model_size": "50GB",
        },
    )
    check = _check(_gate(c), "gpu.memory-fits")
    assert check.outcome is Outcome.FAIL
    assert check.figures == {
        "model_gb": 50.0,
        "gpu_memory_gb": 40.0,
        "gpus_per_replica": 1,
        "headroom": "10%",
        "capacity_gb": 36.0,
        "model_bytes": 50_000_000_000,
        "capacity_bytes": 36_000_000_000,
    }
    assert check.message == "does not fit: model 50 GB vs 1 x 40 GB GPU memory less 10% headroom = 36 GB"


def test_memory_fit_uses_the_policy_product_and_headroom() -> None:
    # 2 x 40 GB x 0.9 = 72 GB: 70 GB fits, 73 GB does not.
    base = {"spec.resources.gpu": {"count": 2, "product": "A100", "memory": "40GB"}}
    fits = _gate(changed(contract("recsys-ranker"), {**base, "spec.resources.model_size": "70GB"}))
    over = _gate(changed(contract("recsys-ranker"), {**base, "spec.resources.model_size": "73GB"}))
    assert _check(fits, "gpu.memory-fits").outcome is Outcome.PASS
    assert _check(over, "gpu.memory-fits").outcome is Outcome.FAIL


def test_6_replicas_x_2_gpus_is_above_a_10_gpu_quota() -> None:
    p = changed(policy(), {"spec.namespaces.production.gpu_quota": 10})
    c = changed(contract("recsys-ranker"), {"spec.resources.replicas": {"min": 2, "max": 6}})
    check = _check(_gate(c, p), "gpu.quota")
    assert check.outcome is Outcome.FAIL
    assert check.figures == {
        "max_replicas": 6,
        "gpus_per_replica": 2,
        "gpus_total": 12,
        "quota": 10,
        "namespace": "ml-prod",
    }
    assert "12 GPUs above the 10-GPU quota" in check.message


def test_gpus_per_replica_above_the_product_maximum() -> None:
    c = changed(
        contract("recsys-ranker"), {"spec.resources.gpu": {"count": 6, "product": "L4", "memory": "24GB"}}
    )
    check = _check(_gate(c), "gpu.per-replica")
    assert check.outcome is Outcome.FAIL and check.figures == {"gpus_per_replica": 6, "max_per_replica": 4}


@pytest.mark.parametrize(
    "image",
    [
        "docker.io/someone/server@sha256:" + "2" * 64,
        "registry.example.com/mlevil/server@sha256:" + "2" * 64,  # a prefix, not the allowed path
        "registry.example.com.evil.io/ml/server@sha256:" + "2" * 64,
    ],
)
def test_image_from_an_unknown_registry_is_refused(image: str) -> None:
    verdict = _gate(contract("recsys-ranker"), image=image)
    check = _check(verdict, "image.registry")
    assert check.outcome is Outcome.FAIL and check.figures["outside"] == 1
    assert image in check.message and not verdict.passed


def test_a_docker_hub_short_name_is_refused_by_the_gate_not_the_renderer() -> None:
    verdict = _gate(contract("recsys-ranker"), image="nginx:latest")
    assert _check(verdict, "image.registry").outcome is Outcome.FAIL
    assert _check(verdict, "image.digest").outcome is Outcome.FAIL
    assert "nginx:latest" in _check(verdict, "image.registry").message


def test_tag_instead_of_digest_is_refused() -> None:
    verdict = _gate(contract("recsys-ranker"), image="registry.example.com/ml/serving-runtime:1.4.2")
    check = _check(verdict, "image.digest")
    assert check.outcome is Outcome.FAIL and check.figures == {"unpinned": 1, "images": 1}
    assert "not pinned by @sha256 digest" in check.message
    assert _check(verdict, "image.registry").outcome is Outcome.PASS


def test_tag_is_a_warning_when_the_policy_does_not_require_digests() -> None:
    p = changed(policy(), {"spec.require_digest": False})
    verdict = _gate(contract("recsys-ranker"), p, image="registry.example.com/ml/serving-runtime:1.4.2")
    assert _check(verdict, "image.digest").outcome is Outcome.WARN and verdict.passed


def _edited(manifests: Manifests, edit: Any) -> Manifests:
    objects = [copy.deepcopy(o) for o in manifests.objects]
    edited = Manifests(objects=tuple(objects))
    ((_, meta, spec),) = pod_specs(edited)
    edit(meta, spec)
    return edited


@pytest.mark.parametrize("mode", list(ServingMode))
def test_manifests_edited_after_rendering_are_caught(mode: ServingMode) -> None:
    c = contract("recsys-ranker")
    p = policy()
    rendered = render(c, p, model_for(c), IMAGE, mode=mode)
    signed = _gate(c, p, manifests=rendered)
    assert check_manifests_digest(signed, rendered)
    assert check_manifests_digest(signed, with_promotion(rendered, "sha256:" + "5" * 64))

    def privileged_init(meta: dict[str, Any], spec: dict[str, Any]) -> None:
        spec["initContainers"] = [
            {
                "name": "setup",
                "image": IMAGE,
                "securityContext": {"privileged": True},
                "resources": {
                    "limits": {"cpu": "1", "memory": "1Gi"},
                    "requests": {"cpu": "1", "memory": "1Gi"},
                },
            }
        ]

    edited = _edited(rendered, privileged_init)
    assert not check_manifests_digest(signed, edited)
    verdict = _gate(c, p, manifests=edited)
    psa = _check(verdict, "pod-security.restricted")
    assert psa.outcome is Outcome.FAIL
    assert "initContainers[setup]: privileged is true" in psa.message
    assert "initContainers[setup]: allowPrivilegeEscalation is not false" in psa.message
    assert psa.figures["containers"] == 2


def _server(spec: dict[str, Any]) -> dict[str, Any]:
    """The serving container: an InferenceService's predictor.model, or the pod's first container."""
    return spec["model"] if "model" in spec else spec["containers"][0]


def _set_storage_uri(spec: dict[str, Any], uri: str) -> None:
    if "model" in spec:
        spec["model"]["storageUri"] = uri
    else:
        spec["initContainers"][0]["args"][0] = uri


@pytest.mark.parametrize(
    ("edit", "check_id", "needle"),
    [
        (
            lambda m, s: s.update(priorityClassName="system-cluster-critical"),
            "priority-class.allowed",
            "not in allowed",
        ),
        (lambda m, s: s.update(nodeSelector={}), "gpu.scheduling", "nvidia.com/gpu.product"),
        (lambda m, s: s.update(tolerations=[]), "gpu.scheduling", "toleration"),
        (
            lambda m, s: _server(s)["resources"].pop("requests"),
            "resources.requests-limits",
            "requests/limits",
        ),
        (
            lambda m, s: _server(s)["resources"]["limits"].update(memory="128Gi"),
            "resources.requests-limits",
            "!= limit",
        ),
        (
            lambda m, s: m["annotations"].update({"signoff.dev/model-version": "6"}),
            "model.subject",
            "model-version",
        ),
        (
            lambda m, s: _set_storage_uri(s, "s3://models/recsys-ranker/latest"),
            "model.subject",
            "latest",
        ),
        (
            lambda m, s: _server(s).update(startupProbe=None),
            "probes.startup-budget",
            "0s < max cold start",
        ),
        (lambda m, s: s.update(hostNetwork=True), "pod-security.restricted", "hostNetwork"),
        (
            lambda m, s: m["annotations"].update(
                {"container.apparmor.security.beta.kubernetes.io/kserve-container": "unconfined"}
            ),
            "pod-security.restricted",
            "AppArmor",
        ),
        (
            lambda m, s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
            "pod-security.restricted",
            "hostPath",
        ),
        (
            lambda m, s: _server(s)["securityContext"].update(capabilities={"add": ["SYS_ADMIN"]}),
            "pod-security.restricted",
            "SYS_ADMIN",
        ),
        (
            lambda m, s: (
                s["securityContext"].pop("runAsNonRoot"),
                _server(s)["securityContext"].pop("runAsNonRoot"),
            ),
            "pod-security.restricted",
            "runAsNonRoot",
        ),
    ],
)
def test_each_policy_violation_is_refused_with_its_reason(edit: Any, check_id: str, needle: str) -> None:
    c = contract("recsys-ranker")
    for mode in ServingMode:
        rendered = render(c, policy(), model_for(c), IMAGE, mode=mode)
        verdict = _gate(c, manifests=_edited(rendered, edit))
        check = _check(verdict, check_id)
        assert check.outcome is Outcome.FAIL, (mode, check)
        assert needle in check.message, check.message
        assert not verdict.passed


def test_restricted_profile_accepts_the_rendered_pods_only() -> None:
    c = contract("recsys-ranker")
    for mode in ServingMode:
        ((_, _, spec),) = pod_specs(render(c, policy(), model_for(c), IMAGE, mode=mode))
        assert restricted_violations(spec) == []
    bare = {"containers": [{"name": "c", "image": IMAGE}]}
    found = restricted_violations(bare)
    assert any("allowPrivilegeEscalation" in v for v in found)
    assert any("drop does not include ALL" in v for v in found)
    assert any("runAsNonRoot" in v for v in found)
    assert any("seccompProfile" in v for v in found)


def test_image_must_be_the_one_checked() -> None:
    c = contract("recsys-ranker")
    rendered = render(c, policy(), model_for(c), IMAGE)
    other = "registry.example.com/ml/serving-runtime@sha256:" + "9" * 64
    verdict = evaluate(c, policy(), rendered, subject_for(model_for(c)), NOW, image=other)
    assert _check(verdict, "image.matches").outcome is Outcome.FAIL


def test_subject_must_match_the_manifests() -> None:
    c = contract("recsys-ranker")
    rendered = render(c, policy(), model_for(c, "7"), IMAGE)
    verdict = evaluate(c, policy(), rendered, subject_for(model_for(c, "8")), NOW, image=IMAGE)
    check = _check(verdict, "model.subject")
    assert check.outcome is Outcome.FAIL and "want '8'" in check.message


def test_verdict_records_the_manifests_digest() -> None:
    c = contract("recsys-ranker")
    rendered = render(c, policy(), model_for(c), IMAGE)
    verdict = _gate(c, manifests=rendered)
    assert verdict.artifacts == {"manifests": rendered.digest()}
