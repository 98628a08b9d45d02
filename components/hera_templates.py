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

__all__ = [
    "DEPLOY_INPUTS",
    "KEY_MOUNT",
    "KEY_SECRETS",
    "OUT_DIR",
    "POD_LABELS",
    "SERVICE_ACCOUNTS",
    "STEP_OWNER",
    "StepTemplates",
    "make_templates",
]

KEY_MOUNT = "/var/run/signoff/keys"
KEY_SECRETS = {"ml": "signoff-key-ml", "platform": "signoff-key-platform", "sre": "signoff-key-sre"}
"""Owner role -> the Secret with that owner's private key (``key.pem``)."""
SERVICE_ACCOUNTS = {
    "ml-artifact": "signoff-ml-step",
    "platform": "signoff-platform-step",
    "sre-readiness": "signoff-sre-step",
    "promotion": "signoff-promoter",
    "rollback-check": "signoff-promoter",
    "run-summary": "signoff-promoter",
    "deploy": "signoff-deployer",
}
"""Template -> its service account."""
STEP_OWNER: dict[str, str | None] = {
    "ml-artifact": "ml",
    "platform": "platform",
    "sre-readiness": "sre",
    "promotion": "ml",
    "rollback-check": None,
    "run-summary": None,
    "deploy": None,
}
"""Template -> the owner role whose key it mounts (none: the step signs nothing)."""
POD_LABELS: dict[str, dict[str, str]] = {"sre-readiness": {"signoff.dev/step": "sre"}}
"""Template -> its pods' labels. ``infra/base/network-policies.yaml`` lets only pods labelled
``signoff.dev/step: sre`` (in ``signoff-system``) reach the staging serving pods, for the live probe;
no other step carries it."""
OUT_DIR = "/tmp/signoff/out"
IN_DIR = "/tmp/signoff/in"
RETRY_ON_TEMPORARY = "asInt(lastRetry.exitCode) == 3"
"""Retry only when the step exited 3 (``contracts.errors.TemporaryError``)."""

_INPUTS: dict[str, tuple[str, ...]] = {
    "ml-artifact": ("model-name", "model-version", "contract", "cluster-policy", "mlflow-tracking-uri",
                    "artifact-store"),
    "platform": ("model-name", "model-version", "contract", "cluster-policy", "trust-policy",
                 "mlflow-tracking-uri", "image"),
    "sre-readiness": ("model-name", "model-version", "contract", "cluster-policy", "trust-policy",
                      "mlflow-tracking-uri", "image", "staging-url", "probe-seconds", "first-release"),
    "promotion": ("model-name", "model-version", "contract", "trust-policy", "mlflow-tracking-uri"),
    "rollback-check": ("model-name", "model-version", "contract", "mlflow-tracking-uri"),
}  # fmt: skip
"""Each step's input parameters (the workflow parameters it needs, nothing more)."""
UPSTREAM: dict[str, tuple[str, ...]] = {
    "ml-artifact": (),
    "platform": ("ml-artifact",),
    "sre-readiness": ("platform",),
    "promotion": ("ml-artifact", "platform", "sre-readiness"),
    "rollback-check": (),
}
"""Each step's input artifacts: the output folders of these upstream steps."""


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
        name=f"signoff-key-{role}",
        secret_name=KEY_SECRETS[role],
        mount_path=f"{KEY_MOUNT}/{role}",
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


def _step(name: str, image: str) -> Any:
    from hera.workflows import Artifact, Container, Parameter

    args: list[str] = [name]
    for param in _INPUTS[name]:
        args += [f"--{param}", f"{{{{inputs.parameters.{param}}}}}"]
    args += [arg for up in UPSTREAM[name] for arg in ("--in-dir", f"{IN_DIR}/{up}")]
    args += ["--out-dir", OUT_DIR]
    role = STEP_OWNER[name]
    return Container(
        name=name,
        image=image,
        command=["python", "-m", "components.steps"],
        args=args,
        inputs=[Parameter(name=p) for p in _INPUTS[name]]
        + [Artifact(name=up, path=f"{IN_DIR}/{up}") for up in UPSTREAM[name]],
        outputs=[Artifact(name="out", path=OUT_DIR)],
        service_account_name=SERVICE_ACCOUNTS[name],
        labels=POD_LABELS.get(name),
        volumes=[_volume(role)] if role else None,
        retry_strategy=_retry(),
        security_context=_security(),
        env=None,
    )


def _summary(image: str) -> Any:
    from hera.workflows import Container

    params = ("model-name", "model-version", "trust-policy", "mlflow-tracking-uri")
    args = ["--status", "{{workflow.status}}", "--failures", "{{workflow.failures}}"]
    for p in params:
        args += [f"--{p}", f"{{{{workflow.parameters.{p}}}}}"]
    return Container(
        name="run-summary",
        image=image,
        command=["python", "-m", "components.steps", "run-summary"],
        args=[*args, "--out-dir", OUT_DIR],
        # No inputs: Argo calls the onExit handler with the workflow's own arguments, so inputs named
        # like workflow parameters take those values, and where a parameter has none (a template
        # with required parameters, as the Argo Server validates it) it refuses the template
        # ("templates.run-summary inputs.parameters.model-name was not supplied"). The handler
        # reads the workflow parameters directly instead.
        service_account_name=SERVICE_ACCOUNTS["run-summary"],
        retry_strategy=_retry(),
        security_context=_security(),
    )


DEPLOY_INPUTS = ("production-namespace", "deploy-deadline")
"""The deploy template's input parameters."""


def _deploy(image: str) -> Any:
    """``signoff deploy`` of the promotion step's ``deployable-manifests.yaml`` into production.

    Runs as ``signoff-deployer``, the only account ``infra/base/rbac.yaml`` lets write serving
    objects in ``ml-prod`` and the only identity the admission policy accepts for production GPU
    workloads. It mounts no signing key: it signs nothing, and the manifests it applies carry the
    promotion record's digest, which the admission policy checks.
    """
    from hera.workflows import Artifact, Container, Parameter

    args = [f"{IN_DIR}/promotion/deployable-manifests.yaml"]
    args += ["--namespace", "{{inputs.parameters.production-namespace}}", "--production", "--wait"]
    args += ["--deadline", "{{inputs.parameters.deploy-deadline}}"]
    return Container(
        name="deploy",
        image=image,
        command=["python", "-m", "pipelines._cli.main", "deploy"],
        args=args,
        inputs=[Parameter(name=p) for p in DEPLOY_INPUTS]
        + [Artifact(name="promotion", path=f"{IN_DIR}/promotion")],
        service_account_name=SERVICE_ACCOUNTS["deploy"],
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
    return StepTemplates(
        steps={n: _step(n, image) for n in _INPUTS}, summary=_summary(image), deploy=_deploy(image)
    )
