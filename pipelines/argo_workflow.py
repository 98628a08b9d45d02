"""The gated-promotion pipeline for Argo Workflows: a WorkflowTemplate and the Workflow form.

``signoff-gated-promotion`` runs ML artifact -> platform -> SRE readiness -> promotion -> rollback
check as a DAG where every gate edge is ``depends: "<gate>.Succeeded"`` (a bare ``depends`` would
also run after a skipped or, with ``continueOn``, a failed gate). No ``continueOn``, no memoization
(a verdict is about now: expiry, the live probe, the registry). An ``onExit`` template writes the
run summary. Each template runs under its owner's service account with only its owner's key
mounted (see :mod:`components.hera_templates`).

Parameters: ``model-name``, ``model-version``, ``contract``, ``cluster-policy``, ``trust-policy`` (the
documents' YAML text), ``mlflow-tracking-uri``, ``image`` (the serving image the platform renders),
``staging-url`` (the staging endpoint SRE probes), ``probe-seconds`` (how long it loads it),
``first-release`` (``true`` declares that no earlier production version exists; by default the SRE
gate refuses a model with no production version to roll back to),
``artifact-store`` (the MLflow artifact store as the serving cluster reads it, e.g.
``s3://mlflow-artifacts``: MLflow's proxied ``mlflow-artifacts:/`` paths are mapped onto it),
``deploy`` (``false`` by default; ``true`` adds the deploy task), ``production-namespace``
(``ml-prod``) and ``deploy-deadline`` (``10m``).

Artifacts: each gate passes its signed results to the next as an output artifact, which Argo stores
in an artifact repository. Without one, the controller still creates the pods and every step then
fails saving its outputs ("You need to configure artifact storage"), so the template names the
repository explicitly: :data:`ARTIFACT_REPOSITORY` (the ConfigMap ``infra/argo`` ships, key
``default``). A namespace without it fails the Workflow at its start, by name.

Deploy: with ``deploy=true``, a ``deploy`` task after ``promotion.Succeeded`` runs ``signoff deploy``
of the promotion step's ``deployable-manifests.yaml`` (what platform signed, stamped with the
promotion record's digest) into ``production-namespace`` with ``--production --wait``, as the
``signoff-deployer`` service account, with no signing key mounted. With the default it is skipped,
so existing users see no change.
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from components import hera_templates
from components.steps import spec
from contracts import errors
from pipelines import images

__all__ = [
    "ARTIFACT_REPOSITORY",
    "DEPLOY_WHEN",
    "PARAMETERS",
    "TEMPLATE_NAME",
    "TEMPLATE_NAMESPACE",
    "build_workflow",
    "build_workflow_template",
    "submit_line",
    "submit_workflow",
    "submitted_workflow",
    "to_yaml",
]

TEMPLATE_NAME = "signoff-gated-promotion"
TEMPLATE_NAMESPACE = "signoff-system"
"""Where ``infra/`` installs the WorkflowTemplate (both overlays), beside the step accounts and key
Secrets: ``signoff submit --engine argo`` submits there unless told otherwise."""
ARTIFACT_REPOSITORY = ("signoff-artifact-repositories", "default")
"""The artifact repository the template names: ConfigMap (in the Workflow's namespace, else the
controller's) and key; ``infra/argo/artifact-repositories.yaml`` ships it."""
PARAMETERS: tuple[tuple[str, str | None, str], ...] = tuple(
    (p.name, p.argo_default, p.help) for p in spec.PARAMETERS
)
"""Workflow parameters: name, default (none: required at submit), description (from the step spec)."""
DEPLOY_WHEN = "{{= workflow.parameters.deploy == 'true'}}"
"""The deploy task runs only when the ``deploy`` parameter is the string ``true`` (an expr
comparison of the value as a string: nothing in it is evaluated)."""


def _build(cls: Any, image: str, **meta: Any) -> Any:
    from hera.workflows import DAG, Parameter, Task
    from hera.workflows.models import Arguments, ArtifactRepositoryRef, PodSecurityContext
    from hera.workflows.models import Parameter as ParameterModel

    params = [
        Parameter(name=n, description=d) if v is None else Parameter(name=n, value=v, description=d)
        for n, v, d in PARAMETERS
    ]
    with cls(
        entrypoint="gated-promotion",
        on_exit="run-summary",
        arguments=params,
        security_context=PodSecurityContext(run_as_non_root=True, run_as_user=10001, fs_group=10001),
        artifact_repository_ref=ArtifactRepositoryRef(
            config_map=ARTIFACT_REPOSITORY[0], key=ARTIFACT_REPOSITORY[1]
        ),
        **meta,
    ) as w:
        # Templates are added to the workflow as they are built (Hera's context); the summary is
        # the onExit handler, its inputs defaulted from the workflow parameters.
        templates = hera_templates.make_templates(image)
        with DAG(name="gated-promotion"):
            for step in spec.STEPS:
                if step.name == "run-summary":
                    continue
                template = templates.deploy if step.name == "deploy" else templates.steps[step.name]
                Task(
                    name=step.name,
                    template=template,
                    arguments=Arguments(
                        parameters=[
                            ParameterModel(name=p, value=f"{{{{workflow.parameters.{p}}}}}")
                            for p in step.params
                        ],
                        artifacts=[_from_task(up) for up in step.upstream] or None,
                    ),
                    depends=f"{step.after}.Succeeded" if step.after else None,
                    when=DEPLOY_WHEN if step.name == "deploy" else None,
                )
    return w


def _from_task(upstream: str) -> Any:
    from hera.workflows.models import Artifact

    return Artifact(name=upstream, from_=f"{{{{tasks.{upstream}.outputs.artifacts.out}}}}")


def build_workflow_template(image: str) -> Any:
    """The ``WorkflowTemplate`` (Hera object) named ``signoff-gated-promotion``.

    Args:
        image: the step image.

    Returns:
        A ``hera.workflows.WorkflowTemplate``.
    """
    from hera.workflows import WorkflowTemplate

    return _build(WorkflowTemplate, image, name=TEMPLATE_NAME)


def build_workflow(image: str) -> Any:
    """The one-off ``Workflow`` form (``argo submit FILE -p ...``), same DAG and templates.

    Args:
        image: the step image.

    Returns:
        A ``hera.workflows.Workflow`` with ``generateName``.
    """
    from hera.workflows import Workflow

    return _build(Workflow, image, generate_name=f"{TEMPLATE_NAME}-")


def submitted_workflow(params: dict[str, str]) -> dict[str, Any]:
    """The Workflow ``signoff submit --engine argo --host ...`` creates: the WorkflowTemplate by
    reference, with the given parameter values (empty ones left out, so the template's defaults apply).

    Args:
        params: parameter name -> value.

    Returns:
        The Workflow as a plain document (``generateName``, ``workflowTemplateRef``, ``arguments``).
    """
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"{TEMPLATE_NAME}-"},
        "spec": {
            "workflowTemplateRef": {"name": TEMPLATE_NAME},
            "arguments": {"parameters": [{"name": k, "value": v} for k, v in params.items() if v]},
        },
    }


def to_yaml(workflow: Any) -> str:
    """Serialise a Hera workflow to YAML with the safe dumper (keys in Argo's order); a step image
    with the placeholder digest is called out in the header."""
    header = "# Generated by `signoff compile --engine argo`: do not edit; recompile instead.\n"
    named = {t.get("container", {}).get("image", "") for t in workflow.to_dict()["spec"]["templates"]}
    placeholder = sorted(i for i in named if images.PLACEHOLDER_DIGEST in i)
    if placeholder:
        header += images.placeholder_note(placeholder[0])
    return header + yaml.safe_dump(workflow.to_dict(), sort_keys=False, default_flow_style=False, width=1000)


def submit_line(
    params: dict[str, str], *, files: dict[str, str] | None = None, namespace: str | None = None
) -> str:
    """The exact ``argo submit --from workflowtemplate/signoff-gated-promotion`` command line for a shell.

    Args:
        params: parameter values given inline (``-p name=value``, each quoted for the shell).
        files: parameters whose value is a file's text (``-p name="$(cat -- FILE)"``): the documents.
        namespace: the namespace (``-n``), if any.

    Returns:
        One shell command line.
    """
    parts = ["argo", "submit", "--from", shlex.quote(f"workflowtemplate/{TEMPLATE_NAME}")]
    if namespace:
        parts += ["-n", shlex.quote(namespace)]
    for name, path in (files or {}).items():
        parts += ["-p", f'{name}="$(cat -- {shlex.quote(path)})"']
    for name, value in params.items():
        parts += ["-p", shlex.quote(f"{name}={value}")]
    return " ".join(parts)


def submit_workflow(host: str, token: str | None, namespace: str, params: dict[str, str]) -> str:
    """Submit a Workflow from the installed ``signoff-gated-promotion`` WorkflowTemplate through the
    Argo Server at ``host`` (Hera's ``WorkflowsService``); empty values are left to the template's
    defaults.

    Returns:
        The new workflow's name.

    Raises:
        TemporaryError: the Argo Server did not accept the workflow.
    """
    from hera.workflows import WorkflowsService
    from hera.workflows.models import Workflow, WorkflowCreateRequest

    workflow = Workflow.model_validate(submitted_workflow(params))
    service = WorkflowsService(host=host, token=token, namespace=namespace)
    try:
        created = service.create_workflow(WorkflowCreateRequest(workflow=workflow), namespace=namespace)
    except Exception as exc:  # requests / HTTP errors from the Argo Server
        raise errors.TemporaryError(f"the Argo Server at {host} did not accept the workflow: {exc}") from None
    return str(created.metadata.name)
