"""``signoff demo``: local MLflow, a trained model, the four gates, promotion (or a refusal)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines import demo


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff demo``."""
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("signoff-demo"),
        help="working folder: MLflow's sqlite and artifacts, keys, documents, run outputs "
        "(default: ./signoff-demo; a second run reuses it)",
    )
    parser.add_argument(
        "--break",
        dest="break_at",
        choices=["ml", "platform", "sre"],
        help="make one owner's input wrong and show the refusal at that gate: "
        "ml = a model below the accuracy threshold, platform = an image not pinned by digest from "
        "an unknown registry, sre = a P99 objective the model cannot meet",
    )
    parser.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    """Run the demo; exit 0 when it ends as asked (promoted, or refused at the broken gate)."""

    result = demo.run_demo(ns.workdir, break_at=demo.check_break(ns.break_at))
    print(demo.render_result(result))
    if ns.break_at is None:
        return 0 if result.promoted else 1
    refused_where_asked = (
        not result.promoted
        and result.registry_unchanged
        and result.run.failed is not None
        and result.run.failed.gate.value.startswith(
            {"ml": "ml", "platform": "platform", "sre": "sre"}[ns.break_at]
        )
    )
    return 0 if refused_where_asked else 1
