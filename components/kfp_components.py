"""KFP components of the gated-promotion steps: thin wrappers around :mod:`components.steps`.

Each component body hands its arguments to :func:`call`, which runs the step through the one process
entry (:func:`components.steps.entry.run`) with the names :mod:`components.steps.spec` declares.

The only module in ``components`` that imports kfp. Each component is a lightweight Python
component whose body imports ``components.steps`` from the step image (``infra/docker/Dockerfile``
installs signoff and the kfp runtime, so nothing is installed at start: ``install_kfp_package=False``).

Outputs, so the Kubeflow Pipelines UI shows who signed what and why at a glance:

* ``envelope``: the signed verdict (DSSE envelope), an Artifact with ``gate``, ``team`` and
  ``passed`` in its metadata,
* ``report``: the gate's Markdown report (a ``Markdown`` artifact the UI renders),
* ``metrics``: the checks' figures (a ``Metrics`` artifact),
* ``manifests`` (platform, promotion): the rendered serving manifests.

A refused gate's task SUCCEEDS: the real KFP backend uploads a task's output artifacts only when it
succeeds (its launcher, ``backend/src/v2/component/launcher_v2.go``, uploads nothing of a failed task
up to 2.15 and only the ``executor-logs`` from 2.16 on), so a gate that failed its task would leave
its report, figures and envelope out of the UI. Each gate task therefore writes them and the output
parameter ``passed`` (``true``/``false``) and exits 0 when its gate decided, either way; the pipeline
runs the gate's dependants under ``dsl.If(passed == 'true')`` and, under ``dsl.Else``, the
``gate-refused`` task, which prints the report and fails, so the run fails and nothing downstream
(promotion, deploy) ever runs. A step that could not decide (bad input, an upstream verdict that
does not verify, MLflow down) still fails its task, as retries need.

Keys: a component reads its owner's key with :func:`components.steps.key_path`, i.e. the Secret the
pipeline mounts into that task only, or ``$SIGNOFF_KEYS_DIR`` in local runs (``kfp.local`` has no
Secrets).
"""

import contextlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp import dsl
from kfp.dsl import Artifact, Input, Markdown, Metrics, Output

from components.steps import GateRefused, entry, spec

__all__ = ["Components", "call", "emit", "make_components", "refuse"]


@contextlib.contextmanager
def emit(
    out_dir: str,
    *,
    envelope: Any = None,
    report: Any = None,
    metrics: Any = None,
    files: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Copy a step's output folder into the task's KFP output artifacts, also when the gate refused.

    Args:
        out_dir: the folder the step writes into.
        envelope: the ``Output[Artifact]`` for ``envelope.json``.
        report: the ``Output[Markdown]`` for ``report.md``.
        metrics: the ``Output[Metrics]`` the figures of ``metrics.json`` are logged to.
        files: more ``{file name in out_dir: Output[Artifact]}`` to copy.
    """
    failure: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        failure = exc
        raise
    finally:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if failure is not None and not (out / "report.md").is_file():
            # The step failed before its gate decided (bad input, an upstream verdict that does not
            # verify, MLflow down): the report says why, so the UI and local runs can show it.
            (out / "report.md").write_text(
                f"# step failed\n\n{type(failure).__name__}: {failure}\n", encoding="utf-8"
            )
        outcome_file = out / "outcome.json"
        outcome = json.loads(outcome_file.read_text(encoding="utf-8")) if outcome_file.is_file() else {}
        pairs = [("envelope.json", envelope), ("report.md", report), *(files or {}).items()]
        for name, artifact in pairs:
            src = out / name
            if artifact is None or not src.is_file():
                continue
            Path(artifact.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, artifact.path)
            for key in ("gate", "team", "passed"):
                if key in outcome:
                    artifact.metadata[key] = outcome[key]
        figures = out / "metrics.json"
        if metrics is not None and figures.is_file():
            for name, value in sorted(json.loads(figures.read_text(encoding="utf-8")).items()):
                metrics.log_metric(name, float(value))


def call(step: str, given: Mapping[str, Any]) -> Any:
    """Run one step from a component body: its parameters, input and output artifacts by name.

    Args:
        step: the step's name in :mod:`components.steps.spec`.
        given: the component function's arguments (its ``locals()``): the parameters the spec
            declares for the step, its input artifacts and its output artifacts, by name.

    Returns:
        The rollback check's finding, the run summary's final state; nothing for a gate.
    """
    s = spec.step(step)
    out = tempfile.mkdtemp(prefix="signoff-")
    outputs = {name: (file, given[name]) for name, file in s.outputs if name in given}
    files = {
        file: artifact
        for name, (file, artifact) in outputs.items()
        if name not in ("envelope", "metrics") and not (name == "report" and file == spec.REPORT)
        and not file.endswith("/")
    }  # fmt: skip
    log_dir = None
    if "server_log" in outputs:  # a folder artifact, kept in the run's outputs
        log_dir = outputs["server_log"][1].path
        Path(log_dir).mkdir(parents=True, exist_ok=True)
    status = given.get("status")
    passed = given.get(spec.PASSED)  # a gate task's output parameter file
    try:
        with emit(
            out,
            envelope=outputs["envelope"][1] if "envelope" in outputs else None,
            report=outputs["report"][1]
            if "report" in outputs and outputs["report"][0] == spec.REPORT
            else None,
            metrics=outputs["metrics"][1] if "metrics" in outputs else None,
            files=files,
        ):
            result = entry.run(
                step,
                {k: v for k, v in given.items() if k.replace("_", "-") in s.params},
                {i.name: given[i.name].path for i in s.inputs if i.name in given},
                out,
                log_dir=log_dir,
                status=status.state if status is not None else "",
                error=status.error_message if status is not None else "",
            )
    except GateRefused as refused:
        if passed is None:
            raise
        # The gate decided "no": the task succeeds so that its outputs reach the UI; the
        # pipeline's gate-refused task fails the run.
        print(f"signoff {step}: {refused}", file=sys.stderr)
        _write_passed(str(passed), False)
        return None
    if passed is not None:
        _write_passed(str(passed), True)
    if status is not None:
        return str(status.state)
    if isinstance(result, dict):
        return str(result["reason"])
    return None


def _write_passed(path: str, value: bool) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("true" if value else "false", encoding="utf-8")


def refuse(step: str, report_path: str) -> None:
    """The ``gate-refused`` task's body: print the refused gate's report and fail the task (exit 1).

    Args:
        step: the gate step that refused.
        report_path: its Markdown report (the gate task's output).
    """
    report = Path(report_path)
    text = report.read_text(encoding="utf-8") if report.is_file() else "(no report)"
    print(text, file=sys.stderr)
    print(
        f"signoff: gate {step} refused; its report, figures and envelope are its task's outputs",
        file=sys.stderr,
    )
    raise SystemExit(1)


# The component functions below are compiled into the pipeline as source text: each must be
# self-contained (imports inside the body) and its docstring is what the KFP UI shows. Their
# signatures are what KFP types; tests/unit/test_step_spec.py checks them against the step spec.


def ml_artifact(
    model_name: str,
    model_version: str,
    contract: str,
    cluster_policy: str,
    mlflow_tracking_uri: str,
    artifact_store: str,
    envelope: Output[Artifact],
    model_ref: Output[Artifact],
    report: Output[Markdown],
    metrics: Output[Metrics],
    passed: dsl.OutputPath(str),  # type: ignore[valid-type]
) -> None:
    """ML handoff: validate the registered model version against the workload contract (ML team signs).

    Checks the MLflow model (flavors, signature, input example prediction, quality metrics, size
    against the declared model size, serialization format) and signs the verdict with the ML team's
    key. On refusal the task still succeeds, with passed false; the run then fails.

    Args:
        model_name: MLflow registered model name.
        model_version: MLflow model version number.
        contract: the workload contract, YAML text.
        cluster_policy: the platform team's cluster policy, YAML text.
        mlflow_tracking_uri: MLflow tracking server URI (empty: the step's MLFLOW_TRACKING_URI).
        artifact_store: the MLflow artifact store as the serving cluster reads it (e.g.
            s3://mlflow-artifacts); empty: the registry's download location as it is.
        envelope: the ML team's signed verdict (DSSE envelope).
        model_ref: the model's name, version, storage URI and digest, for the platform step.
        report: the gate's checks and reasons, in Markdown.
        metrics: the figures each check used.
        passed: "true" when the gate passed, "false" when it refused.
    """
    from components import kfp_components

    kfp_components.call("ml-artifact", locals())


def platform(
    contract: str,
    cluster_policy: str,
    trust_policy: str,
    image: str,
    mlflow_tracking_uri: str,
    ml_envelope: Input[Artifact],
    model_ref: Input[Artifact],
    envelope: Output[Artifact],
    manifests: Output[Artifact],
    report: Output[Markdown],
    metrics: Output[Metrics],
    passed: dsl.OutputPath(str),  # type: ignore[valid-type]
) -> None:
    """Platform handoff: render the serving manifests and check them against cluster policy (Platform signs).

    Verifies the ML team's verdict first, renders the KServe/Deployment objects for the model with
    the serving image, and checks GPU product and memory, node selectors and tolerations, quota,
    registry and digest pinning, priority class. On refusal the task still succeeds, with passed
    false; the run then fails.

    Args:
        contract: the workload contract, YAML text.
        cluster_policy: the platform team's cluster policy, YAML text.
        trust_policy: which keys belong to which team, YAML text.
        image: the serving image to render into the manifests (pinned by digest).
        mlflow_tracking_uri: MLflow tracking server URI (empty: the step's MLFLOW_TRACKING_URI).
        ml_envelope: the ML team's signed verdict from the ML step.
        model_ref: the model reference from the ML step.
        envelope: the platform team's signed verdict (DSSE envelope).
        manifests: the rendered serving manifests (YAML), whose digest the verdict signs.
        report: the gate's checks and reasons, in Markdown.
        metrics: the figures each check used.
        passed: "true" when the gate passed, "false" when it refused.
    """
    from components import kfp_components

    kfp_components.call("platform", locals())


def sre_readiness(
    contract: str,
    cluster_policy: str,
    trust_policy: str,
    image: str,
    staging_url: str,
    probe_seconds: float,
    first_release: bool,
    mlflow_tracking_uri: str,
    platform_envelope: Input[Artifact],
    model_ref: Input[Artifact],
    envelope: Output[Artifact],
    report: Output[Markdown],
    metrics: Output[Metrics],
    passed: dsl.OutputPath(str),  # type: ignore[valid-type]
    observability: Output[Artifact],
    alertmanager: Output[Artifact],
    server_log: Output[Artifact],
) -> None:
    """SRE handoff: production readiness with a live probe against the SLOs (SRE signs).

    Verifies the platform verdict and its manifests, renders the monitors, alert rules and
    Alertmanager routes, probes the staging endpoint (or, with staging_url "local", launches
    `mlflow models serve` of the version and probes it) and checks P99 latency, errors, cold start
    and the rollback target (a previous production version, or first_release declared). On refusal
    the task still succeeds, with passed false; the run then fails.

    Args:
        contract: the workload contract, YAML text.
        cluster_policy: the platform team's cluster policy, YAML text.
        trust_policy: which keys belong to which team, YAML text.
        image: the serving image the platform step rendered.
        staging_url: the staging endpoint to probe; "kserve://NAMESPACE/NAME" or
            "deployment://NAMESPACE/NAME" to wait until that staging object is Ready first, or its
            http(s) URL. Required: the step image cannot serve a model itself ("local" works only
            under signoff run, on a machine with the full mlflow package).
        probe_seconds: how long to load the endpoint (open loop, at the contract's throughput).
        first_release: declare that the model has no earlier production version to roll back to;
            without it, a model with no production version is refused.
        mlflow_tracking_uri: MLflow tracking server URI (empty: the step's MLFLOW_TRACKING_URI).
        platform_envelope: the platform team's signed verdict.
        model_ref: the model reference from the ML step.
        envelope: the SRE team's signed verdict (DSSE envelope).
        report: the gate's checks, reasons and probe figures, in Markdown.
        metrics: the figures each check used (latency percentiles, error rate, cold start).
        passed: "true" when the gate passed, "false" when it refused.
        observability: the monitors and alert rules judged (the deploy task applies them).
        alertmanager: the Alertmanager routes for the workload's alerts (for the cluster's Alertmanager).
        server_log: with staging_url "local", the folder with the log of `mlflow models serve`
            (the report names it when the server died before it was ready).
    """
    from components import kfp_components

    kfp_components.call("sre-readiness", locals())


def promotion(
    model_name: str,
    model_version: str,
    contract: str,
    trust_policy: str,
    mlflow_tracking_uri: str,
    ml_envelope: Input[Artifact],
    platform_envelope: Input[Artifact],
    sre_envelope: Input[Artifact],
    manifests: Input[Artifact],
    envelope: Output[Artifact],
    deployable_manifests: Output[Artifact],
    report: Output[Markdown],
    metrics: Output[Metrics],
    passed: dsl.OutputPath(str),  # type: ignore[valid-type]
) -> None:
    """Promotion: verify every owner's signed verdict, then move the MLflow "production" alias (ML signs).

    Each verdict must verify against the trust policy, be signed by the team that owns its gate,
    be about this exact model version and contract, and not be expired. Only then is the alias
    moved, with the signed promotion record stored on the version. Otherwise the registry is left
    as it was, the task succeeds with passed false, and the run fails.

    Args:
        model_name: MLflow registered model name.
        model_version: MLflow model version number.
        contract: the workload contract, YAML text.
        trust_policy: which keys belong to which team, YAML text.
        mlflow_tracking_uri: MLflow tracking server URI (empty: the step's MLFLOW_TRACKING_URI).
        ml_envelope: the ML team's signed verdict.
        platform_envelope: the platform team's signed verdict.
        sre_envelope: the SRE team's signed verdict.
        manifests: the manifests the platform team signed.
        envelope: the signed promotion verdict.
        deployable_manifests: the manifests to apply, once promoted.
        report: what was verified, in Markdown.
        metrics: the promotion's figures.
        passed: "true" when the gate passed, "false" when it refused.
    """
    from components import kfp_components

    kfp_components.call("promotion", locals())


def rollback_check(
    model_name: str,
    model_version: str,
    contract: str,
    mlflow_tracking_uri: str,
    promotion_envelope: Input[Artifact],
    report: Output[Markdown],
) -> str:
    """Automated rollback check: after promotion, is the rollback target armed?

    Reports the previous production version the contract's automated rollback moves back to on
    accuracy drift, or that this is the first release.

    Args:
        model_name: MLflow registered model name.
        model_version: the version just promoted.
        contract: the workload contract, YAML text.
        mlflow_tracking_uri: MLflow tracking server URI (empty: the step's MLFLOW_TRACKING_URI).
        promotion_envelope: the signed promotion verdict (orders this check after promotion).
        report: the rollback check's finding, in Markdown.

    Returns:
        The finding, one sentence.
    """
    from components import kfp_components

    return kfp_components.call("rollback-check", locals())


def run_summary(
    model_name: str,
    model_version: str,
    trust_policy: str,
    mlflow_tracking_uri: str,
    status: dsl.PipelineTaskFinalStatus,
    report: Output[Markdown],
) -> str:
    """Run summary (exit handler): one row per gate with who signed it and why, whatever happened.

    Args:
        model_name: MLflow registered model name.
        model_version: MLflow model version number.
        trust_policy: which keys belong to which team, YAML text (to verify what is shown).
        mlflow_tracking_uri: MLflow tracking server URI (empty: the step's MLFLOW_TRACKING_URI).
        status: the final status of the gates (filled in by KFP).
        report: the summary, in Markdown.

    Returns:
        The run's final state.
    """
    from components import kfp_components

    return kfp_components.call("run-summary", locals())


def gate_refused(gate: str, report: Input[Markdown]) -> None:
    """Gate refused: fail the run. The refused gate's own task holds its report, figures and envelope.

    Runs only when the gate before it wrote passed "false"; prints that gate's report and exits 1,
    so the run shows as failed and nothing after the gate runs.

    Args:
        gate: the gate that refused.
        report: the gate's Markdown report.
    """
    from components import kfp_components

    kfp_components.refuse(gate, report.path)


def _deploy_component(image: str) -> Callable[..., Any]:
    """The deployer's container component on ``image`` (``signoff deploy``, no Python wrapper)."""

    def deploy(
        deployable_manifests: Input[Artifact],
        observability: Input[Artifact],
        production_namespace: str,
        deploy_deadline: str,
    ) -> dsl.ContainerSpec:
        """Deploy: apply the promoted manifests and their monitors and alert rules, and wait until they serve.

        Runs `signoff deploy` of the promotion step's deployable manifests (what the platform team
        signed, stamped with the promotion record's digest the admission policy checks) with
        --production --wait, and --observability of the SRE step's PodMonitor/ServiceMonitor and
        PrometheusRule (what its verdict covers), applied first. Mounts no signing key. KFP runs
        every task of a run under the run's service account, so this task is not the
        signoff-deployer account the Argo WorkflowTemplate uses: the run's account needs the
        deployer's rights in the namespace (and the admission policy must accept it), or leave
        deploy off and deploy from Argo or by hand.

        Args:
            deployable_manifests: the manifests the promotion step wrote.
            observability: the monitors and alert rules the SRE step judged.
            production_namespace: the production namespace (ml-prod).
            deploy_deadline: how long to wait for the rollout to be ready (e.g. 10m).
        """
        return dsl.ContainerSpec(
            image=image,
            command=["python", "-m", "pipelines._cli.main", "deploy"],
            args=[deployable_manifests.path, "--observability", observability.path,
                  "--namespace", production_namespace, "--production", "--wait",
                  "--deadline", deploy_deadline],
        )  # fmt: skip

    return dsl.container_component(deploy)


@dataclass(frozen=True)
class Components:
    """The components, built for one step image."""

    ml_artifact: Callable[..., Any]
    platform: Callable[..., Any]
    sre_readiness: Callable[..., Any]
    promotion: Callable[..., Any]
    rollback_check: Callable[..., Any]
    run_summary: Callable[..., Any]
    gate_refused: Callable[..., Any]
    deploy: Callable[..., Any]


def make_components(image: str) -> Components:
    """Build the KFP components with ``image`` as their base image.

    Args:
        image: the step image (``infra/docker/Dockerfile``), with signoff and the kfp runtime inside.

    Returns:
        The components, ready to call inside a ``@dsl.pipeline``.
    """

    def build(func: Callable[..., Any]) -> Callable[..., Any]:
        return dsl.component(func, base_image=image, install_kfp_package=False)

    return Components(
        ml_artifact=build(ml_artifact),
        platform=build(platform),
        sre_readiness=build(sre_readiness),
        promotion=build(promotion),
        rollback_check=build(rollback_check),
        run_summary=build(run_summary),
        gate_refused=build(gate_refused),
        deploy=_deploy_component(image),
    )
