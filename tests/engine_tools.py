"""Where the tests find the engine binaries ``tools/<engine>/build`` built (Argo's workflow-controller
and argo-lint, ...): one Go module per engine, since their Kubernetes libraries conflict.

``$SIGNOFF_<ENGINE>_BIN`` (``make test`` exports it, e.g. ``SIGNOFF_ARGO_BIN``), else the folder
``tools/<engine>/build --print-bin`` names. A missing binary fails the test with the command that
builds it (``make engine-tools``); it is never a skip.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def env_name(engine: str) -> str:
    """The environment variable naming the engine's bin folder (``SIGNOFF_ARGO_BIN``)."""
    return f"SIGNOFF_{engine.upper()}_BIN"


@functools.cache
def bin_dir(engine: str) -> Path:
    """The bin folder of the engine's built tools (it may not exist yet)."""
    env = os.environ.get(env_name(engine))
    if env:
        return Path(env)
    build = ROOT / "tools" / engine / "build"
    out = subprocess.run([str(build), "--print-bin"], capture_output=True, text=True, timeout=60, check=False)
    if out.returncode != 0:
        pytest.fail(f"tools/{engine}/build --print-bin failed:\n{out.stderr}", pytrace=False)
    return Path(out.stdout.strip())


def tool(engine: str, name: str) -> str:
    """The path of one built binary; fails the test clearly when it has not been built."""
    path = bin_dir(engine) / name
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"{name} not built ({path} missing): run 'make engine-tools' (tools/{engine}/build), "
            f"or set {env_name(engine)} to the folder it prints",
            pytrace=False,
        )
    return str(path)
