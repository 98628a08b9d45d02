"""Argo Workflows templates of the gated-promotion steps, built with Hera: thin wrappers around
:mod:`components.steps`.

The only module in ``components`` that imports hera. Every step is a container template running
``python -m components.steps STEP ...`` in the step image. Parameters reach the process as argv
items (Argo substitutes them into the container's ``args`` list, never into a shell or a script's
source), so a contract's text cannot change what runs.

Each template:

* runs under its owner's service account (``signoff-ml-step``, ``signoff-platform-step``,
  ``signoff-sre-step``, ``signoff-promoter``, created by ``infra/``; the optional ``deploy``
  template after promotion runs ``signoff deploy`` as ``signoff-deployer`` and mounts no key),
* mounts only its owner's key Secret (``signoff-key-<role>``, file ``key.pem``) read-only at
  ``/var/run/signoff/keys/<role>``,
* retries only transient failures: exit code 3 (``TemporaryError``: MLflow down, a timeout); a
  refused gate (exit 1) or bad input (exit 2) fails at once,
* carries the pod labels its network access depends on (:data:`POD_LABELS`: the SRE step's pods are
  labelled ``signoff.dev/step: sre``, the only label ``infra/base/network-policies.yaml`` lets
  reach the staging serving pods),
* hands its output folder (envelope, verdict, report, metrics, manifests) to the next step as an
  artifact ``out``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.steps import spec

__all__ = [
    "IN_DIR",
    "OUT_DIR",
    "RETRY_ON_TEMPORARY",
    "StepTemplates",
    "make_templates",
]

OUT_DIR = "/tmp/signoff/out"
IN_DIR = "/tmp/signoff/in"
RETRY_ON_TEMPORARY = "asInt(lastRetry.exitCode) == 3"
"""Retry only when the step exited 3 (``contracts.errors.TemporaryError``)."""
_PROCESS = ["python", "-m", "components.steps"]


@dataclass(frozen=True)
class StepTemplates:
    """The templates, keyed by step name (``ml-artifact``, ..., ``run-summary``)."""

    steps: dict[str, Any]
    summary: Any
    deploy: Any
    """The deployer's template (not a gate: it applies what promotion signed)."""


def _volume(role: str) -> Any:
    from hera.workflows import SecretVolume

    return SecretVolume(
        name=spec.key_secret(role),
        secret_name=spec.key_secret(role),
        mount_path=spec.key_mount(role),
        read_only=True,
        default_mode=0o440,
    )


def _retry() -> Any:
    from hera.workflows import RetryStrategy
    from hera.workflows.models import Backoff, IntOrString

    return RetryStrategy(
        limit="3",
        retry_policy="Always",
        expression=RETRY_ON_TEMPORARY,
        backoff=Backoff(duration="10s", factor=IntOrString("2"), max_duration="5m"),
    )


def _security() -> Any:
    from hera.workflows.models import Capabilities, SecurityContext

    return SecurityContext(
        allow_privilege_escalation=False,
        read_only_root_filesystem=False,
        run_as_non_root=True,
        capabilities=Capabilities(drop=["ALL"]),
    )


def _parameters(step: spec.StepSpec) -> list[Any]:
    """The template's input parameters (none for the onExit handler: see :func:`_step`)."""
    from hera.workflows import Parameter

    if step.name == "run-summary":
        return []
    return [Parameter(name=p) for p in step.params]


def _step(step: spec.StepSpec, image: str) -> Any:
    """A signoff step's container: ``python -m components.steps STEP --PARAM ... --input NAME=FILE``."""
    from hera.workflows import Artifact, Container

    summary = step.name == "run-summary"
    # The onExit handler has no inputs: Argo calls it with the workflow's own arguments, so inputs
    # named like workflow parameters take those values, and where a parameter has none (a template
    # with required parameters, as the Argo Server validates it) it refuses the template
    # ("templates.run-summary inputs.parameters.model-name was not supplied"). It reads the
    # workflow parameters directly instead.
    source = "workflow.parameters" if summary else "inputs.parameters"
    args: list[str] = [step.name]
    for param in step.params:
        args += [f"--{param}", f"{{{{{source}.{param}}}}}"]
    for i in step.inputs:
        args += ["--input", f"{i.name}={IN_DIR}/{i.step}/{spec.step(i.step).output_file(i.output)}"]
    if step.name == "run-summary":
        args += ["--status", "{{workflow.status}}", "--failures", "{{workflow.failures}}"]
    args += ["--out-dir", OUT_DIR]
    return Container(
        name=step.name,
        image=image,
        command=_PROCESS,
        args=args,
        inputs=_parameters(step) + [Artifact(name=up, path=f"{IN_DIR}/{up}") for up in step.upstream],
        outputs=None if summary else [Artifact(name="out", path=OUT_DIR)],
        service_account_name=step.service_account,
        labels=step.labels or None,
        volumes=[_volume(step.owner)] if step.owner else None,
        retry_strategy=_retry(),
        security_context=_security(),
    )


def _deploy(step: spec.StepSpec, image: str) -> Any:
    """``signoff deploy`` of the promotion step's ``deployable-manifests.yaml`` into production, with
    the SRE step's monitors and alert rules (``--observability``).

    Runs as ``signoff-deployer``, the only account ``infra/base/rbac.yaml`` lets write serving
    objects in ``ml-prod`` and the only identity the admission policy accepts for production GPU
    workloads. It mounts no signing key: it signs nothing, and the manifests it applies carry the
    promotion record's digest, which the admission policy checks.
    """
    from hera.workflows import Artifact, Container

    files = {i.name: f"{IN_DIR}/{i.step}/{spec.step(i.step).output_file(i.output)}" for i in step.inputs}
    args = [files["deployable_manifests"], "--observability", files["observability"]]
    args += ["--namespace", "{{inputs.parameters.production-namespace}}", "--production", "--wait"]
    args += ["--deadline", "{{inputs.parameters.deploy-deadline}}"]
    return Container(
        name=step.name,
        image=image,
        command=["python", "-m", "pipelines._cli.main", "deploy"],
        args=args,
        inputs=_parameters(step) + [Artifact(name=up, path=f"{IN_DIR}/{up}") for up in step.upstream],
        service_account_name=step.service_account,
        retry_strategy=_retry(),
        security_context=_security(),
    )


def make_templates(image: str) -> StepTemplates:
    """Build the step templates on the step image. Call inside a Hera ``WorkflowTemplate`` context.

    Args:
        image: the step image (``infra/docker/Dockerfile``).

    Returns:
        The templates; their ``name`` is the step name.
    """
    built = {s.name: _deploy(s, image) if s.name == "deploy" else _step(s, image) for s in spec.STEPS}
    return StepTemplates(
        steps={n: t for n, t in built.items() if n not in ("run-summary", "deploy")},
        summary=built["run-summary"],
        deploy=built["deploy"],
    )
