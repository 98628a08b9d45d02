"""The step spec is the one place a step is declared: the engines' signatures and templates agree with it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from components.steps import _common, entry, spec
from contracts import errors
from contracts.trust import Gate
from contracts.workload import Role

_KIND = {"str": str, "float": float, "bool": bool}
_COMPONENTS = ("ml-artifact", "platform", "sre-readiness", "promotion", "rollback-check", "run-summary")


def _component_signature(step: str) -> inspect.Signature:
    from components import kfp_components

    return inspect.signature(getattr(kfp_components, step.replace("-", "_")))


@pytest.mark.parametrize("name", _COMPONENTS)
def test_each_kfp_component_takes_exactly_what_the_spec_declares(name: str) -> None:
    from kfp.dsl.types import type_annotations

    step = spec.step(name)
    signature = _component_signature(name).parameters
    params = set(signature)
    declared = {spec.param(p).snake for p in step.params}
    inputs = {i.name for i in step.inputs}
    outputs = {o for o, _ in step.outputs}
    extra = {"status"} if name == "run-summary" else set()  # KFP fills the final status in itself
    # Every gate writes the output parameter the pipeline's conditions read (a refused gate's task
    # succeeds, so that the backend uploads its report); nothing else writes one.
    if step in spec.gate_steps():
        extra.add(spec.PASSED)
        assert isinstance(signature[spec.PASSED].annotation, type_annotations.OutputPath), name
        assert signature[spec.PASSED].annotation.type is str, name
    assert params == declared | inputs | outputs | extra
    for p in step.params:
        assert signature[spec.param(p).snake].annotation is _KIND[spec.param(p).kind], (name, p)
    for i in inputs:
        assert type_annotations.is_artifact_wrapped_in_Input(signature[i].annotation), (name, i)
    for o in outputs:
        assert type_annotations.is_artifact_wrapped_in_Output(signature[o].annotation), (name, o)


def test_the_kfp_pipeline_takes_every_parameter_of_the_spec_with_its_type_and_default() -> None:
    from pipelines import kfp_pipeline

    pipeline = kfp_pipeline.build_pipeline("reg/step@sha256:" + "1" * 64)
    inputs = pipeline.component_spec.inputs
    assert set(inputs) == {p.snake for p in spec.PARAMETERS}
    for p in spec.PARAMETERS:
        got = inputs[p.snake]
        assert got.type == {"str": "String", "float": "Float", "bool": "Boolean"}[p.kind], p.name
        assert got.default == p.default, p.name


def test_the_argo_templates_mount_each_owners_secret_and_run_under_its_account() -> None:
    from pipelines import argo_workflow

    assert [n for n, _, _ in argo_workflow.PARAMETERS] == [p.name for p in spec.PARAMETERS]
    doc = argo_workflow.build_workflow_template("reg/step@sha256:" + "1" * 64).to_dict()
    templates = {t["name"]: t for t in doc["spec"]["templates"] if "container" in t}
    for step in spec.STEPS:
        t = templates[step.name]
        assert t["serviceAccountName"] == step.service_account
        if step.name == "run-summary":
            # the onExit handler takes no inputs (Argo would refuse it): it reads the workflow's parameters
            assert "inputs" not in t
            assert {f"{{{{workflow.parameters.{p}}}}}" for p in step.params} <= set(t["container"]["args"])
        else:
            assert [p["name"] for p in t["inputs"]["parameters"]] == list(step.params)
        mounts = [v["secret"]["secretName"] for v in t.get("volumes", [])]
        assert mounts == ([f"signoff-key-{step.owner.value}"] if step.owner else [])
        assert t.get("metadata", {}).get("labels", {}) == step.labels


def test_gate_owners_and_key_locations_are_declared_once() -> None:
    assert spec.GATE_ROLE == {
        Gate.ML_ARTIFACT: Role.ML,
        Gate.PLATFORM: Role.PLATFORM,
        Gate.SRE_READINESS: Role.SRE,
        Gate.PROMOTION: Role.ML,
        Gate.ROLLBACK: Role.ML,
    }
    assert spec.key_secret("sre") == "signoff-key-sre"
    assert spec.key_mount(Role.PLATFORM) == "/var/run/signoff/keys/platform"
    assert [s.name for s in spec.gate_steps()] == ["ml-artifact", "platform", "sre-readiness", "promotion"]


def test_a_step_reads_only_the_parameters_the_spec_gives_it(tmp_path: Path) -> None:
    args = _common.StepArgs(
        step=spec.step("platform"), values={"image": "x"}, inputs={}, out_dir=tmp_path, key_file=tmp_path
    )
    assert args.value("image") == "x"
    assert args.value("mlflow-tracking-uri") == ""  # the declared default
    with pytest.raises(KeyError, match="declares no parameter probe-seconds"):
        args.value("probe-seconds")
    with pytest.raises(errors.InputError, match="pass --contract"):
        args.value("contract")


def test_the_process_entry_names_a_missing_input(tmp_path: Path) -> None:
    with pytest.raises(errors.InputError, match=r"missing input.* ml_envelope, model_ref"):
        entry.run("platform", {}, {}, tmp_path)
    assert entry.main(["platform", "--out-dir", str(tmp_path)]) == 2
