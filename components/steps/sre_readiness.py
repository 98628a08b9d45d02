"""The SRE handoff step: observability, alerts, SLOs against a live probe, a rollback target."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from components import kube, local_serving
from components import probe as probing
from components.steps._common import (
    StepArgs,
    StepResult,
    _contract,
    _finish,
    _model_ref,
    _now,
    _policy,
    _registry,
    _sign,
    _trust,
    _verified,
    _write_outputs,
)
from components.steps.spec import ALERTMANAGER, OBSERVABILITY
from contracts import errors
from contracts.trust import Gate
from gates import observability, readiness, render, serving
from gates.evidence import ProbeResult
from gates.verdict import Check, Outcome

if TYPE_CHECKING:
    from gates.render import ModelRef


_CLUSTER_TARGET = re.compile(
    r"^(?P<scheme>kserve|deployment)://(?P<namespace>[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)"
    r"/(?P<name>[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$"
)


def cluster_target(staging_url: str) -> tuple[Literal["InferenceService", "Deployment"], str, str] | None:
    """``kserve://NAMESPACE/NAME`` or ``deployment://NAMESPACE/NAME`` -> ``(kind, namespace, name)``.

    Any other value (an ``http(s)://`` URL, ``local``) is not a cluster target: ``None``.
    """
    m = _CLUSTER_TARGET.match(staging_url)
    if m is None:
        return None
    kind: Literal["InferenceService", "Deployment"] = (
        "InferenceService" if m["scheme"] == "kserve" else "Deployment"
    )
    return kind, m["namespace"], m["name"]


@contextlib.contextmanager
def _endpoint(
    staging_url: str, model_uri: str, tracking_uri: str, *, deadline_s: float, log_dir: Path | None = None
) -> Iterator[tuple[str | None, float | None, Callable[[], bool] | None, Callable[[], str | None]]]:
    """Yield ``(url, launched_at, alive, exit_reason)`` for the probe.

    * ``local`` launches ``mlflow models serve`` of the version here (its log kept in ``log_dir``);
      ``alive`` tells whether that process still runs, ``exit_reason`` why it ended on its own, and
      the cold start counts from its launch.
    * ``kserve://NS/NAME`` / ``deployment://NS/NAME`` is the cluster path: the staging object was
      applied just before this step (``signoff deploy --namespace NS``), and the step polls the
      Kubernetes API until it is Ready (``components.kube.wait_ready``, at most ``deadline_s``,
      the contract's max cold start), then probes its URL. The cold start counts from this step's
      start. ``url`` is ``None`` when it never became Ready.
    * anything else is a URL, probed as it is.
    """
    target = cluster_target(staging_url)
    if target is not None:
        kind, namespace, name = target
        started = time.monotonic()
        client = kube.load_client()
        ready = kube.wait_ready(
            kind, name, namespace, deadline_s=deadline_s, launched_at=started, client=client
        )
        url = kube.staging_url(kind, name, namespace, client=client) if ready is not None else None
        yield url, started, None, lambda: None
        return
    if staging_url != "local":
        yield staging_url, None, None, lambda: None
        return

    server = local_serving.launch(model_uri, env={"MLFLOW_TRACKING_URI": tracking_uri}, log_dir=log_dir)
    try:
        yield server.url, server.launched_at, server.alive, server.exit_reason
    finally:
        server.stop()


def _staging_problems(
    target: tuple[Literal["InferenceService", "Deployment"], str, str], model: ModelRef
) -> list[str]:

    kind, namespace, name = target
    obj = kube.get_serving(kind, name, namespace)
    return serving.serving_problems(
        obj, version=model.version, digest=model.digest, storage_uri=model.storage_uri
    )


def _staging_check(problems: list[str], target: tuple[str, str, str], model: ModelRef) -> Check:
    kind, namespace, name = target
    where = f"{kind} {namespace}/{name}"
    if problems:
        return Check(
            id="staging.version", outcome=Outcome.FAIL,
            message=f"{where} does not serve {model.name} version {model.version} ({model.digest}): "
            + "; ".join(problems),
            figures={"object": where, "version": model.version, "digest": model.digest},
        )  # fmt: skip
    return Check(
        id="staging.version", outcome=Outcome.PASS,
        message=f"{where} serves {model.name} version {model.version} ({model.digest}) "
        f"from {model.storage_uri}",
        figures={"object": where, "version": model.version, "digest": model.digest},
    )  # fmt: skip


def sre_readiness_step(
    *,
    contract_yaml: str,
    policy_yaml: str,
    trust_yaml: str,
    model_ref_json: str,
    platform_envelope: bytes,
    image: str,
    staging_url: str,
    tracking_uri: str | None,
    key_file: str | Path,
    out_dir: str | Path,
    environment: Literal["staging", "production"] = "production",
    probe_duration_s: float | None = None,
    protocol: Literal["mlflow", "kserve-v1", "kserve-v2"] | None = None,
    first_release: bool = False,
    now: datetime | None = None,
    log_dir: str | Path | None = None,
) -> StepResult:
    """The SRE handoff: observability, alerts, SLOs against a live probe, a rollback target; SRE signs.

    With ``staging_url`` ``local``, the server's log is kept in ``log_dir`` (default ``out_dir``)
    and the report names it when the server died.

    On a cluster target the staging object must serve exactly this version before it is probed
    (``staging.version``: its model version and digest annotations and the storage URI its pods
    fetch; a mismatch refuses with both digests and sends no load); it is probed at its
    cluster-local address in the protocol the rendered runtime speaks (MLServer: Open Inference
    Protocol v2, the model named after the workload), and the cold start is the API server's figure:
    from the pods' creation to their Ready condition. ``protocol`` None: ``kserve-v2`` on a cluster
    target, ``mlflow`` otherwise (``mlflow models serve``).

    ``staging_url`` is a served endpoint to probe; ``local`` to launch ``mlflow models serve`` of
    the model version on this machine and probe that (measuring its cold start; a server process
    that dies is noticed at once, not at the contract's max cold start); or, in a cluster,
    ``kserve://NAMESPACE/NAME`` / ``deployment://NAMESPACE/NAME``: wait (via the Kubernetes API,
    at most the contract's max cold start) until that staging object is Ready, then probe its URL.

    The rollback check needs a previous production version in the registry, or ``first_release``:
    an explicit declaration that there is none. Without either the gate refuses (a missing
    production alias is never taken as a first release by itself).

    Raises:
        GateRefused: the readiness gate refused.
        VerificationError: the platform verdict or its manifests did not verify.
    """

    out = Path(out_dir)
    contract, policy, trust = _contract(contract_yaml), _policy(policy_yaml), _trust(trust_yaml)
    platform_verdict = _verified(platform_envelope, trust, Gate.PLATFORM)
    subject = platform_verdict.subject
    model = _model_ref(json.loads(model_ref_json))
    manifests = render.render(
        contract, policy, model, image, environment=environment, mode=policy.spec.serving
    )
    signed_digest = platform_verdict.artifacts.get("manifests")
    if signed_digest is not None and signed_digest != manifests.digest():
        raise errors.VerificationError(
            [f"manifests digest {manifests.digest()} is not the one platform signed ({signed_digest})"]
        )
    namespace = (
        policy.spec.namespaces.production if environment == "production" else policy.spec.namespaces.staging
    ).name
    objects = observability.render_observability(
        contract, namespace=namespace, mode=policy.spec.serving, policy=policy
    )
    alertmanager = observability.alertmanager_config(contract)
    registry = _registry(tracking_uri)
    previous = registry.previous_production_version(model.name, model.version)
    probe_kwargs: dict[str, Any] = {}
    if probe_duration_s is not None:
        probe_kwargs["duration_s"] = probe_duration_s
    ref = json.loads(model_ref_json)
    example = ref.get("example")
    if example is None:
        raise errors.InputError(
            f"{subject.uri} has no input example: the live probe needs one "
            "(log the model with input_example=...)"
        )
    deadline = contract.spec.slos.max_cold_start.seconds
    endpoint = _endpoint(
        staging_url, subject.uri, str(registry.tracking_uri), deadline_s=deadline,
        log_dir=Path(log_dir) if log_dir is not None else out,
    )  # fmt: skip
    target = cluster_target(staging_url)
    speaks = protocol or ("kserve-v2" if target is not None else "mlflow")
    served_as = target[2] if target is not None else model.name  # MLServer names the model after the object
    staging: list[Check] = []
    with endpoint as (url, launched_at, alive, exit_reason):
        problems = _staging_problems(target, model) if url is not None and target is not None else []
        if target is not None and url is not None:
            staging.append(_staging_check(problems, target, model))
        if url is None:  # a cluster object that never became Ready within the contract's cold start
            result = ProbeResult(
                url=staging_url, protocol=speaks, ready=False, cold_start_deadline_s=deadline
            )
        elif problems:  # never sign figures of another model's endpoint
            result = ProbeResult(
                url=url, protocol=speaks, ready=False, cold_start_deadline_s=deadline,
                first_error="not probed: the staging object serves another model version",
            )  # fmt: skip
        else:
            # A local server that crashes is noticed at once, not when max_cold_start runs out.
            result = probing.probe(
                url, contract, example=example, protocol=speaks, model_name=served_as,
                launched_at=launched_at, alive=alive, **probe_kwargs,
            )  # fmt: skip
            if target is not None:
                pods = kube.pods_cold_start(target[2], model.version, target[1])
                if pods is not None:
                    result = result.model_copy(update={"cold_start_s": pods})
            reason = None if result.ready else exit_reason()
            if reason:  # said on stderr too: the task's log is where a person looks first
                print(f"signoff: {reason}", file=sys.stderr)
                result = result.model_copy(update={"server_exit": reason, "first_error": None})
    verdict = readiness.evaluate(
        contract,
        manifests=manifests.objects,
        observability=objects,
        alertmanager=alertmanager,
        probe=result,
        rollback_target=previous,
        first_release=first_release,
        subject=subject,
        now=_now(now),
        metrics=observability.MetricNames.for_policy(policy),
        extra_checks=staging,
    )
    envelope = _sign(verdict, contract, Path(key_file))
    registry.store_envelope(model.name, model.version, Gate.SRE_READINESS, envelope)
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe.json").write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    # What the verdict's observability and alertmanager digests cover: the deploy step applies the
    # monitors and rules beside the serving objects; the routes go to the cluster's Alertmanager.
    (out / OBSERVABILITY).write_text(
        "---\n".join(observability.to_yaml(o) for o in objects), encoding="utf-8"
    )
    (out / ALERTMANAGER).write_text(observability.to_yaml(alertmanager), encoding="utf-8")
    report = probing.report_markdown(result, contract)
    figures = {"p99_ms": result.p99_ms, "error_rate": result.error_rate, "cold_start_s": result.cold_start_s}
    return _finish(_write_outputs(out, verdict, envelope, report_extra=report, extra=figures))


def _servable_here(staging_url: str) -> str:
    """``staging_url``, refused before anything runs when it is ``local`` and this environment cannot
    serve a model (the step image: mlflow-skinny)."""
    missing = local_serving.missing_runtime() if staging_url == "local" else []
    if missing:
        raise errors.InputError(
            f"staging-url 'local' serves the model version with `mlflow models serve` inside this step, "
            f"which needs {', '.join(missing)} (the full mlflow package); this environment has not: the "
            "step image installs mlflow-skinny. In a cluster pass staging-url kserve://NAMESPACE/NAME "
            "(the staging InferenceService, e.g. kserve://ml-staging/my-model) or its http(s) URL"
        )
    return staging_url


def run(args: StepArgs) -> StepResult:
    """The step as the process entry calls it."""
    staging_url = _servable_here(args.value("staging-url"))
    return sre_readiness_step(
        contract_yaml=args.value("contract"),
        policy_yaml=args.value("cluster-policy"),
        trust_yaml=args.value("trust-policy"),
        model_ref_json=args.read_text("model_ref"),
        platform_envelope=args.read_bytes("platform_envelope"),
        image=args.value("image"),
        staging_url=staging_url,
        probe_duration_s=args.value("probe-seconds"),
        first_release=args.value("first-release"),
        tracking_uri=args.tracking_uri,
        key_file=args.key_file,
        out_dir=args.out_dir,
        log_dir=args.log_dir,
    )
