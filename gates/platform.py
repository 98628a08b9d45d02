"""The platform gate: check rendered manifests against the cluster policy, with figures.

Pure: the manifests, contract, policy and subject are passed in; ``now`` too. Each check reports
what it found against what the policy requires. A CPU-only contract skips the GPU checks.

The verdict's ``artifacts["manifests"]`` is :meth:`gates.render.Manifests.digest`, so manifests
edited after sign-off no longer match (:func:`check_manifests_digest`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from contracts._units import format_bytes
from contracts.cluster import ClusterPolicy, GpuProduct
from contracts.trust import Gate
from contracts.workload import WorkloadContract
from gates.pod_security import restricted_violations
from gates.render import (
    ANNOTATION_DIGEST,
    ANNOTATION_MODEL,
    ANNOTATION_VERSION,
    STORAGE_INITIALIZER,
    Manifests,
    ModelRef,
    pod_specs,
    without_promotion,
)
from gates.render import containers as render_containers
from gates.verdict import Check, Figure, Outcome, Subject, Verdict

__all__ = ["check_manifests_digest", "evaluate", "restricted_violations"]


def _check(id_: str, outcome: Outcome, message: str, **figures: Figure) -> Check:
    return Check(id=id_, outcome=outcome, message=message[:2000], figures=figures)


def _containers(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return render_containers(spec)


def _gb(n: float) -> float:
    return round(n / 10**9, 2)


# ------------------------------------------------------------------------------------------- checks


def _gpu_checks(
    contract: WorkloadContract,
    policy: ClusterPolicy,
    pods: list[tuple[str, dict[str, Any], dict[str, Any]]],
    namespace: str,
    quota: int,
) -> list[Check]:
    gpu = contract.spec.resources.gpu
    ids = ("gpu.product-allowed", "gpu.memory-fits", "gpu.per-replica", "gpu.quota", "gpu.scheduling")
    if gpu is None:
        return [_check(i, Outcome.SKIP, "CPU-only contract: no GPU to check", gpus=0) for i in ids]
    offered = ", ".join(g.product for g in policy.spec.gpus)
    product: GpuProduct | None = policy.spec.gpu(gpu.product)
    checks: list[Check] = []
    if product is None:
        checks.append(
            _check(
                "gpu.product-allowed",
                Outcome.FAIL,
                f"GPU product {gpu.product} is not offered by cluster policy "
                f"{policy.metadata.name} (offers {offered})",
                product=gpu.product,
                offered=offered,
            )
        )
    else:
        checks.append(
            _check(
                "gpu.product-allowed",
                Outcome.PASS,
                f"GPU product {gpu.product} is offered (offers {offered})",
                product=product.product,
                offered=offered,
            )
        )

    memory = product.memory if product is not None else gpu.memory
    headroom = policy.spec.memory_headroom.fraction
    capacity = memory.bytes * gpu.count * (1 - headroom)
    model = contract.spec.resources.model_size.bytes
    figs: dict[str, Figure] = {
        "model_gb": _gb(model),
        "gpu_memory_gb": _gb(memory.bytes),
        "gpus_per_replica": gpu.count,
        "headroom": policy.spec.memory_headroom.canonical(),
        "capacity_gb": _gb(capacity),
        "model_bytes": model,
        "capacity_bytes": int(capacity),
    }
    text = (
        f"model {format_bytes(model)} vs {gpu.count} x {format_bytes(memory.bytes)} GPU memory less "
        f"{policy.spec.memory_headroom} headroom = {format_bytes(capacity)}"
    )
    checks.append(
        _check(
            "gpu.memory-fits",
            Outcome.PASS if model <= capacity else Outcome.FAIL,
            ("fits: " if model <= capacity else "does not fit: ") + text,
            **figs,
        )
    )

    if product is None:
        checks.append(
            _check(
                "gpu.per-replica",
                Outcome.FAIL,
                f"{gpu.count} GPUs per replica of product {gpu.product}, which the policy does not offer",
                gpus_per_replica=gpu.count,
            )
        )
    else:
        most = product.max_per_replica
        ok = gpu.count <= most
        checks.append(
            _check(
                "gpu.per-replica",
                Outcome.PASS if ok else Outcome.FAIL,
                f"{gpu.count} GPUs per replica {'within' if ok else 'above'} the {product.product} "
                f"maximum of {most}",
                gpus_per_replica=gpu.count,
                max_per_replica=most,
            )
        )

    replicas = contract.spec.resources.replicas.max
    total = replicas * gpu.count
    ok = total <= quota
    checks.append(
        _check(
            "gpu.quota",
            Outcome.PASS if ok else Outcome.FAIL,
            f"{replicas} max replicas x {gpu.count} GPUs = {total} GPUs "
            f"{'within' if ok else 'above'} the {quota}-GPU quota of namespace {namespace}",
            max_replicas=replicas,
            gpus_per_replica=gpu.count,
            gpus_total=total,
            quota=quota,
            namespace=namespace,
        )
    )

    problems: list[str] = []
    if product is None:
        problems.append(f"no node selector or tolerations for unknown product {gpu.product}")
    else:
        want_tol = [t.model_dump(mode="json", exclude_none=True) for t in product.tolerations]
        for where, _meta, spec in pods:
            selector = spec.get("nodeSelector") or {}
            for key, value in product.node_selector.items():
                if selector.get(key) != value:
                    problems.append(f"{where}: nodeSelector {key}={selector.get(key)!r}, want {value!r}")
            have_tol = spec.get("tolerations") or []
            for t in want_tol:
                if t not in have_tol:
                    problems.append(f"{where}: toleration {t} missing")
            for cwhere, c in _containers(spec):
                limit = ((c.get("resources") or {}).get("limits") or {}).get(product.resource_name)
                if cwhere.startswith("containers") and str(limit) != str(gpu.count):
                    problems.append(
                        f"{where} {cwhere}: {product.resource_name} limit {limit}, want {gpu.count}"
                    )
    checks.append(
        _check(
            "gpu.scheduling",
            Outcome.FAIL if problems else Outcome.PASS,
            "; ".join(problems)
            if problems
            else f"node selector, tolerations and {gpu.count}-GPU limits match product {gpu.product} "
            f"in {len(pods)} pod spec(s)",
            problems=len(problems),
            pod_specs=len(pods),
        )
    )
    return checks


def _registry_allowed(image: str, registries: tuple[str, ...]) -> bool:
    name = image.split("@", 1)[0]
    return any(name.startswith(r.rstrip("/") + "/") for r in registries)


def _image_checks(
    policy: ClusterPolicy, pods: list[tuple[str, dict[str, Any], dict[str, Any]]], image: str
) -> list[Check]:
    images = sorted({c.get("image", "") for _w, _m, spec in pods for _cw, c in _containers(spec)})
    allowed = ", ".join(policy.spec.allowed_registries)
    outside = [i for i in images if not _registry_allowed(i, policy.spec.allowed_registries)]
    checks = [
        _check(
            "image.registry",
            Outcome.FAIL if outside or not images else Outcome.PASS,
            (
                f"image(s) {', '.join(outside)} not from an allowed registry ({allowed})"
                if outside
                else f"{len(images)} image(s) from allowed registries ({allowed})"
                if images
                else "no container image found"
            ),
            images=len(images),
            outside=len(outside),
            allowed=allowed,
        )
    ]
    unpinned = [i for i in images if "@sha256:" not in i]
    if not policy.spec.require_digest:
        checks.append(
            _check(
                "image.digest",
                Outcome.WARN if unpinned else Outcome.PASS,
                f"{len(unpinned)} image(s) by tag; the policy does not require digests",
                unpinned=len(unpinned),
            )
        )
    else:
        checks.append(
            _check(
                "image.digest",
                Outcome.FAIL if unpinned else Outcome.PASS,
                (
                    f"image(s) {', '.join(unpinned)} not pinned by @sha256 digest (policy requires it)"
                    if unpinned
                    else f"{len(images)} image(s) pinned by @sha256 digest"
                ),
                unpinned=len(unpinned),
                images=len(images),
            )
        )
    # The serving container runs the image checked; init containers only images the policy names
    # (KServe's storage initializer, which a plain Deployment runs itself, and the step image's
    # verify-model).
    serving = sorted(
        {
            c.get("image", "")
            for _w, _m, spec in pods
            for cw, c in _containers(spec)
            if cw.startswith("containers[")
        }
    )
    known = {policy.spec.kserve.storage_initializer_image, policy.spec.step_image} - {None}
    other = sorted(
        {f"{cw} {c.get('image', '')}" for _w, _m, spec in pods for cw, c in _containers(spec)
         if not cw.startswith("containers[") and c.get("image", "") not in known}
    )  # fmt: skip
    if serving != [image] or other:
        parts = [] if serving == [image] else [
            f"the serving containers run {', '.join(serving) or 'no image'}, not the image checked ({image})"
        ]  # fmt: skip
        if other:
            parts.append(f"{', '.join(other)}: not an image the cluster policy names")
        checks.append(_check("image.matches", Outcome.FAIL, "; ".join(parts), images=len(images)))
    else:
        checks.append(_check("image.matches", Outcome.PASS, f"the manifests run {image}", images=len(images)))
    return checks


def _resource_checks(
    contract: WorkloadContract, pods: list[tuple[str, dict[str, Any], dict[str, Any]]]
) -> Check:
    problems: list[str] = []
    containers = 0
    for where, _meta, spec in pods:
        for cwhere, c in _containers(spec):
            containers += 1
            res = c.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            for name in ("cpu", "memory"):
                if name not in req or name not in lim:
                    problems.append(f"{where} {cwhere}: {name} requests/limits not both set")
                elif str(req[name]) != str(lim[name]):
                    problems.append(f"{where} {cwhere}: {name} request {req[name]} != limit {lim[name]}")
            gpus = {k: v for k, v in {**req, **lim}.items() if k.endswith("/gpu")}
            if contract.spec.resources.gpu is None and gpus:
                problems.append(f"{where} {cwhere}: GPU resources {gpus} in a CPU-only contract")
            for k in gpus:
                if str(req.get(k, lim.get(k))) != str(lim.get(k)):
                    problems.append(f"{where} {cwhere}: {k} request {req.get(k)} != limit {lim.get(k)}")
    return _check(
        "resources.requests-limits",
        Outcome.FAIL if problems or not containers else Outcome.PASS,
        "; ".join(problems) if problems else f"cpu and memory requests = limits in {containers} container(s)",
        containers=containers,
        problems=len(problems),
    )


def _model_check(
    subject: Subject, manifests: Manifests, pods: list[tuple[str, dict[str, Any], dict[str, Any]]]
) -> Check:
    want = {
        ANNOTATION_MODEL: subject.model,
        ANNOTATION_VERSION: subject.version,
        ANNOTATION_DIGEST: subject.digest,
    }
    problems: list[str] = []
    serving = [o for o in manifests.objects if o.get("kind") in ("InferenceService", "Deployment")]
    places = [(f"{o['kind']}/{o['metadata'].get('name')}", o["metadata"]) for o in serving]
    places += [(where, meta) for where, meta, _spec in pods]
    for where, meta in places:
        ann = meta.get("annotations") or {}
        for key, value in want.items():
            if ann.get(key) != value:
                problems.append(f"{where}: annotation {key}={ann.get(key)!r}, want {value!r}")
    uris: list[str] = []
    for _where, _meta, spec in pods:
        for cw, c in _containers(spec):
            uris += [e.get("value", "") for e in c.get("env") or [] if e.get("name") == "STORAGE_URI"]
            if isinstance(c.get("storageUri"), str):  # KServe's predictor.model
                uris.append(c["storageUri"])
            if cw.startswith(f"initContainers[{STORAGE_INITIALIZER}]") and c.get(
                "args"
            ):  # its first argument
                uris.append(str(c["args"][0]))
    if not uris:
        problems.append(
            "no storage URI in any serving container (predictor.model.storageUri, the "
            "storage-initializer's arguments or STORAGE_URI)"
        )
    for uri in sorted(set(uris)):
        try:
            ModelRef(name=subject.model, version=subject.version, storage_uri=uri, digest=subject.digest)
        except ValidationError as exc:
            problems.append(f"storage URI: {exc.errors()[0]['msg'].removeprefix('Value error, ')}")
    return _check(
        "model.subject",
        Outcome.FAIL if problems else Outcome.PASS,
        "; ".join(problems)
        if problems
        else f"{len(places)} object(s)/pod template(s) carry {subject.uri} digest {subject.digest[:19]}...; "
        f"storage URI {uris[0]} is immutable",
        places=len(places),
        problems=len(problems),
    )


def _startup_check(
    contract: WorkloadContract, pods: list[tuple[str, dict[str, Any], dict[str, Any]]]
) -> Check:
    need = contract.spec.slos.max_cold_start.seconds
    budgets: list[float] = []
    for _where, _meta, spec in pods:
        for cwhere, c in _containers(spec):
            if cwhere.startswith("containers"):
                p = c.get("startupProbe") or {}
                budgets.append(
                    float(p.get("failureThreshold", 3)) * float(p.get("periodSeconds", 10)) if p else 0.0
                )
    least = min(budgets) if budgets else 0.0
    ok = bool(budgets) and least >= need
    return _check(
        "probes.startup-budget",
        Outcome.PASS if ok else Outcome.FAIL,
        f"startup probe allows {least:g}s {'>=' if ok else '<'} max cold start {need:g}s",
        startup_budget_s=least,
        max_cold_start_s=need,
    )


def _namespace_quota(policy: ClusterPolicy, manifests: Manifests) -> tuple[str, int]:
    namespaces = {o.get("metadata", {}).get("namespace") for o in manifests.objects}
    ns = policy.spec.namespaces
    if namespaces == {ns.staging.name} and ns.staging.name != ns.production.name:
        return ns.staging.name, ns.staging.gpu_quota
    return ns.production.name, ns.production.gpu_quota


def evaluate(
    contract: WorkloadContract,
    policy: ClusterPolicy,
    manifests: Manifests,
    subject: Subject,
    now: datetime,
    *,
    image: str,
) -> Verdict:
    """Check rendered manifests against the cluster policy and decide the platform gate.

    Args:
        contract: the workload contract.
        policy: the cluster policy.
        manifests: the manifests :func:`gates.render.render` produced (or edited ones).
        subject: the model version the verdict is about.
        now: the issue time (timezone-aware).
        image: the serving image the manifests must run.

    Returns:
        The platform verdict (team: the contract's platform owner); ``artifacts["manifests"]`` is
        the manifests' digest.
    """
    pods = pod_specs(manifests)
    namespace, quota = _namespace_quota(policy, manifests)
    checks: list[Check] = []
    checks.append(
        _check(
            "manifests.pods",
            Outcome.PASS if pods else Outcome.FAIL,
            f"{len(pods)} serving pod spec(s) found",
            pod_specs=len(pods),
        )
    )
    checks += _gpu_checks(contract, policy, pods, namespace, quota)
    checks += _image_checks(policy, pods, image)

    violations = [f"{where}: {v}" for where, meta, spec in pods for v in restricted_violations(spec, meta)]
    n_containers = sum(len(_containers(spec)) for _w, _m, spec in pods)
    checks.append(
        _check(
            "pod-security.restricted",
            Outcome.FAIL if violations else Outcome.PASS,
            "; ".join(violations)
            if violations
            else f"Pod Security 'restricted' holds for {len(pods)} pod spec(s), {n_containers} container(s)",
            violations=len(violations),
            containers=n_containers,
        )
    )
    checks.append(_resource_checks(contract, pods))

    allowed = policy.spec.priority_classes.allowed
    used = sorted({str(spec.get("priorityClassName")) for _w, _m, spec in pods})
    bad = [u for u in used if u not in allowed]
    checks.append(
        _check(
            "priority-class.allowed",
            Outcome.FAIL if bad or not used else Outcome.PASS,
            f"priority class {', '.join(used) or 'none'} "
            f"{'not ' if bad else ''}in allowed ({', '.join(allowed)})",
            used=", ".join(used),
            allowed=", ".join(allowed),
        )
    )
    checks.append(_startup_check(contract, pods))
    checks.append(_model_check(subject, manifests, pods))

    return Verdict.decide(
        gate=Gate.PLATFORM,
        team=contract.spec.owners.platform.team,
        checks=checks,
        subject=subject,
        contract_digest=contract.digest(),
        now=now,
        ttl=timedelta(seconds=contract.spec.promotion.verdict_ttl.seconds),
        policy_digest=policy.digest(),
        artifacts={"manifests": manifests.digest()},
    )


def check_manifests_digest(verdict: Verdict, manifests: Manifests) -> bool:
    """True when ``manifests`` are exactly the ones the platform verdict signed.

    The promotion-record annotation (added by :func:`gates.render.with_promotion` after the gate)
    is not part of what the platform team signed, so it is removed before comparing; any other
    change makes the digests differ.
    """
    return verdict.artifacts.get("manifests") == without_promotion(manifests).digest()
