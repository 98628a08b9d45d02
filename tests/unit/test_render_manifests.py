"""Rendering: goldens for every example contract in both modes, schema validity, and safety of names."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from _render_kit import IMAGE, changed, contract, example_contract_files, model_for, policy
from pydantic import ValidationError

from contracts.cluster import ServingMode
from contracts.errors import DocumentError, InputError
from contracts.loader import load_contract
from contracts.workload import Metadata, Owner
from gates.render import (
    ANNOTATION_DIGEST,
    ANNOTATION_MODEL,
    ANNOTATION_PROMOTION,
    ANNOTATION_VERSION,
    Manifests,
    ModelRef,
    containers,
    pod_specs,
    render,
    with_promotion,
    without_promotion,
)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from crd_schema import validate_core_object, validate_crd_object  # noqa: E402

KSERVE_CRD = "kserve-v0.20.0-inferenceservices.crd.yaml"
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())
CASES = [(p, mode) for p in example_contract_files() for mode in ServingMode]
IDS = [f"{p.stem}-{mode.value}" for p, mode in CASES]


def _render(path: Path, mode: ServingMode, environment: str = "production") -> Manifests:
    c = load_contract(path)
    env: Any = environment
    return render(c, policy(), model_for(c), IMAGE, environment=env, mode=mode)


def test_every_example_contract_is_covered() -> None:
    names = {p.stem for p in example_contract_files()}
    assert {"recsys-ranker"} <= names
    assert len(CASES) == 2 * len(names)


@pytest.mark.parametrize(("path", "mode"), CASES, ids=IDS)
def test_golden_manifests(path: Path, mode: ServingMode, golden: Callable[[str, str], None]) -> None:
    golden(f"render/{path.stem}-{mode.value}.yaml", _render(path, mode).to_yaml())


@pytest.mark.parametrize(("path", "mode"), CASES, ids=IDS)
def test_core_objects_validate_strictly(path: Path, mode: ServingMode) -> None:
    manifests = with_promotion(_render(path, mode), "sha256:" + "3" * 64)
    core = [o for o in manifests.objects if o["kind"] != "InferenceService"]
    assert core
    for version in K8S_VERSIONS:
        for obj in core:
            assert validate_core_object(obj, version) == [], (version, obj["kind"])


KSERVE_CASES = [c for c in CASES if c[1] is ServingMode.KSERVE]


@pytest.mark.parametrize(("path", "mode"), KSERVE_CASES, ids=[p.stem for p, _ in KSERVE_CASES])
def test_inference_service_validates_against_kserve_crd(
    path: Path, mode: ServingMode, shared_schemas: Path
) -> None:
    for manifests in (_render(path, mode), with_promotion(_render(path, mode), "sha256:" + "3" * 64)):
        (isvc,) = manifests.by_kind("InferenceService")
        assert validate_crd_object(shared_schemas / KSERVE_CRD, isvc) == []


def test_misspelled_fields_are_caught(shared_schemas: Path) -> None:
    manifests = _render(ROOT / "contracts/examples/recsys-ranker.yaml", ServingMode.KSERVE)
    isvc = copy.deepcopy(manifests.by_kind("InferenceService")[0])
    predictor = isvc["spec"]["predictor"]
    predictor["minReplica"] = predictor.pop("minReplicas")  # the real field is minReplicas
    predictor["model"]["resources"]["limit"] = predictor["model"]["resources"].pop("limits")
    errors = validate_crd_object(shared_schemas / KSERVE_CRD, isvc)
    assert any("spec.predictor" in e and "'minReplica' was unexpected" in e for e in errors), errors
    assert any("resources" in e and "'limit' was unexpected" in e for e in errors), errors

    dep = copy.deepcopy(_render(ROOT / "contracts/examples/recsys-ranker.yaml", ServingMode.DEPLOYMENT))
    deployment = dep.by_kind("Deployment")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    errors = validate_core_object(deployment, "1.30")
    assert any("'imagePullPolicyy' was unexpected" in e for e in errors), errors


@pytest.mark.parametrize("mode", list(ServingMode))
def test_gpu_contract_pods(mode: ServingMode) -> None:
    c = contract("recsys-ranker")
    manifests = render(c, policy(), model_for(c), IMAGE, mode=mode)
    ((_, meta, spec),) = pod_specs(manifests)
    ((_, ctr),) = [(w, c) for w, c in containers(spec) if w.startswith("containers[")]
    res = ctr["resources"]
    assert res["requests"] == res["limits"] == {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "2"}
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["priorityClassName"] == "ml-serving"
    assert spec["serviceAccountName"] == "recsys-ranker-v2-serving"
    sc = ctr["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    startup = ctr["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= c.spec.slos.max_cold_start.seconds
    assert meta["annotations"] == {
        ANNOTATION_MODEL: "recsys-ranker",
        ANNOTATION_VERSION: "7",
        ANNOTATION_DIGEST: "sha256:" + "1" * 64,
    }
    for key in ("signoff.dev/owner-ml", "signoff.dev/owner-platform", "signoff.dev/owner-sre"):
        assert meta["labels"][key]
    if mode is ServingMode.KSERVE:
        assert ctr["storageUri"] == "s3://models/recsys-ranker/7/artifacts"
    else:
        assert spec["initContainers"][0]["args"] == ["s3://models/recsys-ranker/7/artifacts", "/mnt/models"]
    sa = manifests.by_kind("ServiceAccount")[0]
    assert sa["automountServiceAccountToken"] is False


def test_cpu_only_contract_gets_no_gpu_fields() -> None:
    c = changed(
        contract("recsys-ranker"),
        {"spec.resources.gpu": None, "spec.resources.cpu": None, "spec.resources.memory": None},
    )
    for mode in ServingMode:
        manifests = render(c, policy(), model_for(c), IMAGE, mode=mode)
        text = manifests.to_yaml()
        assert "nvidia.com/gpu" not in text and "tolerations" not in text and "nodeSelector" not in text
        ((_, _, spec),) = pod_specs(manifests)
        res = dict(containers(spec))["containers[kserve-container]"]["resources"]
        assert res["limits"] == res["requests"] == {"cpu": "1", "memory": "4Gi"}  # the policy's defaults


def test_modes_and_environments() -> None:
    c = contract("recsys-ranker")
    kserve = render(c, policy(), model_for(c), IMAGE)  # the policy says kserve
    kinds = ["ServiceAccount", "InferenceService", "PodDisruptionBudget", "NetworkPolicy"]
    assert [o["kind"] for o in kserve.objects] == kinds
    plain = render(c, policy(), model_for(c), IMAGE, mode=ServingMode.DEPLOYMENT, environment="staging")
    kinds = ["ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
    assert [o["kind"] for o in plain.objects] == [*kinds, "NetworkPolicy"]
    assert {o["metadata"]["namespace"] for o in plain.objects} == {"ml-staging"}
    assert {o["metadata"]["namespace"] for o in kserve.objects} == {"ml-prod"}
    hpa = plain.by_kind("HorizontalPodAutoscaler")[0]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 12)
    assert plain.by_kind("PodDisruptionBudget")[0]["spec"]["maxUnavailable"] == 1


def test_single_replica_keeps_one_through_disruptions() -> None:
    c = changed(contract("recsys-ranker"), {"spec.resources.replicas": {"min": 1, "max": 2}})
    pdb = render(c, policy(), model_for(c), IMAGE).by_kind("PodDisruptionBudget")[0]["spec"]
    assert pdb["minAvailable"] == 1 and "maxUnavailable" not in pdb


@pytest.mark.parametrize(
    ("mode", "serve", "scrape"),
    [(ServingMode.DEPLOYMENT, [8080], [8082]), (ServingMode.KSERVE, [8080], [8082])],
)
def test_network_policy_admits_only_ingress_and_prometheus(
    mode: ServingMode, serve: list[int], scrape: list[int]
) -> None:
    c = contract("recsys-ranker")
    np_ = render(c, policy(), model_for(c), IMAGE, mode=mode).by_kind("NetworkPolicy")[0]
    rules = np_["spec"]["ingress"]
    assert np_["spec"]["policyTypes"] == ["Ingress"]
    assert np_["spec"]["podSelector"] == {"matchLabels": {"signoff.dev/workload": "recsys-ranker-v2"}}
    assert [[p["port"] for p in r["ports"]] for r in rules] == [serve, scrape]
    sources = [r["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"] for r in rules]
    assert sources[1] == ["monitoring"] and "monitoring" not in sources[0]


def test_render_is_deterministic_and_digest_tracks_content() -> None:
    c = contract("recsys-ranker")
    a = render(c, policy(), model_for(c), IMAGE)
    b = render(c, policy(), model_for(c), IMAGE)
    assert a.digest() == b.digest() and a.to_yaml() == b.to_yaml()
    assert render(c, policy(), model_for(c, "8"), IMAGE).digest() != a.digest()
    assert list(yaml.safe_load_all(a.to_yaml())) == list(a.objects)


def test_with_promotion_annotates_objects_and_pods_and_round_trips() -> None:
    c = contract("recsys-ranker")
    record = "sha256:" + "4" * 64
    for mode in ServingMode:
        plain = render(c, policy(), model_for(c), IMAGE, mode=mode)
        assert ANNOTATION_PROMOTION not in plain.to_yaml()
        promoted = with_promotion(plain, record)
        ((_, meta, _),) = pod_specs(promoted)
        assert meta["annotations"][ANNOTATION_PROMOTION] == record
        serving = [o for o in promoted.objects if o["kind"] in ("InferenceService", "Deployment")]
        assert serving[0]["metadata"]["annotations"][ANNOTATION_PROMOTION] == record
        assert without_promotion(promoted).digest() == plain.digest()
        assert ANNOTATION_PROMOTION not in plain.to_yaml()  # the input is unchanged
    with pytest.raises(InputError, match="record_digest"):
        with_promotion(plain, "sha256:short")


# ----------------------------------------------------------------------------------- refused inputs


@pytest.mark.parametrize(
    "uri",
    [
        "models:/recsys-ranker@production",
        "models:/recsys-ranker/7",
        "runs:/abc/model",
        "mlflow-artifacts:/1/abc/artifacts/model",
        "s3://models/recsys-ranker@champion/artifacts",
        "s3://models/recsys-ranker/latest/artifacts",
        "s3://models/x; rm -rf /",
        "s3://models/x\nkind: Secret",
    ],
)
def test_model_ref_refuses_mutable_or_unsafe_storage_uris(uri: str) -> None:
    with pytest.raises(ValueError, match="storage URI"):
        ModelRef(name="m", version="1", storage_uri=uri, digest="sha256:" + "1" * 64)


@pytest.mark.parametrize(
    "uri", ["s3://b/m/7/artifacts", "gs://b/m/7", "pvc://models/m/7", "https://blob.example.com/m/7"]
)
def test_model_ref_accepts_artifact_locations(uri: str) -> None:
    assert ModelRef(name="m", version="1", storage_uri=uri, digest="sha256:" + "1" * 64).storage_uri == uri


@pytest.mark.parametrize(
    "name", ["ranker: {injected: true}", "ranker\nkind: Secret", "ranker; rm -rf /", "$(curl evil)", "Ranker"]
)
def test_contract_name_with_yaml_or_shell_characters_is_refused_at_load(name: str, tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "contracts/examples/recsys-ranker.yaml").read_text(encoding="utf-8"))
    data["metadata"]["name"] = name
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(DocumentError) as err:
        load_contract(path)
    assert "metadata.name" in str(err.value) and "evil.yaml" in str(err.value)


EVIL_NAMES = ["ranker: {injected: true}", "ranker\nkind: Secret", "a; rm -rf /", "9ranker", "r" * 60]


@pytest.mark.parametrize("name", EVIL_NAMES)
def test_render_rechecks_names_it_did_not_validate_itself(name: str) -> None:
    # A contract built without validation (model_construct) must not reach the YAML unchecked.
    base = contract("recsys-ranker")
    evil = base.model_copy(update={"metadata": Metadata.model_construct(name=name, model="recsys-ranker")})
    with pytest.raises(InputError, match=r"metadata\.name"):
        render(evil, policy(), model_for(base), IMAGE)


def test_render_rechecks_team_label_values() -> None:
    base = contract("recsys-ranker")
    owners = base.spec.owners.model_copy(update={"sre": Owner.model_construct(team="sre\nrm -rf /")})
    evil = base.model_copy(update={"spec": base.spec.model_copy(update={"owners": owners})})
    with pytest.raises(InputError, match=r"spec\.owners\.sre\.team"):
        render(evil, policy(), model_for(base), IMAGE)


@pytest.mark.parametrize(
    "image",
    [
        "Registry.example.com/ml/x",
        "registry.example.com/ml/x:1.0 --privileged",
        "registry.example.com/ml/x@sha256:abc",
        "x\ny: z",
    ],
)
def test_render_refuses_malformed_images(image: str) -> None:
    c = contract("recsys-ranker")
    with pytest.raises(InputError, match="image"):
        render(c, policy(), model_for(c), image)


# ------------------------------------------------------------------ KServe runtime and deployment modes

_FLAGS = [
    "kubernetes.podspec-nodeselector",
    "kubernetes.podspec-tolerations",
    "kubernetes.podspec-priorityclassname",
    "kubernetes.podspec-securitycontext",
]


def _knative_policy(version: str = "1.19", features: list[str] | None = None, mode: str = "Knative") -> Any:
    return changed(
        policy(),
        {
            "spec.kserve.deployment_mode": mode,
            "spec.kserve.knative": {"version": version, "features": _FLAGS if features is None else features},
        },
    )


def test_inference_service_serves_mlflow_on_mlserver_v2_in_the_policy_mode() -> None:
    c = contract("recsys-ranker")
    (isvc,) = render(c, policy(), model_for(c), IMAGE).by_kind("InferenceService")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "mlflow"} and model["protocolVersion"] == "v2"
    assert model["runtime"] == "kserve-mlserver" and model["image"] == IMAGE
    assert model["storageUri"] == "s3://models/recsys-ranker/7/artifacts"
    assert "containers" not in isvc["spec"]["predictor"]  # no custom image nobody ships
    # Standard: KServe's Service sends port 80 to the first port; MLServer's metrics port is named.
    assert [(p.get("name"), p["containerPort"]) for p in model["ports"]] == [
        ("http", 8080),
        ("metrics", 8082),
    ]
    assert "serving.knative.dev/progress-deadline" not in isvc["spec"]["predictor"]["annotations"]
    legacy = changed(policy(), {"spec.kserve.deployment_mode": "RawDeployment"})
    (old,) = render(c, legacy, model_for(c), IMAGE).by_kind("InferenceService")
    assert old["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"


@pytest.mark.parametrize(("version", "startup"), [("1.14", False), ("1.15", True), ("1.19", True)])
def test_knative_mode_startup_probe_by_version_and_progress_deadline_past_cold_start(
    version: str, startup: bool, shared_schemas: Path
) -> None:
    c = contract("recsys-ranker")  # max cold start 90 s
    manifests = render(c, _knative_policy(version), model_for(c), IMAGE)
    (isvc,) = manifests.by_kind("InferenceService")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    pred = isvc["spec"]["predictor"]
    assert ("startupProbe" in pred["model"]) is startup
    assert pred["annotations"]["serving.knative.dev/progress-deadline"] == "150s"
    assert float(pred["annotations"]["serving.knative.dev/progress-deadline"][:-1]) > 90
    assert pred["model"]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]  # Knative: one port
    assert validate_crd_object(shared_schemas / KSERVE_CRD, isvc) == []
    (np_,) = manifests.by_kind("NetworkPolicy")
    rules = [
        ([p["port"] for p in r["ports"]], r["from"][0]["namespaceSelector"]) for r in np_["spec"]["ingress"]
    ]
    ports = {tuple(p): sel["matchExpressions"][0]["values"] for p, sel in rules}
    assert ports[(8012,)] and "monitoring" not in ports[(8012,)]  # requests via the queue-proxy
    assert ports[(8082, 9091)] == ["monitoring"]  # MLServer and queue-proxy metrics
    assert ports[(9090,)] == ["knative-serving"]  # the Knative autoscaler scrapes the queue-proxy


def test_knative_mode_refuses_a_cluster_without_the_podspec_flags() -> None:
    c = contract("recsys-ranker")
    with pytest.raises(InputError) as err:
        render(c, _knative_policy(features=_FLAGS[2:]), model_for(c), IMAGE)
    msg = str(err.value)
    assert "spec.kserve.knative.features" in msg
    assert "kubernetes.podspec-nodeselector, kubernetes.podspec-tolerations" in msg and "infra/knative" in msg
    # A CPU-only workload sets no nodeSelector/tolerations: two flags suffice.
    cpu = changed(c, {"spec.resources.gpu": None})
    assert render(cpu, _knative_policy(features=_FLAGS[2:]), model_for(cpu), IMAGE).by_kind(
        "InferenceService"
    )
    with pytest.raises(ValidationError, match="declare knative"):
        changed(policy(), {"spec.kserve.deployment_mode": "Serverless"})


def test_plain_deployment_downloads_with_kserves_storage_initializer_and_serves_with_mlserver() -> None:
    c = contract("recsys-ranker")
    (dep,) = render(c, policy(), model_for(c), IMAGE, mode=ServingMode.DEPLOYMENT).by_kind("Deployment")
    pod = dep["spec"]["template"]["spec"]
    init, verify = pod["initContainers"]  # the download, then the digest check (test_verify_model.py)
    assert init["name"] == "storage-initializer" and verify["name"] == "verify-model"
    assert init["image"] == policy().spec.kserve.storage_initializer_image
    assert init["args"] == ["s3://models/recsys-ranker/7/artifacts", "/mnt/models"]
    (server,) = pod["containers"]
    env = {e["name"]: e["value"] for e in server["env"]}
    assert env["MLSERVER_MODEL_IMPLEMENTATION"] == "mlserver_mlflow.MLflowRuntime"
    assert env["MLSERVER_MODEL_NAME"] == "recsys-ranker-v2" and env["MLSERVER_MODEL_URI"] == "/mnt/models"
    assert {"name": "model", "mountPath": "/mnt/models", "readOnly": True} in server["volumeMounts"]
    no_initializer = changed(policy(), {"spec.kserve.storage_initializer_image": None})
    with pytest.raises(InputError, match=r"spec\.kserve\.storage_initializer_image"):
        render(c, no_initializer, model_for(c), IMAGE, mode=ServingMode.DEPLOYMENT)


def test_golden_knative_manifests(golden: Callable[[str, str], None]) -> None:
    c = contract("recsys-ranker")
    golden(
        "render/recsys-ranker-kserve-knative.yaml",
        render(c, _knative_policy("1.19"), model_for(c), IMAGE).to_yaml(),
    )
