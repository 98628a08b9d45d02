"""``signoff run CONTRACT --model models:/NAME/VERSION``: the whole KFP pipeline, run here.

Runs the compiled gated-promotion pipeline's components as local subprocesses (``kfp.local``)
against the configured MLflow (``--tracking-uri`` or ``MLFLOW_TRACKING_URI``) and prints one row per
gate. Exit 0 when every gate passed and the version was promoted; exit 1 with the refusing gate's
reasons otherwise. Keys come from ``--keys-dir`` (each owner team's ``<team>.key`` as ``signoff keys
generate`` writes it, or ``ml.pem``, ``platform.pem``, ``sre.pem``;
default ``$SIGNOFF_KEYS_DIR``): KFP's local runner has no Kubernetes Secrets.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from components.steps import spec
from contracts import errors
from pipelines import local


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the run options."""
    parser.add_argument("contract", metavar="CONTRACT", help="the workload contract (.yaml or .md)")
    parser.add_argument(
        "--model", required=True, metavar="models:/NAME/VERSION", help="the model version to gate"
    )
    parser.add_argument("--policy", required=True, metavar="FILE", help="the cluster policy")
    parser.add_argument("--trust", required=True, metavar="FILE", help="the trust policy")
    parser.add_argument(
        "--keys-dir", metavar="DIR", default=os.environ.get("SIGNOFF_KEYS_DIR"),
        help="folder with ml.pem, platform.pem, sre.pem (default $SIGNOFF_KEYS_DIR)",
    )  # fmt: skip
    parser.add_argument(
        "--staging-url", default="local", metavar="URL|local",
        help="endpoint the SRE step probes; 'local' serves the version here (default)",
    )  # fmt: skip
    parser.add_argument(
        "--image", default=None, metavar="IMAGE", help="serving image the platform step renders"
    )
    parser.add_argument(
        "--tracking-uri", default=None, metavar="URI", help="MLflow (default $MLFLOW_TRACKING_URI)"
    )
    parser.add_argument(
        "--artifact-store", default=None, metavar="URI",
        help="MLflow's artifact store as a cluster reads it, for the rendered storage URI (default pvc://mlflow-artifacts)",
    )  # fmt: skip
    parser.add_argument(
        "--probe-seconds",
        type=float,
        default=spec.param("probe-seconds").default,
        help="how long SRE loads the endpoint (10)",
    )
    parser.add_argument(
        "--first-release", action="store_true",
        help="declare that the model has no earlier production version (else SRE needs a rollback target)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="keep the run's outputs here")
    parser.add_argument("--quiet", action="store_true", help="print only the outcome table")
    parser.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    """Run the pipeline; print the per-gate table and the refusing gate's reasons."""

    if not ns.keys_dir:
        raise errors.InputError(
            "--keys-dir: pass the folder of the owners' private keys (signoff keys generate --contract C "
            "--out DIR writes them) or set SIGNOFF_KEYS_DIR"
        )

    def progress(line: str) -> None:
        if not ns.quiet:
            print(f"  {line}", file=sys.stderr, flush=True)

    result = local.run_local(
        ns.contract, ns.model, ns.policy, ns.trust, ns.keys_dir,
        staging_url=ns.staging_url, image=ns.image or local.DEFAULT_SERVING_IMAGE,
        tracking_uri=ns.tracking_uri, progress=progress, out_dir=ns.out,
        artifact_store=ns.artifact_store or local.LOCAL_ARTIFACT_STORE, probe_seconds=ns.probe_seconds,
        first_release=ns.first_release,
    )  # fmt: skip
    print(result.table())
    print(f"\noutputs: {result.run_dir or result.out_dir}  (log: {result.log_path}; {result.wall_s:.1f}s)")
    failed = result.failed
    if failed is not None:
        print(
            f"\n{failed.gate.value} refused{f' (signed by {failed.team})' if failed.team else ''}:",
            file=sys.stderr,
        )
        for reason in failed.reasons or ("(no reason recorded; see the log)",):
            print(f"  - {reason}", file=sys.stderr)
        return 1
    if not result.passed:
        print("the pipeline did not finish; see the log", file=sys.stderr)
        return 1
    print(f"\n{result.model_uri} promoted: every owner's signed verdict verified")
    return 0
