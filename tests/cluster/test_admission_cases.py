"""Every admission case of infra/policies/*/cases, sent as a real request through the API server.

The unit tier (tests/unit/test_admission_policy.py) runs the same files through an independent CEL
engine with the API server's matching emulated; this tier is the API server itself (cel-go, its own
matching, defaulting, impersonation). Both must give every case the answer its folder names, and
``test_tiers_agree`` prints how many cases were compared. How a case becomes requests: ``_admission``.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _admission import Answer, case_id, cases, send_case
from _controlplane import ControlPlane

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
CASES = cases()
IDS = [case_id(*c) for c in CASES]

# Cases where the API server's answer is not the folder's, with why (none known today).
KNOWN_DISAGREEMENTS: dict[str, str] = {}

# Deny cases the API server refuses before admission (object validation), so the policy never sees
# them: the rule they test is defence in depth only. Each maps to a fragment of the server's refusal.
REFUSED_BEFORE_ADMISSION = {
    # extended resources (nvidia.com/gpu) must have limits, equal to requests (core validation)
    "require-promotion/deny/gpu-only-in-requests": "Limit must be set for non overcommitable resources",
}


@pytest.fixture(scope="module")
def answers(cluster: ControlPlane, policies: list[dict[str, Any]]) -> dict[str, Answer]:
    """Every case sent once; the tests below read the answers."""
    return {case_id(*c): send_case(cluster, i, c[2]) for i, c in enumerate(CASES)}


def _marks(ident: str) -> list[pytest.MarkDecorator]:
    reason = KNOWN_DISAGREEMENTS.get(ident)
    return [pytest.mark.xfail(reason=reason, strict=True)] if reason else []


@pytest.mark.parametrize(
    ("folder", "verdict", "path"),
    [pytest.param(*c, id=i, marks=_marks(i)) for c, i in zip(CASES, IDS, strict=True)],
)
def test_case_on_the_api_server(folder: Path, verdict: str, path: Path, answers: dict[str, Answer]) -> None:
    answer = answers[case_id(folder, verdict, path)]
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    if verdict == "admit":
        assert answer.allowed, f"{path.name} refused ({answer.status}): {answer.message}"
    elif case_id(folder, verdict, path) in REFUSED_BEFORE_ADMISSION:
        assert answer.status == 422 and not answer.by_policy, answer
        assert REFUSED_BEFORE_ADMISSION[case_id(folder, verdict, path)] in answer.message, answer.message
    else:
        assert not answer.allowed, f"{path.name} was admitted"
        assert answer.by_policy, (
            f"{path.name} refused, but not by a policy ({answer.status}): {answer.message}"
        )
        assert case["expect"] in answer.message, f"{path.name}: {case['expect']!r} not in {answer.message!r}"


def _unit_tier() -> Any:
    unit = str(ROOT / "tests" / "unit")
    if unit not in sys.path:
        sys.path.insert(0, unit)
    return importlib.import_module("test_admission_policy")


def test_tiers_agree(answers: dict[str, Answer], capsys: pytest.CaptureFixture[str]) -> None:
    """The CEL tier and the API-server tier give the same answer on every case."""
    unit = _unit_tier()
    disagree = []
    for folder, verdict, path in CASES:
        ident = case_id(folder, verdict, path)
        cel = unit.evaluate(folder, yaml.safe_load(path.read_text(encoding="utf-8"))).allowed
        api = answers[ident].allowed
        if cel != api and ident not in KNOWN_DISAGREEMENTS:
            disagree.append(f"{ident}: CEL tier {'admits' if cel else 'denies'}, API server {answers[ident]}")
    with capsys.disabled():
        print(f"\nadmission cases compared across the CEL and API-server tiers: {len(CASES)}")
    assert len(CASES) >= 40
    assert not disagree, "\n".join(disagree)


def test_policies_type_check_without_warnings(policies: list[dict[str, Any]]) -> None:
    """The API server type-checked every policy against the real schemas (CRDs installed) and found
    nothing to warn about."""
    assert {p["metadata"]["name"] for p in policies} == {
        "signoff-require-promotion",
        "signoff-protect-environment-label",
    }
    for policy in policies:
        warnings = policy["status"]["typeChecking"].get("expressionWarnings", [])
        assert warnings == [], f"{policy['metadata']['name']}: {warnings}"


def test_the_trusted_kserve_namespace_is_configuration(
    cluster: ControlPlane, policies: list[dict[str, Any]], tmp_path: Path
) -> None:
    """KServe installed in ``kubeflow`` (Kubeflow's manifests): patching one value of the binding's
    ConfigMap makes the API server accept the controller's Deployments from ``kubeflow``'s account
    and no longer from ``kserve``'s, with no change to the policy's CEL."""
    source = (
        ROOT
        / "infra"
        / "policies"
        / "require-promotion"
        / "cases"
        / "admit"
        / "deployment-from-kserve-controller.yaml"
    )
    case = yaml.safe_load(source.read_text(encoding="utf-8"))

    def as_account(namespace: str) -> Path:
        user = f"system:serviceaccount:{namespace}:kserve-controller-manager"
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]
        path = tmp_path / f"from-{namespace}.yaml"
        path.write_text(
            yaml.safe_dump(
                dict(case, request=dict(case["request"], userInfo={"username": user, "groups": groups}))
            )
        )
        return path

    def configure(namespace: str) -> None:
        patch = json.dumps({"data": {"kserve-namespace": namespace}})
        cluster.kubectl(
            "patch",
            "configmap",
            "signoff-trusted-controllers",
            "-n",
            "signoff-system",
            "--type=merge",
            "-p",
            patch,
        )

    index = 9000  # case namespaces of their own, apart from the shipped cases'
    assert send_case(cluster, index, as_account("kserve")).allowed
    configure("kubeflow")
    try:
        # the API server's parameter informer picks the change up asynchronously
        def switched() -> bool:
            return send_case(cluster, index + 1, as_account("kubeflow")).allowed

        cluster.wait_for("the policy to read kserve-namespace: kubeflow", switched, deadline_s=30)
        refused = send_case(cluster, index + 2, as_account("kserve"))
        assert not refused.allowed and refused.by_policy, refused
        assert (
            "this request came from 'system:serviceaccount:kserve:kserve-controller-manager'"
            in refused.message
        )
    finally:
        configure("kserve")
        cluster.wait_for(
            "the policy to read kserve-namespace: kserve again",
            lambda: send_case(cluster, index + 3, as_account("kserve")).allowed,
            deadline_s=30,
        )
