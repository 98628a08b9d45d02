"""Fixtures of the ``cluster`` tests: ONE real Kubernetes control plane per test session.

``cluster_bin`` is the folder of the binaries built by ``tools/cluster/build`` (``make cluster-tools``;
the Makefile exports it as ``SIGNOFF_CLUSTER_BIN``). A missing binary fails the test with the command
that builds it: it is never a skip.

``cluster`` starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on loopback
(see ``_controlplane``), with its kubeconfig and the components' logs in a pytest temporary folder,
which pytest keeps after the run (the logs are the evidence when something failed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _controlplane import ClusterError, ControlPlane, find_bin_dir
from _infra import ROOT, crd_files, infra_entry_points
from _serving import token_kubeconfig

UPSTREAM_NAMESPACES = ("kserve", "knative-serving")


@pytest.fixture(scope="session")
def cluster_bin() -> Path:
    """The built control-plane binaries (fails, never skips, when they are missing)."""
    try:
        return find_bin_dir()
    except ClusterError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def cluster(cluster_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A running control plane with a Ready GPU node and a Ready CPU node (kwok)."""
    cp = ControlPlane(cluster_bin, tmp_path_factory.mktemp("cluster"))
    try:
        cp.start()
    except ClusterError as exc:
        pytest.fail(f"the control plane did not start (logs in {cp.workdir}): {exc}", pytrace=False)
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def crds(cluster: ControlPlane, shared_schemas: Path) -> list[str]:
    """Install the CRDs (server-side apply) and wait until each is Established; returns their names."""
    names = []
    for path in crd_files(shared_schemas):
        out = cluster.kubectl("apply", "--server-side", "-f", str(path), "-o", "name").stdout.split()
        names += [n.removeprefix("customresourcedefinition.apiextensions.k8s.io/") for n in out]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in names))
    return names


@pytest.fixture(scope="session")
def policies(cluster: ControlPlane, crds: list[str]) -> list[dict[str, object]]:
    """infra/policies/* applied (with the priority classes the cases' pods name); waits until the
    API server has type-checked each ValidatingAdmissionPolicy and returns their stored objects."""
    cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "infra" / "base" / "priority-classes.yaml"))
    # the binding's parameters (trusted-controllers.yaml) live in signoff-system, which infra/base makes
    cluster.kubectl("create", "namespace", "signoff-system", check=False)
    names = []
    for folder in sorted((ROOT / "infra" / "policies").iterdir()):
        if (folder / "kustomization.yaml").is_file():
            out = cluster.kubectl("apply", "--server-side", "-k", str(folder), "-o", "name").stdout.split()
            names += [n.split("/", 1)[1] for n in out if n.startswith("validatingadmissionpolicy.")]
    stored: dict[str, dict[str, object]] = {}

    def checked() -> bool:
        for name in names:
            status, body = cluster.request(
                "GET", f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{name}"
            )
            st = body.get("status") or {}
            if status != 200 or st.get("observedGeneration") != body["metadata"]["generation"]:
                return False
            if "typeChecking" not in st:
                return False
            stored[name] = body
        return True

    cluster.wait_for("the ValidatingAdmissionPolicies' type checking", checked, deadline_s=60)
    # a binding takes effect once the API server's policy informer has it: wait for one denial
    wait_policies_enforced(cluster)
    return list(stored.values())


def wait_policies_enforced(cluster: ControlPlane) -> None:
    """Wait until the require-promotion policy denies an unpromoted GPU Deployment in a production
    namespace (policy and binding reach the admission plugin asynchronously)."""
    import _admission

    _admission.ensure_namespace(cluster, "policy-probe", {"signoff.dev/environment": "production"})
    probe = _admission.gpu_deployment("policy-probe", "probe")

    def denies() -> bool:
        status, body = cluster.request(
            "POST", "/apis/apps/v1/namespaces/policy-probe/deployments?dryRun=All", probe
        )
        return status >= 400 and "ValidatingAdmissionPolicy" in str(body.get("message"))

    cluster.wait_for("the admission policies to be enforced", denies, deadline_s=60)


@pytest.fixture(scope="session")
def infra_applied(
    cluster: ControlPlane, crds: list[str], policies: list[dict[str, object]]
) -> dict[str, str]:
    """``kubectl apply --server-side -k`` of every infra/ entry point, in order; maps each entry point
    (relative to infra/) to kubectl's error output, "" when it applied."""
    # infra/kserve and infra/knative configure KServe's and Knative's own installs, whose namespaces
    # those installs create; the CRDs stand in for the rest of them
    for namespace in UPSTREAM_NAMESPACES:
        cluster.kubectl("create", "namespace", namespace, check=False)
    results = {}
    for entry in infra_entry_points():
        proc = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(entry), check=False)
        results[str(entry.relative_to(ROOT / "infra"))] = proc.stderr if proc.returncode else ""
    # The promotion webhook's server (signoff admission serve) runs only in test_promotion_webhook,
    # which registers the shipped configuration with a loopback URL. Left registered without its
    # server, failurePolicy Fail refuses every promoted production object (fail closed, as in a
    # cluster whose webhook is down), which is not what the other tests are about.
    cluster.kubectl("delete", "validatingwebhookconfiguration", "signoff-verify-promotion", check=False)
    return results


@pytest.fixture(scope="session")
def deployer(
    cluster: ControlPlane, infra_applied: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A kubeconfig with a token the API server issued to signoff-system/signoff-deployer (the
    deployer's identity as it is in its pod: no impersonation)."""
    assert infra_applied["base"] == "", infra_applied["base"]
    folder = tmp_path_factory.mktemp("deployer")
    return token_kubeconfig(cluster, "signoff-system", "signoff-deployer", folder / "kubeconfig")


@pytest.fixture(scope="session")
def sre_step(
    cluster: ControlPlane, infra_applied: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The SRE step's account: it may read serving objects in staging, never write them."""
    folder = tmp_path_factory.mktemp("sre")
    return token_kubeconfig(cluster, "signoff-system", "signoff-sre-step", folder / "kubeconfig")
