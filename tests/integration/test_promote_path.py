"""How deep ``signoff promote`` goes, measured on a real promotion against the session's real server.

``sys.setprofile`` watches a real ``signoff promote`` (real keys, real verdicts judged by
``gates.promotion``, the real ``mlflow server``). At the moment the production alias is written on
the wire (``http.client`` putting the request line of ``POST .../registered-models/alias``), the
distinct first-party functions on the call stack are counted: the path from the command's model URI
down to the alias write. And every envelope this process signs is remembered: none of them may be
handed to ``verify_envelope`` afterwards (the promotion verdict just signed is not re-verified).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from trust_kit import team_keys

from components import keys
from contracts.loader import load_trust_policy
from contracts.trust import Gate
from gates import signing
from gates.verdict import Check, Outcome, Subject, Verdict
from pipelines._cli.main import main as signoff

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = tuple(str(ROOT / d) for d in ("components", "contracts", "gates", "pipelines"))
CONTRACT_FILE = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"
ML, PLATFORM, SRE = "ranking-squad", "platform-gpu-team", "sre-ai-oncall"
MAX_FUNCTIONS = 12
"""Issue 12's bound on the path of ``signoff promote``'s model URI down to the alias write."""


def _first_party(frame: FrameType | None) -> list[str]:
    out: list[str] = []
    while frame is not None:
        if frame.f_code.co_filename.startswith(FIRST_PARTY):
            out.append(f"{frame.f_code.co_filename.removeprefix(str(ROOT))}:{frame.f_code.co_qualname}")
        frame = frame.f_back
    return out


@dataclass
class Setup:
    name: str
    versions: list[str]
    args: list[str]
    key_files: dict[str, Path]
    trust_file: Path
    client: Any

    def promote(self, version: str) -> list[str]:
        return ["promote", "--model", f"models:/{self.name}/{version}", *self.args, "--verdicts"]


def _setup(server: Any, folder: Path, name: str, count: int) -> Setup:
    """``count`` versions of a new model, each with passing ML, platform and SRE verdicts written to
    ``folder/<version>/`` (real keys; the contract's digest), as ``signoff check`` leaves them."""
    from mlflow import MlflowClient

    from contracts.loader import load_contract

    contract = load_contract(CONTRACT_FILE)
    grants = {ML: ("ml-artifact", "promotion"), PLATFORM: ("platform",), SRE: ("sre-readiness",)}
    key_files, trust_file = team_keys(grants, folder)
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    client.create_registered_model(name)
    versions = [str(client.create_model_version(name, "s3://signoff-it/model").version) for _ in range(count)]
    for version in versions:
        subject = Subject(model=name, version=version, digest="sha256:" + "ab" * 32)
        (folder / version).mkdir()
        for gate, team in ((Gate.ML_ARTIFACT, ML), (Gate.PLATFORM, PLATFORM), (Gate.SRE_READINESS, SRE)):
            checks = [Check(id="it.check", outcome=Outcome.PASS, message="checked")]
            if gate is Gate.ML_ARTIFACT:
                checks.append(Check(id="prediction.example", outcome=Outcome.PASS, message="predicted"))
            verdict = Verdict.decide(
                gate=gate,
                team=team,
                checks=checks,
                subject=subject,
                contract_digest=contract.digest(),
                now=datetime.now(UTC),
                ttl=timedelta(hours=1),
            )
            envelope = signing.sign_verdict(verdict, keys.load_private_key(key_files[team]))
            (folder / version / f"{gate.value}.envelope.json").write_bytes(envelope)
    args = ["--contract", str(CONTRACT_FILE), "--trust", str(trust_file), "--key", str(key_files[ML])]
    args += ["--tracking-uri", server.url]
    return Setup(name, versions, args, key_files, trust_file, client)


def test_signoff_promote_reaches_the_alias_write_through_at_most_12_functions(
    mlflow_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kit = _setup(mlflow_server, tmp_path, "it-promote-path", 1)
    name, version = kit.name, kit.versions[0]
    client = kit.client

    at_alias: list[list[str]] = []
    signed: set[bytes] = set()
    reverified: list[str] = []
    alias_code = "putrequest"

    def watch(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_name == alias_code and code.co_filename.endswith("http/client.py"):
            method, url = frame.f_locals.get("method"), str(frame.f_locals.get("url"))
            if method == "POST" and url.split("?")[0].endswith("/registered-models/alias"):
                at_alias.append(_first_party(frame))
        elif event == "return" and code.co_name == "sign_verdict" and isinstance(arg, bytes):
            signed.add(arg)
        elif (
            event == "call" and code.co_name == "verify_envelope" and code.co_filename.endswith("signing.py")
        ) and frame.f_locals.get("envelope") in signed:
            reverified.append("verify_envelope got an envelope this process signed")

    run: Callable[[list[str]], int] = signoff
    args = [*kit.promote(version), str(tmp_path / version)]
    sys.setprofile(watch)
    try:
        code = run(args)
    finally:
        sys.setprofile(None)
    assert code == 0, capsys.readouterr()
    assert "PROMOTED" in capsys.readouterr().out
    assert str(client.get_model_version_by_alias(name, "production").version) == version
    assert at_alias, "no alias write was seen on the wire"
    path = at_alias[-1]  # the production alias (a first release moves no rollback alias)
    distinct = list(dict.fromkeys(path))
    assert len(distinct) <= MAX_FUNCTIONS, "\n".join(reversed(distinct))
    assert signed and not reverified


@pytest.fixture
def server_up(mlflow_server: Any) -> Iterator[Any]:
    """A test that stopped the session's server leaves it running for the next one."""
    yield mlflow_server
    if not mlflow_server.running:
        mlflow_server.start()


@pytest.mark.parametrize("point", ["before-alias", "before-complete", "before-record"])
def test_the_server_killed_at_each_step_of_a_promotion_then_the_command_rerun_completes(
    server_up: Any,
    tmp_path: Path,
    point: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The real server is stopped at ``point`` of the second release (after the envelope, after the
    alias moves, after the alias tags); the same command re-run finishes it, and the audit holds."""
    from components.mlflow_registry import Registry

    kit = _setup(server_up, tmp_path, f"it-kill-{point}", 2)
    v1, v2 = kit.versions
    assert signoff([*kit.promote(v1), str(tmp_path / v1)]) == 0
    killed: list[str] = []

    def kill_server(self: Registry, at: str) -> None:
        if at == point and not killed:
            killed.append(at)
            server_up.stop()

    monkeypatch.setattr(Registry, "_hook", kill_server)  # picks the moment; the stop is real
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    args = [*kit.promote(v2), str(tmp_path / v2)]
    try:
        assert signoff(args) == 3  # TemporaryError: the server went away mid-promotion
    finally:
        server_up.start()
    assert killed == [point]
    reg = Registry(server_up.url)
    trust = load_trust_policy(kit.trust_file)
    # What the audit says meanwhile: production still on v1; moved but not yet tagged by signoff
    # (the audit cannot tell that from a move by hand); tagged, the record not yet written.
    meanwhile = {a.alias: (a.version, a.status.value) for a in reg.audit(kit.name, trust).aliases}
    assert (
        meanwhile["production"]
        == {
            "before-alias": (v1, "backed"),
            "before-complete": (v2, "unbacked"),
            "before-record": (v2, "incomplete"),
        }[point]
    )
    capsys.readouterr()
    assert signoff(args) == 0
    assert "resuming" in capsys.readouterr().out  # finished, not decided again
    assert reg.aliases(kit.name) == {"production": v2, "previous": v1}
    report = reg.audit(kit.name, trust)
    assert report.ok, report.to_text()
    assert [(h.kind, h.version, h.state, h.valid) for h in report.history] == [
        ("promotion", v1, "complete", True),
        ("promotion", v2, "complete", True),
    ]
    assert not [m for m in kit.client.search_registered_models() if m.name.startswith("signoff-lock.")]
