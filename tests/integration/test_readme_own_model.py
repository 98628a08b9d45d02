"""README "Your own model": the commands a new team types, run exactly as the README writes them.

The shell block is taken from the README at test time (so the text cannot rot) and run with
``bash -e`` in a new, empty folder, with the venv's ``bin/`` first on a minimal ``PATH`` and a new
``HOME``: what a person has after ``. .venv/bin/activate``. Its own local MLflow is a plain sqlite
store with file artifacts (no server), which is the path the README promises works end to end.
The test also holds the README to its word: at most ten commands.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_COMMANDS = 10


def section_block(readme: str, heading: str) -> str:
    """The first ```sh block under ``heading`` (a ``## `` heading) of the README."""
    start = readme.index(f"\n{heading}\n")
    end = readme.find("\n## ", start + 1)
    body = readme[start : end if end != -1 else len(readme)]
    found = re.search(r"```sh\n(.*?)```", body, flags=re.S)
    assert found, f"README {heading!r} has no ```sh block"
    return found.group(1)


def commands(block: str) -> list[str]:
    """The commands of a shell block: backslash-continued lines joined, a heredoc part of its command."""
    out: list[str] = []
    lines = iter(block.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        text = line
        while text.endswith("\\"):
            text = text[:-1] + " " + next(lines).strip()
        heredoc = re.search(r"<<-?'?(\w+)'?", text)
        if heredoc:
            for body in lines:
                text += "\n" + body
                if body.strip() == heredoc.group(1):
                    break
        out.append(text)
    return out


def test_the_block_is_at_most_ten_commands() -> None:
    cmds = commands(section_block(README.read_text(encoding="utf-8"), "## Your own model"))
    assert len(cmds) <= MAX_COMMANDS, "\n".join(c.splitlines()[0] for c in cmds)
    assert cmds[-2].startswith("signoff promote ") and cmds[-1].startswith("signoff audit ")


def test_a_new_team_gets_its_own_model_promoted_with_the_readme_commands(tmp_path: Path) -> None:
    block = section_block(README.read_text(encoding="utf-8"), "## Your own model")
    work, home = tmp_path / "team", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    bin_dir = Path(sys.executable).parent
    env = {"HOME": str(home), "LANG": "C.UTF-8", "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"}
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "TMPDIR"):  # the machine's, as a shell has them
        if name in os.environ:
            env[name] = os.environ[name]
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block],
        cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    print(f"README 'Your own model': {len(commands(block))} commands, {wall:.1f} s")
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    out = done.stdout
    assert "PASSED: every check passed; team ml-team signs this verdict" in out
    assert "PASSED: every check passed; team platform-team signs this verdict" in out
    assert "## Live probe of iris-clf: PASS" in out
    assert "PASSED: every check passed; team sre-team signs this verdict" in out
    assert "PROMOTED: iris-clf version 1 is production (first release)" in out
    assert re.search(
        r"production -> version 1: BACKED: promotion \w+ signed by ml-team at \S+ \(verified\)", out
    ), out
    verdicts = work / "iris-clf" / "verdicts"
    assert sorted(p.name for p in verdicts.glob("*.envelope.json")) == [
        "ml-artifact.envelope.json",
        "platform.envelope.json",
        "sre-readiness.envelope.json",
    ]
    assert (work / "iris-clf" / "logs" / "mlflow-models-serve.log").is_file()

    # The same local MLflow without --storage-uri: the platform gate says what to run instead.
    platform = next(c for c in commands(block) if c.startswith("signoff check platform "))
    argv = shlex.split(platform)
    at = argv.index("--storage-uri")
    without = [*argv[:at], *argv[at + 2 :]]
    without[without.index("--out") + 1] = "iris-clf/other-verdicts"
    refused = subprocess.run(without, cwd=work, env={**env, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db"},
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    err = refused.stderr
    assert "models:/iris-clf/1 is stored at " in err and "that no cluster can fetch" in err
    assert "  aws s3 cp --recursive " in err and " s3://YOUR-BUCKET/models/iris-clf/1\n" in err
    assert (
        f"  {shlex.join(without[:1] + without[1:])} --storage-uri s3://YOUR-BUCKET/models/iris-clf/1" in err
    )
    assert not (work / "iris-clf" / "other-verdicts").exists(), "nothing written on a refusal"


@pytest.mark.parametrize(
    ("block", "count"),
    [
        ("a\n\n# note\nb \\\n  --c\n", 2),
        ("python - <<'EOF'\nx = 1\nEOF\nsignoff x\n", 2),
    ],
)
def test_command_counting(block: str, count: int) -> None:
    assert len(commands(block)) == count
