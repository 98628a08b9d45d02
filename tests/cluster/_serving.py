"""What the serving tests of the cluster tier share: example manifests and identities.

* :func:`manifests`: an example contract rendered by ``gates.render`` (the code ``signoff render``
  runs) for staging or production, promoted (``with_promotion``) when asked;
* :func:`token_kubeconfig`: a kubeconfig that authenticates as a service account with a token the
  API server issued for it (TokenRequest, ``kubectl create token``): the deployer's identity as it
  is in a pod, no impersonation;
* :func:`events_for` and :func:`pods_of`: what the controllers reported.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from _controlplane import ControlPlane
from _infra import ROOT

from contracts.cluster import ServingMode
from contracts.loader import load_cluster_policy, load_contract
from gates.render import Manifests, ModelRef, render, with_promotion

EXAMPLES = ROOT / "contracts" / "examples"
CONTRACTS = ("fraud-scorer", "recsys-ranker", "support-llm-70b")
IMAGE = "registry.example.com/ml/mlserver@sha256:" + "b" * 64
RECORD = "sha256:" + "3" * 64
DEPLOYER = "system:serviceaccount:signoff-system:signoff-deployer"


def model_ref(contract: str, version: str = "7") -> ModelRef:
    return ModelRef(
        name=contract,
        version=version,
        storage_uri=f"s3://models/{contract}/{version}",
        digest="sha256:" + "a" * 64,
    )


def manifests(
    contract: str,
    *,
    environment: str = "production",
    mode: ServingMode = ServingMode.DEPLOYMENT,
    promoted: bool = True,
) -> Manifests:
    """The example ``contract`` rendered as ``signoff render`` does; promoted adds the record digest."""
    loaded = load_contract(EXAMPLES / f"{contract}.yaml")
    policy = load_cluster_policy(EXAMPLES / "cluster-policy.yaml")
    out = render(loaded, policy, model_ref(loaded.metadata.model), IMAGE, environment=environment, mode=mode)  # type: ignore[arg-type]
    return with_promotion(out, RECORD) if promoted else out


def objects(m: Manifests) -> list[dict[str, Any]]:
    return [copy.deepcopy(o) for o in m.objects]


def write(path: Path, objs: list[dict[str, Any]] | Manifests) -> Path:
    docs = objects(objs) if isinstance(objs, Manifests) else objs
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return path


def token_kubeconfig(cluster: ControlPlane, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig for service account ``namespace/account`` with a token the API server issued."""
    token = cluster.kubectl("create", "token", account, "-n", namespace, "--duration=2h").stdout.strip()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "test",
                "cluster": {"server": cluster.server, "certificate-authority": str(cluster.pki / "ca.crt")},
            }
        ],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": account}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(0o600)
    return path


def get(cluster: ControlPlane, *what: str, namespace: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl("get", *what, "-n", namespace, "-o", "json").stdout)


def pods_of(cluster: ControlPlane, namespace: str, selector: str) -> list[dict[str, Any]]:
    return list(get(cluster, "pods", "-l", selector, namespace=namespace)["items"])


def events_for(cluster: ControlPlane, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
    out = get(
        cluster,
        "events",
        f"--field-selector=involvedObject.kind={kind},involvedObject.name={name}",
        namespace=namespace,
    )
    return list(out["items"])


def diagnostics(cluster: ControlPlane, namespace: str) -> str:
    """What a failing assertion should show: the namespace's workloads, pods and events."""
    listing = cluster.kubectl("get", "deploy,rs,pods", "-n", namespace, "-o", "wide", check=False).stdout
    events = cluster.kubectl("get", "events", "-n", namespace, check=False).stdout
    return f"{listing}\n{events}"
