"""The gated-promotion pipeline for Kubeflow Pipelines.

ML artifact -> Platform -> SRE readiness -> promotion -> rollback check, chained by data (each gate
consumes the previous gate's signed envelope), so a refused gate fails the run and nothing
downstream runs. Gate tasks never use KFP's cache: a verdict is about *now* (expiry, the live
probe, the registry's state). An exit handler writes a run summary whatever happened.

Separation of duties: each gate task mounts only its owner's signing key (a Secret per task:
``signoff-key-ml``, ``signoff-key-platform``, ``signoff-key-sre``). KFP v2 has no per-task service
account: every task of a run uses the run's service account, so the Secrets must be readable by that
account and a pipeline author could mount another owner's key in a pipeline of their own. In the
cluster, separation of duties therefore comes from who may *run* pipelines that mount a key (KFP
profiles / namespaces per team, RBAC on the Secrets) or, with one account per step, from the Argo
WorkflowTemplate (``pipelines/argo_workflow.py``), where each template has its own account.

Deploy: with ``deploy=True`` a last task runs ``signoff deploy`` of the promotion's deployable
manifests into ``production_namespace`` (``--production --wait --deadline deploy_deadline``). It
mounts no key but, KFP having no per-task service account, it runs as the run's account, not as
``signoff-deployer``: that account then needs the deployer's rights in production, which is why
it is off by default and why the Argo template (its deploy task runs as ``signoff-deployer``) is
the recommended way to deploy. Local runs (``kfp.local``) never deploy.
"""

import inspect
from typing import Any

from components.steps import spec
from contracts import errors
from pipelines.images import DEFAULT_STEP_IMAGE, PLACEHOLDER_DIGEST, placeholder_note

PIPELINE_NAME = "signoff-gated-promotion"
__all__ = [
    "DEFAULT_STEP_IMAGE",
    "PIPELINE_NAME",
    "PLACEHOLDER_DIGEST",
    "build_pipeline",
    "compile_pipeline",
    "create_run",
    "pipeline_signature",
    "placeholder_note",
    "run_locally",
]


def build_pipeline(image: str = DEFAULT_STEP_IMAGE) -> Any:
    """Build the ``@dsl.pipeline`` function with its components on ``image``.

    Args:
        image: the step image.

    Returns:
        The pipeline (a KFP ``GraphComponent``), ready for the compiler or ``kfp.local``.
    """
    from kfp import dsl, kubernetes

    from components import kfp_components

    c = kfp_components.make_components(image)
    tasks: dict[str, Any] = {}

    def add(step: spec.StepSpec, given: dict[str, Any]) -> Any:
        """One task of ``step``, wired as the spec says: parameters, upstream outputs, key, labels."""
        component = getattr(c, step.name.replace("-", "_"))
        arguments = {p.replace("-", "_"): given[p.replace("-", "_")] for p in step.params}
        arguments |= {i.name: tasks[i.step].outputs[i.output] for i in step.inputs}
        task = component(**arguments)
        task.set_caching_options(False)
        task.set_display_name(step.display)
        if step.owner is not None:
            kubernetes.use_secret_as_volume(
                task,
                secret_name=spec.key_secret(step.owner),
                mount_path=spec.key_mount(step.owner),
            )
        for key, value in step.labels.items():
            kubernetes.add_pod_label(task, key, value)
        tasks[step.name] = task
        return task

    def gated_promotion(*args: Any) -> None:
        # KFP calls the pipeline with one channel per parameter, in the order of its signature,
        # which is the step spec's (set below).
        given = dict(zip(signature.parameters, args, strict=True))
        summary = add(spec.step("run-summary"), given)
        with dsl.ExitHandler(summary, name="gates"):
            for step in spec.STEPS:
                if step.name not in ("run-summary", "deploy"):
                    add(step, given)
            with dsl.If(given["deploy"] == True, name="deploy"):  # noqa: E712 (a KFP condition)
                add(spec.step("deploy"), given)

    signature = pipeline_signature()
    gated_promotion.__signature__ = signature  # type: ignore[attr-defined]
    gated_promotion.__name__ = "gated_promotion"
    return dsl.pipeline(
        name=PIPELINE_NAME,
        description=(
            "Gated promotion of one MLflow model version: ML artifact (ML signs), platform template "
            "(Platform signs), production readiness with a live probe (SRE signs), then promotion only "
            "when every signed verdict verifies."
        ),
    )(gated_promotion)


def pipeline_signature() -> inspect.Signature:
    """The pipeline's parameters as KFP types them, from the step spec: the required ones first."""
    kinds: dict[str, type] = {"str": str, "float": float, "bool": bool}
    ordered = sorted(spec.PARAMETERS, key=lambda p: p.default is not None)
    return inspect.Signature(
        [
            inspect.Parameter(
                p.snake,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=kinds[p.kind],
                default=inspect.Parameter.empty if p.default is None else p.default,
            )
            for p in ordered
        ],
        return_annotation=None,
    )


def compile_pipeline(image: str, path: str) -> None:
    """Compile the pipeline for ``image`` to a KFP YAML file (pipeline spec + kubernetes platform spec).

    Args:
        image: the step image.
        path: the output file.
    """
    from pathlib import Path

    from kfp import compiler

    compiler.Compiler().compile(build_pipeline(image), package_path=path)
    if PLACEHOLDER_DIGEST in image:
        target = Path(path)
        target.write_text(placeholder_note(image) + target.read_text(encoding="utf-8"), encoding="utf-8")


def run_locally(pipeline_root: str, step_image: str, arguments: dict[str, Any]) -> None:
    """Run the pipeline here with KFP's local runner: each task a subprocess of this Python.

    ``kfp.local`` with ``SubprocessRunner(use_venv=False)`` runs the same compiled component code as
    the cluster, with the signoff installed here; a failed task stops everything downstream and,
    with ``raise_on_error=False``, leaves its outputs under ``pipeline_root``.

    Args:
        pipeline_root: where every task's artifacts go.
        step_image: the base image compiled into the components (the subprocess runner ignores it).
        arguments: the pipeline's parameters.
    """
    from kfp import local

    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, raise_on_error=False
    )
    build_pipeline(step_image)(**arguments)


def create_run(host: str, namespace: str | None, image: str, arguments: dict[str, Any], run_name: str) -> str:
    """Compile the pipeline for ``image`` and start a run on the KFP API at ``host``, caching off.

    Returns:
        The run's id.

    Raises:
        TemporaryError: the KFP API did not accept the run.
    """
    import tempfile
    from pathlib import Path

    import kfp

    with tempfile.TemporaryDirectory(prefix="signoff-submit-") as tmp:
        package = str(Path(tmp) / "gated-promotion.kfp.yaml")
        compile_pipeline(image, package)
        client = kfp.Client(host=host, namespace=namespace or "kubeflow")
        try:
            result = client.create_run_from_pipeline_package(
                package, arguments=arguments, run_name=run_name, enable_caching=False, namespace=namespace
            )
        except Exception as exc:  # the KFP client raises many kinds (HTTP, auth, connection)
            raise errors.TemporaryError(f"KFP at {host} did not accept the run: {exc}") from None
    return str(result.run_id)
