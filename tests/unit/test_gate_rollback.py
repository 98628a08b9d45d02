"""The automated rollback rule, once in gates: fires above the accuracy-drift alert, never without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.loader import load_contract
from contracts.workload import WorkloadContract
from gates import rollback

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def contract() -> WorkloadContract:
    # accuracy drift > 3% pages ML; automated: revert to previous on accuracy drift
    return load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")


def test_fires_only_above_the_alert_threshold(contract: WorkloadContract) -> None:
    assert rollback.drift_limit(contract) == pytest.approx(0.03)
    assert not rollback.decide(contract, None).fire  # not measured: armed, never fired
    assert not rollback.decide(contract, 0.03).fire  # at the threshold: the alert is "above"
    fired = rollback.decide(contract, 0.05)
    assert fired.fire and fired.automated and "0.0500 above" in fired.reason


def test_never_fires_without_an_automated_rollback_in_the_contract(contract: WorkloadContract) -> None:
    manual = contract.model_copy(
        update={
            "spec": contract.spec.model_copy(
                update={"rollback": contract.spec.rollback.model_copy(update={"automated": ()})}
            )
        }
    )
    decision = rollback.decide(manual, 0.5)
    assert not decision.fire and not decision.automated


@given(st.floats(min_value=0, max_value=1, allow_nan=False))
def test_fires_exactly_when_the_drift_is_above_the_limit(drift: float) -> None:
    c = load_contract(ROOT / "contracts" / "examples" / "recsys-ranker.yaml")
    assert rollback.decide(c, drift).fire is (drift > 0.03)
