"""What every signoff document shares: its ``apiVersion``, and the canonical JSON its digest covers;
and the digest of a model's files, its identity in every verdict.

Its own module, with nothing but :mod:`json` and :mod:`hashlib` behind it, so that a command which
only verifies signatures (``signoff verify``) reads and digests documents without building every
model, and ``signoff verify-model`` digests a model folder without pydantic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Final, Protocol

__all__ = ["API_VERSION", "DIGEST", "canonical_json", "files_digest"]

API_VERSION: Final = "signoff.dev/v1alpha1"
"""The ``apiVersion`` of every signoff document."""

DIGEST: Final = r"^sha256:[0-9a-f]{64}$"
"""The spelling of every digest signoff writes: ``sha256:`` and 64 lower-case hex digits."""


def canonical_json(data: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact separators, UTF-8, no NaN."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


class _File(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...


def files_digest(files: Iterable[_File]) -> str:
    """``sha256:<hex>`` over the canonical JSON of the files (each ``{"path", "sha256", "size"}``)
    sorted by path: a model folder's identity."""
    entries = [
        {"path": f.path, "sha256": f.sha256, "size": f.size} for f in sorted(files, key=lambda f: f.path)
    ]
    return "sha256:" + hashlib.sha256(canonical_json(entries)).hexdigest()
