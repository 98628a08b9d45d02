"""``signoff contract``: check, convert, scaffold and export workload contracts.

* ``signoff contract check FILE...``: each file in either spelling (by extension), of any kind
  (WorkloadContract, ClusterPolicy, TrustPolicy: read from ``kind``). Prints ``ok FILE (KIND
  DIGEST)`` per good file and every bad file's problems; exit 2 if any file is bad
  (:mod:`pipelines._cli.contract_check`).
* ``signoff contract convert FILE --to yaml|md [-o OUT]``: one spelling to the other.
* ``signoff contract schema [--write] [--out DIR] [--check]``: the JSON Schemas.
* ``signoff contract init NAME [-o FILE | --out DIR] [--md] [--model-size SIZE]``: a commented starting
  contract that passes every gate's static checks; with ``--out DIR`` also a starting cluster policy
  (convert, schema and init: :mod:`pipelines._cli.contract_tools`).

Only the chosen action's module is imported, so ``contract check`` of a plain contract starts without
pydantic. No kfp, mlflow, hera or kubernetes in any of them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from contracts import errors
from pipelines._cli import main

__all__ = ["ACTIONS", "configure", "write_output"]

ACTIONS = {
    "check": (
        "pipelines._cli.contract_check",
        "check documents (contract .yaml/.md, cluster or trust policy)",
    ),
    "convert": (
        "pipelines._cli.contract_tools",
        "convert a contract between its YAML and Markdown spellings",
    ),
    "schema": ("pipelines._cli.contract_tools", "print or write the JSON Schema of each document"),
    "init": ("pipelines._cli.contract_tools", "write a commented starting contract for a new workload"),
}
"""Each action, the module implementing it (``configure_<action>``) and its help."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``contract`` subcommands to ``parser``; only the chosen one's module is imported."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    chosen = next((a for a in main.CURRENT_ARGV if not a.startswith("-")), None)
    for name, (module, help_text) in ACTIONS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:
            getattr(importlib.import_module(module), f"configure_{name}")(p)


def write_output(text: str, output: str | None) -> None:
    """Write ``text`` to ``output`` (standard output for none or ``-``); a clean error when it cannot."""
    if output in (None, "-"):
        sys.stdout.write(text)
        return
    assert output is not None
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise errors.InputError(f"{output}: cannot write: {exc.strerror}") from None
    print(f"wrote {output}", file=sys.stderr)
