"""infra/overlays/kfp-profile on the real API server: a KFP run's account reads what the gate tasks
read, and writes nothing signoff guards.

The ``infra_applied`` fixture applies every infra/ entry point, this overlay included (with its
committed namespace ``kubeflow`` and KFP's standalone run account ``pipeline-runner``). Asked of the
server with ``kubectl auth can-i`` as that account.
"""

from __future__ import annotations

import pytest
from _controlplane import ControlPlane

pytestmark = pytest.mark.cluster

RUN = "system:serviceaccount:kubeflow:pipeline-runner"


def _can(cluster: ControlPlane, verb: str, resource: str, ns: str | None) -> bool:
    args = ["auth", "can-i", verb, resource, "--as", RUN, *(["-n", ns] if ns else [])]
    proc = cluster.kubectl(*args, check=False)
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return answer == "yes"


def test_the_kfp_run_account_reads_what_the_gate_tasks_read(
    cluster: ControlPlane, infra_applied: dict[str, str]
) -> None:
    assert infra_applied["overlays/kfp-profile"] == "", infra_applied["overlays/kfp-profile"]
    reads = [
        ("get", "namespaces", None),
        ("list", "priorityclasses.scheduling.k8s.io", None),
        ("get", "resourcequotas", "ml-staging"),
        ("get", "resourcequotas", "ml-prod"),
        ("get", "inferenceservices.serving.kserve.io", "ml-staging"),
        ("get", "deployments.apps", "ml-staging"),
        ("list", "pods", "ml-staging"),
    ]
    for verb, resource, ns in reads:
        assert _can(cluster, verb, resource, ns), (verb, resource, ns)


def test_the_kfp_run_account_writes_nothing_signoff_guards(
    cluster: ControlPlane, infra_applied: dict[str, str]
) -> None:
    for ns in ("ml-staging", "ml-prod", "signoff-system"):
        for resource in ("inferenceservices.serving.kserve.io", "deployments.apps", "pods",
                         "prometheusrules.monitoring.coreos.com"):  # fmt: skip
            assert not _can(cluster, "create", resource, ns), (resource, ns)
        assert not _can(cluster, "get", "secrets", ns), ns
    assert not _can(cluster, "get", "inferenceservices.serving.kserve.io", "ml-prod")
