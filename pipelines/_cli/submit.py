"""``signoff submit --engine kfp|argo``: start a gated-promotion run on a cluster.

* ``--engine kfp --host URL``: compiles the pipeline for ``--step-image`` and creates a run through
  the KFP client (``kfp.Client.create_run_from_pipeline_package``), caching off.
* ``--engine argo``: without ``--host``, prints the exact ``argo submit --from
  workflowtemplate/signoff-gated-promotion -p ...`` command (the WorkflowTemplate from ``infra/argo``
  must be installed); with ``--host URL`` (the Argo Server), submits a Workflow from that template
  through Hera's ``WorkflowsService``.

The documents travel as parameter values holding their YAML text, so no shared volume is needed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from components import kube
from components.steps import spec
from contracts import errors, model_uri
from contracts.loader import load_cluster_policy, load_contract, load_trust_policy
from pipelines import argo_workflow, kfp_pipeline


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the submit options."""
    parser.add_argument("--engine", choices=["kfp", "argo"], required=True)
    parser.add_argument("--contract", required=True, metavar="FILE", help="the workload contract (YAML)")
    parser.add_argument("--model", required=True, metavar="models:/NAME/VERSION")
    parser.add_argument("--policy", required=True, metavar="FILE", help="the cluster policy")
    parser.add_argument("--trust", required=True, metavar="FILE", help="the trust policy")
    parser.add_argument(
        "--image", required=True, metavar="IMAGE", help="the serving image (pinned by digest)"
    )
    parser.add_argument("--staging-url", required=True, metavar="URL", help="the staging endpoint SRE probes")
    parser.add_argument("--tracking-uri", default=None, metavar="URI", help="MLflow as the steps reach it")
    parser.add_argument(
        "--artifact-store", default="", metavar="URI", help="MLflow's artifact store as the cluster reads it"
    )
    parser.add_argument(
        "--probe-seconds",
        type=float,
        default=spec.param("probe-seconds").default,
        help="how long SRE loads the endpoint",
    )
    parser.add_argument(
        "--first-release", action="store_true",
        help="declare that the model has no earlier production version (else SRE needs a rollback target)",
    )  # fmt: skip
    parser.add_argument("--host", default=None, metavar="URL", help="KFP API / Argo Server URL")
    parser.add_argument(
        "--kube", action="store_true",
        help="Argo: create the Workflow through the Kubernetes API (kubeconfig or the pod's service "
        "account) instead of an Argo Server; needs only RBAC create workflows in the namespace",
    )  # fmt: skip
    parser.add_argument(
        "--namespace", default=None,
        help=f"namespace of the run (Argo: default {argo_workflow.TEMPLATE_NAMESPACE}, where infra/ installs "
        "the WorkflowTemplate; KFP: default kubeflow)",
    )  # fmt: skip
    parser.add_argument(
        "--step-image", default=None, metavar="IMAGE", help="KFP: the step image to compile in"
    )
    parser.add_argument(
        "--token", default=os.environ.get("ARGO_TOKEN"), help="Argo Server bearer token ($ARGO_TOKEN)"
    )
    parser.set_defaults(func=run)


def _params(ns: argparse.Namespace) -> dict[str, str]:

    name, version = model_uri.exact_version(ns.model)
    texts = {}
    docs = (
        ("--contract", ns.contract, load_contract),
        ("--policy", ns.policy, load_cluster_policy),
        ("--trust", ns.trust, load_trust_policy),
    )
    for flag, path, loader in docs:
        p = Path(path)
        if not p.is_file():
            raise errors.InputError(f"{flag}: {p} is not a file")
        loader(p)
        texts[flag] = p.read_text(encoding="utf-8")
    tracking = ns.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
    return {
        "model-name": name,
        "model-version": version,
        "contract": texts["--contract"],
        "cluster-policy": texts["--policy"],
        "trust-policy": texts["--trust"],
        "mlflow-tracking-uri": tracking,
        "image": ns.image,
        "staging-url": ns.staging_url,
        "artifact-store": ns.artifact_store,
        "probe-seconds": spec.param("probe-seconds").text(ns.probe_seconds),
        "first-release": spec.param("first-release").text(ns.first_release),
    }


def _kfp_value(name: str, value: str) -> str | float | bool:
    """A parameter as the KFP pipeline types it (Argo takes every parameter as a string)."""
    return spec.param(name).typed(value)


def _kfp(ns: argparse.Namespace, params: dict[str, str]) -> int:
    if ns.kube:
        raise errors.InputError("--kube is for --engine argo (KFP runs are created through the KFP API)")
    if not ns.host:
        raise errors.InputError("--host: the KFP API URL is needed for --engine kfp")

    run_id = kfp_pipeline.create_run(
        ns.host,
        ns.namespace,
        ns.step_image or kfp_pipeline.DEFAULT_STEP_IMAGE,
        {k.replace("-", "_"): _kfp_value(k, v) for k, v in params.items()},
        f"signoff {params['model-name']} v{params['model-version']}",
    )
    print(f"run {run_id} started: {ns.host.rstrip('/')}/#/runs/details/{run_id}")
    return 0


def _argo(ns: argparse.Namespace, params: dict[str, str]) -> int:

    namespace = ns.namespace or argo_workflow.TEMPLATE_NAMESPACE
    if ns.kube:
        if ns.host:
            raise errors.InputError("--kube creates the Workflow through the Kubernetes API: drop --host")
        name = kube.create_workflow(argo_workflow.submitted_workflow(params), namespace)
        print(f"workflow {name} submitted in {namespace}")
        return 0
    if not ns.host:
        docs = {"contract": ns.contract, "cluster-policy": ns.policy, "trust-policy": ns.trust}
        # Empty values are left out so the WorkflowTemplate's defaults apply.
        inline = {k: v for k, v in params.items() if k not in docs and v}
        print(argo_workflow.submit_line(inline, files=docs, namespace=namespace))
        return 0
    name = argo_workflow.submit_workflow(ns.host, ns.token, namespace, params)
    print(f"workflow {name} submitted in {namespace}")
    return 0


def run(ns: argparse.Namespace) -> int:
    """Submit (or print the submit command)."""
    params = _params(ns)
    return _kfp(ns, params) if ns.engine == "kfp" else _argo(ns, params)
