"""The documents a command is pointed at: a contract, a trust policy, envelope files, with clear errors.

Shared by ``signoff verify``, ``check promotion`` and ``approve``; imports the loader and nothing that
talks to an outside system, so ``signoff verify`` starts without the registry's modules. The loader
builds a kind's models only when it reads a document of that kind, and :func:`contract_terms_checked`
reads a plainly valid YAML contract without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from contracts import _fastcheck, _yaml
from contracts.errors import InputError
from contracts.loader import load_contract, load_trust_policy
from gates import _plain
from gates._plain import PlainTrust
from gates.holds import ContractTerms

if TYPE_CHECKING:
    from contracts.trust import TrustPolicy
    from contracts.workload import WorkloadContract

__all__ = [
    "contract_terms_checked",
    "load_contract_checked",
    "load_trust_checked",
    "plain_trust_checked",
    "read_envelopes",
]


def load_contract_checked(path: Path) -> WorkloadContract:
    """Load a contract, with a clear error for a missing file."""

    if not Path(path).is_file():
        raise InputError(f"--contract: {path} is not a file")
    return load_contract(path)


def contract_terms_checked(path: Path) -> ContractTerms:
    """What a verdict must match in a contract (:class:`gates.holds.ContractTerms`).

    A plainly valid YAML contract is read without its models (:mod:`contracts._fastcheck`: the same
    terms and digest); any other is loaded by the models, which word every error.
    """
    if not Path(path).is_file():
        raise InputError(f"--contract: {path} is not a file")
    plain = _fastcheck.plain_contract_file(path)
    if plain is not None:
        return ContractTerms.of_plain(*plain)
    return ContractTerms.of(load_contract(path))


def plain_trust_checked(path: Path) -> PlainTrust | None:
    """A plainly valid trust policy read without its models (:mod:`gates._plain`); None when the
    models must read it (:func:`load_trust_checked`, which words every error).

    Raises:
        DocumentError: the file cannot be read or is not acceptable YAML (the loader's own refusals,
            worded by the same code).
    """
    if not Path(path).is_file():
        return None
    data, _lines = _yaml.yaml_to_data(_yaml.read_text(path), str(path))
    return _plain.plain_trust(data)


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
