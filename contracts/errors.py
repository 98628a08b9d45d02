"""Errors of signoff, rooted here so every layer can share them.

The tree::

    SignoffError                  base of everything signoff raises on purpose
    ├── InputError                the user's input is wrong; retrying cannot help (exit 2)
    │   └── DocumentError         a document (contract, policy, trust) is invalid:
    │                             file, field path, line and what would be valid
    ├── PermanentError            an outside system refused for good (exit 1); no retry
    │   ├── VerificationError     signed data did not verify; carries every reason
    │   └── ConflictError         someone else changed the registry first (lost a race)
    └── TemporaryError            an outside system failed in a way retrying may fix (exit 3):
                                  connection refused, 5xx, timeout

KFP and Argo retry policies retry only on exit code 3 (``TemporaryError``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SignoffError(Exception):
    """Base of every error signoff raises on purpose."""

    exit_code = 1


class InputError(SignoffError):
    """The user's input is wrong; retrying cannot help."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where it is and what would be valid."""

    path: str
    """Field path such as ``slos.p99_latency`` or ``alerts[2].pages`` (``""`` for the whole file)."""
    message: str
    line: int | None = None

    def render(self, file: str) -> str:
        where = file
        if self.line is not None:
            where += f":{self.line}"
        if self.path:
            where += f": {self.path}"
        return f"{where}: {self.message}"


class DocumentError(InputError):
    """A document is invalid. ``str()`` names the file, the field path, the line and the fix."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.file = file
        self.problems = tuple(problems)
        super().__init__("\n".join(p.render(file) for p in self.problems))

    @classmethod
    def at(cls, file: str, path: str, message: str, line: int | None = None) -> DocumentError:
        """The error of one problem: ``file``, the field ``path``, what is wrong, and the line."""
        return cls(file, [Problem(path, message, line)])


class PermanentError(SignoffError):
    """An outside system refused for good; retrying cannot help."""

    exit_code = 1


class VerificationError(PermanentError):
    """Signed data did not verify. ``reasons`` lists every reason, not just the first."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("; ".join(self.reasons) or "verification failed")


class ConflictError(PermanentError):
    """Another actor changed the registry between our read and our write."""


class TemporaryError(SignoffError):
    """An outside system failed in a way retrying may fix (connection refused, 5xx, timeout)."""

    exit_code = 3
