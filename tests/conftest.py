"""Shared test fixtures.

* ``--update-goldens`` rewrites golden files instead of comparing (never in CI).
* ``golden`` compares generated text with ``tests/golden/<name>``.
* ``shared_schemas``: the ``../shared/schemas`` folder beside the checkout, or a skip with the reason.
* ``--allowed-skips FILE`` (``make test`` passes ``tests/allowed-skips.txt``): the run fails when a
  test is skipped for a reason that file does not list. A fresh machine that ran the README's test
  command has everything the tests need, so a skip there is a defect, not a pass.
* ``signoff_exe``: the ``signoff`` console script installed beside this interpreter.
* Hypothesis runs without its per-example deadline: the property tests assert behaviour, not speed
  (speed lives in bench/), and on a loaded 2-core machine a first example that imports numpy can
  take longer than the default 200 ms.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

pytest_plugins = ["pytester"]

settings.register_profile("signoff", deadline=None)
settings.load_profile("signoff")

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files (never in CI)")
    parser.addoption(
        "--allowed-skips", metavar="FILE", help="fail the run on any skip whose reason FILE does not list"
    )


@pytest.fixture(scope="session")
def signoff_exe() -> str:
    """The ``signoff`` console script of this environment: beside ``sys.executable``, never looked up
    on ``PATH`` (the README's commands run ``.venv/bin/pytest`` without activating the venv)."""
    exe = Path(sys.executable).parent / "signoff"
    assert exe.is_file(), f"{exe} is missing: install the package (make setup) before running the tests"
    return str(exe)


def _allowed_skips(path: Path) -> list[re.Pattern[str]]:
    """Each non-comment line of ``path`` is ``<regex of the skip reason>  # why it may skip``."""
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        pattern = line.split("  #", 1)[0].strip()
        if pattern and not pattern.startswith("#"):
            patterns.append(re.compile(pattern))
    return patterns


_SKIPS: list[tuple[str, str]] = []
_UNEXPECTED: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _SKIPS.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    option = session.config.getoption("--allowed-skips")
    if not option or session.config.getoption("--collect-only"):
        return
    allowed = _allowed_skips(Path(option))
    _UNEXPECTED[:] = [(n, r) for n, r in _SKIPS if not any(p.search(r) for p in allowed)]
    if _UNEXPECTED and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    option = config.getoption("--allowed-skips")
    if not option:
        return
    terminalreporter.write_sep(
        "-", f"skips: {len(_SKIPS)} in all, {len(_UNEXPECTED)} not allowed by {option}"
    )
    for nodeid, reason in _UNEXPECTED:
        terminalreporter.write_line(f"UNEXPECTED SKIP {nodeid}: {reason}", red=True)


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``golden(name, text)``: assert ``text`` equals ``tests/golden/<name>`` (or rewrite it)."""
    update = request.config.getoption("--update-goldens")
    if update and os.environ.get("CI"):
        pytest.fail("--update-goldens is not allowed in CI")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden file {path.relative_to(ROOT)}: run 'make goldens'"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, (
            f"{path.relative_to(ROOT)} is stale or the output changed: run 'make goldens' and review the diff"
        )

    return check


@pytest.fixture(scope="session")
def shared_schemas() -> Path:
    """The upstream schemas in ``../shared/schemas`` (skip where absent, e.g. a user's fresh clone)."""
    path = ROOT.parent / "shared" / "schemas"
    if not path.is_dir():
        pytest.skip(f"../shared/schemas not found beside the checkout ({path.name}); schema tests need it")
    return path
