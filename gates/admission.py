"""The GPU routes of the admission policy, rendered from the cluster policy.

``infra/policies/require-promotion/policy.yaml`` opens its ``variables`` with the block this module
renders from ``ClusterPolicy.spec.gpu_routes`` (one source of truth: the cluster policy). A test
compares the committed policy with :func:`gpu_route_variables` of the committed example cluster
policy, and ``signoff admission variables --cluster-policy FILE [--check|--write POLICY]`` prints,
checks or rewrites the block (between the two marker comments :data:`BEGIN` and :data:`END`).

Each variable is a CEL list literal of strings:

* ``gpuResourcePrefixes``: ``vendor/`` prefixes (from ``vendor/*`` entries);
* ``gpuResourceNames``: exact extended resource names;
* ``gpuDeviceClasses``, ``gpuRuntimeClasses``, ``gpuDeviceEnv``, ``cpuRuntimes``: as listed.
"""

from __future__ import annotations

from typing import Any

import yaml

from contracts.cluster import ClusterPolicy

__all__ = ["BEGIN", "END", "GENERATED_VARIABLES", "gpu_route_variables", "replace_block", "variables_block"]

BEGIN = "    # --- generated from the cluster policy's gpu_routes (gates/admission.py); do not edit by hand"
"""First line of the generated block in the policy file (a comment at the variables' indentation)."""
END = "    # --- end of generated variables"
"""Last line of the generated block."""

GENERATED_VARIABLES: tuple[str, ...] = (
    "gpuResourcePrefixes",
    "gpuResourceNames",
    "gpuDeviceClasses",
    "gpuRuntimeClasses",
    "gpuDeviceEnv",
    "cpuRuntimes",
)
"""Names of the policy variables :func:`gpu_route_variables` renders, in order."""


def _cel_list(values: list[str]) -> str:
    """A CEL list literal of single-quoted strings (the model's patterns admit no quote or backslash)."""
    for value in values:
        if "'" in value or "\\" in value:
            raise ValueError(f"not a plain name: {value!r}")
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def gpu_route_variables(policy: ClusterPolicy) -> list[dict[str, Any]]:
    """The ValidatingAdmissionPolicy variables that say what counts as a GPU in this cluster.

    Args:
        policy: the cluster policy; its ``spec.gpu_routes`` is read.

    Returns:
        ``[{"name": ..., "expression": ...}, ...]`` in the order of :data:`GENERATED_VARIABLES`.
    """
    routes = policy.spec.gpu_routes
    prefixes = sorted({r[:-1] for r in routes.extended_resources if r.endswith("/*")})
    names = sorted({r for r in routes.extended_resources if not r.endswith("/*")})
    names = [n for n in names if not any(n.startswith(p) for p in prefixes)]
    values = {
        "gpuResourcePrefixes": prefixes,
        "gpuResourceNames": names,
        "gpuDeviceClasses": sorted(set(routes.device_classes)),
        "gpuRuntimeClasses": sorted(set(routes.runtime_classes)),
        "gpuDeviceEnv": sorted(set(routes.device_env)),
        "cpuRuntimes": sorted(set(routes.cpu_runtimes)),
    }
    return [{"name": name, "expression": _cel_list(values[name])} for name in GENERATED_VARIABLES]


def variables_block(policy: ClusterPolicy) -> str:
    """The generated variables as YAML list items indented for ``spec.variables``, markers included."""
    dumped = yaml.safe_dump(gpu_route_variables(policy), sort_keys=False, width=1000)
    body = "".join("    " + line + "\n" for line in dumped.splitlines())
    return BEGIN + "\n" + body + END + "\n"


def replace_block(policy_text: str, policy: ClusterPolicy) -> str:
    """``policy_text`` (the ValidatingAdmissionPolicy file) with its generated block rendered anew.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    lines = policy_text.splitlines(keepends=True)
    stripped = [line.rstrip("\n") for line in lines]
    if stripped.count(BEGIN) != 1 or stripped.count(END) != 1:
        raise ValueError("the policy has no single generated block (marker comments missing)")
    start, end = stripped.index(BEGIN), stripped.index(END)
    if end < start:
        raise ValueError("the generated block's end marker comes before its start")
    return "".join(lines[:start]) + variables_block(policy) + "".join(lines[end + 1 :])
