"""``signoff check platform``: render the manifests and check them against the cluster policy.

Same inputs as ``signoff render``; prints each check with its figures and exits 1 when the gate
refuses. ``--manifests FILE`` checks an existing (possibly edited) manifests file instead of a fresh
render; ``--verdict FILE`` writes the (unsigned) verdict as JSON. With ``--key`` the Platform team
signs it (``pipelines._cli._signed``); ``--out DIR`` then also holds the checked manifests
(``DIR/manifests.yaml``, what ``signoff check readiness --out DIR`` judges), and a model digest not
given is taken from the ML verdict already in DIR.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from contracts.errors import InputError
from contracts.trust import Gate
from gates.platform import evaluate
from gates.render import Manifests
from gates.verdict import Subject
from pipelines._cli import _report, _signed
from pipelines._cli.render import add_inputs, load_inputs, render_inputs


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``signoff check platform``."""
    add_inputs(parser)
    parser.add_argument(
        "--manifests", type=Path, metavar="FILE", help="check this manifests file, not a new render"
    )
    parser.add_argument("--verdict", type=Path, metavar="FILE", help="write the verdict (JSON) here")
    _signed.add_arguments(parser, "Platform")
    parser.set_defaults(func=run)


def _load_manifests(path: Path) -> Manifests:
    import yaml

    if not path.is_file():
        raise InputError(f"--manifests: {path} is not a file")
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as exc:
        raise InputError(f"--manifests: {path} is not YAML: {exc}") from None
    if not all(isinstance(d, dict) for d in docs):
        raise InputError(f"--manifests: {path}: every document must be a Kubernetes object (a mapping)")
    return Manifests(objects=tuple(docs))


def run(ns: argparse.Namespace) -> int:
    """Evaluate the platform gate and print its checks; 0 when it passes, 1 when it refuses."""
    from datetime import UTC, datetime

    _signed.check_arguments(ns)
    folder = ns.out if ns.out is not None and ns.out.suffix != ".json" else None
    if ns.model_digest is None and folder is not None:
        ml = _signed.verdict_in([folder], Gate.ML_ARTIFACT)
        if ml is not None and ml.subject.uri == ns.model:
            ns.model_digest = ml.subject.digest
    inputs = load_inputs(ns)
    manifests = _load_manifests(ns.manifests) if ns.manifests else render_inputs(inputs)
    subject = Subject(model=inputs.model.name, version=inputs.model.version, digest=inputs.model.digest)
    verdict = evaluate(
        inputs.contract, inputs.policy, manifests, subject, datetime.now(UTC), image=inputs.image
    )
    print(f"platform gate for {subject.uri} under contract {inputs.contract.name} ({inputs.mode.value})")
    _report.print_checks(verdict)
    print(f"manifests digest: {verdict.artifacts['manifests']}")
    if ns.verdict:
        ns.verdict.write_text(verdict.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if _signed.sign_and_keep(verdict, ns) is not None and folder is not None:
        (folder / "manifests.yaml").write_text(manifests.to_yaml(), encoding="utf-8")
        print(f"checked manifests: {folder / 'manifests.yaml'}")
    return _report.print_outcome(verdict)
