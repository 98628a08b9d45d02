"""Run the whole KFP gated-promotion pipeline on this machine with KFP's own local runner.

``kfp.local`` with ``SubprocessRunner(use_venv=False)`` runs each component as a subprocess of this
Python, with the signoff installed here: the same compiled component code as in the cluster, the
same data passing and the same "a failed task stops everything downstream" rule. Components are
built with ``install_kfp_package=False`` (the kfp runtime is already here, as it is in the step
image), so no task installs anything at start.

Keys: ``kfp.local`` has no Kubernetes Secrets, so the per-task Secret mounts of the compiled pipeline
do not apply here. Each task instead reads its owner's key from the folder in ``SIGNOFF_KEYS_DIR``
(``ml.pem``, ``platform.pem``, ``sre.pem``), which this runner sets for the run. On one machine every
key is readable by every task: a local run shows the gates, not the separation of duties.

Outputs: ``<out_dir>/kfp/<run>/<task>/<output>`` holds every task's artifacts (envelopes, reports,
manifests), also for a task that failed; ``<out_dir>/kfp.log`` the runner's log.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml

from components import procenv, steps
from components.steps import spec
from contracts import errors
from contracts import model_uri as model_uri_parser
from contracts.loader import load_cluster_policy, load_contract, load_trust_policy
from contracts.trust import Gate, TrustPolicy
from contracts.workload import WorkloadContract
from gates import signing
from pipelines import kfp_pipeline

_D = TypeVar("_D")

__all__ = [
    "DEFAULT_SERVING_IMAGE",
    "GATE_TASKS",
    "LOCAL_ARTIFACT_STORE",
    "GateOutcome",
    "LocalRunResult",
    "contract_text",
    "run_local",
]

DEFAULT_SERVING_IMAGE = (
    "ghcr.io/signoff-dev/mlflow-serve@sha256:5f0c2a3c1e6b9d4f7a8e2c1b0d9f8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e"
)
"""The serving image the platform step renders in local runs (pinned by digest, an allowed registry
of the example cluster policy). Locally nothing pulls it; the gates judge the reference."""
LOCAL_ARTIFACT_STORE = "pvc://mlflow-artifacts"
"""Where the rendered manifests of a local run say the model files are. The local MLflow server
proxies its artifacts (``mlflow-artifacts:/...``), which no serving pod can fetch; a cluster would
read the same store from object storage or a volume. Locally nothing applies the manifests."""
LOCAL_STEP_IMAGE = "python:3.11-slim"
"""Base image name compiled into the local run's components (the subprocess runner ignores it)."""
GATE_TASKS: tuple[tuple[Gate, str], ...] = tuple(
    (s.gate, s.name) for s in spec.gate_steps() if s.gate is not None
)
"""Each gate and the KFP task that decides it, in pipeline order."""


@dataclass(frozen=True)
class GateOutcome:
    """One gate of a local run."""

    gate: Gate
    ran: bool
    """False when the pipeline stopped before this gate."""
    passed: bool
    team: str | None = None
    """The team whose key signed the verdict."""
    checks: str = ""
    """e.g. ``"14 checks: 13 pass, 1 fail"``."""
    reasons: tuple[str, ...] = ()
    """Each failing check (``id: message``), or the step's error when it failed before deciding."""
    figures: dict[str, float] = field(default_factory=dict)
    envelope_path: Path | None = None
    report_path: Path | None = None

    @property
    def status(self) -> str:
        if not self.ran:
            return "not run"
        return "passed" if self.passed else "REFUSED"


@dataclass(frozen=True)
class LocalRunResult:
    """What a local run did."""

    model_uri: str
    passed: bool
    """Every gate passed and the version was promoted."""
    gates: tuple[GateOutcome, ...]
    out_dir: Path
    run_dir: Path | None
    wall_s: float
    log_path: Path

    @property
    def promoted(self) -> bool:
        return self.passed

    @property
    def failed(self) -> GateOutcome | None:
        """The gate that refused (or whose step failed), if any."""
        return next((g for g in self.gates if g.ran and not g.passed), None)

    def table(self) -> str:
        """The per-gate outcome table, plain text."""
        rows = [("gate", "signed by", "outcome", "checks")]
        rows += [(g.gate.value, g.team or "", g.status, g.checks) for g in self.gates]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _read_doc(path: str | Path, label: str, loader: Callable[[Path], _D]) -> tuple[str, _D]:
    """The document's text and model: read and validated once, here, so a bad document is reported
    with its file name before any task runs."""
    p = Path(path)
    if not p.is_file():
        raise errors.InputError(f"{label}: {p} is not a file")
    return p.read_text(encoding="utf-8"), loader(p)


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _watch(root: Path, progress: Callable[[str], None], stop: threading.Event) -> None:
    """Report each gate task as it starts and ends (a task folder appears; its envelope appears)."""
    seen: set[str] = set()
    while not stop.wait(0.2):
        for gate, task in GATE_TASKS:
            for event, probe in (("running", ""), ("decided", "envelope")):
                key = f"{task}:{event}"
                if key in seen:
                    continue
                if any(root.glob(f"*/{task}/{probe}") if probe else root.glob(f"*/{task}")):
                    seen.add(key)
                    progress(f"{gate.value}: {event}")


def _outcome(gate: Gate, task_dir: Path | None, trust: TrustPolicy) -> GateOutcome:

    if task_dir is None or not task_dir.is_dir():
        return GateOutcome(gate=gate, ran=False, passed=False)
    envelope = task_dir / "envelope"
    report = task_dir / "report"
    report_path = report if report.is_file() else None
    if not envelope.is_file():
        text = report.read_text(encoding="utf-8") if report_path else ""
        reason = text.split("\n", 2)[-1].strip() if text else "the step failed before its gate decided"
        return GateOutcome(gate=gate, ran=True, passed=False, reasons=(reason,), report_path=report_path)
    try:
        verdict = signing.verify_envelope(envelope.read_bytes(), trust).verdict
    except errors.SignoffError as exc:
        return GateOutcome(gate=gate, ran=True, passed=False, reasons=(f"envelope does not verify: {exc}",),
                           envelope_path=envelope, report_path=report_path)  # fmt: skip
    counts: dict[str, int] = {}
    for c in verdict.checks:
        counts[c.outcome.value] = counts.get(c.outcome.value, 0) + 1
    summary = f"{len(verdict.checks)} checks: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return GateOutcome(
        gate=gate,
        ran=True,
        passed=verdict.passed,
        team=verdict.team,
        checks=summary,
        reasons=tuple(f"{c.id}: {c.message}" for c in verdict.failures),
        figures=steps.figures(verdict),
        envelope_path=envelope,
        report_path=report_path,
    )


def contract_text(path: str | Path) -> str:
    """The contract as the pipeline's ``contract`` parameter: its YAML text (a Markdown contract is
    converted to the YAML spelling of the same contract, with the same digest)."""

    return _contract_doc(path)[0]


def _contract_doc(path: str | Path) -> tuple[str, WorkloadContract]:
    """The contract's pipeline text (see :func:`contract_text`) and the contract, parsed once."""
    text, contract = _read_doc(path, "CONTRACT", load_contract)
    if Path(path).suffix.lower() != ".md":
        return text, contract
    return yaml.safe_dump(contract.model_dump(mode="json"), sort_keys=False), contract


def _role_keys(keys: Path, contract: WorkloadContract) -> dict[str, Path]:
    """Each owner role's private key in ``keys``: ``<role>.pem``, or ``<team>.key`` of the team the
    contract names for the role (what ``signoff keys generate`` writes)."""
    owners = contract.spec.owners
    teams = {"ml": owners.ml.team, "platform": owners.platform.team, "sre": owners.sre.team}
    found: dict[str, Path] = {}
    missing = []
    for role, team in teams.items():
        candidates = (keys / f"{role}.pem", keys / f"{team}.key")
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            missing.append(f"{candidates[1].name} (or {candidates[0].name})")
        else:
            found[role] = hit
    if missing:
        raise errors.InputError(
            f"--keys-dir {keys}: missing {', '.join(missing)}: one private key per owner role, "
            f"as 'signoff keys generate --contract CONTRACT --out {keys}' writes them"
        )
    return found


def _keys_folder(role_keys: dict[str, Path], out: Path) -> Path:
    """A folder of ``<role>.pem`` (what the steps read): the given one, or links in the run folder."""
    folders = {p.parent for p in role_keys.values()}
    if len(folders) == 1 and all(p.name == f"{r}.pem" for r, p in role_keys.items()):
        return folders.pop()
    links = out / "keys"
    links.mkdir(mode=0o700, exist_ok=True)
    for role, path in role_keys.items():
        link = links / f"{role}.pem"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(path.resolve())  # a link: the private key is not copied anywhere
    return links


def run_local(
    contract_path: str | Path,
    model_uri: str,
    policy_path: str | Path,
    trust_path: str | Path,
    keys_dir: str | Path,
    *,
    staging_url: str = "local",
    image: str = DEFAULT_SERVING_IMAGE,
    tracking_uri: str | None = None,
    progress: Callable[[str], None] | None = None,
    out_dir: str | Path | None = None,
    artifact_store: str = LOCAL_ARTIFACT_STORE,
    probe_seconds: float = 10.0,
    first_release: bool = False,
) -> LocalRunResult:
    """Run the gated-promotion pipeline here with ``kfp.local``, against a real MLflow.

    Args:
        contract_path: the workload contract (YAML or Markdown).
        model_uri: ``models:/NAME/VERSION``.
        policy_path: the cluster policy.
        trust_path: the trust policy.
        keys_dir: the owners' private keys: ``<team>.key`` of each owner team (``signoff keys
            generate``), or ``ml.pem``, ``platform.pem`` and ``sre.pem``.
        staging_url: the endpoint the SRE step probes, or ``local`` to serve the version here.
        image: the serving image the platform step renders into the manifests.
        tracking_uri: MLflow tracking URI; default ``$MLFLOW_TRACKING_URI``.
        progress: called with one line per gate event (``"platform: running"``).
        out_dir: where the run's outputs go; default a new temporary folder (kept).
        artifact_store: the MLflow artifact store as the serving cluster would read it (the
            rendered manifests' storage URI is the version's path under it).
        probe_seconds: how long the SRE step loads the endpoint.
        first_release: declare that the model has no earlier production version; without it the
            SRE gate refuses a model that has none (no rollback target).

    Returns:
        Per-gate outcomes, the output folder and the wall time. A refused gate is a result, not
        an exception.

    Raises:
        InputError: a document, the model URI, the keys folder or the tracking URI is wrong.
    """

    name, version = model_uri_parser.exact_version(model_uri)
    contract, parsed = _contract_doc(contract_path)
    policy, _ = _read_doc(policy_path, "--policy", load_cluster_policy)
    trust_text, trust = _read_doc(trust_path, "--trust", load_trust_policy)
    role_keys = _role_keys(Path(keys_dir), parsed)
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise errors.InputError("no MLflow tracking URI: pass --tracking-uri or set MLFLOW_TRACKING_URI")
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="signoff-run-"))
    out.mkdir(parents=True, exist_ok=True)
    keys = _keys_folder(role_keys, out)
    root = out / "kfp"
    log_path = out / "kfp.log"

    started = time.monotonic()
    stop = threading.Event()
    watcher = None
    if progress is not None:
        watcher = threading.Thread(target=_watch, args=(root, progress, stop), daemon=True)
        watcher.start()
    # Each task is a subprocess of this one: this interpreter's bin/ goes first on its PATH, so the
    # commands a task starts (mlflow, uvicorn) are found without an activated venv.
    env = {
        "SIGNOFF_KEYS_DIR": str(keys.resolve()),
        "MLFLOW_TRACKING_URI": uri,
        "PATH": procenv.child_env()["PATH"],
    }
    buffer = io.StringIO()
    try:
        with _environ(env), warnings.catch_warnings(), contextlib.redirect_stdout(buffer):
            warnings.simplefilter("ignore")
            kfp_pipeline.run_locally(
                str(root),
                LOCAL_STEP_IMAGE,
                dict(
                    model_name=name,
                    model_version=version,
                    contract=contract,
                    cluster_policy=policy,
                    trust_policy=trust_text,
                    image=image,
                    mlflow_tracking_uri=uri,
                    staging_url=staging_url,
                    artifact_store=artifact_store,
                    probe_seconds=float(probe_seconds),
                    first_release=bool(first_release),
                    deploy=False,  # local runs never deploy: nothing here is a cluster
                ),
            )
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(timeout=2)
        log_path.write_text(buffer.getvalue(), encoding="utf-8")
    runs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    run_dir = runs[-1] if runs else None
    outcomes = tuple(_outcome(g, run_dir / task if run_dir else None, trust) for g, task in GATE_TASKS)
    result = LocalRunResult(
        model_uri=model_uri,
        passed=all(o.ran and o.passed for o in outcomes),
        gates=outcomes,
        out_dir=out,
        run_dir=run_dir,
        wall_s=time.monotonic() - started,
        log_path=log_path,
    )
    if progress is not None:
        for o in outcomes:
            progress(f"{o.gate.value}: {o.status}" + (f" ({o.team})" if o.team else ""))
    return result
