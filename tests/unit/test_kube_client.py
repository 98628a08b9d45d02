"""Credentials of the cluster path and ``signoff deploy``'s input checks (no API server needed).

The requests themselves are tested against a real API server in ``tests/cluster/test_deploy.py``;
``tests/integration/test_kube_api.py`` fakes only the faults a real server cannot be made to
produce on demand (a stalled answer, a 500) and tries a closed port.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components import kube
from contracts.errors import InputError
from pipelines._cli import main as cli


def _kubeconfig(path: Path, *, context: str = "dev") -> Path:
    path.write_text(
        yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://10.1.2.3:6443"}}],
            "users": [{"name": "alice", "user": {"token": "t0ken"}}],
            "contexts": [{"name": context, "context": {"cluster": "c", "user": "alice"}}],
            "current-context": context,
        }),
        encoding="utf-8",
    )  # fmt: skip
    return path


@pytest.fixture
def outside_a_pod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No in-cluster environment and an empty home: no credentials unless a test adds some."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent-kubeconfig"))
    return tmp_path


def test_no_credentials_is_an_input_error_saying_where_it_looked(outside_a_pod: Path) -> None:
    with pytest.raises(InputError) as err:
        kube.load_client()
    msg = str(err.value)
    assert "no Kubernetes credentials" in msg
    assert str(outside_a_pod / "absent-kubeconfig") in msg
    assert "serviceaccount/token" in msg
    assert "--kubeconfig" in msg


def test_kubeconfig_from_the_environment_and_its_identity(
    outside_a_pod: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(outside_a_pod / "kc")))
    client = kube.load_client()
    assert client.host == "https://10.1.2.3:6443"
    assert client.identity == "kubeconfig user 'alice' (context 'dev')"
    assert client.api.configuration.api_key["authorization"] == "Bearer t0ken"


def test_unknown_context_and_garbage_kubeconfig_are_input_errors(outside_a_pod: Path) -> None:
    good = _kubeconfig(outside_a_pod / "kc")
    with pytest.raises(InputError, match="kubeconfig"):
        kube.load_client(str(good), context="prod")
    garbage = outside_a_pod / "garbage"
    garbage.write_text("clusters: [\n", encoding="utf-8")
    with pytest.raises(InputError, match="kubeconfig"):
        kube.load_client(str(garbage))
    with pytest.raises(InputError, match="no Kubernetes credentials"):
        kube.load_client(str(outside_a_pod / "missing"))


def _jwt(claims: dict[str, str]) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


@pytest.fixture
def in_a_pod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The files and variables Kubernetes gives a pod (the token is an unsigned look-alike)."""
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(_jwt({"sub": "system:serviceaccount:signoff-system:signoff-deployer"}))
    (sa / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n")
    monkeypatch.setattr(kube._client, "_SA_DIR", sa)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    return tmp_path


def test_in_a_pod_the_service_account_is_used_and_named(in_a_pod: Path) -> None:
    client = kube.load_client()
    assert client.host == "https://10.96.0.1:443"
    assert client.identity == "service account signoff-system/signoff-deployer"
    assert client.api.configuration.api_key["authorization"].startswith("bearer ")


def test_an_explicit_kubeconfig_wins_over_the_pod(in_a_pod: Path) -> None:
    client = kube.load_client(str(_kubeconfig(in_a_pod / "kc")))
    assert client.host == "https://10.1.2.3:6443"


# ---------------------------------------------------------------------------------- signoff deploy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: [unclosed\n", "not valid YAML"),
        ("- a\n- b\n", "document 1 is a list, not a Kubernetes object"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nplain text\n", "document 2 is a str"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "document 1 (?) lacks kind"),
        ("apiVersion: v1\nkind: Service\nmetadata: {}\n", "lacks metadata.name"),
        ("---\n---\n", "no Kubernetes objects in the file"),
    ],
    ids=["syntax", "list", "scalar-second", "no-kind", "no-name", "empty"],
)
def test_deploy_bad_manifests_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    rc = cli.main(["deploy", str(path), "--namespace", "ml-staging", "--kubeconfig", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"signoff: error: {path}: " in err
    assert expected in err
    assert "Traceback" not in err


def test_deploy_missing_file_and_bad_deadline_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["deploy", str(tmp_path / "nope.yaml"), "-n", "ml-staging"]) == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err
    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", encoding="utf-8")
    assert cli.main(["deploy", str(path), "-n", "ml-staging", "--wait", "--deadline", "soon"]) == 2
    assert "--deadline: 'soon' is not a duration" in capsys.readouterr().err
    assert cli.main(["deploy", str(path), "-n", "ml-staging", "--wait"]) == 2
    assert "--wait needs an InferenceService or a Deployment" in capsys.readouterr().err


def test_deploy_observability_takes_only_monitors_and_rules_and_is_read_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--observability`` is the SRE step's monitors and rules: another kind in it (here a
    Deployment) or a missing file is bad input, exit 2, before credentials are even looked for."""
    manifests = tmp_path / "m.yaml"
    manifests.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", encoding="utf-8")
    assert (
        cli.main(["deploy", str(manifests), "-n", "ml-staging", "--observability", str(tmp_path / "no")]) == 2
    )
    assert "no such file (--observability)" in capsys.readouterr().err
    obs = tmp_path / "observability.yaml"
    obs.write_text(
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
        encoding="utf-8",
    )
    rc = cli.main(["deploy", str(manifests), "-n", "ml-staging", "--observability", str(obs),
                   "--kubeconfig", str(tmp_path / "none")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert f"{obs}: document 2 is a 'Deployment'; --observability applies only " in err
    assert "only PodMonitor, ServiceMonitor, PrometheusRule (the SRE step's observability.yaml)" in err
    assert "kubeconfig" not in err, "refused before any credentials were loaded"


def test_deploy_without_credentials_exits_2_before_any_request(
    outside_a_pod: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = outside_a_pod / "m.yaml"
    path.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", encoding="utf-8")
    assert cli.main(["deploy", str(path), "-n", "ml-staging"]) == 2
    assert "no Kubernetes credentials" in capsys.readouterr().err


def test_installed_command_help_and_bad_yaml(tmp_path: Path, signoff_exe: str) -> None:
    exe = signoff_exe
    helped = subprocess.run(
        [exe, "deploy", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert helped.returncode == 0, helped.stderr
    for option in ("--namespace", "--kubeconfig", "--context", "--dry-run", "--wait", "--deadline"):
        assert option in helped.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: [\n", encoding="utf-8")
    proc = subprocess.run([exe, "deploy", str(bad), "-n", "ml-prod"], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 2
    assert "not valid YAML" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing_ns = subprocess.run(
        [exe, "deploy", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert missing_ns.returncode == 2
    assert "--namespace" in missing_ns.stderr


def test_importing_the_adapter_and_deploy_help_load_no_kubernetes() -> None:
    """``kubernetes`` is imported inside the functions that talk to the cluster, never at import."""
    code = (
        "import sys\n"
        "import components.kube\n"
        "from pipelines._cli import main\n"
        "try:\n    main.main(['deploy', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED=' + str('kubernetes' in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "LOADED=False" in proc.stderr
