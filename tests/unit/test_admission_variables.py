"""The admission policy's GPU routes come from the cluster policy: one source of truth.

``gates.admission`` renders the policy's GPU-route variables from ``spec.gpu_routes``; the committed
policy must hold exactly what the committed example cluster policy renders, and ``signoff admission
variables`` checks and rewrites that block.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contracts import loader
from gates import admission
from pipelines._cli.main import main

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "infra" / "policies" / "require-promotion" / "policy.yaml"
CLUSTER = ROOT / "contracts" / "examples" / "cluster-policy.yaml"


def test_committed_policy_holds_what_the_cluster_policy_renders() -> None:
    generated = admission.gpu_route_variables(loader.load_cluster_policy(CLUSTER))
    (doc,) = [d for d in yaml.safe_load_all(POLICY.read_text()) if d]
    variables = doc["spec"]["variables"]
    assert variables[: len(generated)] == generated
    assert (
        admission.replace_block(POLICY.read_text(), loader.load_cluster_policy(CLUSTER)) == POLICY.read_text()
    )


def test_vendor_wildcards_become_prefixes_and_names_stay_exact() -> None:
    policy = loader.load_cluster_policy(CLUSTER)
    routes = policy.spec.gpu_routes.model_copy(
        update={"extended_resources": ("nvidia.com/*", "amd.com/gpu", "nvidia.com/gpu", "habana.ai/gaudi")}
    )
    policy = policy.model_copy(update={"spec": policy.spec.model_copy(update={"gpu_routes": routes})})
    got = {v["name"]: v["expression"] for v in admission.gpu_route_variables(policy)}
    assert got["gpuResourcePrefixes"] == "['nvidia.com/']"
    assert got["gpuResourceNames"] == "['amd.com/gpu', 'habana.ai/gaudi']"


def test_default_routes_cover_the_three_vendors() -> None:
    spec = yaml.safe_load(CLUSTER.read_text())["spec"]
    spec.pop("gpu_routes")
    doc = {
        "apiVersion": "signoff.dev/v1alpha1",
        "kind": "ClusterPolicy",
        "metadata": {"name": "x"},
        "spec": spec,
    }
    from contracts.cluster import ClusterPolicy

    routes = ClusterPolicy.model_validate(doc).spec.gpu_routes
    assert {"nvidia.com/*", "amd.com/gpu", "gpu.intel.com/*"} <= set(routes.extended_resources)


def test_cli_prints_checks_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["admission", "variables", "--cluster-policy", str(CLUSTER)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(admission.BEGIN) and "gpuDeviceClasses" in out
    stale = tmp_path / "policy.yaml"
    stale.write_text(POLICY.read_text().replace("'amd.com/gpu'", "'amd.com/gpux'"))
    assert main(["admission", "variables", "--cluster-policy", str(CLUSTER), "--check", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err
    assert main(["admission", "variables", "--cluster-policy", str(CLUSTER), "--write", str(stale)]) == 0
    assert stale.read_text() == POLICY.read_text()
    assert main(["admission", "variables", "--cluster-policy", str(CLUSTER), "--check", str(stale)]) == 0


def test_cli_refuses_a_policy_without_markers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "policy.yaml"
    bare.write_text("kind: ValidatingAdmissionPolicy\n")
    assert main(["admission", "variables", "--cluster-policy", str(CLUSTER), "--check", str(bare)]) == 2
    err = capsys.readouterr().err
    assert "policy.yaml" in err and "generated block" in err and "Traceback" not in err
