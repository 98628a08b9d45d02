"""``signoff export openslo|backstage``: valid against the published schemas, golden, offline.

The schemas are the upstream files committed under ``tests/schemas/`` (see its README): OpenSLO v1's
JSON Schemas and ``@backstage/catalog-model`` 1.10.3's Entity / Component schemas.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from pipelines._cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "schemas"
EXAMPLES = ROOT / "contracts" / "examples"
CONTRACTS = sorted(p for p in EXAMPLES.glob("*.yaml") if "kind: WorkloadContract" in p.read_text())


def _validator(folder: Path, root: str) -> jsonschema.Draft7Validator:
    resources = []
    for path in sorted(folder.rglob("*.schema.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        resources.append((body["$id"], Resource.from_contents(body, default_specification=DRAFT7)))
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = json.loads((folder / root).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, registry=registry)


OPENSLO = _validator(SCHEMAS / "openslo-v1", "openslo.schema.json")
BACKSTAGE = _validator(SCHEMAS / "backstage-catalog-model-1.10.3", "Component.v1alpha1.schema.json")


def _export(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["export", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _errors(validator: jsonschema.Draft7Validator, doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


# ------------------------------------------------------------------------------------------- OpenSLO


@pytest.mark.parametrize("mode", ["kserve", "deployment"])
@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_openslo_documents_validate_against_the_openslo_v1_schema(
    capsys: pytest.CaptureFixture[str], path: Path, mode: str
) -> None:
    rc, out, err = _export(capsys, "openslo", str(path), "--mode", mode, "--namespace", "ml-prod")
    assert rc == 0, err
    docs = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in docs] == ["Service", "SLI", "SLO", "SLI", "SLO", "SLI", "SLO"]
    for doc in docs:
        assert _errors(OPENSLO, doc) == [], doc["metadata"]["name"]
    slis = {d["metadata"]["name"] for d in docs if d["kind"] == "SLI"}
    service = docs[0]["metadata"]["name"]
    for slo in (d for d in docs if d["kind"] == "SLO"):
        assert slo["spec"]["indicatorRef"] in slis
        assert slo["spec"]["service"] == service


def test_openslo_objectives_are_the_contract_slos(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _export(capsys, "openslo", str(EXAMPLES / "recsys-ranker.md"), "--namespace", "ml-prod")
    assert rc == 0
    slo = {d["metadata"]["name"]: d["spec"] for d in yaml.safe_load_all(out) if d["kind"] == "SLO"}
    # recsys-ranker: P99 < 75ms, availability 99.95%, max cold start 90 seconds.
    assert slo["recsys-ranker-v2-availability"]["objectives"][0]["target"] == 0.9995
    latency = slo["recsys-ranker-v2-latency-p99"]
    assert latency["objectives"][0]["target"] == 0.99
    cold = slo["recsys-ranker-v2-cold-start"]["objectives"][0]
    assert (cold["op"], cold["value"]) == ("lte", 90)
    sli = {d["metadata"]["name"]: d["spec"] for d in yaml.safe_load_all(out) if d["kind"] == "SLI"}
    good = sli["recsys-ranker-v2-latency-p99"]["ratioMetric"]["good"]["metricSource"]["spec"]["query"]
    # MLServer's latency histogram is in seconds: the 75 ms bucket is le="0.075", in the pods' namespace.
    assert 'le=~"0\\\\.075"' in good and 'namespace="ml-prod"' in good


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda d: d["spec"]["objectives"][0].update(target=1.0), "target must be below 1"),
        (lambda d: d["spec"].pop("budgetingMethod"), "budgetingMethod is required"),
        (lambda d: d.update(apiVersion="openslo/v2"), "apiVersion openslo/v1"),
        (lambda d: d["spec"].update(indicator={"metadata": {"name": "x"}, "spec": {}}), "indicator xor ref"),
        (lambda d: d["spec"]["timeWindow"][0].update(duration="30 days"), "duration shorthand"),
    ],
    ids=["target", "budgeting", "api-version", "both-indicators", "duration"],
)
def test_the_openslo_schema_refuses_a_broken_slo(
    capsys: pytest.CaptureFixture[str], mutate: Callable[[dict[str, Any]], Any], why: str
) -> None:
    rc, out, _ = _export(capsys, "openslo", str(EXAMPLES / "fraud-scorer.yaml"))
    assert rc == 0
    slo = next(d for d in yaml.safe_load_all(out) if d["kind"] == "SLO")
    assert _errors(OPENSLO, slo) == []
    broken = copy.deepcopy(slo)
    mutate(broken)
    assert _errors(OPENSLO, broken), why


# ----------------------------------------------------------------------------------------- Backstage

# @backstage/catalog-model 1.10.3 checks these in code, not in its JSON Schemas
# (dist/validation/KubernetesValidatorFunctions.cjs.js, CommonValidatorFunctions.cjs.js).
_OBJECT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]+(?:\-+[a-z0-9]+)*$")
_TAG = re.compile(r"^[a-z0-9+#]+(\-[a-z0-9+#]+)*$")


def _backstage_key_ok(key: str) -> bool:
    parts = key.split("/")
    if len(parts) == 1:
        prefix, name = None, parts[0]
    elif len(parts) == 2:
        prefix, name = parts
    else:
        return False
    if prefix is not None and not (
        len(prefix) <= 253 and all(len(p) <= 63 and _DNS_LABEL.match(p) for p in prefix.split("."))
    ):
        return False
    return len(name) <= 63 and bool(_OBJECT_NAME.match(name))


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_backstage_component_validates_against_the_catalog_model_schema(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    rc, out, err = _export(capsys, "backstage", str(path), "--interface-url", "https://git.example.com/c.md")
    assert rc == 0, err
    (entity,) = list(yaml.safe_load_all(out))
    assert _errors(BACKSTAGE, entity) == []
    meta = entity["metadata"]
    assert len(meta["name"]) <= 63 and _OBJECT_NAME.match(meta["name"])
    assert all(len(t) <= 63 and _TAG.match(t) for t in meta["tags"])
    assert all(_backstage_key_ok(k) for k in meta["annotations"])
    ref = entity["spec"]["system"].removeprefix("system:")
    assert _OBJECT_NAME.match(ref)


def test_backstage_component_names_owner_system_runbooks_and_the_interface_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, _ = _export(
        capsys, "backstage", str(EXAMPLES / "recsys-ranker.yaml"), "--system", "recommendations"
    )
    assert rc == 0
    entity = yaml.safe_load(out)
    assert entity["spec"]["owner"] == "group:ranking-squad"  # the ML team owns the model
    assert entity["spec"]["system"] == "recommendations"
    links = {(link["type"], link["url"]) for link in entity["metadata"]["links"]}
    assert ("documentation", "recsys-ranker.md") in links  # default: the Markdown spelling beside it
    assert {
        ("runbook", "https://runbooks.example.com/ranking/recsys-ranker"),
        ("runbook", "https://runbooks.example.com/platform/gpu-serving"),
        ("runbook", "https://runbooks.example.com/sre/inference"),
    } <= links
    assert entity["metadata"]["annotations"]["signoff.dev/sre-team"] == "sre-ai-oncall"


def test_the_backstage_schema_refuses_a_component_without_owner(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _export(capsys, "backstage", str(EXAMPLES / "support-llm-70b.yaml"))
    assert rc == 0
    entity = yaml.safe_load(out)
    del entity["spec"]["owner"]
    assert _errors(BACKSTAGE, entity)
    entity = yaml.safe_load(out)
    entity["metadata"]["misspelled"] = {"x": 1}
    assert _errors(BACKSTAGE, entity) == []  # EntityMeta allows extra fields: the schema is open there
    entity["spek"] = entity.pop("spec")
    assert _errors(BACKSTAGE, entity)  # Entity itself does not


# ------------------------------------------------------------------------------------------- goldens


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_goldens(capsys: pytest.CaptureFixture[str], golden: Callable[[str, str], None], path: Path) -> None:
    rc, out, _ = _export(capsys, "openslo", str(path), "--namespace", "ml-prod")
    assert rc == 0
    golden(f"export/{path.stem}.openslo.yaml", out)
    rc, out, _ = _export(capsys, "backstage", str(path))
    assert rc == 0
    golden(f"export/{path.stem}.catalog-info.yaml", out)


def test_both_spellings_export_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    outs = []
    for spelling in ("yaml", "md"):
        rc, out, _ = _export(capsys, "openslo", str(EXAMPLES / f"fraud-scorer.{spelling}"))
        assert rc == 0
        outs.append(out)
    assert outs[0] == outs[1]


# -------------------------------------------------------------------------------------- bad input, -o


def test_a_bad_contract_is_exit_2_with_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "c.yaml"
    text = (EXAMPLES / "recsys-ranker.yaml").read_text().replace("availability: 99.95%", "availability: lots")
    bad.write_text(text)
    out_file = tmp_path / "out.yaml"
    rc, _, err = _export(capsys, "openslo", str(bad), "-o", str(out_file))
    assert rc == 2
    assert "c.yaml" in err and "availability" in err and "Traceback" not in err
    assert not out_file.exists()  # nothing half-written


def test_empty_flags_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _export(capsys, "backstage", str(EXAMPLES / "recsys-ranker.yaml"), "--system", " ")
    assert rc == 2 and "--system" in err


def test_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "catalog-info.yaml"
    rc, out, err = _export(capsys, "backstage", str(EXAMPLES / "recsys-ranker.yaml"), "-o", str(target))
    assert rc == 0 and out == "" and "wrote" in err
    assert yaml.safe_load(target.read_text())["kind"] == "Component"


_PROBE = """
import sys, time
t = time.perf_counter()
from pipelines._cli.main import main
rc = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"kfp", "mlflow", "hera", "kubernetes", "requests"})
print(f"HEAVY={','.join(heavy)} MS={(time.perf_counter() - t) * 1000:.0f}", file=sys.stderr)
sys.exit(rc)
"""


@pytest.mark.parametrize("fmt", ["openslo", "backstage"])
def test_export_imports_nothing_heavy(fmt: str) -> None:
    argv = ["export", fmt, str(EXAMPLES / "recsys-ranker.yaml"), "-o", "-"]
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY= " in proc.stderr, proc.stderr
