"""What the cluster tests apply from the repository: infra/ entry points (in order) and the CRDs."""

from __future__ import annotations

from pathlib import Path

CRDS = Path(__file__).resolve().parent / "crds"
FIXTURE_CRDS = Path(__file__).resolve().parent.parent / "fixtures" / "crds"


def crd_files(shared_schemas: Path) -> list[Path]:
    """Every CRD the infra/ entry points, the rendered manifests and the admission cases need:
    KServe and prometheus-operator from ../shared/schemas, KServe's ClusterStorageContainer from
    tests/fixtures/crds, and the Argo/Knative stand-ins in tests/cluster/crds."""
    return [
        *sorted(shared_schemas.glob("*.crd.yaml")),
        *sorted(FIXTURE_CRDS.glob("*.crd.yaml")),
        *sorted(CRDS.glob("*.crd.yaml")),
    ]


ROOT = Path(__file__).resolve().parents[2]


# Entry points that need others applied first (namespaces, CRDs) come after them: base first.
_ORDER = ["base", "policies", "kserve", "knative", "argo", "overlays"]


def infra_entry_points() -> list[Path]:
    """Every folder under infra/ with a kustomization.yaml, in the order they can be applied."""
    infra = ROOT / "infra"

    def rank(path: Path) -> tuple[int, str]:
        rel = str(path.relative_to(infra))
        return next((i for i, p in enumerate(_ORDER) if rel.startswith(p)), len(_ORDER)), rel

    return sorted((p.parent for p in infra.rglob("kustomization.yaml")), key=rank)
