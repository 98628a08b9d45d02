"""The environment of every process signoff starts: this interpreter's own ``bin/`` comes first.

A virtualenv's console scripts (``mlflow``, ``uvicorn``, ``signoff``) sit beside ``sys.executable``.
When signoff runs as ``.venv/bin/signoff`` without the venv activated, that folder is not on
``PATH``, and a child that looks a command up by name fails: ``mlflow models serve`` runs
``bash -c 'exec uvicorn ...'``, which ends with exit 127 (``uvicorn: not found``). So every child
gets :func:`child_env`, and commands are started by absolute path (:func:`executable`).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from contracts import errors

__all__ = ["bin_dir", "child_env", "executable"]


def bin_dir() -> Path:
    """The folder of this interpreter's console scripts (``sys.executable``'s folder, not resolved:
    a venv's ``bin/python`` is a symlink into the base interpreter's folder)."""
    return Path(sys.executable).parent


def child_env(
    extra: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``base`` (default ``os.environ``) updated with ``extra``, with :func:`bin_dir` first on ``PATH``."""
    env = dict(os.environ if base is None else base)
    env.update(extra or {})
    first = str(bin_dir())
    rest = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != first]
    env["PATH"] = os.pathsep.join([first, *rest])
    return env


def executable(name: str, *, hint: str) -> str:
    """The absolute path of command ``name``: beside this interpreter first, then on ``PATH``.

    Args:
        name: The command, e.g. ``mlflow``.
        hint: What to do when it is missing (appended to the error).

    Raises:
        contracts.errors.InputError: the command is installed nowhere.
    """
    beside = bin_dir() / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise errors.InputError(f"the '{name}' command was not found beside {sys.executable} or on PATH; {hint}")


def exit_report(
    what: str, code: int, after_s: float, log: str, log_path: Path | None, *, lines: int = 20
) -> str:
    """What to say when a server exits before it is ready, e.g. ``mlflow models serve exited with
    code 127 after 2.1 s``, then where its log is kept and the log's last ``lines`` lines."""
    tail = "\n".join(log.splitlines()[-lines:])
    where = f"; its log: {log_path}" if log_path is not None else ""
    text = f"{what} exited with code {code} after {after_s:.1f} s{where}"
    return f"{text}\nlast {lines} lines of its log:\n{tail}" if tail else f"{text} (its log is empty)"
