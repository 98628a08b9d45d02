"""``signoff check GATE``: run one gate and print each check with its figures.

Each gate's command lives in its own module (``check_ml``, ``check_platform``,
``check_readiness``, ``check_promotion``), imported only when that gate runs.
"""

from __future__ import annotations

import argparse
import importlib

from pipelines._cli import main

GATES = {
    "ml": ("pipelines._cli.check_ml", "the ML-artifact gate on an MLflow model version"),
    "platform": ("pipelines._cli.check_platform", "render the manifests, check them against cluster policy"),
    "readiness": ("pipelines._cli.check_readiness", "the SRE readiness gate (with or without a live probe)"),
    "promotion": ("pipelines._cli.check_promotion", "verify every signed verdict for one model version"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add one subcommand per gate; only the chosen gate's module is imported."""
    sub = parser.add_subparsers(dest="gate", metavar="GATE")

    chosen = next((a for a in main.CURRENT_ARGV if not a.startswith("-")), None)
    for name, (module, help_text) in GATES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).configure(p)
