"""Pure decisions: every gate is ``evaluate(...) -> Verdict`` with its inputs passed in.

No network, no clock, no file reads. Also here: rendering manifests from a contract and policy,
and signing and verifying verdicts (DSSE envelopes around in-toto Statements).

Importing the package costs nothing: ``Check``, ``Outcome``, ``Subject`` and ``Verdict`` are imported
from :mod:`gates.verdict` on first use (PEP 562), so a module that needs no model (``gates.dsse``)
does not build them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gates.verdict import Check, Outcome, Subject, Verdict

__all__ = ["Check", "Outcome", "Subject", "Verdict"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'gates' has no attribute {name!r}")
    value = getattr(importlib.import_module("gates.verdict"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
