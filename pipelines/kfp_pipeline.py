"""The gated-promotion pipeline for Kubeflow Pipelines.

ML artifact -> Platform -> SRE readiness -> promotion -> rollback check, chained by data (each gate
consumes the previous gate's signed envelope) and by condition: a gate task exits 0 whether its gate
passed or refused, with its report, Metrics and envelope as outputs (the real KFP backend uploads
output artifacts only of tasks that succeed) and the output parameter ``passed``. Everything after
a gate sits under ``dsl.If(passed == 'true')``; its ``dsl.Else`` branch runs ``gate-refused``, which
fails, so a refused gate fails the run and nothing downstream runs. Gate tasks never use KFP's
cache: a verdict is about *now* (expiry, the live probe, the registry's state). An exit handler
writes a run summary whatever happened.

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
import json
import re
from typing import Any

from components.steps import spec
from contracts import errors
from pipelines.images import DEFAULT_STEP_IMAGE, PLACEHOLDER_DIGEST, placeholder_note

MIN_BACKEND = (2, 14)
"""The oldest KFP backend that runs the compiled pipeline: its exit handler (the run summary) takes a
``dsl.PipelineTaskFinalStatus`` input, which the backend's Argo compiler supports from 2.14.0 on
(kubeflow/pipelines#11953; older ones fail with "task final status not supported yet").
``signoff submit --engine kfp`` refuses an older backend."""

PIPELINE_NAME = "signoff-gated-promotion"
__all__ = [
    "DEFAULT_STEP_IMAGE",
    "MIN_BACKEND",
    "PIPELINE_NAME",
    "PLACEHOLDER_DIGEST",
    "backend_version",
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

    def then(step: spec.StepSpec, given: dict[str, Any]) -> None:
        """``step``, then (nested in its gate's condition) every step that waits for it."""
        task = add(step, given)
        following = [s for s in spec.STEPS if s.after == step.name]
        if step not in spec.gate_steps():
            for nxt in following:
                then(nxt, given)
            return
        # A refused gate's task succeeds (so the backend uploads its outputs): its dependants run
        # only when it passed, and otherwise gate-refused fails the run.
        with dsl.If(task.outputs[spec.PASSED] == "true", name=f"{step.name}-passed"):
            for nxt in following:
                if nxt.name == "deploy":
                    with dsl.If(given["deploy"] == True, name="deploy"):  # noqa: E712 (a KFP condition)
                        add(nxt, given)
                else:
                    then(nxt, given)
        with dsl.Else(name=f"{step.name}-refused"):
            refused = c.gate_refused(gate=step.name, report=task.outputs["report"])
            refused.set_caching_options(False)
            refused.set_display_name(f"{step.display}: REFUSED")

    def gated_promotion(*args: Any) -> None:
        # KFP calls the pipeline with one channel per parameter, in the order of its signature,
        # which is the step spec's (set below).
        given = dict(zip(signature.parameters, args, strict=True))
        summary = add(spec.step("run-summary"), given)
        with dsl.ExitHandler(summary, name="gates"):
            then(spec.step("ml-artifact"), given)

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
        TemporaryError: the KFP API did not answer or did not accept the run.
        PermanentError: the backend is older than :data:`MIN_BACKEND` (nothing is uploaded).
    """
    import tempfile
    from pathlib import Path

    import kfp

    with tempfile.TemporaryDirectory(prefix="signoff-submit-") as tmp:
        package = str(Path(tmp) / "gated-promotion.kfp.yaml")
        compile_pipeline(image, package)
        try:
            client = kfp.Client(host=host, namespace=namespace or "kubeflow")
        except Exception as exc:  # connection refused, auth, a non-KFP answer
            raise errors.TemporaryError(f"KFP at {host} did not answer: {exc}") from None
        _check_backend(client, host)
        try:
            result = client.create_run_from_pipeline_package(
                package, arguments=arguments, run_name=run_name, enable_caching=False, namespace=namespace
            )
        except Exception as exc:  # the KFP client raises many kinds (HTTP, auth, connection)
            raise errors.TemporaryError(f"KFP at {host} did not accept the run: {exc}") from None
    return str(result.run_id)


_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+.][0-9A-Za-z.-]*)?")


def backend_version(tag: str) -> tuple[int, int] | None:
    """``(major, minor)`` of the KFP backend's ``tag_name`` (``2.14.0``, ``v2.15.1-rc.0``), or None
    when it is no release version (``unknown``: a build without ``TAG_NAME``)."""
    match = _VERSION.fullmatch(tag.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _check_backend(client: Any, host: str) -> None:
    """Refuse a KFP backend older than :data:`MIN_BACKEND`. The version is the ``tag_name`` of the API
    server's ``/apis/v2beta1/healthz`` answer, read through the client's own healthz API (its auth and
    TLS settings); the generated response model drops that field, so the raw body is read."""
    want = ".".join(map(str, MIN_BACKEND))
    try:
        raw = client._healthz_api.healthz_service_get_healthz(_preload_content=False)
        tag = str(json.loads(raw.data).get("tag_name", ""))
    except Exception as exc:  # HTTP errors, a body that is no JSON object
        raise errors.TemporaryError(
            f"KFP at {host}: could not read the backend version from /apis/v2beta1/healthz: {exc}"
        ) from None
    version = backend_version(tag)
    if version is None or version < MIN_BACKEND:
        raise errors.PermanentError(
            f"KFP at {host} is backend version {tag or '(none)'}: the gated-promotion pipeline needs "
            f"KFP backend {want} or newer (its exit handler takes a PipelineTaskFinalStatus, which "
            f"older backends refuse). Upgrade Kubeflow Pipelines, or run the pipeline with --engine argo."
        )
