"""Verdicts and records on registries with smaller tag limits than OSS MLflow 3, and the tags people read.

The registry behind each case is the session's real ``mlflow server``; in front of it a small loopback
proxy refuses what the hosted registry refuses (a stand-in for the hosted limit: no Databricks here):

* ``oss-5000``: OSS MLflow servers before the limit was raised: tag values over 5,000 characters are
  refused with MLflow's own message (``'value' exceeds the maximum length of 5000 characters``);
* ``databricks-workspace``: the workspace registry guarantees 5,000 bytes per tag value (its REST
  reference); the stand-in refuses longer values with a message that names no number;
* ``unity-catalog``: values over 1,000 characters refused, tag keys with ``.`` or ``-`` refused,
  model names (the lock's too) of anything but letters, digits and ``_`` refused.

signoff is not told the limit in any case: it learns it from the refusal and splits to fit. For
Unity Catalog it is told the key style (``tag_style="uc"``, as a ``databricks-uc`` registry URI
implies).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from trust_kit import team_keys

from components import keys
from components.mlflow_registry import Registry
from components.steps import promotion as steps_promotion
from contracts.loader import load_contract, load_trust_policy
from contracts.trust import Gate
from gates import signing
from gates.verdict import Check, Outcome, Subject, Verdict, digest_bytes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_FILE = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"
ML, PLATFORM, SRE = "ranking-squad", "platform-gpu-team", "sre-ai-oncall"
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}
_TAGGING = ("model-versions/set-tag", "registered-models/set-tag", "registered-models/create")


@dataclass
class Hosted:
    """The limits of one hosted registry, as the stand-in enforces them."""

    label: str
    limit: int
    message: str
    uc: bool = False
    accepted: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def refusal(self, path: str, body: dict[str, Any]) -> str | None:
        tags = body.get("tags") or (
            [{"key": body["key"], "value": body.get("value", "")}] if "key" in body else []
        )
        named = str(body.get("name", ""))
        if (
            self.uc
            and path.endswith("registered-models/create")
            and not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+){0,2}", named)
        ):
            return f"Invalid name {body.get('name')!r}: only letters, digits and underscores"
        for tag in tags:
            key, value = str(tag["key"]), str(tag.get("value", ""))
            if self.uc and re.search(r"[.\-]", key):
                return f"Invalid tag key {key!r}: '.' and '-' are not allowed"
            if len(value.encode("utf-8")) > self.limit:
                return self.message
        return None


class StandIn:
    """A loopback proxy in front of the real server that refuses what ``hosted`` refuses (400,
    ``INVALID_PARAMETER_VALUE``, as the registries answer) and records every tag it let through."""

    def __init__(self, upstream_port: int, hosted: Hosted) -> None:
        self.hosted = hosted
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                path = self.path.split("?")[0]
                if body and self.command == "POST" and path.endswith(_TAGGING):
                    doc = json.loads(body)
                    why = stand_in.hosted.refusal(path, doc)
                    if why is not None:
                        stand_in.hosted.refused.append(why)
                        self._answer(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": why})
                        return
                    for tag in doc.get("tags") or [doc]:
                        if "key" in tag:
                            stand_in.hosted.accepted.append((str(tag["key"]), str(tag.get("value", ""))))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _answer(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


HOSTED = {
    "oss-5000": lambda: Hosted("oss-5000", 5000, "'value' exceeds the maximum length of 5000 characters"),
    "databricks-workspace": lambda: Hosted("databricks-workspace", 5000, "Tag value is too long"),
    "unity-catalog": lambda: Hosted(
        "unity-catalog", 1000, "Tag value exceeds the maximum length of 1000 characters", uc=True
    ),
}


@pytest.fixture(scope="module")
def teams(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Path]:
    grants = {ML: ("ml-artifact", "promotion", "rollback"), PLATFORM: ("platform",), SRE: ("sre-readiness",)}
    return team_keys(grants, tmp_path_factory.mktemp("limit-keys"))


@pytest.fixture(params=sorted(HOSTED))
def stand_in(request: pytest.FixtureRequest, mlflow_server: Any) -> Iterator[StandIn]:
    proxy = StandIn(int(mlflow_server.url.rsplit(":", 1)[1]), HOSTED[request.param]())
    yield proxy
    proxy.close()


def _envelope(
    gate: Gate, team: str, subject: Subject, contract_digest: str, key_file: Path, checks: int
) -> bytes:
    found = [
        Check(id=f"it.check-{i}", outcome=Outcome.PASS, message=f"checked {i}: " + "evidence " * 20)
        for i in range(checks)
    ]
    if gate is Gate.ML_ARTIFACT:
        found.append(Check(id="prediction.example", outcome=Outcome.PASS, message="predicted"))
    verdict = Verdict.decide(
        gate=gate,
        team=team,
        checks=found,
        subject=subject,
        contract_digest=contract_digest,
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    return signing.sign_verdict(verdict, keys.load_private_key(key_file))


def test_verdicts_and_a_promotion_fit_the_hosted_limit_and_read_back_whole(
    stand_in: StandIn, mlflow_server: Any, teams: tuple[dict[str, Path], Path]
) -> None:
    from mlflow import MlflowClient

    hosted = stand_in.hosted
    key_files, trust_file = teams
    contract, trust = load_contract(CONTRACT_FILE), load_trust_policy(trust_file)
    direct = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    name = f"it_limit_{hosted.label.replace('-', '_')}"
    direct.create_registered_model(name)
    versions = [str(direct.create_model_version(name, "s3://signoff-it/model").version) for _ in range(2)]
    reg = Registry(stand_in.url, tag_style="uc" if hosted.uc else None)  # the limit is not given
    stored: dict[str, dict[Gate, bytes]] = {}
    for v in versions:
        subject = Subject(model=name, version=v, digest="sha256:" + "cd" * 32)
        stored[v] = {
            gate: _envelope(gate, team, subject, contract.digest(), key_files[team], checks=40)
            for gate, team in ((Gate.ML_ARTIFACT, ML), (Gate.PLATFORM, PLATFORM), (Gate.SRE_READINESS, SRE))
        }
        assert all(len(e) > hosted.limit for e in stored[v].values())  # each must be split to fit
        for gate, env in stored[v].items():
            reg.store_envelope(name, v, gate, env)
        done = steps_promotion.promote(reg, contract, trust, name, v, key_file=key_files[ML])
        assert done.result is not None and done.result.version == v, [
            c.message for c in done.verdict.failures
        ]

    assert hosted.refused, "the stand-in never refused: the limit was not exercised"
    assert max(len(value.encode()) for _, value in hosted.accepted) <= hosted.limit
    if hosted.uc:
        assert not [k for k, _ in hosted.accepted if re.search(r"[.\-]", k)]
    first, second = versions
    assert reg.aliases(name) == {"production": second, "previous": first}
    for v in versions:
        read = reg.envelopes(name, v)
        assert {g: read[g] for g in stored[v]} == stored[v]  # split and joined back, byte for byte
        promotion_env = read[Gate.PROMOTION]
        assert signing.verify_envelope(promotion_env, trust).verdict.passed
        # The promotion envelope is kept once: under one key (plus its parts when split).
        tags = direct.get_model_version(name, v).tags
        heads = [
            k
            for k, t in tags.items()
            if t == promotion_env.decode() or re.fullmatch(rf"chunks:\d+:{digest_bytes(promotion_env)}", t)
        ]
        assert len(heads) == 1, heads
    report = reg.audit(name, trust)
    assert report.ok, report.to_text()
    assert [(h.kind, h.version, h.valid) for h in report.history] == [
        ("promotion", first, True),
        ("promotion", second, True),
    ]
    assert not [m for m in direct.search_registered_models() if "lock" in m.name]  # the lock was released


def test_the_registry_ui_shows_a_readable_line_per_gate(
    mlflow_server: Any, teams: tuple[dict[str, Path], Path]
) -> None:
    from mlflow import MlflowClient

    key_files, trust_file = teams
    contract, trust = load_contract(CONTRACT_FILE), load_trust_policy(trust_file)
    direct = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    name = "it-summaries"
    direct.create_registered_model(name)
    v = str(direct.create_model_version(name, "s3://signoff-it/model").version)
    subject = Subject(model=name, version=v, digest="sha256:" + "ef" * 32)
    reg = Registry(mlflow_server.url)
    for gate, team in ((Gate.ML_ARTIFACT, ML), (Gate.PLATFORM, PLATFORM), (Gate.SRE_READINESS, SRE)):
        reg.store_envelope(
            name, v, gate, _envelope(gate, team, subject, contract.digest(), key_files[team], 2)
        )
    done = steps_promotion.promote(reg, contract, trust, name, v, key_file=key_files[ML])
    assert done.result is not None
    tags = direct.get_model_version(name, v).tags
    for shown, team in (("ml-artifact", ML), ("platform", PLATFORM), ("sre-readiness", SRE)):
        line = tags[f"signoff.summary.{shown}"]
        assert re.fullmatch(rf"{shown}: passed; signed by {team} at \S+; valid until \S+", line), line
    record = json.loads(tags[f"signoff.promotion.{done.result.promotion_id[:16]}"])
    assert record["summary"].startswith(f"promotion: passed; signed by {ML} at ")
    assert "signoff.verdict.promotion" not in tags  # the promotion envelope is kept once
