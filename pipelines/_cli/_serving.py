"""The serving options of ``signoff rollback`` and ``signoff audit`` (``--namespace`` and credentials).

With ``--namespace``, ``rollback`` re-applies the target version's promoted manifests and waits until
they are ready (``components.rollout``), and ``audit`` reads the serving object back and shows its
version beside the production alias, flagging a mismatch.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from components import kube, rollout
from contracts import errors
from contracts._units import Duration

if TYPE_CHECKING:
    from components.mlflow_registry import Registry


def add_options(parser: argparse.ArgumentParser, *, rollback: bool) -> None:
    """Add ``--namespace``, ``--kubeconfig``, ``--context`` (and, for rollback, ``--deadline``)."""
    what = (
        "re-apply the target's promoted manifests in NS and wait until ready"
        if rollback
        else "also read the serving object in NS and compare its version with the alias"
    )
    parser.add_argument("--namespace", "-n", metavar="NS", help=what)
    parser.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig (default: in-cluster, then ~/.kube)")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context")
    if rollback:
        parser.add_argument(
            "--deadline", default="10m", metavar="DURATION", help="how long to wait for Ready"
        )
        parser.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)


def precheck(ns: argparse.Namespace, registry: Registry, name: str, version: str) -> None:
    """Before the alias moves: with ``--namespace``, the target must have promoted manifests kept."""
    if ns.namespace and registry.promoted_manifests(name, version) is None:
        raise errors.InputError(
            f"--namespace: {name} version {version} has no promoted manifests kept with it (the promotion "
            "step, or `signoff deploy --model`, keeps them), so serving cannot follow; nothing was changed. "
            "Roll back the alias alone (without --namespace) and deploy that version's manifests yourself"
        )


def move(ns: argparse.Namespace, registry: Registry, name: str, version: str) -> int:
    """After the alias moved: move serving (when ``--namespace``); the exit code."""
    if not ns.namespace:
        print("serving   not moved (no --namespace): the alias alone went back", flush=True)
        return 0

    try:
        deadline = Duration.parse(ns.deadline).seconds
    except ValueError as exc:
        raise errors.InputError(f"--deadline: {exc}") from None
    client = kube.load_client(ns.kubeconfig, ns.context)
    moved = rollout.move_serving(
        registry, name, version, namespace=ns.namespace, client=client, deadline_s=deadline, poll_s=ns.poll
    )
    for ref in moved.applied:
        print(f"applied   {ref} in {ns.namespace}")
    if moved.ready_after_s is None:
        print(f"signoff: refused: {moved.kind}/{moved.name} was not ready within {ns.deadline}; "
              "`signoff audit --namespace` shows the mismatch")  # fmt: skip
        return 1
    print(f"ready     {moved.kind}/{moved.name} serves version {version} after {moved.ready_after_s:.1f}s")
    return 0


def state(ns: argparse.Namespace, registry: Registry, name: str, production_alias: str) -> Any:
    """The serving state beside the alias (None without ``--namespace``)."""
    if not getattr(ns, "namespace", None):
        return None

    client = kube.load_client(ns.kubeconfig, ns.context)
    return rollout.serving_state(
        registry, name, namespace=ns.namespace, client=client, production_alias=production_alias
    )
