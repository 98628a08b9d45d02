"""``signoff demo``: the whole idea in one command, on the embedded default.

1. a local MLflow (sqlite and artifacts under the working folder; a second run reuses them), or the
   server in ``MLFLOW_TRACKING_URI``;
2. the ML team's training job logs and registers a small scikit-learn model with a signature, an
   input example and its accuracy;
3. the three owners' documents: a workload contract (YAML and the Markdown interface document), the
   platform team's cluster policy, a trust policy, and one Ed25519 key per team (made once);
4. the gated-promotion pipeline, run by KFP's local runner: ML artifact, platform render and check,
   SRE readiness with a live probe of the version served by ``mlflow models serve``, promotion;
5. a per-gate table and where to look next.

``--break ml|platform|sre`` makes one owner's input wrong (a model below the accuracy threshold, a
serving image that is not pinned by digest, a P99 objective the model cannot meet) and shows the
refusal, with the production alias untouched.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from components import keys, local_tracking, procenv
from components.mlflow_registry import Registry
from contracts import errors, format_bytes, loader, markdown
from contracts.trust import Gate
from gates import signing
from pipelines import demo_training, local

BreakAt = Literal["ml", "platform", "sre"]
CONTRACT_HEADER = (
    "# yaml-language-server: $schema=https://signoff.dev/schema/workload-contract.schema.json\n"
    "# The demo's workload contract (also written as contract.md, the interface document).\n"
)
MODEL_NAME = "signoff-demo-iris"
WORKLOAD = "iris-classifier"
TEAMS = {"ml": "demo-ml-team", "platform": "demo-platform-team", "sre": "demo-sre-team"}
GOOD_IMAGE = (
    "registry.example.com/ml/mlflow-serve"
    "@sha256:5f0c2a3c1e6b9d4f7a8e2c1b0d9f8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e"
)
BAD_IMAGE = "docker.io/library/python:3.11"
"""``--break platform``: a tag, from a registry the cluster policy does not allow."""


@dataclass
class DemoResult:
    """What the demo did; ``phases`` are wall times in seconds, in order."""

    workdir: Path
    model_uri: str
    promoted: bool
    broke: BreakAt | None
    aliases_before: dict[str, str]
    aliases_after: dict[str, str]
    phases: dict[str, float] = field(default_factory=dict)
    run: Any = None
    """The ``pipelines.local.LocalRunResult``."""
    tracking_uri: str = ""
    ui_command: str = ""
    backend_uri: str = ""
    """Where ``signoff audit`` finds the registry once the demo's server has stopped."""
    verified: list[str] = field(default_factory=list)
    """One line per signed verdict of the run, as ``signoff verify`` reports it."""
    model_digest: str = ""
    contract_path: Path | None = None
    """The contract the run was judged under (the demo's own, or a --break run's wrong one)."""

    @property
    def registry_unchanged(self) -> bool:
        return self.aliases_before == self.aliases_after


class _Phases:
    """Times each phase and tells the user what is happening (on stderr)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.times: dict[str, float] = {}
        self._gate_started: dict[str, float] = {}
        self._say = say
        self._t0 = time.perf_counter()

    @contextmanager
    def phase(self, name: str, text: str) -> Iterator[None]:
        self._say(f"[{time.perf_counter() - self._t0:5.1f}s] {text} ...")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.times[name] = time.perf_counter() - started

    def event(self, text: str) -> None:
        self._say(f"[{time.perf_counter() - self._t0:5.1f}s]   {text}")

    def gate_event(self, text: str) -> None:
        """A pipeline progress line (``"platform: running"``); times each gate task from start to verdict."""
        self.event(text)
        gate, _, what = text.partition(": ")
        now = time.perf_counter()
        if what == "running":
            self._gate_started[gate] = now
        elif what == "decided" and gate in self._gate_started:
            self.times[f"gate:{gate}"] = now - self._gate_started.pop(gate)


def _contract(break_at: BreakAt | None, model_size_bytes: int) -> dict[str, Any]:
    """The demo's workload contract, as data (dumped with a safe dumper)."""
    p99 = "1ms" if break_at == "sre" else "250ms"
    return {
        "apiVersion": "signoff.dev/v1alpha1",
        "kind": "WorkloadContract",
        "metadata": {"name": WORKLOAD, "model": MODEL_NAME},
        "spec": {
            "owners": {
                "ml": {
                    "team": TEAMS["ml"],
                    "chat": "#demo-ml",
                    "runbook": "https://runbooks.example.com/ml/iris",
                },
                "platform": {
                    "team": TEAMS["platform"],
                    "runbook": "https://runbooks.example.com/platform/gpu",
                },
                "sre": {
                    "team": TEAMS["sre"],
                    "pager": "pd-demo-sre",
                    "runbook": "https://runbooks.example.com/sre/iris",
                },
            },
            "slos": {
                "p99_latency": p99,
                "availability": "99.9%",
                "max_cold_start": "120s",
                "throughput_per_replica": 20,
            },
            "resources": {
                "gpu": {"count": 1, "product": "L4", "memory": "24GB"},
                "replicas": {"min": 2, "max": 4},
                "model_size": f"{model_size_bytes}B",
                "cpu": 2,
                "memory": "4GiB",
            },
            "alerts": [
                {"signal": "latency", "percentile": 99, "threshold": p99, "window": "10m", "pages": "sre"},
                {"signal": "error_rate", "threshold": "1%", "window": "5m", "pages": "sre"},
                {"signal": "accuracy_drift", "threshold": "3%", "pages": "ml"},
                {"signal": "gpu_oom", "pages": "platform"},
            ],
            "rollback": {
                "automated": [{"signal": "accuracy_drift", "action": "revert_to_previous"}],
                "manual": [
                    {"problem": "quality", "decides": "ml"},
                    {"problem": "availability", "decides": "sre"},
                ],
            },
            "quality": [{"metric": "accuracy", "min": 0.9}],
            "promotion": {"approval": "automatic"},
        },
    }


def _cluster_policy() -> dict[str, Any]:
    examples = Path(__file__).resolve().parent.parent / "contracts" / "examples" / "cluster-policy.yaml"
    data: dict[str, Any] = yaml.safe_load(examples.read_text(encoding="utf-8"))
    data["metadata"] = {"name": "demo-cluster"}
    return data


def _write_yaml(path: Path, data: dict[str, Any], header: str) -> None:
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _keys_and_trust(workdir: Path) -> tuple[Path, Path]:
    """One key per owner team (made once, reused), and the trust policy listing them."""

    keys_dir = workdir / "keys"
    trust_path = workdir / "trust-policy.yaml"
    gates_of = {
        "ml": [Gate.ML_ARTIFACT, Gate.APPROVAL, Gate.PROMOTION, Gate.ROLLBACK],
        "platform": [Gate.PLATFORM],
        "sre": [Gate.SRE_READINESS, Gate.ROLLBACK],
    }
    teams = []
    for role, team in TEAMS.items():
        private, public = keys_dir / f"{role}.pem", keys_dir / f"{role}.pub"
        if not private.exists():
            made_private, made_public = keys.generate(team, keys_dir)
            made_private.replace(private)
            made_public.replace(public)
        teams.append(
            {
                "name": team,
                "gates": [g.value for g in gates_of[role]],
                "keys": [{"public_key": keys.load_public_pem(public)}],
            }
        )
    trust = {
        "apiVersion": "signoff.dev/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": "demo-trust"},
        "spec": {"teams": teams},
    }
    _write_yaml(trust_path, trust, "# The demo's trust policy: which team's key may sign which gate.\n")
    return keys_dir, trust_path


def _verify(run: Any, trust_path: Path, contract_path: Path) -> tuple[list[str], str]:
    """Check every envelope the run wrote, the way ``signoff verify`` does."""

    trust = loader.load_trust_policy(trust_path)
    digest = loader.load_contract(contract_path).digest()
    lines, model_digest = [], ""
    for outcome in run.gates:
        if outcome.envelope_path is None:
            continue
        try:
            signed = signing.verify_envelope(outcome.envelope_path.read_bytes(), trust)
        except errors.VerificationError as exc:
            lines.append(f"{outcome.gate.value}: DOES NOT VERIFY: {exc}")
            continue
        v = signed.verdict
        model_digest = model_digest or v.subject.digest
        holds = v.contract_digest == digest
        lines.append(
            f"{v.gate.value}: signed by {signed.team} (key {signed.keyid[:12]}), "
            f"{'passed' if v.passed else 'refused'}, subject {v.subject.uri} {v.subject.digest[:19]}..., "
            f"{'holds for this contract' if holds else 'OTHER CONTRACT'}"
        )
    return lines, model_digest


def run_demo(
    workdir: Path,
    *,
    break_at: BreakAt | None = None,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> DemoResult:
    """Run the demo end to end; see the module docstring.

    Args:
        workdir: the working folder (MLflow's sqlite and artifacts, keys, documents, outputs).
        break_at: make one owner's input wrong and show the refusal at that gate.
        say: where progress lines go.

    Returns:
        What happened, with the wall time of each phase.
    """

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    phases = _Phases(say)
    server = None
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    try:
        if tracking_uri:
            ui = f"open {tracking_uri}"
            say(f"using the MLflow server in MLFLOW_TRACKING_URI: {tracking_uri}")
        else:
            with phases.phase("mlflow_start", f"starting a local MLflow (sqlite under {workdir / 'mlflow'})"):
                server = local_tracking.start(workdir / "mlflow")
            tracking_uri = server.url
            ui = server.ui_command()
        with phases.phase("train_register", "ML team: training and registering a scikit-learn model"):
            trained = demo_training.train_and_register(tracking_uri, MODEL_NAME, weak=break_at == "ml")
            phases.event(f"{trained.uri} (accuracy {trained.accuracy:.3f})")
        out_dir = workdir / "runs" / (f"v{trained.version}" + (f"-break-{break_at}" if break_at else ""))
        with phases.phase("documents", "writing the contract, cluster policy, trust policy and team keys"):
            size = trained.artifact_bytes
            # The demo's own contract is always the good one; a --break run's wrong contract is kept
            # with that run, so the next plain `signoff demo` (and every hint) finds the real one.
            good_path = workdir / "contract.yaml"
            _write_yaml(good_path, _contract(None, size), CONTRACT_HEADER)
            contract = loader.load_contract(good_path)
            (workdir / "contract.md").write_text(markdown.render_markdown(contract), encoding="utf-8")
            contract_path = good_path
            if break_at is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                contract_path = out_dir / "contract.yaml"
                _write_yaml(contract_path, _contract(break_at, size), CONTRACT_HEADER)
            policy_path = workdir / "cluster-policy.yaml"
            _write_yaml(policy_path, _cluster_policy(), "# The platform team's cluster policy.\n")
            keys_dir, trust_path = _keys_and_trust(workdir)
        registry = Registry(tracking_uri)
        before = registry.aliases(MODEL_NAME)
        first_release = "production" not in before
        if first_release:
            phases.event("nothing in production yet: declaring a first release (no rollback target)")
        with phases.phase("pipeline", "running the gated-promotion pipeline with KFP's local runner"):
            run = local.run_local(
                contract_path,
                trained.uri,
                policy_path,
                trust_path,
                keys_dir,
                staging_url="local",
                image=BAD_IMAGE if break_at == "platform" else GOOD_IMAGE,
                tracking_uri=tracking_uri,
                progress=phases.gate_event,
                out_dir=out_dir,
                probe_seconds=5.0,
                first_release=first_release,
            )
        after = registry.aliases(MODEL_NAME)
        with phases.phase("verify", "verifying every signed verdict against the trust policy"):
            verified, model_digest = _verify(run, trust_path, contract_path)
        phases.times["total"] = sum(v for k, v in phases.times.items() if not k.startswith("gate:"))
        return DemoResult(
            contract_path=contract_path,
            workdir=workdir,
            model_uri=trained.uri,
            promoted=run.passed,
            broke=break_at,
            aliases_before=before,
            aliases_after=after,
            phases=dict(phases.times),
            run=run,
            tracking_uri=tracking_uri,
            ui_command=ui,
            backend_uri=server.backend_uri if server is not None else tracking_uri,
            verified=verified,
            model_digest=model_digest,
        )
    finally:
        if server is not None:
            server.stop()


def _key_figures(outcome: Any) -> str:
    """A few figures that say the most about each gate, from its signed verdict."""
    f: dict[str, float] = outcome.figures
    parts: list[str] = []

    def first(*names: str) -> float | None:
        for n in names:
            for k, v in f.items():
                if k == n or k.endswith("." + n):
                    return v
        return None

    if outcome.gate is Gate.ML_ARTIFACT:
        acc = first("quality.accuracy.value", "quality.accuracy.actual", "accuracy")
        if acc is not None:
            parts.append(f"accuracy {acc:.3f}")
    elif outcome.gate is Gate.PLATFORM:
        need, have = first("model_bytes"), first("capacity_bytes")
        if need is not None and have is not None:
            parts.append(f"model {format_bytes(need)} fits {format_bytes(have)} of GPU memory")
    elif outcome.gate is Gate.SRE_READINESS:
        p99 = first("p99_ms")
        slo = first("slo_p99_ms", "p99_slo_ms", "slo_ms")
        if p99 is not None:
            parts.append(f"P99 {p99:.1f} ms" + (f" (SLO {slo:g} ms)" if slo is not None else ""))
        cold = first("cold_start_s")
        if cold is not None:
            parts.append(f"cold start {cold:.1f} s")
    return ", ".join(parts)


def render_result(result: DemoResult) -> str:
    """The per-gate table, the outcome, and where to look next."""
    run = result.run
    roles = {TEAMS["ml"]: "ML", TEAMS["platform"]: "Platform", TEAMS["sre"]: "SRE"}
    owner_of = {
        Gate.ML_ARTIFACT: "ML",
        Gate.PLATFORM: "Platform",
        Gate.SRE_READINESS: "SRE",
        Gate.PROMOTION: "ML",
    }
    rows = [("gate", "owner", "signed by", "outcome", "checks", "key figures")]
    for g in run.gates:
        rows.append(
            (
                g.gate.value,
                owner_of.get(g.gate, roles.get(g.team or "", "")),
                g.team or "-",
                g.status,
                g.checks or "-",
                _key_figures(g) if g.ran else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["", "  ".join(h.ljust(w) for h, w in zip(rows[0], widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows[1:]]
    lines.append("")
    wd = result.workdir
    run_dir = run.run_dir or run.out_dir
    if result.promoted:
        lines.append(
            f"PROMOTED: {result.model_uri} is now @production "
            f"(aliases: {', '.join(f'{k}={v}' for k, v in sorted(result.aliases_after.items()))})"
        )
    else:
        failed = run.failed
        where = failed.gate.value if failed else "a step"
        lines.append(f"REFUSED at {where}: {result.model_uri} was not promoted.")
        for reason in (failed.reasons if failed else ())[:6]:
            lines.append(f"  - {reason}")
        same = "unchanged" if result.registry_unchanged else "CHANGED"
        aliases = ", ".join(f"{k}={v}" for k, v in sorted(result.aliases_after.items())) or "none"
        lines.append(f"Registry aliases {same}: {aliases}")
    if result.verified:
        lines += ["", "Signed verdicts (verified against the trust policy):"]
        lines += [f"  {line}" for line in result.verified]
    trust, contract = wd / "trust-policy.yaml", result.contract_path or wd / "contract.yaml"
    signoff = shlex.quote(str(procenv.bin_dir() / "signoff"))
    lines += ["", "Where to look next:", f"  MLflow UI:          {result.ui_command}"]
    lines.append(
        f"  the contract:       {wd / 'contract.md'} (the interface document; contract.yaml is the same)"
    )
    if contract != wd / "contract.yaml":
        lines.append(
            f"  this run's contract: {contract} (made wrong by --break; the demo's own is unchanged)"
        )
    if (run_dir / "platform").is_dir():
        lines.append(f"  rendered manifests: {run_dir / 'platform'}")
    envelopes = [
        g.envelope_path for g in run.gates if g.envelope_path is not None and g.envelope_path.is_file()
    ]
    if envelopes and result.model_digest:
        lines.append(
            f"  verify a verdict:   {signoff} verify {shlex.quote(str(envelopes[0]))} "
            f"--trust {shlex.quote(str(trust))} --contract {shlex.quote(str(contract))} "
            f"--model-digest {result.model_digest}"
        )
    lines.append(
        f"  the audit:          MLFLOW_TRACKING_URI={shlex.quote(result.backend_uri)} "
        f"{signoff} audit {MODEL_NAME} --trust {shlex.quote(str(trust))}"
    )
    if run.log_path.is_file():
        lines.append(f"  the run's log:      {run.log_path}")
    lines.append(f"  phases (s):         {', '.join(f'{k} {v:.1f}' for k, v in result.phases.items())}")
    return "\n".join(lines)


def check_break(value: str | None) -> BreakAt | None:
    if value is None:
        return None
    if value not in ("ml", "platform", "sre"):
        raise errors.InputError(f"--break {value!r}: choose ml, platform or sre")
    return value  # type: ignore[return-value]
