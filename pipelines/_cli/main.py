"""The ``signoff`` command line.

Start-up is kept cheap: this module imports only the standard library. Each command group lives
in its own module under ``pipelines._cli`` and is imported only when that group runs, so
``signoff --help`` never loads kfp, mlflow, hera or kubernetes.

Exit codes (the same for every command):

* 0: done, every gate passed / every envelope verified
* 1: a gate refused, or signed data did not verify (the reasons are printed)
* 2: bad input from the user (file, field path and what would be valid are printed)
* 3: an outside system failed in a way retrying may fix (MLflow down, timeout)
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

from pipelines._cli import _errors


class _Group(NamedTuple):
    module: str
    help: str


# Command name -> module that implements it. Each module defines
# ``configure(parser: argparse.ArgumentParser) -> None``; the parser's ``func`` default
# (set by ``configure`` on the parser or its subparsers) is called with the parsed namespace
# and returns the exit code.
GROUPS: dict[str, _Group] = {
    "contract": _Group("pipelines._cli.contract", "check, convert, scaffold and export workload contracts"),
    "keys": _Group("pipelines._cli.keys", "generate a team's signing key pair"),
    "check": _Group(
        "pipelines._cli.check", "run one gate (ml, platform, readiness, promotion); print its checks"
    ),
    "render": _Group("pipelines._cli.render", "render the serving manifests and observability objects"),
    "probe": _Group("pipelines._cli.probe", "measure a staging endpoint against the contract's SLOs"),
    "approve": _Group("pipelines._cli.approve", "sign the ML team's manual promotion approval"),
    "verify": _Group("pipelines._cli.verify", "verify signed verdicts: who signed what, does it hold"),
    "verify-model": _Group(
        "pipelines._cli.verify_model", "refuse to serve a model folder whose digest is not the signed one"
    ),
    "promote": _Group("pipelines._cli.registry", "move the production alias once every verdict verifies"),
    "rollback": _Group("pipelines._cli.registry", "move the production alias back, with a signed record"),
    "audit": _Group("pipelines._cli.registry", "show each alias, its promotion record and the history"),
    "report": _Group("pipelines._cli.report", "one self-contained HTML page: gates, signers, probe, history"),
    "listen": _Group(
        "pipelines._cli.listen", "webhook receivers: MLflow (submit the pipeline), Alertmanager (rollback)"
    ),
    "deploy": _Group("pipelines._cli.deploy", "apply promoted manifests to a cluster and wait until ready"),
    "compile": _Group("pipelines._cli.compile", "compile the gated-promotion pipeline for KFP or Argo"),
    "submit": _Group("pipelines._cli.submit", "submit the pipeline to a KFP or Argo server"),
    "run": _Group("pipelines._cli.run", "run the whole pipeline here with KFP's local runner"),
    "export": _Group("pipelines._cli.export", "the contract as OpenSLO documents or a Backstage Component"),
    "drift": _Group(
        "pipelines._cli.drift", "publish a served model's accuracy and data drift for its alerts"
    ),
    "admission": _Group(
        "pipelines._cli.admission", "the admission policy's GPU routes, rendered from the cluster policy"
    ),
    "demo": _Group("pipelines._cli.demo", "the whole idea in one command: local MLflow, a model, four gates"),
}


CURRENT_ARGV: tuple[str, ...] = ()
"""The arguments after the command name, for groups that import a module per subcommand."""


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signoff",
        description=(
            "Executable handoff contracts for models going to production on Kubernetes GPUs. "
            "Every handoff (ML artifact, platform template, SRE readiness, promotion) is a gate "
            "whose verdict is signed by the team that owns it."
        ),
        epilog="Run 'signoff COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, group in GROUPS.items():
        sub.add_parser(name, help=group.help, add_help=False)
    return parser


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("signoff")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``signoff`` command; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in GROUPS:
        top = _top_parser()
        ns = top.parse_args(args)  # prints help / errors (exit 2) for unknown commands
        if ns.version:
            print(f"signoff {_version()}")
            return 0
        top.print_help()
        return 0 if not args else 2
    name, rest = args[0], args[1:]
    global CURRENT_ARGV
    CURRENT_ARGV = tuple(rest)
    group = GROUPS[name]
    parser = argparse.ArgumentParser(prog=f"signoff {name}", description=group.help)
    module = importlib.import_module(group.module)
    configure = getattr(module, f"configure_{name}", None) or module.configure
    configure(parser)
    ns = parser.parse_args(rest)
    func = getattr(ns, "func", None)
    if func is None:
        parser.print_help()
        return 2

    return _errors.run_guarded(func, ns)


if __name__ == "__main__":  # pragma: no cover
    # ``python -m pipelines._cli.main``: run the module proper, not this ``__main__`` copy of it, so
    # the groups that read CURRENT_ARGV (``check``, ``contract``) see the arguments.
    from pipelines._cli import main as _module

    sys.exit(_module.main())
