"""The SRE step's "this staging object serves exactly this version" check, on rendered objects.

``gates.serving.serving_problems`` judges what the API server returns for the staging object; here
it reads the objects ``gates.render`` produces (what ``signoff deploy`` applies), then edited the way
a person with write access to staging could edit them. The API-server path itself runs in the
cluster tier (tests/cluster).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from contracts.cluster import ServingMode
from contracts.loader import load_cluster_policy, load_contract
from gates.render import ANNOTATION_DIGEST, ANNOTATION_VERSION, ModelRef, render
from gates.serving import serving_problems

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples"
IMAGE = "registry.example.com/ml/mlserver@sha256:" + "b" * 64
MODEL = ModelRef(
    name="recsys-ranker", version="7", storage_uri="s3://models/recsys-ranker/7", digest="sha256:" + "a" * 64
)


def _serving(mode: ServingMode) -> dict[str, Any]:
    contract = load_contract(EXAMPLES / "recsys-ranker.yaml")
    policy = load_cluster_policy(EXAMPLES / "cluster-policy.yaml")
    objects = render(contract, policy, MODEL, IMAGE, environment="staging", mode=mode).objects
    return copy.deepcopy(next(o for o in objects if o["kind"] in ("InferenceService", "Deployment")))


@pytest.mark.parametrize("mode", list(ServingMode))
def test_the_rendered_object_serves_its_version(mode: ServingMode) -> None:
    obj = _serving(mode)
    assert serving_problems(obj, version="7", digest=MODEL.digest, storage_uri=MODEL.storage_uri) == []


@pytest.mark.parametrize("mode", list(ServingMode))
def test_another_version_is_refused_with_both_digests(mode: ServingMode) -> None:
    obj = _serving(mode)
    other = "sha256:" + "c" * 64
    problems = serving_problems(obj, version="8", digest=other, storage_uri="s3://models/recsys-ranker/8")
    text = "; ".join(problems)
    assert f"serves model digest {MODEL.digest}, not this version's {other}" in text
    assert "serves model version 7, not 8" in text
    assert "fetches s3://models/recsys-ranker/7" in text and "not s3://models/recsys-ranker/8" in text


@pytest.mark.parametrize("mode", list(ServingMode))
def test_copied_annotations_do_not_hide_another_storage_uri(mode: ServingMode) -> None:
    # Someone points the staging object at other files but keeps (or copies) the annotations.
    obj = _serving(mode)
    assert obj["metadata"]["annotations"][ANNOTATION_DIGEST] == MODEL.digest
    assert obj["metadata"]["annotations"][ANNOTATION_VERSION] == "7"
    edited = json.loads(json.dumps(obj).replace("s3://models/recsys-ranker/7", "s3://evil/model"))
    problems = serving_problems(edited, version="7", digest=MODEL.digest, storage_uri=MODEL.storage_uri)
    assert len(problems) == 1 and "fetches s3://evil/model" in problems[0], problems
