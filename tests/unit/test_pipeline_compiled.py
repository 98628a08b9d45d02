"""The compiled pipelines: they parse for their engines, follow the gate rules, and are up to date."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines._cli import compile as compile_cli

ROOT = Path(__file__).resolve().parents[2]
COMPILED = ROOT / "pipelines" / "compiled"
KFP = COMPILED / compile_cli.KFP_FILE
ARGO_TEMPLATE = COMPILED / compile_cli.ARGO_TEMPLATE_FILE
ARGO_WORKFLOW = COMPILED / compile_cli.ARGO_WORKFLOW_FILE
ARGO_FILES = (ARGO_TEMPLATE, ARGO_WORKFLOW)

GATE_OWNER = {"ml-artifact": "ml", "platform": "platform", "sre-readiness": "sre", "promotion": "ml"}
ACCOUNTS = {
    "ml-artifact": "signoff-ml-step",
    "platform": "signoff-platform-step",
    "sre-readiness": "signoff-sre-step",
    "promotion": "signoff-promoter",
    "rollback-check": "signoff-promoter",
    "run-summary": "signoff-promoter",
    "deploy": "signoff-deployer",
}


def _kfp_docs() -> tuple[dict[str, Any], dict[str, Any]]:
    docs = list(yaml.safe_load_all(KFP.read_text(encoding="utf-8")))
    assert len(docs) == 2, "the KFP file holds the pipeline spec and the kubernetes platform spec"
    return docs[0], docs[1]


def _walk(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (path, key) of a nested document."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            found.append((path, str(k)))
            found += _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _walk(v, f"{path}[{i}]")
    return found


def _staging_probe_label() -> dict[str, str]:
    """The pod labels infra's NetworkPolicy lets reach the staging serving pods (both directions)."""
    docs = yaml.safe_load_all((ROOT / "infra" / "base" / "network-policies.yaml").read_text(encoding="utf-8"))
    policies = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs if d}
    egress = policies["signoff-system", "allow-sre-step-to-staging"]["spec"]["podSelector"]["matchLabels"]
    ingress = policies["ml-staging", "allow-sre-step-probe"]["spec"]["ingress"][0]["from"][0]
    assert ingress["podSelector"]["matchLabels"] == egress
    return dict(egress)


# --------------------------------------------------------------------------------------------- KFP


def test_kfp_yaml_parses_into_the_pipeline_spec_protobuf() -> None:
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec_doc, _ = _kfp_docs()
    spec = json_format.ParseDict(spec_doc, pipeline_spec_pb2.PipelineSpec())
    assert spec.pipeline_info.name == "signoff-gated-promotion"
    params = set(spec.root.input_definitions.parameters)
    assert {"model_name", "model_version", "contract", "cluster_policy", "trust_policy", "image"} <= params
    first = spec.root.input_definitions.parameters["first_release"]
    assert first.parameter_type == pipeline_spec_pb2.ParameterType.BOOLEAN
    assert first.default_value.bool_value is False
    executors = set(spec.deployment_spec.fields["executors"].struct_value.fields)
    assert {f"exec-{g}" for g in GATE_OWNER} <= executors


def test_kfp_platform_spec_parses_and_mounts_each_owners_key_only_into_its_task() -> None:
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
    from kfp.pipeline_spec import pipeline_spec_pb2

    _, platform_doc = _kfp_docs()
    platform = json_format.ParseDict(platform_doc, pipeline_spec_pb2.PlatformSpec())
    executors = platform.platforms["kubernetes"].deployment_spec.executors
    mounted: dict[str, list[str]] = {}
    for name, value in executors.items():
        config = json_format.ParseDict(json_format.MessageToDict(value), k8s.KubernetesExecutorConfig())
        mounted[name] = [s.secret_name for s in config.secret_as_volume]
        for s in config.secret_as_volume:
            role = s.secret_name.removeprefix("signoff-key-")
            assert s.mount_path == f"/var/run/signoff/keys/{role}"
    assert mounted == {f"exec-{g}": [f"signoff-key-{role}"] for g, role in GATE_OWNER.items()}


def test_kfp_only_the_sre_task_carries_the_label_that_reaches_staging() -> None:
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
    from kfp.pipeline_spec import pipeline_spec_pb2

    _, platform_doc = _kfp_docs()
    platform = json_format.ParseDict(platform_doc, pipeline_spec_pb2.PlatformSpec())
    labels = {}
    for name, value in platform.platforms["kubernetes"].deployment_spec.executors.items():
        config = json_format.ParseDict(json_format.MessageToDict(value), k8s.KubernetesExecutorConfig())
        labels[name] = dict(config.pod_metadata.labels)
    assert labels["exec-sre-readiness"] == _staging_probe_label()
    assert all(not v for k, v in labels.items() if k != "exec-sre-readiness"), labels


def _kfp_tasks(spec_doc: dict[str, Any]) -> dict[str, tuple[dict[str, Any], tuple[str, ...]]]:
    """Every task of the compiled DAG, nested groups flattened: name -> (task, the trigger conditions
    of the condition groups that enclose it, outermost first)."""
    found: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {}

    def walk(tasks: dict[str, Any], conditions: tuple[str, ...]) -> None:
        for name, task in tasks.items():
            component = spec_doc["components"][task["componentRef"]["name"]]
            if "dag" in component:
                condition = task.get("triggerPolicy", {}).get("condition")
                walk(component["dag"]["tasks"], (*conditions, condition) if condition else conditions)
            else:
                found[name] = (task, conditions)

    walk(spec_doc["root"]["dag"]["tasks"], ())
    return found


def _passed(gate: str) -> str:
    return f"inputs.parameter_values['pipelinechannel--{gate}-passed'] == 'true'"


def test_kfp_gate_tasks_never_use_the_cache_and_chain_by_data() -> None:
    spec_doc, _ = _kfp_docs()
    tasks = _kfp_tasks(spec_doc)
    assert {*GATE_OWNER, "rollback-check", "deploy", "run-summary"} <= set(tasks)
    for name, (task, _) in tasks.items():
        assert not task.get("cachingOptions", {}).get("enableCache", False), f"{name} may use the cache"
    # Each gate consumes the previous gate's envelope (through the condition groups' channels).
    chain = [("platform", "ml-artifact"), ("sre-readiness", "platform"), ("promotion", "sre-readiness"),
             ("rollback-check", "promotion")]  # fmt: skip
    for task, upstream in chain:
        channels = [
            a.get("componentInputArtifact", "") for a in tasks[task][0]["inputs"]["artifacts"].values()
        ]
        assert f"pipelinechannel--{upstream}-envelope" in channels, (task, channels)
    root = spec_doc["root"]["dag"]["tasks"]
    assert root["run-summary"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"


def test_kfp_a_refused_gate_succeeds_with_its_outputs_and_nothing_after_it_runs() -> None:
    """The real KFP backend uploads a task's output artifacts only when the task succeeds, so a gate
    task exits 0 either way: its report, Metrics and envelope are outputs of that task, with the
    parameter ``passed``; every later step waits under ``passed == 'true'``, and the only task under
    its negation is gate-refused (which reads the gate's report and fails the run)."""
    spec_doc, _ = _kfp_docs()
    tasks = _kfp_tasks(spec_doc)
    order = ["ml-artifact", "platform", "sre-readiness", "promotion"]
    later = {g: {*order[order.index(g) + 1 :], "rollback-check", "deploy"} for g in order}
    for gate in order:
        outputs = spec_doc["components"][f"comp-{gate}"]["outputDefinitions"]
        kinds = {name: a["artifactType"]["schemaTitle"] for name, a in outputs["artifacts"].items()}
        assert kinds["report"] == "system.Markdown" and kinds["metrics"] == "system.Metrics", gate
        assert kinds["envelope"] == "system.Artifact", gate
        assert outputs["parameters"] == {"passed": {"parameterType": "STRING"}}, gate
        assert tasks[gate][1] == tuple(_passed(g) for g in order[: order.index(gate)]), gate
        for name in later[gate]:
            assert _passed(gate) in tasks[name][1], f"{name} runs without {gate} passed"
        refused = [n for n, (_, conds) in tasks.items() if f"!({_passed(gate)})" in conds]
        assert len(refused) == 1 and refused[0].startswith("gate-refused"), (gate, refused)
        task = tasks[refused[0]][0]
        assert task["inputs"]["parameters"]["gate"]["runtimeValue"]["constant"] == gate
        assert (
            task["inputs"]["artifacts"]["report"]["componentInputArtifact"]
            == f"pipelinechannel--{gate}-report"
        )
        executor = spec_doc["deploymentSpec"]["executors"][f"exec-{refused[0]}"]["container"]
        assert "kfp_components.refuse(gate, report.path)" in " ".join(executor["command"])
    # The gate bodies go through call(), which turns the gate's refusal into passed=false and exit 0.
    for gate in order:
        executor = spec_doc["deploymentSpec"]["executors"][f"exec-{gate}"]["container"]
        assert f'kfp_components.call("{gate}", locals())' in " ".join(executor["command"]), gate


def test_kfp_deploy_runs_only_when_asked_after_promotion_with_no_key() -> None:
    spec_doc, platform_doc = _kfp_docs()
    params = spec_doc["root"]["inputDefinitions"]["parameters"]
    assert params["deploy"] == {"defaultValue": False, "isOptional": True, "parameterType": "BOOLEAN"}
    assert params["production_namespace"]["defaultValue"] == "ml-prod"
    task, conditions = _kfp_tasks(spec_doc)["deploy"]
    assert conditions[-1] == "inputs.parameter_values['pipelinechannel--deploy'] == true"
    assert conditions[-2] == _passed("promotion")
    channels = {k: a["componentInputArtifact"] for k, a in task["inputs"]["artifacts"].items()}
    assert channels == {
        "deployable_manifests": "pipelinechannel--promotion-deployable_manifests",
        "observability": "pipelinechannel--sre-readiness-observability",
    }
    container = spec_doc["deploymentSpec"]["executors"]["exec-deploy"]["container"]
    assert container["command"] == ["python", "-m", "pipelines._cli.main", "deploy"]
    assert {"--production", "--wait", "--observability"} <= set(container["args"])
    executors = platform_doc["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert "exec-deploy" not in executors, "the deploy task mounts no key"


def test_kfp_components_install_nothing_at_start() -> None:
    spec_doc, _ = _kfp_docs()
    for name, executor in spec_doc["deploymentSpec"]["executors"].items():
        command = " ".join(executor["container"]["command"])
        assert "pip install" not in command, f"{name} installs packages at start"
        assert executor["container"]["image"] == compile_cli.DEFAULT_STEP_IMAGE


# -------------------------------------------------------------------------------------------- Argo


@pytest.mark.parametrize("path", ARGO_FILES, ids=lambda p: p.name)
def test_argo_yaml_validates_against_the_argo_schema(path: Path, shared_schemas: Path) -> None:
    import jsonschema

    schema = json.loads((shared_schemas / "argo-workflows-v4.0.10.schema.json").read_text(encoding="utf-8"))
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    kind = doc["kind"]
    target = {
        "$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}",
        "definitions": schema["definitions"],
    }
    jsonschema.Draft7Validator(target).validate(doc)
    assert kind == ("WorkflowTemplate" if path == ARGO_TEMPLATE else "Workflow")


@pytest.mark.parametrize("path", ARGO_FILES, ids=lambda p: p.name)
def test_argo_yaml_round_trips_through_heras_models_without_losing_a_field(path: Path) -> None:
    from hera.workflows.models import Workflow, WorkflowTemplate

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    model = (WorkflowTemplate if doc["kind"] == "WorkflowTemplate" else Workflow).model_validate(doc)
    again = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert again == doc


def _templates(path: Path) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {t["name"]: t for t in doc["spec"]["templates"]}


@pytest.mark.parametrize("path", ARGO_FILES, ids=lambda p: p.name)
def test_argo_every_gate_edge_is_succeeded_and_nothing_continues_or_memoizes(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    keys = {k for _, k in _walk(doc)}
    assert "continueOn" not in keys
    assert "memoize" not in keys
    tasks = _templates(path)["gated-promotion"]["dag"]["tasks"]
    names = [t["name"] for t in tasks]
    assert names == ["ml-artifact", "platform", "sre-readiness", "promotion", "rollback-check", "deploy"]
    dag, deploy = tasks[:-1], tasks[-1]
    assert "depends" not in dag[0] and "dependencies" not in dag[0]
    for previous, task in zip(names, dag[1:], strict=False):
        assert task["depends"] == f"{previous}.Succeeded"
    assert deploy["depends"] == "promotion.Succeeded", "deploy only what was promoted"
    for task in tasks[1:]:
        assert "dependencies" not in task, "use depends with .Succeeded, not dependencies"
        for term in re.split(r"\s*(?:&&|\|\|)\s*", task["depends"]):
            assert term.endswith(".Succeeded"), f"{task['name']}: bare or non-success depends {term!r}"
    assert all("when" not in t for t in dag), "a gate never runs conditionally"
    assert doc["spec"]["onExit"] == "run-summary"


@pytest.mark.parametrize("path", ARGO_FILES, ids=lambda p: p.name)
def test_argo_deploy_is_off_by_default_and_applies_the_promoted_manifests_as_the_deployer(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    defaults = {p["name"]: p.get("value") for p in doc["spec"]["arguments"]["parameters"]}
    assert defaults["deploy"] == "false" and defaults["production-namespace"] == "ml-prod"
    task = next(t for t in _templates(path)["gated-promotion"]["dag"]["tasks"] if t["name"] == "deploy")
    # The expr form compares the parameter as a string: "false", "False", "" or anything else skips.
    assert task["when"] == "{{= workflow.parameters.deploy == 'true'}}"
    assert sorted(task["arguments"]["artifacts"], key=lambda a: a["name"]) == [
        {"name": "promotion", "from": "{{tasks.promotion.outputs.artifacts.out}}"},
        {"name": "sre-readiness", "from": "{{tasks.sre-readiness.outputs.artifacts.out}}"},
    ]
    t = _templates(path)["deploy"]
    assert t["serviceAccountName"] == "signoff-deployer"
    assert "volumes" not in t and "volumeMounts" not in t["container"], "the deployer mounts no key"
    args = t["container"]["args"]
    # What the promotion step wrote: platform's manifests stamped with the promotion record digest.
    assert args[0] == "/tmp/signoff/in/promotion/deployable-manifests.yaml"
    # ... and the monitors and rules the SRE step judged, applied with them.
    assert args[args.index("--observability") + 1] == "/tmp/signoff/in/sre-readiness/observability.yaml"
    assert {"--production", "--wait"} <= set(args)
    assert args[args.index("--namespace") + 1] == "{{inputs.parameters.production-namespace}}"
    assert args[args.index("--deadline") + 1] == "{{inputs.parameters.deploy-deadline}}"


@pytest.mark.parametrize("path", ARGO_FILES, ids=lambda p: p.name)
def test_argo_each_template_has_its_owners_account_and_only_its_owners_key(path: Path) -> None:
    templates = _templates(path)
    for name, account in ACCOUNTS.items():
        t = templates[name]
        assert t["serviceAccountName"] == account
        secrets = [v["secret"]["secretName"] for v in t.get("volumes", []) if "secret" in v]
        owner = GATE_OWNER.get(name)
        assert secrets == ([f"signoff-key-{owner}"] if owner else []), f"{name} mounts {secrets}"
        mounts = [m["mountPath"] for m in t["container"].get("volumeMounts", [])]
        assert mounts == ([f"/var/run/signoff/keys/{owner}"] if owner else [])
        retry = t["retryStrategy"]
        assert retry["expression"] == "asInt(lastRetry.exitCode) == 3", "retry only TemporaryError (exit 3)"
        assert not t.get("podSpecPatch"), "no pod spec patches that could mount more"


@pytest.mark.parametrize("path", ARGO_FILES, ids=lambda p: p.name)
def test_argo_only_the_sre_pods_carry_the_label_that_reaches_staging(path: Path) -> None:
    label = _staging_probe_label()
    for name, t in _templates(path).items():
        labels = t.get("metadata", {}).get("labels", {})
        if name == "sre-readiness":
            assert labels == label
        else:
            assert not set(label.items()) & set(labels.items()), f"{name} could reach staging: {labels}"


def test_argo_workflow_template_has_the_documented_parameters() -> None:
    doc = yaml.safe_load(ARGO_TEMPLATE.read_text(encoding="utf-8"))
    names = [p["name"] for p in doc["spec"]["arguments"]["parameters"]]
    assert names == [
        "model-name", "model-version", "contract", "cluster-policy", "trust-policy",
        "mlflow-tracking-uri", "image", "staging-url", "probe-seconds", "first-release", "artifact-store",
        "deploy", "production-namespace", "deploy-deadline",
    ]  # fmt: skip
    defaults = {p["name"]: p.get("value") for p in doc["spec"]["arguments"]["parameters"]}
    assert defaults["first-release"] == "false", "a first release is declared explicitly, never assumed"
    sre = _templates(ARGO_TEMPLATE)["sre-readiness"]["container"]["args"]
    assert sre[sre.index("--first-release") + 1] == "{{inputs.parameters.first-release}}"

    assert doc["metadata"]["name"] == "signoff-gated-promotion"
    workflow = yaml.safe_load(ARGO_WORKFLOW.read_text(encoding="utf-8"))
    assert workflow["metadata"] == {"generateName": "signoff-gated-promotion-"}
    assert workflow["spec"] == doc["spec"]


# ----------------------------------------------------------------------------------- up to date


def _normalise(text: str) -> str:
    return re.sub(r"sdkVersion: kfp-[0-9][^\s]*", "sdkVersion: kfp-X", text)


@pytest.mark.parametrize("engine", ["kfp", "argo"])
def test_committed_compiled_files_are_up_to_date(engine: str, tmp_path: Path) -> None:
    # A fresh process, as a user runs it: hera's import changes PyYAML's global str representer,
    # so compiling KFP in a process that has imported hera would format its YAML differently.
    done = subprocess.run(
        [sys.executable, "-m", "pipelines._cli.main", "compile", "--engine", engine, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = [Path(line) for line in done.stdout.split()]
    assert written
    for path in written:
        committed = COMPILED / path.name
        assert committed.exists(), (
            f"{committed.name} missing: run 'signoff compile --engine {engine} --out pipelines/compiled'"
        )
        assert _normalise(path.read_text(encoding="utf-8")) == _normalise(
            committed.read_text(encoding="utf-8")
        ), (
            f"pipelines/compiled/{path.name} is stale: run 'signoff compile --engine {engine} "
            "--out pipelines/compiled'"
        )


def test_infra_workflow_template_is_the_compiled_one() -> None:
    infra = ROOT / "infra" / "argo"
    assert (infra / ARGO_TEMPLATE.name).read_bytes() == ARGO_TEMPLATE.read_bytes(), (
        "infra/argo holds a stale WorkflowTemplate: copy pipelines/compiled/" + ARGO_TEMPLATE.name
    )
    kustomization = yaml.safe_load((infra / "kustomization.yaml").read_text(encoding="utf-8"))
    assert ARGO_TEMPLATE.name in kustomization["resources"]


def test_every_compiled_step_image_is_pinned_by_digest_and_a_placeholder_says_so(tmp_path: Path) -> None:
    from pipelines import kfp_pipeline

    spec_doc, _ = _kfp_docs()
    images = {e["container"]["image"] for e in spec_doc["deploymentSpec"]["executors"].values()}
    for path in ARGO_FILES:
        images |= {t["container"]["image"] for t in _templates(path).values() if "container" in t}
    assert images == {compile_cli.DEFAULT_STEP_IMAGE}
    assert re.fullmatch(r"[a-z0-9./-]+@sha256:[0-9a-f]{64}", compile_cli.DEFAULT_STEP_IMAGE)
    assert kfp_pipeline.PLACEHOLDER_DIGEST == "sha256:" + "0" * 64
    for path in (KFP, *ARGO_FILES):
        head = path.read_text(encoding="utf-8")[:600]
        assert "PLACEHOLDER step image digest" in head, f"{path.name} hides its placeholder digest"
    real = "ghcr.io/example/signoff-step@sha256:" + "1f" * 32
    (written, _) = compile_cli.compile_to("argo", real, tmp_path)
    text = written.read_text(encoding="utf-8")
    assert "PLACEHOLDER" not in text and real in text


def test_compile_refuses_an_image_with_spaces(tmp_path: Path) -> None:
    from contracts import errors

    with pytest.raises(errors.InputError, match="not an image reference"):
        compile_cli.compile_to("argo", "bad image", tmp_path)


@pytest.mark.parametrize("path", ARGO_FILES, ids=lambda p: p.name)
def test_argo_parameters_reach_the_steps_as_argv_never_through_a_shell_or_script(path: Path) -> None:
    for name, t in _templates(path).items():
        if "dag" in t:
            continue
        assert "script" not in t, f"{name}: a script template would splice parameters into source text"
        command = ["python", "-m", "pipelines._cli.main", "deploy"] if name == "deploy" else None
        assert t["container"]["command"][:3] == ["python", "-m", "components.steps"] or (
            t["container"]["command"] == command
        ), name
        for arg in t["container"]["args"]:
            if "{{" in arg:
                whole = r"\{\{((inputs|workflow)\.parameters\.[a-z-]+|workflow\.(status|failures))\}\}"
                assert re.fullmatch(whole, arg), f"{name}: {arg!r} must be a whole argv item"
