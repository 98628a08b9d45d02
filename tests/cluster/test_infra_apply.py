"""infra/ on a real API server: every kustomize entry point applied (server-side), and every rendered
golden manifest (tests/golden/render) accepted by a server-side dry run.

Entry points are found by glob, as in tests/unit/test_infra_kustomize.py. The overlays (staging,
production) apply the whole layout; applying both to one cluster is what "the same layout" means.
The CRDs they need (KServe, Argo, prometheus-operator, Knative) are installed first by the ``crds``
fixture; ``test_needed_crds_are_installed`` checks that every custom kind infra/ uses has its CRD.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _controlplane import ControlPlane
from _infra import infra_entry_points

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ENTRY_POINTS = infra_entry_points()
GOLDEN_RENDER = sorted((ROOT / "tests" / "golden" / "render").glob("*.yaml"))


def _rendered(cluster: ControlPlane, entry: Path) -> list[dict[str, object]]:
    out = cluster.kubectl("kustomize", str(entry)).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_entry_points_found() -> None:
    names = {str(p.relative_to(INFRA)) for p in ENTRY_POINTS}
    assert {"base", "overlays/staging", "overlays/production", "argo", "kserve"} <= names


def test_needed_crds_are_installed(cluster: ControlPlane, crds: list[str]) -> None:
    """Every custom kind rendered from infra/ and under tests/golden/render is served by the API server."""
    kinds = set()
    for entry in ENTRY_POINTS:
        kinds |= {(o["apiVersion"], o["kind"]) for o in _rendered(cluster, entry)}
    for path in GOLDEN_RENDER:
        kinds |= {(d["apiVersion"], d["kind"]) for d in yaml.safe_load_all(path.read_text()) if d}
    missing = []
    for api_version, kind in sorted(kinds):
        # kubectl's discovery of one group/version: its kinds, as kubectl would resolve them
        proc = cluster.kubectl(
            "get", "--raw", ("/apis/" if "/" in api_version else "/api/") + api_version, check=False
        )
        served = (
            {r["kind"] for r in json.loads(proc.stdout).get("resources", [])}
            if proc.returncode == 0
            else set()
        )
        if kind not in served:
            missing.append(f"{api_version} {kind}")
    assert not missing, f"kinds without a served API: {missing}"
    assert {"inferenceservices.serving.kserve.io", "workflowtemplates.argoproj.io"} <= set(crds)


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda p: str(p.relative_to(INFRA)))
def test_entry_point_applies(entry: Path, infra_applied: dict[str, str]) -> None:
    error = infra_applied[str(entry.relative_to(INFRA))]
    assert error == "", f"kubectl apply --server-side -k {entry.relative_to(ROOT)} failed:\n{error}"


def test_applied_objects_are_stored(cluster: ControlPlane, infra_applied: dict[str, str]) -> None:
    """What the production overlay renders is in the cluster afterwards (spot check by kind); the
    promotion webhook's configuration was stored too, and then removed by the ``infra_applied``
    fixture (its server runs only in test_promotion_webhook): a server dry run stands for it."""
    for obj in _rendered(cluster, INFRA / "overlays" / "production"):
        meta = obj["metadata"]
        assert isinstance(meta, dict)
        if obj["kind"] == "ValidatingWebhookConfiguration":
            cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=json.dumps(obj))
            continue
        args = [
            "get",
            f"{obj['kind']}.{str(obj['apiVersion']).rpartition('/')[0]}".rstrip("."),
            str(meta["name"]),
        ]
        if meta.get("namespace"):
            args += ["-n", str(meta["namespace"])]
        cluster.kubectl(*args, "-o", "name")


@pytest.mark.parametrize("path", GOLDEN_RENDER, ids=lambda p: p.stem)
def test_rendered_manifest_passes_server_dry_run(
    cluster: ControlPlane, infra_applied: dict[str, str], path: Path
) -> None:
    """Each object is accepted, or refused only by signoff-require-promotion: the golden manifests are
    not promoted, and validating admission runs after schema validation, so a policy refusal still
    means the server found the object valid."""
    problems = []
    for obj in (d for d in yaml.safe_load_all(path.read_text()) if d):
        proc = cluster.kubectl(
            "apply", "--server-side", "--dry-run=server", "-f", "-", input=yaml.safe_dump(obj), check=False
        )
        if proc.returncode != 0 and "signoff-require-promotion" not in proc.stderr:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {proc.stderr.strip()}")
    assert not problems, "\n".join(problems)
