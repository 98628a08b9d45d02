"""The contract in other tools' formats: OpenSLO v1 documents and a Backstage catalog Component.

Pure: builds plain dicts from a :class:`~contracts.workload.WorkloadContract`; no I/O, no clock.

* :func:`openslo_documents`: an OpenSLO v1 ``Service`` for the workload, then per SLO an ``SLI``
  and an ``SLO`` that names it (``indicatorRef``):

  - ``<name>-availability``: ratio of failed requests (``bad``) to all requests (``total``),
    ``Occurrences`` over a rolling 30 days, target = the contract's availability (``99.95%`` ->
    ``0.9995``);
  - ``<name>-latency-p99``: ratio of requests at or under the contract's P99 latency (the histogram
    bucket at that bound, ``good``) to all requests (``total``); target ``0.99`` (P99 < X means 99%
    of requests take at most X);
  - ``<name>-cold-start``: the slowest pod start of the workload (``kube_pod_status_ready_time -
    kube_pod_start_time``, the same query as the ``signoff:pod_cold_start_seconds:max`` recording
    rule) as a threshold metric, ``Timeslices`` of 5 minutes, each good when the value is at most
    the contract's max cold start; target ``0.99`` (OpenSLO targets must be below 1, so "never" is
    written as 99% of 5-minute slices).

  The queries are PromQL over the same series and labels the rendered ``PrometheusRule`` reads
  (:class:`gates.observability.MetricNames`), as ``metricSource: {type: Prometheus}``.
* :func:`backstage_component`: a ``backstage.io/v1alpha1`` ``Component`` of ``type: service``
  owned by the ML team (``group:<team>``), in the ``system`` given (default: the MLflow model's
  name), with links to each owner's runbook and to the interface document, and annotations naming
  the MLflow model, the contract digest and the platform and SRE teams.
"""

from __future__ import annotations

import re
from typing import Any, Final

from contracts.workload import Owner, Role, WorkloadContract
from gates.observability import WORKLOAD_LABEL, MetricNames, _le_matcher, _q

__all__ = [
    "BACKSTAGE_API_VERSION",
    "OPENSLO_API_VERSION",
    "SLO_WINDOW",
    "backstage_component",
    "openslo_documents",
]

OPENSLO_API_VERSION: Final = "openslo/v1"
BACKSTAGE_API_VERSION: Final = "backstage.io/v1alpha1"
SLO_WINDOW: Final = "30d"
"""The rolling SLO window: the 30 days the burn-rate alerts' budget is counted over."""
COLD_START_SLICE: Final = "5m"
_ANNOTATION_PREFIX: Final = "signoff.dev/"


def _meta(name: str, display: str, contract: WorkloadContract, team: str) -> dict[str, Any]:
    return {
        "name": name,
        "displayName": display,
        "labels": {"workload": contract.name, "team": team},
        "annotations": {
            f"{_ANNOTATION_PREFIX}mlflow-model": contract.metadata.model,
            f"{_ANNOTATION_PREFIX}contract-digest": contract.digest(),
        },
    }


def _source(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _selector(metrics: MetricNames, namespace: str, name: str) -> str:
    return f"{metrics.namespace_label}={_q(namespace)}, {metrics.workload_label}={_q(name)}"


def _cold_start_query(namespace: str, name: str) -> str:
    label = "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", WORKLOAD_LABEL)
    ns = _q(namespace)
    pods = (
        f"max by (namespace, pod, workload) (label_replace(kube_pod_labels{{namespace={ns}, "
        f'{label}={_q(name)}}}, "workload", "$1", {_q(label)}, "(.+)"))'
    )
    return (
        f"max by (namespace, workload) (\n  (kube_pod_status_ready_time{{namespace={ns}}} - on (namespace, "
        f"pod) kube_pod_start_time{{namespace={ns}}})\n"
        f"  * on (namespace, pod) group_left (workload) {pods}\n)"
    )


def openslo_documents(
    contract: WorkloadContract, metrics: MetricNames, *, namespace: str = "default"
) -> list[dict[str, Any]]:
    """The OpenSLO v1 documents of a workload: a Service, then an SLI and an SLO per contract SLO.

    Args:
        contract: the workload contract.
        metrics: which request/latency metrics the serving pods export (the rendered rules' preset).
        namespace: the namespace of the serving pods (the queries select on it).

    Returns:
        Seven documents, in order: Service, then SLI and SLO for availability, P99 latency and cold
        start. Each SLO's ``service`` is the workload name and its ``indicatorRef`` the SLI's name.
    """
    name = contract.name
    slos = contract.spec.slos
    owners = contract.spec.owners
    sre = owners.sre.team
    sel = _selector(metrics, namespace, name)
    by = f"{metrics.namespace_label}, {metrics.workload_label}"
    failed = f"{metrics.error_label}=~{_q(metrics.error_regex)}"
    latency_s = slos.p99_latency.seconds

    def counter_sum(series: str) -> str:
        # The counters themselves (``counter: true``): the SLO tool takes the increase over its
        # windows, as the OpenSLO spec's Prometheus example does.
        return f"sum by ({by}) ({series})"

    window = [{"duration": SLO_WINDOW, "isRolling": True}]
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": OPENSLO_API_VERSION,
            "kind": "Service",
            "metadata": _meta(name, name, contract, owners.ml.team),
            "spec": {
                "description": (
                    f"Model serving of MLflow model {contract.metadata.model}: ML {owners.ml.team}, "
                    f"Platform {owners.platform.team}, SRE {sre} (signoff workload contract)"
                )
            },
        }
    ]
    specs: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        (
            "availability",
            f"Availability {slos.availability}",
            {
                "ratioMetric": {
                    "counter": True,
                    "bad": _source(counter_sum(f"{metrics.requests_total}{{{sel}, {failed}}}")),
                    "total": _source(counter_sum(f"{metrics.requests_total}{{{sel}}}")),
                }
            },
            {
                "budgetingMethod": "Occurrences",
                "objectives": [
                    {
                        "displayName": f"{slos.availability} of requests succeed",
                        "target": _round(slos.availability.fraction),
                    }
                ],
            },
        ),
        (
            "latency-p99",
            f"P99 latency < {slos.p99_latency}",
            {
                "ratioMetric": {
                    "counter": True,
                    "good": _source(
                        counter_sum(f"{metrics.latency_bucket}{{{sel}, {_le_matcher(latency_s, metrics)}}}")
                    ),
                    "total": _source(counter_sum(f'{metrics.latency_bucket}{{{sel}, le="+Inf"}}')),
                }
            },
            {
                "budgetingMethod": "Occurrences",
                "objectives": [{"displayName": f"99% of requests within {slos.p99_latency}", "target": 0.99}],
            },
        ),
        (
            "cold-start",
            f"Cold start <= {slos.max_cold_start}",
            {"thresholdMetric": _source(_cold_start_query(namespace, name))},
            {
                "budgetingMethod": "Timeslices",
                "objectives": [
                    {
                        "displayName": f"slowest pod start at most {slos.max_cold_start}",
                        "op": "lte",
                        "value": _round(slos.max_cold_start.seconds),
                        "target": 0.99,
                        "timeSliceTarget": 1,
                        "timeSliceWindow": COLD_START_SLICE,
                    }
                ],
            },
        ),
    ]
    for suffix, display, sli_spec, slo_spec in specs:
        sli_name = f"{name}-{suffix}"
        docs.append(
            {
                "apiVersion": OPENSLO_API_VERSION,
                "kind": "SLI",
                "metadata": _meta(sli_name, display, contract, sre),
                "spec": {"description": f"{display}: {name} in namespace {namespace}", **sli_spec},
            }
        )
        docs.append({
            "apiVersion": OPENSLO_API_VERSION,
            "kind": "SLO",
            "metadata": _meta(sli_name, display, contract, sre),
            "spec": {
                "description": f"Contract SLO of {name}: {display} (owned by SRE {sre})",
                "service": name,
                "indicatorRef": sli_name,
                "timeWindow": window,
                **slo_spec,
            },
        })  # fmt: skip
    return docs


def _round(value: float) -> float | int:
    """A float without binary noise (0.9995, not 0.99950000000000006); whole numbers as int."""
    out = float(f"{value:.12g}")
    return int(out) if out.is_integer() else out


def _group(team: str) -> str:
    return f"group:{team}"


def _links(contract: WorkloadContract, interface_url: str) -> list[dict[str, str]]:
    title = "Interface document (signoff contract)"
    links = [{"url": interface_url, "title": title, "icon": "docs", "type": "documentation"}]
    owners = contract.spec.owners
    seen: set[str] = set()
    for role in (Role.ML, Role.PLATFORM, Role.SRE):
        owner: Owner = owners.of(role)
        if owner.runbook and owner.runbook not in seen:
            seen.add(owner.runbook)
            links.append({
                "url": owner.runbook,
                "title": f"Runbook: {role.value.upper() if role is not Role.PLATFORM else 'Platform'} "
                f"({owner.team})",
                "icon": "help",
                "type": "runbook",
            })  # fmt: skip
    return links


def backstage_component(
    contract: WorkloadContract,
    *,
    interface_url: str,
    system: str | None = None,
    lifecycle: str = "production",
) -> dict[str, Any]:
    """The Backstage catalog ``Component`` of a workload (``catalog-info.yaml``).

    Args:
        contract: the workload contract.
        interface_url: where people read the interface document (the contract's Markdown spelling).
        system: the Backstage System the component belongs to (default: the MLflow model's name).
        lifecycle: the component's lifecycle (``experimental``, ``production``, ``deprecated``).

    Returns:
        The entity: owner ``group:<ML team>``, ``spec.system``, links to the interface document and
        each owner's runbook, annotations ``signoff.dev/*`` (model, contract digest, teams) and tags
        (``ml-model``, ``gpu-<product>`` or ``cpu``).
    """
    owners = contract.spec.owners
    gpu = contract.spec.resources.gpu
    tags = ["ml-model", f"gpu-{gpu.product.lower()}" if gpu is not None else "cpu"]
    annotations = {
        f"{_ANNOTATION_PREFIX}mlflow-model": contract.metadata.model,
        f"{_ANNOTATION_PREFIX}contract-digest": contract.digest(),
        f"{_ANNOTATION_PREFIX}ml-team": owners.ml.team,
        f"{_ANNOTATION_PREFIX}platform-team": owners.platform.team,
        f"{_ANNOTATION_PREFIX}sre-team": owners.sre.team,
    }
    if owners.sre.pager:
        annotations[f"{_ANNOTATION_PREFIX}sre-pager"] = owners.sre.pager
    slos = contract.spec.slos
    return {
        "apiVersion": BACKSTAGE_API_VERSION,
        "kind": "Component",
        "metadata": {
            "name": contract.name,
            "title": f"{contract.name} (MLflow model {contract.metadata.model})",
            "description": (
                f"Model serving workload under a signoff contract: P99 latency < {slos.p99_latency}, "
                f"availability {slos.availability}, cold start <= {slos.max_cold_start}."
            ),
            "annotations": annotations,
            "tags": tags,
            "links": _links(contract, interface_url),
        },
        "spec": {
            "type": "service",
            "lifecycle": lifecycle,
            "owner": _group(owners.ml.team),
            "system": system or _system_name(contract.metadata.model),
        },
    }


def _system_name(model: str) -> str:
    """A Backstage entity name from an MLflow model name ([a-zA-Z0-9._-], at most 63, no edge '-')."""
    text = re.sub(r"[^A-Za-z0-9._-]", "-", model)[:63].strip("-._")
    return text or "ml-models"
