"""Read signoff documents from files (YAML or Markdown) into their models.

This first version is deliberately small; see the hardened loader notes in the module's tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from contracts.cluster import ClusterPolicy
from contracts.errors import DocumentError, Problem
from contracts.trust import TrustPolicy
from contracts.workload import WorkloadContract

M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], data: object, file: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()
        ]
        raise DocumentError(file, problems) from None


def load_contract(path: str | Path) -> WorkloadContract:
    """Load a workload contract from YAML (``.yaml``/``.yml``) or Markdown (``.md``)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    return _validate(WorkloadContract, yaml.safe_load(text), str(p))


def load_cluster_policy(path: str | Path) -> ClusterPolicy:
    """Load a cluster policy document."""
    p = Path(path)
    return _validate(ClusterPolicy, yaml.safe_load(p.read_text(encoding="utf-8")), str(p))


def load_trust_policy(path: str | Path) -> TrustPolicy:
    """Load a trust policy document."""
    p = Path(path)
    return _validate(TrustPolicy, yaml.safe_load(p.read_text(encoding="utf-8")), str(p))
