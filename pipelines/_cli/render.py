"""``signoff render``: render the serving manifests (and observability objects) of a model version.

    signoff render CONTRACT --policy POLICY --model models:/NAME/VERSION --image IMAGE --out DIR
        [--storage-uri URI] [--model-digest sha256:...] [--environment staging|production]
        [--mode kserve|deployment]

Writes ``DIR/manifests.yaml`` (and, where the SRE observability renderer is installed,
``DIR/observability.yaml`` and ``DIR/alertmanager.yaml``) and prints a summary. The argument
helpers here are shared with ``signoff check platform``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from contracts import _yaml, model_uri
from contracts.cluster import ClusterPolicy, ServingMode
from contracts.errors import InputError
from contracts.loader import load_cluster_policy, load_contract
from contracts.workload import WorkloadContract
from gates import observability
from gates.render import STORAGE_SCHEMES, Manifests, ModelRef, render


@dataclass(frozen=True)
class Inputs:
    """What ``render`` and ``check platform`` read from the command line."""

    contract: WorkloadContract
    policy: ClusterPolicy
    model: ModelRef
    image: str
    environment: str
    mode: ServingMode


def add_inputs(parser: argparse.ArgumentParser) -> None:
    """The arguments shared by ``signoff render`` and ``signoff check platform``."""
    parser.add_argument("contract", metavar="CONTRACT", help="workload contract (.yaml or .md)")
    parser.add_argument("--policy", required=True, metavar="POLICY", help="cluster policy document")
    parser.add_argument(
        "--model",
        required=True,
        metavar="models:/NAME/VERSION",
        help="the model version (a version number, no alias)",
    )
    parser.add_argument(
        "--image", required=True, metavar="IMAGE", help="serving image, pinned by @sha256 digest"
    )
    parser.add_argument(
        "--storage-uri",
        metavar="URI",
        help="immutable location of the version's artifacts (s3://, gs://, pvc://, https://)",
    )
    parser.add_argument("--model-digest", metavar="sha256:HEX", help="digest of the model's file manifest")
    parser.add_argument("--environment", choices=("staging", "production"), default="production")
    parser.add_argument(
        "--mode", choices=("kserve", "deployment"), help="serving mode (default: the policy's)"
    )


def _from_registry(name: str, version: str) -> tuple[str, str]:
    """Storage URI and digest of a version from the MLflow registry."""
    from components import mlflow_registry  # the registry's adapter: only when the flags do not say

    uri, digest = mlflow_registry.resolve_serving_ref(name, version)
    return str(uri), str(digest)


def _fetchable_or_say_how(found_uri: str, name: str, version: str) -> None:
    """Refuse a registry location a cluster cannot fetch (a plain local MLflow's file artifacts),
    with the exact commands that fix it: copy the files where KServe's storage initializer reads
    them, and name that place with ``--storage-uri``."""
    import shlex
    import sys

    if found_uri.startswith(STORAGE_SCHEMES):
        return
    folder = found_uri.removeprefix("file://")
    target = f"s3://YOUR-BUCKET/models/{name}/{version}"
    again = shlex.join(["signoff", *sys.argv[1:], "--storage-uri", target])
    raise InputError(
        f"models:/{name}/{version} is stored at {found_uri}, a folder of this machine (a local MLflow "
        "with file artifacts) that no cluster can fetch. Copy it where KServe's storage initializer "
        f"reads ({', '.join(STORAGE_SCHEMES)}) and name that place, e.g.:\n"
        f"  aws s3 cp --recursive {shlex.quote(folder)} {target}\n"
        f"  {again}"
    )


def load_inputs(ns: argparse.Namespace) -> Inputs:
    """Load and check every input; raises ``InputError`` naming the argument or field."""
    from pydantic import ValidationError

    for flag, path in (("CONTRACT", ns.contract), ("--policy", ns.policy)):
        if not Path(path).is_file():
            raise InputError(f"{flag}: {path} is not a file")
    contract = load_contract(ns.contract)
    policy = load_cluster_policy(ns.policy)
    name, version = model_uri.exact_version(ns.model)
    storage_uri, digest = ns.storage_uri, ns.model_digest
    if storage_uri is None or digest is None:
        found_uri, found_digest = _from_registry(name, version)
        if storage_uri is None:
            _fetchable_or_say_how(found_uri, name, version)
        storage_uri, digest = storage_uri or found_uri, digest or found_digest
    try:
        model = ModelRef(name=name, version=version, storage_uri=storage_uri, digest=digest)
    except ValidationError as exc:
        flags = {
            "name": "--model",
            "version": "--model",
            "storage_uri": "--storage-uri",
            "digest": "--model-digest",
        }
        lines = [
            f"{flags.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise InputError("; ".join(lines)) from None
    mode = ServingMode(ns.mode) if ns.mode else policy.spec.serving
    return Inputs(contract, policy, model, ns.image, ns.environment, mode)


def render_inputs(inputs: Inputs) -> Manifests:
    """Render the manifests of the inputs."""

    env: Literal["staging", "production"] = "staging" if inputs.environment == "staging" else "production"
    return render(
        inputs.contract, inputs.policy, inputs.model, inputs.image, environment=env, mode=inputs.mode
    )


def _observability(inputs: Inputs, namespace: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The SRE side of the rendering: monitors and alert rules, and the Alertmanager routes."""
    return (
        observability.render_observability(
            inputs.contract, namespace=namespace, mode=inputs.mode, policy=inputs.policy
        ),
        observability.alertmanager_config(inputs.contract),
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff render``."""
    add_inputs(parser)
    parser.add_argument(
        "--out", required=True, metavar="DIR", type=Path, help="folder to write manifests.yaml to"
    )
    parser.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    """Render and write the manifests; print a summary."""

    inputs = load_inputs(ns)
    manifests = render_inputs(inputs)
    out: Path = ns.out
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifests.yaml").write_text(manifests.to_yaml(), encoding="utf-8")
    written = ["manifests.yaml"]
    namespace = str(manifests.objects[0]["metadata"]["namespace"])
    objects, alertmanager = _observability(inputs, namespace)
    text = _yaml.dump_block_all(objects)
    (out / "observability.yaml").write_text(text, encoding="utf-8")
    (out / "alertmanager.yaml").write_text(
        _yaml.dump_block(alertmanager),
        encoding="utf-8",
    )
    written += ["observability.yaml", "alertmanager.yaml"]
    kinds = ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in manifests.objects)
    model = f"models:/{inputs.model.name}/{inputs.model.version}"
    print(f"rendered {inputs.contract.name} ({inputs.mode.value}) for {model}")
    print(f"  namespace: {namespace}")
    print(f"  objects:   {kinds}")
    print(f"  digest:    {manifests.digest()}")
    print(f"  wrote:     {', '.join(str(out / w) for w in written)}")
    gpu = inputs.contract.spec.resources.gpu
    if gpu is not None and inputs.policy.spec.gpu(gpu.product) is None:
        print(
            f"  warning:   GPU product {gpu.product} is not in the cluster policy; the platform gate refuses"
        )
    return 0
