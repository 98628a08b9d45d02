"""Workload contracts, cluster policies and trust policies: the documents signoff reads.

Needs only pydantic, PyYAML and the standard library. Public surface:

* :class:`WorkloadContract` and its sections, :class:`ClusterPolicy`, :class:`TrustPolicy`
* :func:`load_contract`, :func:`load_cluster_policy`, :func:`load_trust_policy`, :func:`load_document`
* both spellings: :func:`parse_contract_text`, :func:`dump_contract_yaml`, :func:`parse_markdown`,
  :func:`render_markdown`; the JSON Schemas: :func:`schemas`
* ``models:/`` references: :class:`ModelUri`, :func:`parse_model_uri` (:mod:`contracts.model_uri`)
* the unit types :class:`Duration`, :class:`Percent`, :class:`ByteSize`; :func:`format_bytes`
* the error tree in :mod:`contracts.errors`

Importing the package costs nothing: each name is imported from its module on first use (PEP 562),
so ``from contracts import errors`` (the CLI's error handling) does not build every pydantic model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contracts._units import ByteSize, Duration, Percent, format_bytes
    from contracts.canonical import canonical_json
    from contracts.cluster import ClusterPolicy, GpuProduct, GpuRoutes, KServeDeploymentMode, ServingMode
    from contracts.errors import (
        ConflictError,
        DocumentError,
        InputError,
        PermanentError,
        SignoffError,
        TemporaryError,
        VerificationError,
    )
    from contracts.gate import REQUIRED_GATES, Gate
    from contracts.loader import (
        dump_contract_yaml,
        load_cluster_policy,
        load_contract,
        load_document,
        load_trust_policy,
        parse_contract_text,
    )
    from contracts.markdown import parse_markdown, render_markdown
    from contracts.model_uri import ModelUri, parse_model_uri
    from contracts.schema import schemas
    from contracts.trust import TrustPolicy
    from contracts.workload import (
        Alert,
        Approval,
        ProblemKind,
        Role,
        Signal,
        WorkloadContract,
    )

_WHERE = {
    "ByteSize": "contracts._units",
    "Duration": "contracts._units",
    "Percent": "contracts._units",
    "format_bytes": "contracts._units",
    "ClusterPolicy": "contracts.cluster",
    "GpuProduct": "contracts.cluster",
    "GpuRoutes": "contracts.cluster",
    "KServeDeploymentMode": "contracts.cluster",
    "ServingMode": "contracts.cluster",
    "ConflictError": "contracts.errors",
    "DocumentError": "contracts.errors",
    "InputError": "contracts.errors",
    "PermanentError": "contracts.errors",
    "SignoffError": "contracts.errors",
    "TemporaryError": "contracts.errors",
    "VerificationError": "contracts.errors",
    "dump_contract_yaml": "contracts.loader",
    "load_cluster_policy": "contracts.loader",
    "load_contract": "contracts.loader",
    "load_document": "contracts.loader",
    "load_trust_policy": "contracts.loader",
    "parse_contract_text": "contracts.loader",
    "parse_markdown": "contracts.markdown",
    "render_markdown": "contracts.markdown",
    "ModelUri": "contracts.model_uri",
    "parse_model_uri": "contracts.model_uri",
    "schemas": "contracts.schema",
    "REQUIRED_GATES": "contracts.gate",
    "Gate": "contracts.gate",
    "TrustPolicy": "contracts.trust",
    "Alert": "contracts.workload",
    "Approval": "contracts.workload",
    "ProblemKind": "contracts.workload",
    "Role": "contracts.workload",
    "Signal": "contracts.workload",
    "WorkloadContract": "contracts.workload",
    "canonical_json": "contracts.canonical",
}
"""Each public name and the module that defines it."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'contracts' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "REQUIRED_GATES",
    "Alert",
    "Approval",
    "ByteSize",
    "ClusterPolicy",
    "ConflictError",
    "DocumentError",
    "Duration",
    "Gate",
    "GpuProduct",
    "GpuRoutes",
    "InputError",
    "KServeDeploymentMode",
    "ModelUri",
    "Percent",
    "PermanentError",
    "ProblemKind",
    "Role",
    "ServingMode",
    "Signal",
    "SignoffError",
    "TemporaryError",
    "TrustPolicy",
    "VerificationError",
    "WorkloadContract",
    "canonical_json",
    "dump_contract_yaml",
    "format_bytes",
    "load_cluster_policy",
    "load_contract",
    "load_document",
    "load_trust_policy",
    "parse_contract_text",
    "parse_markdown",
    "parse_model_uri",
    "render_markdown",
    "schemas",
]
