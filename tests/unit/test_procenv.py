"""Every process signoff starts finds this environment's commands, whatever the caller's PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from components import procenv
from contracts import errors


def test_this_interpreters_bin_comes_first_once() -> None:
    first = str(Path(sys.executable).parent)
    env = procenv.child_env({"A": "1"}, base={"PATH": f"/usr/bin:{first}:/bin", "B": "2"})
    assert env["PATH"].split(os.pathsep) == [first, "/usr/bin", "/bin"]
    assert (env["A"], env["B"]) == ("1", "2")


def test_a_caller_supplied_path_still_gets_the_bin_first() -> None:
    env = procenv.child_env({"PATH": "/bin"}, base={})
    assert env["PATH"] == os.pathsep.join([str(Path(sys.executable).parent), "/bin"])


def test_no_path_at_all_falls_back_to_the_system_default() -> None:
    env = procenv.child_env(base={})
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert len(env["PATH"].split(os.pathsep)) > 1


def test_a_child_with_a_minimal_path_finds_the_venvs_console_scripts() -> None:
    """What `mlflow models serve` does (bash -c 'exec uvicorn ...') works from a scrubbed PATH."""
    env = procenv.child_env(base={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")})
    done = subprocess.run(
        ["/bin/sh", "-c", "command -v signoff"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(Path(sys.executable).parent / "signoff")


def test_a_missing_command_names_itself_and_the_fix() -> None:
    with pytest.raises(errors.InputError) as raised:
        procenv.executable("no-such-command-signoff", hint="install signoff[local]")
    message = str(raised.value)
    assert "'no-such-command-signoff' command was not found beside" in message
    assert message.endswith("install signoff[local]")


def test_exit_report_names_code_time_log_and_tail(tmp_path: Path) -> None:
    log = "\n".join(f"line {i}" for i in range(30))
    text = procenv.exit_report("mlflow models serve", 127, 2.14, log, tmp_path / "serve.log")
    head, *rest = text.splitlines()
    assert head == f"mlflow models serve exited with code 127 after 2.1 s; its log: {tmp_path / 'serve.log'}"
    assert rest[0] == "last 20 lines of its log:"
    assert rest[1:] == [f"line {i}" for i in range(10, 30)]
