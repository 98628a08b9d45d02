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

from typing import Any

PIPELINE_NAME = "signoff-gated-promotion"
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
"""A placeholder, not a real image digest: no step image is published from here."""
DEFAULT_STEP_IMAGE = f"ghcr.io/signoff-dev/signoff-step@{PLACEHOLDER_DIGEST}"
"""The step image compiled in by default (``infra/docker/Dockerfile``), pinned by digest. The digest
is the all-zero PLACEHOLDER (nothing can pull it): build and push the Dockerfile, then compile with
``signoff compile --image REGISTRY/signoff-step@sha256:<the pushed digest>``."""
KEY_SECRETS = {"ml": "signoff-key-ml", "platform": "signoff-key-platform", "sre": "signoff-key-sre"}
"""Owner role -> the Secret holding that owner's private key (``key.pem``)."""
KEY_MOUNT = "/var/run/signoff/keys"
SRE_POD_LABEL = ("signoff.dev/step", "sre")
"""The SRE task's pod label: ``infra/base/network-policies.yaml`` lets only pods with it reach the
staging serving pods (the live probe). No other task carries it."""
MIN_BACKEND = (2, 14)
"""The oldest KFP backend that runs the compiled pipeline: its exit handler (the run summary) takes a
``dsl.PipelineTaskFinalStatus`` input, which the backend's Argo compiler supports from 2.14.0 on
(kubeflow/pipelines#11953; older ones fail with "task final status not supported yet").
``signoff submit --engine kfp`` refuses an older backend."""

__all__ = [
    "DEFAULT_STEP_IMAGE",
    "KEY_SECRETS",
    "MIN_BACKEND",
    "PIPELINE_NAME",
    "PLACEHOLDER_DIGEST",
    "SRE_POD_LABEL",
    "build_pipeline",
    "compile_pipeline",
    "placeholder_note",
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

    def gate(task: Any, role: str, display: str) -> Any:
        task.set_caching_options(False)
        task.set_display_name(display)
        kubernetes.use_secret_as_volume(task, secret_name=KEY_SECRETS[role], mount_path=f"{KEY_MOUNT}/{role}")
        return task

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description=(
            "Gated promotion of one MLflow model version: ML artifact (ML signs), platform template "
            "(Platform signs), production readiness with a live probe (SRE signs), then promotion only "
            "when every signed verdict verifies."
        ),
    )
    def gated_promotion(
        model_name: str,
        model_version: str,
        contract: str,
        cluster_policy: str,
        trust_policy: str,
        image: str,
        mlflow_tracking_uri: str = "",
        staging_url: str = "local",
        artifact_store: str = "",
        probe_seconds: float = 10.0,
        first_release: bool = False,
        deploy: bool = False,
        production_namespace: str = "ml-prod",
        deploy_deadline: str = "10m",
    ) -> None:
        summary = c.run_summary(
            model_name=model_name,
            model_version=model_version,
            trust_policy=trust_policy,
            mlflow_tracking_uri=mlflow_tracking_uri,
        )
        summary.set_caching_options(False)
        summary.set_display_name("run summary")
        with dsl.ExitHandler(summary, name="gates"):
            ml = gate(
                c.ml_artifact(
                    model_name=model_name,
                    model_version=model_version,
                    contract=contract,
                    cluster_policy=cluster_policy,
                    mlflow_tracking_uri=mlflow_tracking_uri,
                    artifact_store=artifact_store,
                ),
                "ml",
                "ML: model artifact",
            )
            pf = gate(
                c.platform(
                    contract=contract,
                    cluster_policy=cluster_policy,
                    trust_policy=trust_policy,
                    image=image,
                    mlflow_tracking_uri=mlflow_tracking_uri,
                    ml_envelope=ml.outputs["envelope"],
                    model_ref=ml.outputs["model_ref"],
                ),
                "platform",
                "Platform: serving template",
            )
            sre = gate(
                c.sre_readiness(
                    contract=contract,
                    cluster_policy=cluster_policy,
                    trust_policy=trust_policy,
                    image=image,
                    staging_url=staging_url,
                    probe_seconds=probe_seconds,
                    first_release=first_release,
                    mlflow_tracking_uri=mlflow_tracking_uri,
                    platform_envelope=pf.outputs["envelope"],
                    model_ref=ml.outputs["model_ref"],
                ),
                "sre",
                "SRE: production readiness",
            )
            kubernetes.add_pod_label(sre, *SRE_POD_LABEL)
            promote = gate(
                c.promotion(
                    model_name=model_name,
                    model_version=model_version,
                    contract=contract,
                    trust_policy=trust_policy,
                    mlflow_tracking_uri=mlflow_tracking_uri,
                    ml_envelope=ml.outputs["envelope"],
                    platform_envelope=pf.outputs["envelope"],
                    sre_envelope=sre.outputs["envelope"],
                    manifests=pf.outputs["manifests"],
                ),
                "ml",
                "ML: promotion",
            )
            rollback = c.rollback_check(
                model_name=model_name,
                model_version=model_version,
                contract=contract,
                mlflow_tracking_uri=mlflow_tracking_uri,
                promotion_envelope=promote.outputs["envelope"],
            )
            rollback.set_caching_options(False)
            rollback.set_display_name("rollback check")
            with dsl.If(deploy == True, name="deploy"):  # noqa: E712 (a KFP condition, not a Python test)
                rollout = c.deploy(
                    deployable_manifests=promote.outputs["deployable_manifests"],
                    namespace=production_namespace,
                    deadline=deploy_deadline,
                )
                rollout.set_caching_options(False)
                rollout.set_display_name("Deployer: production rollout")

    return gated_promotion


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


def placeholder_note(image: str) -> str:
    """The comment heading a compiled file whose step image has the PLACEHOLDER digest."""
    return (
        f"# PLACEHOLDER step image digest: {image} names no published image.\n"
        "# Build infra/docker/Dockerfile, push it, and recompile with\n"
        "#   signoff compile --engine kfp|argo --image REGISTRY/signoff-step@sha256:<pushed digest>\n"
    )
