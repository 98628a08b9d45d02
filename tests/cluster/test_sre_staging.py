"""The SRE step's view of staging, through the real API server and controllers.

A Deployment rendered for staging is applied; kube-controller-manager makes its ReplicaSet and
pods, the scheduler places them, kwok marks them Running and Ready. Then ``components.kube`` (the
code the SRE step runs, with the ``kubernetes`` client) waits until it is ready, checks that it serves
exactly the version under judgement, and reads the cold start from the pods' own timestamps.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
import yaml
from _controlplane import ControlPlane
from _infra import ROOT

from components import kube
from contracts.cluster import ServingMode
from contracts.loader import load_cluster_policy, load_contract
from gates import serving
from gates.render import ModelRef, render

pytestmark = pytest.mark.cluster

NS = "ml-staging"
IMAGE = "registry.example.com/ml/mlserver@sha256:" + "b" * 64
MODEL = ModelRef(
    name="fraud-scorer-gbm",
    version="7",
    storage_uri="s3://models/fraud-scorer/7",
    digest="sha256:" + "a" * 64,
)


@pytest.fixture(scope="module")
def staged(
    cluster: ControlPlane, infra_applied: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """fraud-scorer (CPU) rendered for staging in Deployment mode and applied as the cluster admin."""
    contract = load_contract(ROOT / "contracts" / "examples" / "fraud-scorer.yaml")
    policy = load_cluster_policy(ROOT / "contracts" / "examples" / "cluster-policy.yaml")
    objects: list[dict[str, Any]] = [
        copy.deepcopy(o)
        for o in render(
            contract, policy, MODEL, IMAGE, environment="staging", mode=ServingMode.DEPLOYMENT
        ).objects
    ]
    cluster.kubectl("create", "namespace", NS, check=False)
    path = tmp_path_factory.mktemp("staged") / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-n", NS, "-f", str(path))
    return contract.name


def test_the_sre_step_waits_checks_the_version_and_reads_the_cold_start_from_the_pods(
    cluster: ControlPlane, staged: str
) -> None:
    client = kube.load_client(kubeconfig=str(cluster.kubeconfig))
    started = time.monotonic()
    ready = kube.wait_ready("Deployment", staged, NS, deadline_s=90, launched_at=started, client=client)
    assert ready is not None, cluster.kubectl("get", "pods,rs,deploy", "-n", NS, "-o", "wide").stdout
    obj = kube.get_serving("Deployment", staged, NS, client=client)
    problems = serving.serving_problems(obj, version="7", digest=MODEL.digest, storage_uri=MODEL.storage_uri)
    assert problems == []
    # What the API server stores is what is judged: another version's digest is refused, with both.
    other = "sha256:" + "c" * 64
    problems = serving.serving_problems(
        obj, version="8", digest=other, storage_uri="s3://models/fraud-scorer/8"
    )
    assert any(f"serves model digest {MODEL.digest}, not this version's {other}" in p for p in problems)
    cold = kube.pods_cold_start(staged, "7", NS, client=client)
    assert cold is not None and 0 <= cold < 90, cold
    assert kube.pods_cold_start(staged, "8", NS, client=client) is None  # no pod of another version
    url = kube.staging_url("Deployment", staged, NS, client=client)
    assert url == f"http://{staged}.{NS}.svc.cluster.local"


def test_the_sre_step_account_may_read_what_it_needs_in_staging(cluster: ControlPlane, staged: str) -> None:
    sa = "system:serviceaccount:signoff-system:signoff-sre-step"
    for verb, what in (
        ("get", "deployments"),
        ("list", "pods"),
        ("get", "inferenceservices.serving.kserve.io"),
    ):
        done = cluster.kubectl("auth", "can-i", verb, what, "-n", NS, "--as", sa, check=False)
        assert done.stdout.strip() == "yes", (verb, what, done.stdout, done.stderr)
    assert (
        cluster.kubectl(
            "auth", "can-i", "list", "pods", "-n", "ml-prod", "--as", sa, check=False
        ).stdout.strip()
        == "no"
    )
