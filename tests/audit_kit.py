"""Real signed histories in a real MLflow registry, for the audit's attack and property tests.

``AuditKit`` signs verdicts with real team keys (``trust_kit``), judges them with the real promotion
gate, and writes them with the real :class:`components.mlflow_registry.Registry` to the session's
``mlflow server``; rollbacks go through the real ``signoff rollback`` command. ``tags_of`` reads a
registered model's tags back with the MLflow client, as an attacker with write access sees them.
Imported as ``audit_kit`` (``tests/`` is on ``sys.path`` beside ``tests/conftest.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from trust_kit import team_keys

from components import keys
from components.mlflow_registry import Registry
from contracts.loader import load_contract, load_trust_policy
from contracts.trust import Gate, TrustPolicy
from contracts.workload import WorkloadContract
from gates import promotion, signing
from gates.verdict import Check, Outcome, Subject, Verdict
from pipelines._cli.main import main as signoff

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_FILE = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"
ML, PLATFORM, SRE = "ranking-squad", "platform-gpu-team", "sre-ai-oncall"
GATES = {
    ML: ("ml-artifact", "approval", "promotion", "rollback"),
    PLATFORM: ("platform",),
    SRE: ("sre-readiness", "rollback"),
}
TEAM_OF = {Gate.ML_ARTIFACT: ML, Gate.PLATFORM: PLATFORM, Gate.SRE_READINESS: SRE, Gate.PROMOTION: ML}
DIGEST = "sha256:" + "5e" * 32
"""The model digest the verdicts name (the audit never recomputes it; ``verify-model`` does)."""


@dataclass
class AuditKit:
    url: str
    client: Any
    source: str
    run_id: str
    contract: WorkloadContract
    trust: TrustPolicy
    trust_file: Path
    key_files: dict[str, Path]
    private: dict[str, Ed25519PrivateKey]

    @classmethod
    def create(cls, url: str, source_model: str, source_version: str, folder: Path) -> AuditKit:
        from mlflow import MlflowClient

        key_files, trust_file = team_keys(GATES, folder)
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        mv = client.get_model_version(source_model, source_version)
        return cls(
            url=url,
            client=client,
            source=str(mv.source),
            run_id=str(mv.run_id),
            contract=load_contract(CONTRACT_FILE),
            trust=load_trust_policy(trust_file),
            trust_file=trust_file,
            key_files=key_files,
            private={t: keys.load_private_key(p) for t, p in key_files.items()},
        )

    def registry(self) -> Registry:
        return Registry(self.url)

    def new_version(self, name: str) -> str:
        try:
            self.client.create_registered_model(name)
        except Exception as exc:
            if "RESOURCE_ALREADY_EXISTS" not in str(exc):
                raise
        model_id = self.source.removeprefix("models:/")
        return str(
            self.client.create_model_version(name, self.source, run_id=self.run_id, model_id=model_id).version
        )

    def verdict(
        self,
        gate: Gate,
        name: str,
        version: str,
        *,
        passed: bool = True,
        team: str | None = None,
        checks: list[Check] | None = None,
        now: datetime | None = None,
    ) -> Verdict:
        check = Check(id="it.check", outcome=Outcome.PASS if passed else Outcome.FAIL, message="checked")
        all_checks = checks or [check]
        if gate is Gate.ML_ARTIFACT:
            all_checks.append(Check(id="prediction.example", outcome=Outcome.PASS, message="predicted"))
        return Verdict.decide(
            gate=gate,
            team=team or TEAM_OF[gate],
            checks=all_checks,
            subject=Subject(model=name, version=version, digest=DIGEST),
            contract_digest=self.contract.digest(),
            now=now or datetime.now(UTC),
            ttl=timedelta(hours=12),
        )

    def sign(self, verdict: Verdict, signer: str | None = None) -> bytes:
        return signing.sign_verdict(verdict, self.private[signer or verdict.team])

    def keep_handoffs(self, reg: Registry, name: str, version: str) -> None:
        for gate in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS):
            reg.store_envelope(name, version, gate, self.sign(self.verdict(gate, name, version)))

    def promotion_verdict(self, reg: Registry, name: str, version: str) -> Verdict:
        """The real promotion gate over the verdicts kept with the version (may refuse)."""
        return promotion.evaluate(
            self.contract,
            Subject(model=name, version=version, digest=DIGEST),
            list(reg.envelopes(name, version).values()),
            self.trust,
            datetime.now(UTC),
        )

    def promote(self, reg: Registry, name: str, version: str) -> str:
        """Keep the handoffs, run the gate, sign as ML, promote; the promotion id."""
        self.keep_handoffs(reg, name, version)
        verdict = self.promotion_verdict(reg, name, version)
        assert verdict.passed, [c.message for c in verdict.failures]
        return reg.promote(name, version, promotion_envelope=self.sign(verdict), record=verdict).promotion_id

    def cli(self, *args: str | Path) -> int:
        return signoff([str(a) for a in args])

    def rollback_cli(
        self, name: str, *, to: str = "previous", key: str = SRE, problem: str = "availability"
    ) -> int:
        return self.cli(
            "rollback", name, "--to", to, "--problem", problem, "--reason", "5xx spike",
            "--contract", CONTRACT_FILE, "--trust", self.trust_file, "--key", self.key_files[key],
            "--tracking-uri", self.url,
        )  # fmt: skip

    def audit_cli(self, name: str, *extra: str) -> int:
        return self.cli(
            "audit", name, "--trust", self.trust_file, "--contract", CONTRACT_FILE,
            "--tracking-uri", self.url, *extra,
        )  # fmt: skip

    def tags_of(self, name: str) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, str]]]:
        """(aliases, registered model tags, version -> tags) as the MLflow client reads them."""
        rm = self.client.get_registered_model(name)
        versions = self.client.search_model_versions(f"name='{name}'", max_results=10_000)
        return (
            {str(k): str(v) for k, v in dict(rm.aliases).items()},
            dict(rm.tags),
            {str(v.version): dict(v.tags) for v in versions},
        )
