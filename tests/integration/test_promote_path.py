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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from trust_kit import team_keys

from components import keys
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


def test_signoff_promote_reaches_the_alias_write_through_at_most_12_functions(
    mlflow_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow import MlflowClient

    from contracts.loader import load_contract

    contract = load_contract(CONTRACT_FILE)
    key_files, trust_file = team_keys(
        {ML: ("ml-artifact", "promotion"), PLATFORM: ("platform",), SRE: ("sre-readiness",)}, tmp_path
    )
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    name = "it-promote-path"
    client.create_registered_model(name)
    version = str(client.create_model_version(name, "s3://signoff-it/model").version)
    subject = Subject(model=name, version=version, digest="sha256:" + "ab" * 32)
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
        (tmp_path / f"{gate.value}.envelope.json").write_bytes(envelope)

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
    args = ["promote", "--model", f"models:/{name}/{version}", "--contract", str(CONTRACT_FILE)]
    args += ["--trust", str(trust_file), "--key", str(key_files[ML]), "--verdicts", str(tmp_path)]
    args += ["--tracking-uri", mlflow_server.url]
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
