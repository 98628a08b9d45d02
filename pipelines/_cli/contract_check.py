"""``signoff contract check FILE...``: check documents of any kind; print each one's digest.

A YAML workload contract that :mod:`contracts._fastcheck` finds plainly valid is checked without
pydantic (the same digest, in a fraction of the start-up); every other document, and every document
with a mistake, is validated by the models (:mod:`contracts.loader`), which word the error: file,
line, field path and what would be valid. The loader is imported only then.
"""

from __future__ import annotations

import argparse
import sys

from contracts import _fastcheck, errors

__all__ = ["configure_check"]


def configure_check(check: argparse.ArgumentParser) -> None:
    """Add the arguments of ``signoff contract check``."""
    check.add_argument(
        "files", nargs="+", metavar="FILE", help="documents to check; the kind is read from each"
    )
    check.set_defaults(func=_check)


def _plain_digest(file: str) -> str | None:
    """The digest of a plainly valid YAML workload contract, or None: the models decide.

    Raises:
        DocumentError: the file cannot be read or is not acceptable YAML (the loader's own refusals).
    """
    plain = _fastcheck.plain_contract_file(file)
    return None if plain is None else plain[1]


def _with_models(file: str) -> str:
    """``KIND DIGEST`` of a document validated by its model.

    Raises:
        DocumentError: the document is invalid.
    """
    from contracts import loader  # pydantic and the models: only for what the fast path leaves

    doc = loader.load_document(file)
    return f"{doc.kind} {doc.digest()}"


def _check(ns: argparse.Namespace) -> int:
    bad = 0
    for file in ns.files:
        try:
            digest = _plain_digest(file)
            what = f"WorkloadContract {digest}" if digest is not None else _with_models(file)
        except errors.DocumentError as exc:
            bad += 1
            print(f"signoff: error: {exc}", file=sys.stderr)
            continue
        print(f"ok {file} ({what})")
    if bad:
        print(f"signoff: {bad} of {len(ns.files)} files have errors", file=sys.stderr)
        return 2
    return 0
