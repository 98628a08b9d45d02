"""RBAC of infra/ as the API server computes it, not as the YAML reads.

For every ServiceAccount in infra/base/service-accounts.yaml and every namespace infra/ creates,
``kubectl auth can-i --list --as system:serviceaccount:NS:NAME -n NAMESPACE`` (the built kubectl) must
equal the committed table tests/cluster/rbac/<account>.txt. Regenerate with ``--update-goldens``
(never in CI) and review the diff: it is the change of what each account may do.

Then the two rules the tables exist for, asked of the server directly:

* nobody but signoff-deployer may create GPU serving objects (InferenceService, Deployment, Pod,
  ReplicaSet, ...) in production (ml-prod);
* nobody of infra/'s accounts may create pods in signoff-system. The Argo/KFP workflow controllers,
  which do create the step pods there, are installed by their own charts: infra/ has no account for
  them, so "only the workflow controllers" cannot be checked here beyond "none of ours".
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from _controlplane import ControlPlane

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
TABLES = Path(__file__).resolve().parent / "rbac"
ACCOUNTS = [
    (d["metadata"]["namespace"], d["metadata"]["name"])
    for d in yaml.safe_load_all((ROOT / "infra" / "base" / "service-accounts.yaml").read_text())
    if d and d.get("kind") == "ServiceAccount"
]
NAMESPACES = [
    d["metadata"]["name"]
    for d in yaml.safe_load_all((ROOT / "infra" / "base" / "namespaces.yaml").read_text())
    if d and d.get("kind") == "Namespace"
]
DEPLOYER = ("signoff-system", "signoff-deployer")
# What "GPU serving" can be created as: each of these runs pods that can ask for GPUs.
SERVING = [
    "inferenceservices.serving.kserve.io",
    "deployments.apps",
    "replicasets.apps",
    "statefulsets.apps",
    "daemonsets.apps",
    "jobs.batch",
    "cronjobs.batch",
    "pods",
    "replicationcontrollers",
    "services.serving.knative.dev",
]
ORDINARY_USER = ("alice@example.com", ["ml-ranking"])


def _user(ns: str, name: str) -> str:
    return f"system:serviceaccount:{ns}:{name}"


def _can(
    cluster: ControlPlane, user: str, verb: str, resource: str, ns: str, groups: list[str] | None = None
) -> bool:
    args = ["auth", "can-i", verb, resource, "-n", ns, "--as", user]
    args += [f"--as-group={g}" for g in groups or []]
    proc = cluster.kubectl(*args, check=False)
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return answer == "yes"


def _table(cluster: ControlPlane, ns: str, name: str) -> str:
    parts = [f"# kubectl auth can-i --list --as {_user(ns, name)} -n NAMESPACE (infra/ applied)\n"]
    for namespace in NAMESPACES:
        out = cluster.kubectl("auth", "can-i", "--list", "--as", _user(ns, name), "-n", namespace).stdout
        lines = [" ".join(line.split()) for line in out.splitlines() if line.strip()]
        parts.append(f"\n## -n {namespace}\n" + "\n".join([lines[0], *sorted(lines[1:])]) + "\n")
    return "".join(parts)


def test_accounts_found() -> None:
    assert DEPLOYER in ACCOUNTS and len(ACCOUNTS) >= 5
    assert {"signoff-system", "ml-staging", "ml-prod"} <= set(NAMESPACES)


@pytest.mark.parametrize(("ns", "name"), ACCOUNTS, ids=[n for _, n in ACCOUNTS])
def test_account_grants_equal_the_table(
    cluster: ControlPlane, infra_applied: dict[str, str], request: pytest.FixtureRequest, ns: str, name: str
) -> None:
    text = _table(cluster, ns, name)
    path = TABLES / f"{name}.txt"
    if request.config.getoption("--update-goldens"):
        if os.environ.get("CI"):
            pytest.fail("--update-goldens is not allowed in CI")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"missing {path.relative_to(ROOT)}: run the cluster tests with --update-goldens"
    assert text == path.read_text(encoding="utf-8"), (
        f"{path.relative_to(ROOT)} differs from what the API server grants {name}: "
        "rerun with --update-goldens and review the diff"
    )


def test_only_the_deployer_creates_serving_in_production(
    cluster: ControlPlane, infra_applied: dict[str, str]
) -> None:
    allowed = {
        (name, resource)
        for ns, name in [*ACCOUNTS]
        for resource in SERVING
        if _can(cluster, _user(ns, name), "create", resource, "ml-prod")
    }
    user, groups = ORDINARY_USER
    allowed |= {(user, r) for r in SERVING if _can(cluster, user, "create", r, "ml-prod", groups)}
    assert {a for a, _ in allowed} <= {DEPLOYER[1]}, sorted(allowed)
    assert (DEPLOYER[1], "inferenceservices.serving.kserve.io") in allowed


def test_no_account_of_ours_creates_pods_in_signoff_system(
    cluster: ControlPlane, infra_applied: dict[str, str]
) -> None:
    creators = [
        name for ns, name in ACCOUNTS if _can(cluster, _user(ns, name), "create", "pods", "signoff-system")
    ]
    user, groups = ORDINARY_USER
    assert not _can(cluster, user, "create", "pods", "signoff-system", groups)
    assert creators == []
