"""Shared test fixtures.

* ``--update-goldens`` rewrites golden files instead of comparing (never in CI).
* ``golden`` compares generated text with ``tests/golden/<name>``.
* ``shared_schemas``: the ``../shared/schemas`` folder beside the checkout, or a skip with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files (never in CI)")


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
