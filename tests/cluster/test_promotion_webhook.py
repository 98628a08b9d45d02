"""The promotion webhook (infra/webhook) in the real API server: ``signoff admission serve`` on
loopback with a certificate made here, registered with the shipped ValidatingWebhookConfiguration
(only its clientConfig changed to the loopback URL and this CA), and real objects sent through
``kubectl`` as the deployer and as a user, beside the CEL policy (the ``policies`` fixture).

The headline: acting as ``signoff-deployer`` is no longer enough. An object with well-formed
promotion annotations (which the CEL policy admits from the deployer) is refused unless the signed
promotion it carries verifies.
"""

from __future__ import annotations

import base64
import copy
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from _admission import ensure_namespace
from _controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
import _door_kit as door  # noqa: E402

from contracts.cluster import ServingMode  # noqa: E402
from gates import render  # noqa: E402

pytestmark = pytest.mark.cluster

NAMESPACE = "door-prod"
DEPLOYER = "system:serviceaccount:signoff-system:signoff-deployer"
USER = "alice@example.com"
WEBHOOK = 'admission webhook "verify-promotion.signoff.dev" denied the request'
CONFIG = ROOT / "infra" / "webhook" / "validating-webhook.yaml"
FAKE_RECORD = "sha256:" + "a" * 64


def _bind(cluster: ControlPlane, user: str, name: str) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
    }
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(binding))


def _apply(
    cluster: ControlPlane, objs: list[dict[str, Any]], user: str, *, dry_run: bool = False
) -> tuple[bool, str]:
    """``kubectl apply --server-side`` as ``user``; (succeeded, stderr). RBAC caches are waited out."""
    args = ["apply", "--server-side", "--field-manager=signoff", "-f", "-"]
    if dry_run:
        args.append("--dry-run=server")
    text = yaml.safe_dump_all(objs)
    deadline = time.monotonic() + 30
    while True:
        proc = cluster.kubectl(*args, input=text, check=False, as_user=user)
        if proc.returncode == 0 or "is forbidden: User" not in proc.stderr or time.monotonic() > deadline:
            return proc.returncode == 0, proc.stderr
        time.sleep(0.3)


@pytest.fixture(scope="module")
def promoted() -> door.Promoted:
    return door.promote(ServingMode.DEPLOYMENT, namespace=NAMESPACE, now=datetime.now(UTC))


@pytest.fixture(scope="module")
def webhook(
    cluster: ControlPlane,
    policies: list[dict[str, Any]],
    signoff_exe: str,
    tmp_path_factory: pytest.TempPathFactory,
    promoted: door.Promoted,
) -> Iterator[door.Webhook]:
    """The webhook running and registered; the namespace, its users' grants. Unregistered after."""
    hook = door.start_webhook(signoff_exe, tmp_path_factory.mktemp("webhook"), namespace=NAMESPACE)
    ensure_namespace(cluster, NAMESPACE, {"signoff.dev/environment": "production"})
    _bind(cluster, DEPLOYER, "door-deployer")
    _bind(cluster, USER, "door-user")
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for hook_spec in config["webhooks"]:
        hook_spec["clientConfig"] = {
            "url": hook.url,
            "caBundle": base64.b64encode(hook.ca_file.read_bytes()).decode(),
        }
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(config))
    forged = _forged(promoted)

    def enforced() -> bool:
        ok, err = _apply(cluster, [forged], DEPLOYER, dry_run=True)
        return not ok and WEBHOOK in err

    try:
        cluster.wait_for("the promotion webhook to be called", enforced, deadline_s=60)
        yield hook
    finally:
        cluster.kubectl("delete", "validatingwebhookconfiguration", config["metadata"]["name"], check=False)
        hook.stop()


def _deployment(p: door.Promoted) -> dict[str, Any]:
    return p.obj("Deployment")


def _forged(p: door.Promoted) -> dict[str, Any]:
    """The rendered Deployment with well-formed promotion annotations and no signed promotion: what a
    deployer could write by hand. The CEL policy admits its form."""
    return render.with_promotion(p.manifests, FAKE_RECORD).by_kind("Deployment")[0]


def test_promoted_manifests_apply_as_the_deployer_and_their_pods_follow(
    cluster: ControlPlane, webhook: door.Webhook, promoted: door.Promoted
) -> None:
    ok, err = _apply(cluster, list(promoted.deployable.objects), DEPLOYER)
    assert ok, err
    name = _deployment(promoted)["metadata"]["name"]

    def pods() -> list[dict[str, Any]]:
        proc = cluster.kubectl(
            "get", "pods", "-n", NAMESPACE, "-l", f"signoff.dev/workload={name}", "-o", "json"
        )
        return list(json.loads(proc.stdout)["items"])

    cluster.wait_for("the Deployment's pods", lambda: len(pods()) >= 1, deadline_s=90)
    pod = pods()[0]
    assert pod["metadata"]["annotations"][render.ANNOTATION_BUNDLE] == promoted.bundle
    logged = webhook.entries(until=lambda e: e["kind"] == "Pod")
    judged = {(e["kind"], e["allowed"]) for e in logged}
    assert ("Deployment", True) in judged and ("ReplicaSet", True) in judged and ("Pod", True) in judged
    assert any(e["kind"] == "Deployment" and e["user"] == DEPLOYER for e in logged)
    assert not any(e["kind"] in ("ReplicaSet", "Pod") and not e["allowed"] for e in logged), logged


def test_the_deployer_alone_cannot_run_an_unpromoted_model(
    cluster: ControlPlane, webhook: door.Webhook, promoted: door.Promoted
) -> None:
    ok, err = _apply(cluster, [_forged(promoted)], DEPLOYER, dry_run=True)
    assert not ok
    assert WEBHOOK in err
    assert "carries no signoff.dev/promotion-bundle annotation" in err
    assert "ValidatingAdmissionPolicy" not in err  # the CEL policy admitted its form


def test_a_changed_promoted_object_is_refused(
    cluster: ControlPlane, webhook: door.Webhook, promoted: door.Promoted
) -> None:
    obj = _deployment(promoted)
    obj["spec"]["template"]["spec"]["containers"][0]["args"] = ["--serve", "another-model"]
    ok, err = _apply(cluster, [obj], DEPLOYER, dry_run=True)
    assert not ok and WEBHOOK in err
    assert "it is not the object platform signed" in err


def test_another_models_digest_is_refused(
    cluster: ControlPlane, webhook: door.Webhook, promoted: door.Promoted
) -> None:
    obj = _deployment(promoted)
    other = "sha256:" + "c" * 64
    for meta in (obj["metadata"], obj["spec"]["template"]["metadata"]):
        meta["annotations"][render.ANNOTATION_DIGEST] = other
    ok, err = _apply(cluster, [obj], DEPLOYER, dry_run=True)
    assert not ok and WEBHOOK in err
    assert f"annotation signoff.dev/model-digest is '{other}'" in err


def _copied_pod(p: door.Promoted) -> dict[str, Any]:
    """A bare Pod from the promoted Deployment's template: its bundle and annotations copied."""
    tpl = copy.deepcopy(_deployment(p)["spec"]["template"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**tpl["metadata"], "name": "copied", "namespace": NAMESPACE},
        "spec": tpl["spec"],
    }


def test_a_user_is_refused_even_with_a_copied_promotion(
    cluster: ControlPlane, webhook: door.Webhook, promoted: door.Promoted
) -> None:
    ok, err = _apply(cluster, [_copied_pod(promoted)], USER, dry_run=True)
    assert not ok
    assert "ValidatingAdmissionPolicy" in err
    assert "only system:serviceaccount:signoff-system:signoff-deployer may create or change" in err


def test_a_bare_pod_with_a_copied_bundle_is_refused_from_the_deployer(
    cluster: ControlPlane, webhook: door.Webhook, promoted: door.Promoted
) -> None:
    ok, err = _apply(cluster, [_copied_pod(promoted)], DEPLOYER, dry_run=True)
    assert not ok and WEBHOOK in err
    assert "ValidatingAdmissionPolicy" not in err  # the CEL policy admits the deployer's Pod
    assert "it is not one of the manifests platform signed" in err


def test_cpu_workloads_without_a_claim_never_reach_the_webhook(
    cluster: ControlPlane, webhook: door.Webhook
) -> None:
    cpu = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "plain-web", "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"app": "plain-web"}},
            "template": {
                "metadata": {"labels": {"app": "plain-web"}},
                "spec": {
                    "containers": [{"name": "web", "image": "registry.example.com/web@sha256:" + "3" * 64}]
                },
            },
        },
    }
    ok, err = _apply(cluster, [cpu], USER, dry_run=True)
    assert ok, err
    assert not [e for e in webhook.entries() if e["name"] == "plain-web"]


def test_deleting_the_promoted_deployment_is_not_wedged(
    cluster: ControlPlane, webhook: door.Webhook, promoted: door.Promoted
) -> None:
    name = _deployment(promoted)["metadata"]["name"]
    cluster.kubectl("get", "deployment", name, "-n", NAMESPACE)  # applied by the first test
    proc = cluster.kubectl("delete", "deployment", name, "-n", NAMESPACE, "--wait=false", check=False)
    assert proc.returncode == 0, proc.stderr
