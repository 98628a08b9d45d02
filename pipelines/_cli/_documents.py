"""The documents a command is pointed at: a contract, a trust policy, envelope files, with clear errors.

Shared by ``signoff verify``, ``check promotion`` and ``approve``; imports the loader and nothing that
talks to an outside system, so ``signoff verify`` starts without the registry's modules.
"""

from __future__ import annotations

from pathlib import Path

from contracts.errors import InputError
from contracts.loader import load_contract, load_trust_policy
from contracts.trust import TrustPolicy
from contracts.workload import WorkloadContract

__all__ = ["load_contract_checked", "load_trust_checked", "read_envelopes"]


def load_contract_checked(path: Path) -> WorkloadContract:
    """Load a contract, with a clear error for a missing file."""

    if not Path(path).is_file():
        raise InputError(f"--contract: {path} is not a file")
    return load_contract(path)


def load_trust_checked(path: Path) -> TrustPolicy:
    """Load a trust policy, with a clear error for a missing file."""

    if not Path(path).is_file():
        raise InputError(f"--trust: {path} is not a file")
    return load_trust_policy(path)


def read_envelopes(paths: list[Path], flag: str = "ENVELOPE") -> list[bytes]:
    """The bytes of each envelope file (clear error when one is missing)."""
    out = []
    for p in paths:
        try:
            out.append(Path(p).read_bytes())
        except OSError as exc:
            raise InputError(f"{flag}: cannot read {p}: {exc.strerror}") from None
    return out
