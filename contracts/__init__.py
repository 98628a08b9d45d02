"""Workload contracts, cluster policies and trust policies: the documents signoff reads.

Needs only pydantic, PyYAML and the standard library. Public surface:

* :class:`WorkloadContract` and its sections, :class:`ClusterPolicy`, :class:`TrustPolicy`
* :func:`load_contract`, :func:`load_cluster_policy`, :func:`load_trust_policy`, :func:`load_document`
* both spellings: :func:`parse_contract_text`, :func:`dump_contract_yaml`, :func:`parse_markdown`,
  :func:`render_markdown`; the JSON Schemas: :func:`schemas`
* ``models:/`` references: :class:`ModelUri`, :func:`parse_model_uri` (:mod:`contracts.model_uri`)
* the unit types :class:`Duration`, :class:`Percent`, :class:`ByteSize`; :func:`format_bytes`
* the error tree in :mod:`contracts.errors`
"""

from contracts._units import ByteSize, Duration, Percent, format_bytes
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
from contracts.trust import REQUIRED_GATES, Gate, TrustPolicy
from contracts.workload import (
    Alert,
    Approval,
    ProblemKind,
    Role,
    Signal,
    WorkloadContract,
    canonical_json,
)

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
