"""``signoff compile --engine kfp|argo --image IMAGE --out DIR``: write the compiled pipeline.

* ``kfp``: ``gated-promotion.kfp.yaml`` (the pipeline spec and the kubernetes platform spec that
  mounts each owner's key Secret into that owner's task only).
* ``argo``: ``gated-promotion.argo-workflowtemplate.yaml`` (the ``signoff-gated-promotion``
  WorkflowTemplate) and ``gated-promotion.argo-workflow.yaml`` (the Workflow form for ``argo submit``).

The committed files in ``pipelines/compiled/`` are these outputs for the default image; a test fails
when they are stale (``signoff compile --engine kfp --out pipelines/compiled`` and the same for argo
regenerate them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from contracts import errors
from pipelines import argo_workflow, kfp_pipeline
from pipelines.kfp_pipeline import DEFAULT_STEP_IMAGE

KFP_FILE = "gated-promotion.kfp.yaml"
ARGO_TEMPLATE_FILE = "gated-promotion.argo-workflowtemplate.yaml"
ARGO_WORKFLOW_FILE = "gated-promotion.argo-workflow.yaml"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the compile options."""
    parser.add_argument(
        "--engine", choices=["kfp", "argo"], required=True, help="which engine to compile for"
    )
    parser.add_argument(
        "--image",
        default=DEFAULT_STEP_IMAGE,
        help="the step image, pinned by digest (default: ghcr.io/signoff-dev/signoff-step with an "
        "all-zero PLACEHOLDER digest; pass your pushed image's digest)",
    )
    parser.add_argument(
        "--out", metavar="DIR", type=Path, default=Path("."), help="output folder (default: .)"
    )
    parser.set_defaults(func=run)


def compile_to(engine: str, image: str, out: Path) -> list[Path]:
    """Compile for one engine into ``out``; returns the files written."""
    if not image.strip() or any(ch.isspace() for ch in image):
        raise errors.InputError(
            f"--image {image!r} is not an image reference (no spaces; e.g. registry/name@sha256:...)"
        )
    out.mkdir(parents=True, exist_ok=True)
    if engine == "kfp":
        path = out / KFP_FILE
        kfp_pipeline.compile_pipeline(image, str(path))
        return [path]

    template, workflow = out / ARGO_TEMPLATE_FILE, out / ARGO_WORKFLOW_FILE
    template.write_text(argo_workflow.to_yaml(argo_workflow.build_workflow_template(image)), encoding="utf-8")
    workflow.write_text(argo_workflow.to_yaml(argo_workflow.build_workflow(image)), encoding="utf-8")
    return [template, workflow]


def run(ns: argparse.Namespace) -> int:
    """Compile and print the files written."""
    for path in compile_to(ns.engine, ns.image, ns.out):
        print(path)
    return 0
