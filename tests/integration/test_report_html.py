"""``signoff report MODEL --html FILE`` against the session's real MLflow server, rendered by headless
Chromium (Debian's ``chromium``): the page's text (``--dump-dom``) and a screenshot's size.

The registry holds real signed verdicts (real Ed25519 keys, ``gates.signing``) of two promoted
versions, the SRE verdict carrying a probe histogram, and a third version with a tampered platform
verdict under an alias moved by hand.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_mlflow_registry import ML, SRE, Kit, kit  # the registry tests' fixture: keys, trust, model

from contracts.trust import Gate
from gates import evidence, signing
from gates.verdict import Check, Outcome, Subject, Verdict
from pipelines._cli.main import main as signoff

pytestmark = pytest.mark.integration
__all__ = ["kit"]  # re-exported fixture

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium not installed (Debian package 'chromium'; make system-deps installs it)")
    return exe


def _sre_envelope(kit: Kit, name: str, version: str) -> bytes:
    """An SRE readiness verdict as the SRE step signs it: probe figures with the latency histogram."""
    latencies = [12.0] * 700 + [30.0] * 250 + [70.0] * 45 + [95.0] * 5
    hist = evidence.latency_histogram(latencies, [80.0, 25.0])
    checks = [
        Check(
            id="probe.p99-latency",
            outcome=Outcome.PASS,
            message="p99 70ms; SLO 75ms",
            figures={"p99_ms": 70.0, "slo_ms": 80.0, "latency_histogram_ms": evidence.histogram_text(hist)},
        ),
        Check(id="probe.p50-latency", outcome=Outcome.PASS, message="p50 12ms", figures={"p50_ms": 12.0}),
        Check(
            id="probe.cold-start",
            outcome=Outcome.PASS,
            message="cold start 21s",
            figures={"cold_start_s": 21.0, "max_cold_start_s": 90.0},
        ),
    ]
    verdict = Verdict.decide(
        gate=Gate.SRE_READINESS,
        team=SRE,
        checks=checks,
        subject=Subject(model=name, version=version, digest=kit.digest),
        contract_digest=kit.contract.digest(),
        now=datetime.now(UTC),
        ttl=timedelta(days=1),
    )
    return signing.sign_verdict(verdict, kit.private[SRE])


@pytest.fixture(scope="module")
def report_model(kit: Kit) -> tuple[str, str, str, str]:
    name = "it-report"
    reg = kit.registry()
    v1, v2, v3 = kit.new_version(name), kit.new_version(name), kit.new_version(name)
    for v in (v1, v2):
        kit.keep_handoffs(reg, name, v)
        reg.store_envelope(name, v, Gate.SRE_READINESS, _sre_envelope(kit, name, v))
        env, verdict = kit.promotion_envelope(reg, name, v)
        reg.promote(name, v, promotion_envelope=env, record=verdict)
    # v3: a good ML verdict, a platform verdict altered after signing, no SRE verdict; an alias by hand.
    reg.store_envelope(name, v3, Gate.ML_ARTIFACT, kit.envelope(Gate.ML_ARTIFACT, name, v3))
    tampered = kit.envelope(Gate.PLATFORM, name, v3).replace(b'"sig":"', b'"sig":"A', 1)
    reg.store_envelope(name, v3, Gate.PLATFORM, tampered)
    kit.client.set_registered_model_alias(name, "candidate", v3)
    return name, v1, v2, v3


def test_report_page_in_headless_chromium(
    kit: Kit, report_model: tuple[str, str, str, str], tmp_path: Path
) -> None:
    chromium = _chromium()
    name, v1, v2, v3 = report_model
    page = tmp_path / "report.html"
    contract = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "recsys-ranker.yaml"
    rc = signoff([
        "report", name, "--html", str(page), "--contract", str(contract), "--trust", str(kit.trust_file),
        "--tracking-uri", kit.server.url,
    ])  # fmt: skip
    assert rc == 0
    text = page.read_text(encoding="utf-8")
    # Self-contained: no script, no external reference of any kind.
    assert "<script" not in text.lower()
    assert not re.search(r"""(?:src|href)\s*=|url\(|@import|https?://""", text, re.I), "external asset"

    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.sub(r"<[^>]+>", " ", dom.stdout)
    body = re.sub(r"\s+", " ", body)
    # The aliases: production and previous backed; candidate moved by hand, in red.
    assert f"production {v2} BACKED" in body and f"previous {v1} BACKED" in body
    assert f"candidate {v3} NOT BACKED: UNBACKED" in body
    # Who signed what, from verified envelopes only.
    assert body.count("PASSED, HOLDS") == 9  # four gates of each promoted version, v3's ML verdict
    assert f"{ML}" in body and f"{SRE}" in body
    assert "does not verify" in body  # the tampered platform verdict of v3
    assert "no verdict kept with this version" in body  # v3's SRE and promotion
    # The probe: the signed figures and the histogram with its SLO lines.
    assert "P99 SLO 75 ms" in body and "P50 SLO 25 ms" in body
    assert "le 80 ms: 45" in body and "le 100 ms: 5" in body  # bar tooltips: bucket counts
    # The alias history as a timeline, oldest first.
    assert re.search(
        rf"promotion to version {v1} \(first release\).*promotion to version {v2} \(from version {v1}\)", body
    )
    # Red really is red: the candidate row and the v3 gates carry the 'bad' class in the live DOM.
    assert dom.stdout.count('class="bad"') >= 4

    shot = tmp_path / "report.png"
    done = subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2400)
    assert len(data) > 60_000, len(data)  # a rendered page, not a blank one (a blank PNG is a few KB)


def test_report_bad_input_is_exit_2_and_no_file(
    kit: Kit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "r.html"
    rc = signoff([
        "report", "it-report", "--html", str(page), "--contract", str(tmp_path / "missing.yaml"),
        "--trust", str(kit.trust_file), "--tracking-uri", kit.server.url,
    ])  # fmt: skip
    assert rc == 2 and "--contract" in capsys.readouterr().err
    assert not page.exists()
