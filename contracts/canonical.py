"""What every signoff document shares: its ``apiVersion``, and the canonical JSON its digest covers.

Its own module, with nothing but :mod:`json` behind it, so that a command which only verifies
signatures (``signoff verify``) reads and digests documents without building every model.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["API_VERSION", "DIGEST", "canonical_json"]

API_VERSION: Final = "signoff.dev/v1alpha1"
"""The ``apiVersion`` of every signoff document."""

DIGEST: Final = r"^sha256:[0-9a-f]{64}$"
"""The spelling of every digest signoff writes: ``sha256:`` and 64 lower-case hex digits."""


def canonical_json(data: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact separators, UTF-8, no NaN."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()
