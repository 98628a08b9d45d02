"""The MLflow registry adapter against the session's real ``mlflow server`` (sqlite, one worker).

Verdicts are real: real Ed25519 keys, signed with ``gates.signing``, judged by ``gates.promotion``.
The crash test kills the real server process at a chosen point of a promotion (the adapter's test
seam only picks the moment) and restarts it on the same store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from trust_kit import team_keys

from components import keys
from components.mlflow_registry import AliasStatus, Registry
from contracts import errors
from contracts.loader import load_contract, load_trust_policy
from contracts.trust import Gate, TrustPolicy
from contracts.workload import WorkloadContract
from gates import promotion, signing
from gates.verdict import Check, Outcome, Subject, Verdict
from pipelines._cli.main import main as signoff

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_FILE = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"
ML, PLATFORM, SRE = "ranking-squad", "platform-gpu-team", "sre-ai-oncall"
GATES = {
    ML: ("ml-artifact", "approval", "promotion", "rollback"),
    PLATFORM: ("platform",),
    SRE: ("sre-readiness", "rollback"),
}
TEAM_OF = {Gate.ML_ARTIFACT: ML, Gate.PLATFORM: PLATFORM, Gate.SRE_READINESS: SRE, Gate.PROMOTION: ML}


@dataclass
class Kit:
    server: Any
    client: Any
    contract: WorkloadContract
    trust: TrustPolicy
    trust_file: Path
    key_files: dict[str, Path]
    private: dict[str, Ed25519PrivateKey]
    source: str
    run_id: str
    digest: str

    def registry(self, **kw: Any) -> Registry:
        return Registry(self.server.url, **kw)

    def new_version(self, name: str) -> str:
        """A new version of ``name`` whose source is the session's logged sklearn model."""
        try:
            self.client.create_registered_model(name)
        except Exception as exc:  # already there
            if "RESOURCE_ALREADY_EXISTS" not in str(exc):
                raise
        model_id = self.source.removeprefix("models:/")
        return str(
            self.client.create_model_version(name, self.source, run_id=self.run_id, model_id=model_id).version
        )

    def envelope(
        self,
        gate: Gate,
        name: str,
        version: str,
        *,
        team: str | None = None,
        passed: bool = True,
        signer: str | None = None,
        now: datetime | None = None,
    ) -> bytes:
        team = team or TEAM_OF[gate]
        check = Check(id="it.check", outcome=Outcome.PASS if passed else Outcome.FAIL, message="checked")
        checks = [check]
        if gate is Gate.ML_ARTIFACT:  # the example prediction ran in the ML step
            checks.append(Check(id="prediction.example", outcome=Outcome.PASS, message="predicted"))
        verdict = Verdict.decide(
            gate=gate,
            team=team,
            checks=checks,
            subject=Subject(model=name, version=version, digest=self.digest),
            contract_digest=self.contract.digest(),
            now=now or datetime.now(UTC),
            ttl=timedelta(days=1),
        )
        return signing.sign_verdict(verdict, self.private[signer or team])

    def keep_handoffs(self, reg: Registry, name: str, version: str) -> None:
        for gate in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS):
            reg.store_envelope(name, version, gate, self.envelope(gate, name, version))

    def promotion_envelope(self, reg: Registry, name: str, version: str) -> tuple[bytes, Verdict]:
        """Run the real promotion gate over the verdicts kept with the version; ML signs it."""
        stored = reg.envelopes(name, version)
        subject = Subject(model=name, version=version, digest=self.digest)
        verdict = promotion.evaluate(
            self.contract, subject, list(stored.values()), self.trust, datetime.now(UTC)
        )
        assert verdict.passed, [c.message for c in verdict.failures]
        return signing.sign_verdict(verdict, self.private[ML]), verdict

    def gated_promote(self, reg: Registry, name: str, version: str) -> Any:
        self.keep_handoffs(reg, name, version)
        env, verdict = self.promotion_envelope(reg, name, version)
        return reg.promote(name, version, promotion_envelope=env, record=verdict)


@pytest.fixture(scope="module")
def kit(
    mlflow_server: Any, register_sklearn_model: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> Kit:
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("registry-keys")
    key_files, trust_file = team_keys(GATES, folder)
    version = register_sklearn_model("it-base", metrics={"ndcg_at_10": 0.5})
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    mv = client.get_model_version("it-base", version)
    subject, _ = Registry(mlflow_server.url).gather_evidence(f"models:/it-base/{version}", folder / "work")
    return Kit(
        server=mlflow_server,
        client=client,
        contract=load_contract(CONTRACT_FILE),
        trust=load_trust_policy(trust_file),
        trust_file=trust_file,
        key_files=key_files,
        private={t: keys.load_private_key(p) for t, p in key_files.items()},
        source=str(mv.source),
        run_id=str(mv.run_id),
        digest=subject.digest,
    )


def snapshot(kit: Kit) -> dict[str, Any]:
    """Every registered model (aliases, tags) and every version (tags, stage) of the registry."""
    state: dict[str, Any] = {}
    for rm in kit.client.search_registered_models(max_results=1000):
        versions = kit.client.search_model_versions(f"name='{rm.name}'", max_results=10_000)
        state[rm.name] = {
            "aliases": dict(rm.aliases),
            "tags": dict(rm.tags),
            "versions": {v.version: (dict(v.tags), v.current_stage) for v in versions},
        }
    return state


def cli(*args: str | Path) -> int:
    return signoff([str(a) for a in args])


# ------------------------------------------------------------------------------------------ evidence


def test_evidence_from_a_logged_sklearn_model(kit: Kit, tmp_path: Path) -> None:
    reg = kit.registry()
    subject, ev = reg.gather_evidence("models:/it-base/1", tmp_path)
    assert subject.uri == "models:/it-base/1" and subject.digest == kit.digest == ev.manifest.digest
    assert {"python_function", "sklearn"} <= set(ev.flavors)
    assert ev.status == "READY" and ev.source == kit.source and ev.run_id == kit.run_id
    assert "sepal length (cm)" in (ev.signature_inputs or "")
    assert ev.has_input_example and ev.prediction.ran and ev.prediction.ok, ev.prediction.error
    assert ev.prediction.rows_in == 3 and ev.prediction.output_shape == (3,)
    assert ev.metrics["ndcg_at_10"] == 0.5 and ev.metrics["accuracy"] > 0.9
    assert ev.serialization_formats  # how the model is stored is named (skops or a pickle kind)
    assert ev.artifact_size == sum(f.size for f in ev.manifest.files) > 0
    assert "MLmodel" in {f.path for f in ev.manifest.files}
    # Each download goes to a fresh subfolder; the same version gives the same digest.
    again, _ = reg.gather_evidence("models:/it-base/1", tmp_path)
    assert again.digest == subject.digest
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2
    assert ev.prediction.ran_in == "ml-artifact step"


def test_a_model_too_big_to_load_here_is_hashed_file_by_file_and_its_prediction_deferred(
    kit: Kit, tmp_path: Path
) -> None:
    reg = kit.registry()
    subject, ev = reg.gather_evidence("models:/it-base/1", tmp_path, predict_max_bytes=0)
    assert subject.digest == kit.digest  # the same files, hashed one at a time without keeping them
    p = ev.prediction
    assert not p.ran and p.deferred_to == "sre-readiness" and p.rows_in == 3
    assert "more than the 0 B the ML step downloads" in (p.deferred_reason or "")
    assert ev.has_input_example and ev.example_error is None
    (folder,) = [d for d in tmp_path.iterdir() if d.is_dir()]  # the scratch folder is gone
    kept = {f.name for f in folder.rglob("*") if f.is_file()}
    weights = {f.path for f in ev.manifest.files} - kept
    assert "MLmodel" in kept and "input_example.json" in kept and weights  # the weights were not kept
    assert not any(n.endswith((".pkl", ".skops", ".joblib")) for n in kept)


def test_a_missing_version_is_an_input_error_naming_it(kit: Kit, tmp_path: Path) -> None:
    with pytest.raises(errors.InputError, match=r"it-base.*version 99"):
        kit.registry().gather_evidence("models:/it-base/99", tmp_path)
    with pytest.raises(errors.InputError, match="not models:/NAME/VERSION"):
        kit.registry().resolve("runs:/abc/model")


def test_a_source_that_escapes_is_refused_before_any_download(kit: Kit, tmp_path: Path) -> None:
    # Through the server: a version whose source is another model's version (the server accepts it;
    # it resolves to whatever that version points at).
    kit.new_version("it-escape")  # version 1: a normal one
    version = kit.client.create_model_version("it-escape", "models:/it-base/1")
    work = tmp_path / "server"
    work.mkdir()
    with pytest.raises(errors.PermanentError, match="refusing to download"):
        kit.registry().gather_evidence(f"models:/it-escape/{version.version}", work)
    assert list(work.rglob("*")) == []
    # The embedded case (a local sqlite store: no server validates sources): each trick refused.
    from mlflow import MlflowClient

    store = f"sqlite:///{tmp_path / 'embedded.db'}"
    local = MlflowClient(tracking_uri=store, registry_uri=store)
    local.create_registered_model("esc")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    tricks = [
        str(outside),
        outside.as_uri(),
        "mlflow-artifacts:/1/../../" + str(outside).lstrip("/"),
        "mlflow-artifacts:/1/%2e%2e/%2e%2e/etc",
        "mlflow-artifacts:/1/%252e%252e/etc",
        "s3://bucket/model#/../../etc",
        "mlflow-artifacts:/1/model?x=/../../etc",
        "models:/esc/1",
    ]
    reg = Registry(store)
    for i, source in enumerate(tricks, start=1):
        v = local.create_model_version("esc", source)
        assert str(v.version) == str(i)
        work = tmp_path / f"w{i}"
        work.mkdir()
        with pytest.raises(errors.PermanentError, match="refusing to download"):
            reg.gather_evidence(f"models:/esc/{i}", work)
        assert list(work.rglob("*")) == [], source


# ------------------------------------------------------------------------------------------ verdicts


def test_verdicts_are_kept_with_the_version_and_an_altered_one_does_not_verify(kit: Kit) -> None:
    reg = kit.registry()
    v = kit.new_version("it-keep")
    sent = {g: kit.envelope(g, "it-keep", v) for g in (Gate.ML_ARTIFACT, Gate.PLATFORM, Gate.SRE_READINESS)}
    for gate, env in sent.items():
        assert (
            reg.store_envelope("it-keep", v, gate, env)
            == signing.verify_envelope(env, kit.trust).envelope_digest
        )
    assert reg.envelopes("it-keep", v) == sent
    tags = kit.client.get_model_version("it-keep", v).tags
    assert tags["signoff.verdict.platform.digest"].startswith("sha256:")
    # Someone rewrites the platform verdict in the registry to say "passed" for another team's key.
    doc = json.loads(sent[Gate.PLATFORM])
    doc["payload"] = doc["payload"][:-8] + ("A" * 8 if not doc["payload"].endswith("A" * 8) else "B" * 8)
    kit.client.set_model_version_tag("it-keep", v, "signoff.verdict.platform", json.dumps(doc))
    with pytest.raises(errors.VerificationError):
        signing.verify_envelope(reg.envelopes("it-keep", v)[Gate.PLATFORM], kit.trust)
    # Overwritten by a verdict for another version: verifies as a signature, but is about version 99.
    other = kit.envelope(Gate.SRE_READINESS, "it-keep", "99")
    kit.client.set_model_version_tag("it-keep", v, "signoff.verdict.sre-readiness", other.decode())
    stored = reg.envelopes("it-keep", v)[Gate.SRE_READINESS]
    gate = promotion.evaluate(
        kit.contract,
        Subject(model="it-keep", version=v, digest=kit.digest),
        list(reg.envelopes("it-keep", v).values()),
        kit.trust,
        datetime.now(UTC),
    )
    assert stored == other and not gate.passed


def test_a_long_envelope_is_split_and_read_back_whole(kit: Kit) -> None:
    reg = kit.registry()
    v = kit.new_version("it-long")
    big = b'{"payload": "' + b"x" * 130_000 + b'"}'
    reg.store_envelope("it-long", v, Gate.APPROVAL, big)
    assert reg.envelopes("it-long", v)[Gate.APPROVAL] == big
    tags = kit.client.get_model_version("it-long", v).tags
    assert max(len(t) for t in tags.values()) <= 60_000 and "signoff.verdict.approval.part-2" in tags


# ------------------------------------------------------------------------------------------ promotion


def test_promotion_moves_production_keeps_previous_and_reads_back(kit: Kit) -> None:
    reg = kit.registry()
    name = "it-promote"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    first = kit.gated_promote(reg, name, v1)
    assert (first.version, first.previous, first.already_done) == (v1, None, False)
    assert reg.aliases(name) == {"production": v1}
    assert reg.previous_production_version(name, v2) == v1  # the SRE gate's rollback target for v2
    env, verdict = (kit.keep_handoffs(reg, name, v2), kit.promotion_envelope(reg, name, v2))[1]
    second = reg.promote(name, v2, promotion_envelope=env, record=verdict, also_stage=True)
    assert (second.version, second.previous) == (v2, v1)
    assert kit.client.get_model_version(name, v2).current_stage == "Production"  # the legacy stage too
    assert reg.aliases(name) == {"production": v2, "previous": v1}
    assert reg.previous_production_version(name) == v1
    record = json.loads(
        kit.client.get_model_version(name, v2).tags[f"signoff.promotion.{second.promotion_id[:16]}"]
    )
    assert record["state"] == "complete" and record["previous"] == v1 and record["by"] == ML
    assert set(record["verdicts"]) >= {"ml-artifact", "platform", "sre-readiness"}
    # The same promotion again: nothing new is written.
    before = snapshot(kit)[name]
    again = reg.promote(name, v2, promotion_envelope=env, record=verdict)
    assert again.already_done and snapshot(kit)[name] == before
    report = reg.audit(name, kit.trust)
    assert [(a.alias, a.version, a.status) for a in report.aliases] == [
        ("previous", v1, AliasStatus.BACKED),
        ("production", v2, AliasStatus.BACKED),
    ]
    assert [(h.kind, h.version, h.valid) for h in report.history] == [
        ("promotion", v1, True),
        ("promotion", v2, True),
    ]
    assert "signoff-lock.it-promote" not in snapshot(kit)
    # The promotion record's envelope overwritten (here with the earlier, validly signed one of v1):
    v1_env = kit.client.get_model_version(name, v1).tags[
        f"signoff.promotion-envelope.{first.promotion_id[:16]}"
    ]
    kit.client.set_model_version_tag(
        name, v2, f"signoff.promotion-envelope.{second.promotion_id[:16]}", v1_env
    )
    for trust in (kit.trust, None):
        status = {a.alias: a.status for a in reg.audit(name, trust).aliases}
        assert status == {"previous": AliasStatus.INVALID, "production": AliasStatus.INVALID}


@pytest.mark.parametrize(
    "case",
    ["missing-sre", "platform-signed-by-sre", "failed-platform", "ml-for-another-version"],
)
def test_a_missing_or_invalid_verdict_refuses_and_leaves_the_registry_unchanged(
    kit: Kit, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = kit.registry()
    name = "it-refuse"
    v = kit.new_version(name)
    envs = {
        Gate.ML_ARTIFACT: kit.envelope(Gate.ML_ARTIFACT, name, v),
        Gate.PLATFORM: kit.envelope(Gate.PLATFORM, name, v),
        Gate.SRE_READINESS: kit.envelope(Gate.SRE_READINESS, name, v),
    }
    if case == "missing-sre":
        del envs[Gate.SRE_READINESS]
    elif case == "platform-signed-by-sre":
        envs[Gate.PLATFORM] = kit.envelope(Gate.PLATFORM, name, v, signer=SRE)
    elif case == "failed-platform":
        envs[Gate.PLATFORM] = kit.envelope(Gate.PLATFORM, name, v, passed=False)
    else:
        envs[Gate.ML_ARTIFACT] = kit.envelope(Gate.ML_ARTIFACT, name, "1" if v != "1" else "2")
    for gate, env in envs.items():
        kit.client.set_model_version_tag(name, v, f"signoff.verdict.{gate.value}", env.decode())
    before = snapshot(kit)
    code = cli(
        "promote",
        "--model",
        f"models:/{name}/{v}",
        "--contract",
        CONTRACT_FILE,
        "--trust",
        kit.trust_file,
        "--key",
        kit.key_files[ML],
        "--tracking-uri",
        kit.server.url,
    )
    assert code == 1
    assert "REFUSED" in capsys.readouterr().err
    assert snapshot(kit) == before
    # A promotion envelope that is not a passing promotion for this version is refused by the adapter too.
    with pytest.raises(errors.InputError, match="nothing was moved"):
        reg.promote(name, v, promotion_envelope=kit.envelope(Gate.PROMOTION, name, v, passed=False))
    assert snapshot(kit) == before


def test_a_crashed_holders_lock_is_taken_over_after_its_lease(kit: Kit) -> None:
    reg = kit.registry()
    name = "it-stale"
    v = kit.new_version(name)
    kit.keep_handoffs(reg, name, v)
    env, verdict = kit.promotion_envelope(reg, name, v)
    lock = f"signoff-lock.{name}"
    live = {"signoff.lock.holder": "someone-else", "signoff.lock.expires": f"{time.time() + 600:.3f}"}
    kit.client.create_registered_model(lock, tags=live)
    with pytest.raises(errors.ConflictError, match="holds the lock"):
        reg.promote(name, v, promotion_envelope=env, record=verdict)
    assert reg.aliases(name) == {}
    kit.client.set_registered_model_tag(lock, "signoff.lock.expires", f"{time.time() - 1:.3f}")  # lease over
    assert reg.promote(name, v, promotion_envelope=env, record=verdict).version == v
    assert reg.aliases(name) == {"production": v} and lock not in snapshot(kit)


_RACER = r"""
import json, sys, time
from pathlib import Path
from components.mlflow_registry import Registry
from contracts import errors
args = json.loads(sys.argv[1])
reg = Registry(args["url"])
if args.get("hold"):
    def hold():
        Path(args["hold"]).write_text("locked")
        deadline = time.monotonic() + 120
        while not Path(args["go"]).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    reg._hooks["before-alias"] = hold
try:
    r = reg.promote(args["name"], args["version"], promotion_envelope=Path(args["envelope"]).read_bytes())
    print("WON", r.version)
except errors.ConflictError as exc:
    print("CONFLICT", exc)
    sys.exit(4)
"""


def test_two_promotions_racing_from_two_processes_have_one_winner(kit: Kit, tmp_path: Path) -> None:
    reg = kit.registry()
    name = "it-race"
    va, vb = kit.new_version(name), kit.new_version(name)
    files = {}
    for v in (va, vb):
        kit.keep_handoffs(reg, name, v)
        files[v] = tmp_path / f"promotion-{v}.json"
        files[v].write_bytes(kit.promotion_envelope(reg, name, v)[0])
    held, go = tmp_path / "held", tmp_path / "go"

    def racer(v: str, **extra: str) -> subprocess.Popen[str]:
        args = {"url": kit.server.url, "name": name, "version": v, "envelope": str(files[v]), **extra}
        return subprocess.Popen(
            [sys.executable, "-c", _RACER, json.dumps(args)],
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ),
        )

    a = racer(va, hold=str(held), go=str(go))  # A takes the lock and stops inside it
    deadline = time.monotonic() + 120
    while not held.exists() and a.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held.exists(), a.communicate()
    b = racer(vb)  # B runs while A is mid-promotion
    out_b, err_b = b.communicate(timeout=120)
    go.write_text("go")
    out_a, err_a = a.communicate(timeout=120)
    assert a.returncode == 0 and out_a.startswith("WON"), err_a
    assert b.returncode == 4 and "CONFLICT" in out_b and "holds the lock" in out_b, err_b
    assert reg.aliases(name) == {"production": va}
    assert reg.audit(name, kit.trust).ok
    tags_b = kit.client.get_model_version(name, vb).tags
    assert not [k for k in tags_b if k.startswith("signoff.promotion.")]  # the loser wrote no record


def test_server_killed_before_the_alias_move_then_the_command_rerun_completes(
    kit: Kit, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = kit.registry()
    name = "it-crash"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.gated_promote(reg, name, v1)
    kit.keep_handoffs(reg, name, v2)
    killed: list[str] = []

    def kill_server(self: Registry, point: str) -> None:
        if point == "before-alias" and not killed:
            killed.append(point)
            kit.server.stop()

    monkeypatch.setattr(Registry, "_hook", kill_server)  # picks the moment; the kill is real
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    args = [
        "promote",
        "--model",
        f"models:/{name}/{v2}",
        "--contract",
        CONTRACT_FILE,
        "--trust",
        kit.trust_file,
        "--key",
        kit.key_files[ML],
        "--tracking-uri",
        kit.server.url,
    ]
    try:
        assert cli(*args) == 3  # TemporaryError: the server is gone
    finally:
        kit.server.start()
    assert "temporary failure" in capsys.readouterr().err
    assert reg.aliases(name) == {"production": v1}  # the alias never moved to an unrecorded version
    assert reg.audit(name, kit.trust).ok
    versions_before = len(kit.client.search_model_versions(f"name='{name}'"))
    assert cli(*args) == 0
    assert "resuming" in capsys.readouterr().out
    assert reg.aliases(name) == {"production": v2, "previous": v1}
    tags = kit.client.get_model_version(name, v2).tags
    records = [json.loads(t) for k, t in tags.items() if k.startswith("signoff.promotion.")]
    assert [r["state"] for r in records] == ["complete"]
    assert len(kit.client.search_model_versions(f"name='{name}'")) == versions_before
    # Once more after success: nothing new (the command signs a fresh verdict, but finds it done).
    before = snapshot(kit)[name]
    assert cli(*args) == 0
    assert "already done" in capsys.readouterr().out
    assert snapshot(kit)[name] == before
    assert f"signoff-lock.{name}" not in snapshot(kit)
    assert reg.audit(name, kit.trust).ok


# ------------------------------------------------------------------------------------------- audit


def test_an_alias_moved_by_hand_shows_unbacked(kit: Kit, capsys: pytest.CaptureFixture[str]) -> None:
    reg = kit.registry()
    name = "it-hand"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.gated_promote(reg, name, v1)
    assert cli("audit", name, "--trust", kit.trust_file, "--tracking-uri", kit.server.url) == 0
    capsys.readouterr()
    kit.client.set_registered_model_alias(name, "production", v2)  # outside signoff
    kit.client.set_registered_model_alias(name, "canary", v2)
    assert cli("audit", name, "--json", "--trust", kit.trust_file, "--tracking-uri", kit.server.url) == 1
    report = json.loads(capsys.readouterr().out)
    status = {a["alias"]: (a["version"], a["status"]) for a in report["aliases"]}
    assert status == {"production": (v2, "unbacked"), "canary": (v2, "unbacked")}
    assert [h["version"] for h in report["history"]] == [v1]
    assert cli("audit", name, "--tracking-uri", kit.server.url) == 1
    assert "production -> version 2: UNBACKED: moved outside signoff" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ rollback


def test_manual_rollback_is_signed_by_the_team_the_contract_names(
    kit: Kit, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = kit.registry()
    name = "it-manual"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.gated_promote(reg, name, v1)
    kit.gated_promote(reg, name, v2)
    base = [
        "rollback",
        name,
        "--to",
        "previous",
        "--contract",
        CONTRACT_FILE,
        "--trust",
        kit.trust_file,
        "--tracking-uri",
        kit.server.url,
    ]
    before = snapshot(kit)[name]
    # Availability problems are SRE's call (the contract); the ML team's key may not decide them.
    assert cli(*base, "--problem", "availability", "--reason", "5xx spike", "--key", kit.key_files[ML]) == 1
    assert "sre-ai-oncall decides availability" in capsys.readouterr().err
    assert snapshot(kit)[name] == before
    assert cli(*base, "--problem", "cost", "--reason", "too dear", "--key", kit.key_files[SRE]) == 2
    assert "names no team" in capsys.readouterr().err
    assert cli(*base, "--problem", "availability", "--reason", "5xx spike", "--key", kit.key_files[SRE]) == 0
    assert reg.aliases(name) == {"production": v1}
    # Without the contract the audit cannot tell whether SRE may decide this rollback: not BACKED.
    assert [a.status for a in reg.audit(name, kit.trust).aliases] == [AliasStatus.UNVERIFIED]
    report = reg.audit(name, kit.trust, kit.contract)
    assert [(a.alias, a.status) for a in report.aliases] == [("production", AliasStatus.BACKED)]
    assert [(h.kind, h.version, h.by, h.valid) for h in report.history] == [
        ("promotion", v1, ML, True),
        ("promotion", v2, ML, True),
        ("rollback", v1, SRE, True),
    ]
    assert report.history[-1].reason == "5xx spike"


def test_automated_rollback_on_accuracy_drift(kit: Kit) -> None:
    reg = kit.registry()
    name = "it-auto"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.gated_promote(reg, name, v1)
    kit.gated_promote(reg, name, v2)
    before = snapshot(kit)[name]
    assert reg.auto_rollback(name, contract=kit.contract, drift=0.02) is None  # below the 3% alert
    assert snapshot(kit)[name] == before
    result = reg.auto_rollback(name, contract=kit.contract, drift=0.05)
    assert result is not None and (result.from_version, result.to_version, result.automated) == (v2, v1, True)
    assert "0.0500 above" in result.reason
    assert reg.aliases(name) == {"production": v1}
    # No key signed this automated rollback: the record backs nothing, and nothing of it shows as signed.
    report = reg.audit(name, kit.trust, kit.contract)
    assert not report.ok and report.aliases[0].status is AliasStatus.INVALID
    assert "the record has no envelope" in report.aliases[0].detail
    last = report.history[-1]
    assert (last.kind, last.by, last.valid, last.unsigned["by"]) == (
        "rollback",
        None,
        False,
        "signoff (automated)",
    )
    with pytest.raises(errors.PermanentError, match="needs a human"):
        reg.auto_rollback(name, contract=kit.contract, drift=0.5)


@pytest.fixture(autouse=True)
def _server_up(kit: Kit) -> Iterator[None]:
    """A test that stopped the server leaves it running for the next one."""
    yield
    if not kit.server.running:
        kit.server.start()


# ------------------------------------------------------------------------------------ signoff check ml


def test_check_ml_signs_and_keeps_the_verdict_with_the_version(
    kit: Kit, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ml.json"
    policy = ROOT / "contracts" / "examples" / "cluster-policy.yaml"
    args = [
        "check",
        "ml",
        "--model",
        "models:/it-base/1",
        "--contract",
        str(CONTRACT_FILE),
        "--policy",
        str(policy),
        "--key",
        str(kit.key_files[ML]),
        "--out",
        str(out),
        "--tracking-uri",
        kit.server.url,
    ]
    monkeypatch.setattr(sys, "argv", ["signoff", *args])  # `signoff check` picks the gate from sys.argv
    code = cli(*args)
    printed = capsys.readouterr().out
    signed = signing.verify_envelope(out.read_bytes(), kit.trust).verdict
    assert signed.subject == Subject(model="it-base", version="1", digest=kit.digest)
    assert code == (0 if signed.passed else 1)
    assert all(c.id in printed for c in signed.checks)
    assert kit.registry().envelopes("it-base", "1")[Gate.ML_ARTIFACT] == out.read_bytes()


def test_a_promotion_interrupted_in_the_command_is_resumed_by_the_pipeline_step(
    kit: Kit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from components import steps

    reg = kit.registry()
    name = "it-crash-step"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.gated_promote(reg, name, v1)
    kit.keep_handoffs(reg, name, v2)
    killed: list[str] = []

    def kill_server(self: Registry, point: str) -> None:
        if point == "before-alias" and not killed:
            killed.append(point)
            kit.server.stop()

    monkeypatch.setattr(Registry, "_hook", kill_server)  # picks the moment; the kill is real
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    args = ["promote", "--model", f"models:/{name}/{v2}", "--contract", CONTRACT_FILE, "--trust"]
    args += [kit.trust_file, "--key", kit.key_files[ML], "--tracking-uri", kit.server.url]
    try:
        assert cli(*args) == 3  # TemporaryError: the server is gone mid-promotion
    finally:
        kit.server.start()
    pending = reg.pending_promotion(name, v2)
    assert pending is not None and reg.aliases(name) == {"production": v1}
    result = steps.promotion_step(
        contract_yaml=Path(CONTRACT_FILE).read_text(encoding="utf-8"),
        trust_yaml=Path(kit.trust_file).read_text(encoding="utf-8"),
        model_name=name,
        model_version=v2,
        envelopes=None,
        manifests_yaml=None,
        tracking_uri=kit.server.url,
        key_file=kit.key_files[ML],
        out_dir=tmp_path,
    )
    assert result.passed and result.extra["promoted"] is True
    assert result.envelope_path.read_bytes() == pending  # the interrupted decision, finished, not re-made
    assert reg.aliases(name) == {"production": v2, "previous": v1}
    tags = kit.client.get_model_version(name, v2).tags
    records = [json.loads(t) for k, t in tags.items() if k.startswith("signoff.promotion.")]
    assert [r["state"] for r in records] == ["complete"]


def test_the_pipelines_rollback_check_fires_the_same_rule_and_signs_nothing(kit: Kit, tmp_path: Path) -> None:
    from components import steps

    reg = kit.registry()
    name = "it-auto-step"
    v1, v2 = kit.new_version(name), kit.new_version(name)
    kit.gated_promote(reg, name, v1)
    kit.gated_promote(reg, name, v2)
    check = {
        "contract_yaml": Path(CONTRACT_FILE).read_text(encoding="utf-8"),
        "model_name": name,
        "model_version": v2,
        "tracking_uri": kit.server.url,
    }
    armed = steps.rollback_check_step(**check, out_dir=tmp_path / "a", observed_drift=0.02)  # below 3%
    assert (armed["armed"], armed["rolled_back"], armed["target"]) == (True, False, v1)
    assert reg.aliases(name)["production"] == v2
    fired = steps.rollback_check_step(**check, out_dir=tmp_path / "b", observed_drift=0.05)
    assert (fired["fire"], fired["rolled_back"]) == (True, False) and "0.0500 above" in fired["reason"]
    assert "signoff listen alertmanager" in fired["reason"]
    # the step holds no key: it never writes an automated rollback record nobody signed
    assert reg.aliases(name) == {"production": v2, "previous": v1}
    assert [h.kind for h in reg.audit(name, kit.trust).history if h.kind == "rollback"] == []
