"""``signoff check readiness``: the SRE readiness gate, every check printed with its figures.

    signoff check readiness --contract C --manifests FILE --policy P --model NAME --version V
        --model-digest sha256:... [--probe-result JSON] [--rollback-target V | --first-release]
        [--observability FILE] [--alertmanager FILE] [--verdict FILE] [--key KEY --out DIR]
    signoff check readiness --contract C --policy P --probe-result JSON --key KEY --out DIR ...

With ``--out DIR`` (where ``signoff check ml`` and ``check platform`` wrote their verdicts) the
model, version and digest not given are those of the ML verdict there, and the manifests not given
are ``DIR/manifests.yaml``, refused unless their digest is the one the platform verdict there signs
(these files are read, not verified: the promotion gate verifies every signature). ``--key`` signs
the SRE verdict (``pipelines._cli._signed``).

The manifests come from ``signoff render``. The observability objects and the Alertmanager routes
are rendered from the contract here (namespace and serving mode read from the manifests, else the
cluster policy's production namespace and serving mode), unless ``--observability`` /
``--alertmanager`` name the files to judge (e.g. the ones ``signoff render`` wrote, as edited).
Exit 0 when the gate passes, 1 when it refuses, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from contracts.cluster import ClusterPolicy, ServingMode
from contracts.errors import InputError
from contracts.loader import load_cluster_policy, load_contract
from contracts.trust import Gate
from gates import observability as obs
from gates.evidence import ProbeResult
from gates.readiness import evaluate
from gates.render import Manifests
from gates.verdict import Subject
from pipelines._cli import _report, _signed


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff check readiness``."""
    parser.add_argument(
        "--contract", required=True, type=Path, metavar="C", help="workload contract (.yaml or .md)"
    )
    parser.add_argument(
        "--manifests",
        type=Path,
        metavar="FILE",
        help="rendered manifests (signoff render); default with --out DIR: DIR/manifests.yaml",
    )
    parser.add_argument("--policy", required=True, type=Path, metavar="P", help="cluster policy document")
    parser.add_argument(
        "--model", metavar="NAME", help="MLflow registered model name (default: the verdicts in --out DIR)"
    )
    parser.add_argument("--version", metavar="V", help="MLflow model version number (default: as --model)")
    parser.add_argument(
        "--model-digest", metavar="sha256:HEX", help="digest of the model's files (default: as --model)"
    )
    parser.add_argument(
        "--probe-result", type=Path, metavar="JSON", help="figures of the live probe (signoff probe --json)"
    )
    rollback = parser.add_mutually_exclusive_group()
    rollback.add_argument("--rollback-target", metavar="V", help="the previous production version")
    rollback.add_argument(
        "--first-release", action="store_true", help="declare there is no previous version (warns)"
    )
    parser.add_argument(
        "--observability",
        type=Path,
        metavar="FILE",
        help="judge these monitoring objects, not a fresh render",
    )
    parser.add_argument(
        "--alertmanager",
        type=Path,
        metavar="FILE",
        help="judge this Alertmanager configuration, not a fresh render",
    )
    parser.add_argument(
        "--verdict", type=Path, metavar="FILE", help="write the (unsigned) verdict as JSON here"
    )
    _signed.add_arguments(parser, "SRE")
    parser.set_defaults(func=run)


def _yaml_docs(flag: str, path: Path) -> list[dict[str, Any]]:
    import yaml

    if not path.is_file():
        raise InputError(f"{flag}: {path} is not a file")
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as exc:
        raise InputError(f"{flag}: {path} is not YAML: {exc}") from None
    if not all(isinstance(d, dict) for d in docs):
        raise InputError(f"{flag}: {path}: every document must be a mapping (a Kubernetes object or config)")
    return docs


def _probe(path: Path) -> ProbeResult:
    from pydantic import ValidationError

    if not path.is_file():
        raise InputError(f"--probe-result: {path} is not a file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"--probe-result: {path} is not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("probe"), dict):
        data = data["probe"]  # a report that wraps the figures
    try:
        return ProbeResult.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors())
        raise InputError(f"--probe-result: {path}: not probe figures: {problems}") from None


def _placement(manifests: list[dict[str, Any]], policy: ClusterPolicy) -> tuple[str, ServingMode]:

    serving = [m for m in manifests if m.get("kind") in ("InferenceService", "Deployment")]
    if not serving:
        return policy.spec.namespaces.production.name, policy.spec.serving
    obj = serving[0]
    mode = ServingMode.KSERVE if obj["kind"] == "InferenceService" else ServingMode.DEPLOYMENT
    namespace = (obj.get("metadata") or {}).get("namespace") or policy.spec.namespaces.production.name
    return str(namespace), mode


def _from_folder(ns: argparse.Namespace) -> str | None:
    """Fill the model, version, digest and manifests not given from the verdicts in ``--out DIR``;
    return the manifests digest the platform verdict there signs (``None`` without one)."""

    folder = ns.out if ns.out is not None and ns.out.suffix != ".json" else None
    if folder is not None and folder.is_dir():
        ml = _signed.verdict_in([folder], Gate.ML_ARTIFACT)
        platform = _signed.verdict_in([folder], Gate.PLATFORM)
        source = ml or platform
        if source is not None and ns.model in (None, source.subject.model):
            ns.model = ns.model or source.subject.model
            ns.version = ns.version or source.subject.version
            ns.model_digest = ns.model_digest or source.subject.digest
        if ns.manifests is None and (folder / "manifests.yaml").is_file():
            ns.manifests = folder / "manifests.yaml"
            if platform is not None:
                return platform.artifacts.get("manifests")
    missing = [
        flag
        for flag, value in (
            ("--model", ns.model),
            ("--version", ns.version),
            ("--model-digest", ns.model_digest),
            ("--manifests", ns.manifests),
        )
        if value is None
    ]
    if missing:
        where = f"in {folder}" if folder is not None else "without --out DIR"
        raise InputError(
            f"pass {', '.join(missing)}: no ML verdict and manifests {where} to take them from "
            "(run 'signoff check ml' and 'signoff check platform' with --key KEY --out DIR first)"
        )
    return None


def run(ns: argparse.Namespace) -> int:
    """Evaluate the readiness gate and print its checks; 0 when it passes, 1 when it refuses."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    for flag, path in (("--contract", ns.contract), ("--policy", ns.policy)):
        if not Path(path).is_file():
            raise InputError(f"{flag}: {path} is not a file")
    _signed.check_arguments(ns)
    contract = load_contract(ns.contract)
    policy = load_cluster_policy(ns.policy)
    platform_signed = _from_folder(ns)
    try:
        subject = Subject(model=ns.model, version=ns.version, digest=ns.model_digest)
    except ValidationError as exc:
        flags = {"model": "--model", "version": "--version", "digest": "--model-digest"}
        raise InputError(
            "; ".join(f"{flags.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors())
        ) from None
    manifests = _yaml_docs("--manifests", ns.manifests)
    if platform_signed is not None:
        have = Manifests(objects=tuple(manifests)).digest()
        if have != platform_signed:
            raise InputError(
                f"--manifests: {ns.manifests} (digest {have}) are not the manifests the platform verdict "
                f"signs ({platform_signed}); judge the ones 'signoff check platform --out' wrote"
            )
    namespace, mode = _placement(manifests, policy)
    if ns.observability:
        observability = _yaml_docs("--observability", ns.observability)
    else:
        observability = obs.render_observability(contract, namespace=namespace, mode=mode, policy=policy)
    if ns.alertmanager:
        docs = _yaml_docs("--alertmanager", ns.alertmanager)
        if len(docs) != 1:
            raise InputError(f"--alertmanager: {ns.alertmanager}: expected one configuration document")
        alertmanager = docs[0]
    else:
        alertmanager = obs.alertmanager_config(contract)
    probe = _probe(ns.probe_result) if ns.probe_result else None
    verdict = evaluate(
        contract,
        manifests=manifests,
        observability=observability,
        alertmanager=alertmanager,
        probe=probe,
        rollback_target=ns.rollback_target,
        first_release=bool(ns.first_release),
        subject=subject,
        now=datetime.now(UTC),
        metrics=obs.MetricNames.for_policy(policy, mode),
    )
    print(f"sre-readiness gate for {subject.uri} under contract {contract.name} ({mode.value}, {namespace})")
    _report.print_checks(verdict)
    for name, digest in verdict.artifacts.items():
        print(f"{name} digest: {digest}")
    if ns.verdict:
        ns.verdict.write_text(verdict.model_dump_json(indent=2) + "\n", encoding="utf-8")
    _signed.sign_and_keep(verdict, ns)
    return _report.print_outcome(verdict)
