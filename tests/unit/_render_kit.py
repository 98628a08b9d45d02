"""Shared inputs of the render and platform-gate tests: the example contracts, policy, model and image."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from contracts.cluster import ClusterPolicy
from contracts.loader import load_cluster_policy, load_contract
from contracts.workload import WorkloadContract
from gates.render import ModelRef
from gates.verdict import Subject

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
POLICY_FILE = EXAMPLES / "cluster-policy.yaml"
DIGEST = "sha256:" + "1" * 64
IMAGE = "registry.example.com/ml/serving-runtime@sha256:" + "2" * 64


def example_contract_files() -> list[Path]:
    """Every example workload contract in YAML (the Markdown twins hold the same contracts)."""
    out = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("kind") == "WorkloadContract":
            out.append(path)
    return out


def policy() -> ClusterPolicy:
    return load_cluster_policy(POLICY_FILE)


def contract(name: str = "recsys-ranker") -> WorkloadContract:
    return load_contract(EXAMPLES / f"{name}.yaml")


def model_for(c: WorkloadContract, version: str = "7") -> ModelRef:
    return ModelRef(
        name=c.metadata.model,
        version=version,
        storage_uri=f"s3://models/{c.metadata.model}/{version}/artifacts",
        digest=DIGEST,
    )


def subject_for(m: ModelRef) -> Subject:
    return Subject(model=m.name, version=m.version, digest=m.digest)


def changed(model: Any, changes: dict[str, Any]) -> Any:
    """A re-validated copy of a pydantic document with dotted-path changes, e.g. ``{"spec.x": 1}``."""
    data = copy.deepcopy(model.model_dump(mode="json"))
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return type(model).model_validate(data)
