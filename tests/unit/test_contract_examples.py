"""The shipped examples, their rendered spellings (goldens) and the committed JSON Schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml

from contracts import loader, markdown, schema
from contracts.cluster import ClusterPolicy
from contracts.workload import Approval, WorkloadContract

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
NAMES = ("recsys-ranker", "support-llm-70b", "fraud-scorer")
SCHEMA_COMMENT = "../schema/workload-contract.schema.json"


@pytest.fixture(scope="module")
def policy() -> ClusterPolicy:
    return loader.load_cluster_policy(EXAMPLES / "cluster-policy.yaml")


@pytest.mark.parametrize("name", NAMES)
def test_both_spellings_of_each_example_are_the_same_contract(name: str) -> None:
    from_yaml = loader.load_contract(EXAMPLES / f"{name}.yaml")
    from_md = loader.load_contract(EXAMPLES / f"{name}.md")
    assert from_yaml == from_md
    assert from_yaml.digest() == from_md.digest()


@pytest.mark.parametrize("name", NAMES)
def test_example_files_are_exactly_what_signoff_writes(name: str) -> None:
    """So `signoff contract convert` of an example changes nothing: the files are canonical."""
    contract = loader.load_contract(EXAMPLES / f"{name}.md")
    yaml_text = (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")
    assert yaml_text.startswith(f"# yaml-language-server: $schema={SCHEMA_COMMENT}\n")
    assert yaml_text == loader.dump_contract_yaml(contract, schema=SCHEMA_COMMENT)
    assert (EXAMPLES / f"{name}.md").read_text(encoding="utf-8") == markdown.render_markdown(contract)


@pytest.mark.parametrize("name", NAMES)
def test_rendered_spellings_match_goldens(name: str, golden: Callable[[str, str], None]) -> None:
    contract = loader.load_contract(EXAMPLES / f"{name}.yaml")
    golden(f"contracts/{name}.md", markdown.render_markdown(contract))
    golden(f"contracts/{name}.yaml", loader.dump_contract_yaml(contract))


@pytest.mark.parametrize("name", NAMES)
def test_each_example_fits_the_example_cluster_policy(name: str, policy: ClusterPolicy) -> None:
    """GPU product offered, GPUs per replica within a node, model fits in memory, quotas hold."""
    c = loader.load_contract(EXAMPLES / f"{name}.yaml")
    r = c.spec.resources
    if r.gpu is None:
        assert r.cpu is not None and r.memory is not None, "a CPU-only example declares its CPU and memory"
        assert r.model_size.bytes < r.memory.bytes
        return
    product = policy.spec.gpu(r.gpu.product)
    assert product is not None
    assert product.memory == r.gpu.memory
    assert r.gpu.count <= product.max_per_replica
    usable = r.gpu.count * product.memory.bytes * (1 - policy.spec.memory_headroom.fraction)
    assert r.model_size.bytes <= usable
    assert r.gpu.count * r.replicas.max <= policy.spec.namespaces.production.gpu_quota
    assert r.gpu.count * r.replicas.min <= policy.spec.namespaces.staging.gpu_quota


def test_examples_cover_a_gpu_recommender_a_multi_gpu_llm_and_a_cpu_model() -> None:
    rec, llm, cpu = (loader.load_contract(EXAMPLES / f"{n}.yaml") for n in NAMES)
    assert rec.spec.resources.gpu is not None and rec.spec.resources.gpu.count == 2
    assert rec.spec.resources.gpu.product == "H100"
    assert llm.spec.resources.gpu is not None and llm.spec.resources.gpu.count == 8
    assert llm.spec.resources.model_size.gb == 140
    assert llm.spec.promotion.approval is Approval.MANUAL
    assert cpu.spec.resources.gpu is None


def test_design_md_example_parses_with_model_defaulting_to_workload_name(
    golden: Callable[[str, str], None],
) -> None:
    design = (ROOT / "tests" / "golden" / "contracts" / "design-example.md").read_text(encoding="utf-8")
    c = markdown.parse_markdown(design, "design-example.md")
    assert c.metadata.name == c.metadata.model == "recsys-ranker-v2"
    assert [a.id for a in c.spec.alerts] == ["latency-p99", "accuracy-drift", "gpu-oom"]
    assert c.spec.slos.max_cold_start.seconds == 90
    # Rendering it back gives the same text, plus the Promotion section DESIGN.md leaves out.
    rendered = markdown.render_markdown(c)
    assert rendered.startswith(design)
    golden("contracts/design-example.yaml", loader.dump_contract_yaml(c))


# ------------------------------------------------------------------------------------------- schema


@pytest.mark.parametrize("name", ["workload-contract", "cluster-policy", "trust-policy"])
def test_committed_schema_is_current(name: str, golden: Callable[[str, str], None]) -> None:
    text = schema.render(schema.schemas()[name])
    committed = schema.SCHEMA_DIR / schema.file_name(name)
    assert committed.is_file(), f"missing {committed.name}: run 'signoff contract schema --write'"
    assert committed.read_text(encoding="utf-8") == text, (
        f"contracts/schema/{committed.name} is stale: run 'signoff contract schema --write'"
    )
    golden(f"contracts/schema/{schema.file_name(name)}", text)


def test_schemas_are_valid_draft_2020_12_and_accept_the_examples() -> None:
    all_schemas = schema.schemas()
    for body in all_schemas.values():
        jsonschema.Draft202012Validator.check_schema(body)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        name = {"WorkloadContract": "workload-contract", "ClusterPolicy": "cluster-policy",
                "TrustPolicy": "trust-policy"}[data["kind"]]  # fmt: skip
        jsonschema.Draft202012Validator(all_schemas[name]).validate(data)


def test_schema_rejects_what_the_loader_rejects() -> None:
    body = schema.schemas()["workload-contract"]
    data = yaml.safe_load((EXAMPLES / "recsys-ranker.yaml").read_text(encoding="utf-8"))
    data["spec"]["slos"]["p99_latncy"] = data["spec"]["slos"].pop("p99_latency")
    errors = list(jsonschema.Draft202012Validator(body).iter_errors(data))
    assert any("p99_latncy" in e.message for e in errors)
    data = yaml.safe_load((EXAMPLES / "recsys-ranker.yaml").read_text(encoding="utf-8"))
    data["spec"]["slos"]["availability"] = "99.95"
    assert list(jsonschema.Draft202012Validator(body).iter_errors(data))


def test_schema_field_docs_come_from_the_models() -> None:
    body = schema.schemas()["workload-contract"]
    assert json.dumps(body).count('"description"') > 40
    assert body["$defs"]["Slos"]["properties"]["p99_latency"]["description"].startswith(
        "P99 inference latency"
    )
    assert WorkloadContract.model_json_schema()["title"] == "WorkloadContract"


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (512, "512 B"), (12_345, "12.3 KB"), (20_480, "20.5 KB"), (999_999, "1 MB"),
     (21_600_000_000, "21.6 GB"), (140 * 10**9, "140 GB"), (3 * 10**15, "3 PB"), (2 * 10**18, "2000 PB")],
)  # fmt: skip
def test_sizes_print_in_units_a_person_reads(n: int, text: str) -> None:
    from contracts import format_bytes

    assert format_bytes(n) == text
