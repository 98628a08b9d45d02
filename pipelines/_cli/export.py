"""``signoff export``: the contract in other tools' formats.

    signoff export openslo CONTRACT [--mode kserve|deployment] [--namespace NS] [-o FILE]
    signoff export backstage CONTRACT [--interface-url URL] [--system NAME] [--lifecycle STAGE] [-o FILE]

``openslo`` writes a YAML stream of OpenSLO v1 documents (a Service, then an SLI and an SLO each for
availability, P99 latency and cold start); ``backstage`` writes a Backstage catalog ``Component``
(``catalog-info.yaml``). The documents are built by :mod:`gates.export`. Offline: imports only
``contracts`` and ``gates`` (pydantic, PyYAML).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from contracts import errors, loader
from contracts.cluster import ServingMode
from gates import export
from gates.observability import MetricNames, to_yaml
from pipelines._cli.contract import write_output

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``export`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="format", metavar="FORMAT")

    slo = sub.add_parser("openslo", help="OpenSLO v1 Service, SLI and SLO documents for the contract's SLOs")
    slo.add_argument("contract", metavar="CONTRACT", help="workload contract (.yaml or .md)")
    slo.add_argument(
        "--mode",
        choices=("kserve", "deployment"),
        default="kserve",
        help="the serving mode; both run MLServer, so the queries read its rest_server_requests_total "
        "and rest_server_request_duration_seconds",
    )
    slo.add_argument(
        "--namespace",
        default="default",
        metavar="NS",
        help="namespace of the serving pods (default: default)",
    )
    slo.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    slo.set_defaults(func=_openslo)

    bs = sub.add_parser("backstage", help="a Backstage catalog Component (catalog-info.yaml)")
    bs.add_argument("contract", metavar="CONTRACT", help="workload contract (.yaml or .md)")
    bs.add_argument(
        "--interface-url",
        metavar="URL",
        help="where people read the interface document (default: the contract's Markdown file name, "
        "for a catalog-info.yaml kept beside it)",
    )
    bs.add_argument("--system", metavar="NAME", help="Backstage System (default: the MLflow model name)")
    bs.add_argument(
        "--lifecycle",
        default="production",
        metavar="STAGE",
        help="experimental, production (default), deprecated",
    )
    bs.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    bs.set_defaults(func=_backstage)


def _dump(docs: list[dict[str, object]]) -> str:

    return "---\n".join(to_yaml(d) for d in docs)


def _openslo(ns: argparse.Namespace) -> int:

    contract = loader.load_contract(ns.contract)
    metrics = MetricNames.for_mode(ServingMode(ns.mode))
    write_output(_dump(export.openslo_documents(contract, metrics, namespace=ns.namespace)), ns.output)
    return 0


def _non_empty(flag: str, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise errors.InputError(f"{flag}: must not be empty")
    return value


def _backstage(ns: argparse.Namespace) -> int:

    contract = loader.load_contract(ns.contract)
    url = _non_empty("--interface-url", ns.interface_url) or Path(ns.contract).with_suffix(".md").name
    system = _non_empty("--system", ns.system)
    lifecycle = _non_empty("--lifecycle", ns.lifecycle) or "production"
    entity = export.backstage_component(contract, interface_url=url, system=system, lifecycle=lifecycle)
    write_output(_dump([entity]), ns.output)
    return 0
