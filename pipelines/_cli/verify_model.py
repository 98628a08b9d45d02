"""``signoff verify-model``: refuse to start a serving pod whose model files are not the signed ones.

    signoff verify-model DIR --digest sha256:HEX

Recomputes the digest of the model folder ``DIR`` with exactly the code the ML-artifact gate used
(:func:`components.digest.digest_folder`: per-file sha256, then sha256 over the sorted manifest)
and compares it with ``--digest``, the signed subject's digest (``signoff.dev/model-digest``).
Rendered as an init container after the storage initializer (``gates/render.py``), so a model
changed in storage after promotion, or swapped on the way, never serves.

Exit 0 when they are equal; 1 when they differ (the files that differ cannot be named without the
signed manifest, so the two digests are printed); 2 on bad input (no such folder, a symlink or
special file inside, a malformed digest). Offline; imports only the standard library and signoff's
digest code.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from components.digest import digest_folder
from contracts import errors

__all__ = ["configure"]

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff verify-model``."""
    parser.add_argument("folder", type=Path, metavar="DIR", help="the downloaded model folder (/mnt/models)")
    parser.add_argument(
        "--digest", required=True, metavar="sha256:HEX", help="the signed subject's model digest"
    )
    parser.add_argument(
        "--workers", type=int, default=2, metavar="N", help="threads hashing files (default 2)"
    )
    parser.set_defaults(func=_run)


def _run(ns: argparse.Namespace) -> int:

    if not _DIGEST.fullmatch(ns.digest):
        raise errors.InputError(
            f"--digest {ns.digest!r}: not 'sha256:' and 64 lower-case hex digits (the signed "
            "signoff.dev/model-digest)"
        )
    if ns.workers < 1:
        raise errors.InputError(f"--workers {ns.workers}: at least 1")
    started = time.perf_counter()
    manifest = digest_folder(ns.folder, workers=ns.workers)
    took = time.perf_counter() - started
    size = sum(f.size for f in manifest.files)
    what = f"{len(manifest.files)} files, {size / 2**20:,.1f} MiB in {took:.1f} s"
    if manifest.digest != ns.digest:
        raise errors.VerificationError(
            [
                f"{ns.folder}: the model files digest to {manifest.digest}, not the signed {ns.digest} "
                f"({what}); they are not the promoted model version's files, so the pod does not start"
            ]
        )
    print(f"{ns.folder}: {manifest.digest} is the signed digest ({what})", file=sys.stderr)
    return 0
