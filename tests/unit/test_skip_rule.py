"""`make test` fails on a skip whose reason tests/allowed-skips.txt does not list (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8").replace('pytest_plugins = ["pytester"]', ""))
    pytester.makepyfile(
        test_it="""
        import pytest

        def test_runs():
            assert True

        def test_needs_a_tool():
            pytest.skip("frobnicator not installed")
        """
    )
    return pytester


def test_an_unlisted_skip_fails_the_run_and_is_named(project: pytest.Pytester) -> None:
    (project.path / "allowed.txt").write_text("# nothing allowed\n", encoding="utf-8")
    result = project.runpytest("--allowed-skips", "allowed.txt")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*skips: 1 in all, 1 not allowed by allowed.txt*",
         "UNEXPECTED SKIP test_it.py::test_needs_a_tool: frobnicator not installed"]
    )  # fmt: skip


def test_a_listed_skip_passes(project: pytest.Pytester) -> None:
    (project.path / "allowed.txt").write_text("^frobnicator not installed$  # a reason\n", encoding="utf-8")
    result = project.runpytest("--allowed-skips", "allowed.txt")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*skips: 1 in all, 0 not allowed by allowed.txt*"])


def test_without_the_option_skips_are_only_reported(project: pytest.Pytester) -> None:
    assert project.runpytest().ret == pytest.ExitCode.OK
