"""Where the tests find the binaries ``tools/cluster/build`` built (kubectl, kube-apiserver, ...).

``$SIGNOFF_CLUSTER_BIN`` (``make test`` exports it), else the folder ``tools/cluster/build --print-bin``
names. Never a kubectl on ``PATH``: the tests use the version pinned in tools/cluster/go.mod. A missing
binary fails the test with the command that builds it (``make cluster-tools``); it is never a skip.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "tools" / "cluster" / "build"
ENV = "SIGNOFF_CLUSTER_BIN"


@functools.cache
def bin_dir() -> Path:
    """The bin folder of the built tools (it may not exist yet)."""
    env = os.environ.get(ENV)
    if env:
        return Path(env)
    out = subprocess.run([str(BUILD), "--print-bin"], capture_output=True, text=True, timeout=60, check=False)
    if out.returncode != 0:
        pytest.fail(f"tools/cluster/build --print-bin failed:\n{out.stderr}", pytrace=False)
    return Path(out.stdout.strip())


def tool(name: str) -> str:
    """The path of one built binary; fails the test clearly when it has not been built."""
    path = bin_dir() / name
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"{name} not built ({path} missing): run 'make cluster-tools' (tools/cluster/build), "
            f"or set {ENV} to the folder it prints",
            pytrace=False,
        )
    return str(path)
