"""``signoff drift`` and :mod:`gates.drift`: the numbers a drift job publishes and the errors it gets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from contracts.errors import InputError
from contracts.loader import load_contract
from contracts.workload import QualityThreshold
from gates import drift
from gates import observability as obs

ROOT = Path(__file__).resolve().parents[2]
RANKER = ROOT / "contracts" / "examples" / "recsys-ranker.yaml"


def test_accuracy_drift_is_the_relative_loss_in_the_metrics_good_direction() -> None:
    higher = QualityThreshold(metric="ndcg_at_10", min=0.42)
    lower = QualityThreshold(metric="rmse", max=3.0)
    assert drift.accuracy_drift(higher, 0.50, 0.45) == pytest.approx(0.10)
    assert drift.accuracy_drift(higher, 0.50, 0.55) == 0.0  # better is no drift, never negative
    assert drift.accuracy_drift(lower, 2.0, 2.5) == pytest.approx(0.25)
    assert drift.accuracy_drift(lower, 2.0, 1.5) == 0.0
    assert drift.accuracy_drift(higher, -2.0, -2.2) == pytest.approx(0.10)  # e.g. log-likelihood
    with pytest.raises(InputError, match="is 0"):
        drift.accuracy_drift(higher, 0.0, 0.1)
    with pytest.raises(InputError, match="finite"):
        drift.accuracy_drift(higher, float("nan"), 0.1)


def test_the_quality_metric_must_be_the_contracts() -> None:
    contract = load_contract(RANKER)
    assert drift.quality_metric(contract, None).metric == "ndcg_at_10"
    with pytest.raises(InputError, match="it has: ndcg_at_10"):
        drift.quality_metric(contract, "accuracy")


def test_exposition_names_and_labels_are_the_ones_the_rules_select() -> None:
    contract = load_contract(RANKER)
    reading = drift.DriftReading(
        namespace="ml-prod",
        workload=contract.name,
        model_version='7"\n',
        evaluated_at=1700000000.0,
        accuracy=0.05,
        metric="ndcg_at_10",
        data=0.2,
    )
    text = drift.exposition(reading)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[0] == (
        'signoff_model_accuracy_drift_ratio{namespace="ml-prod",workload="recsys-ranker-v2",'
        'model_version="7\\"\\n",metric="ndcg_at_10"} 0.05'
    )
    assert lines[1].startswith("signoff_model_data_drift_ratio{") and lines[1].endswith(" 0.2")
    assert lines[2].endswith(" 1700000000.0")
    rules = obs.to_yaml(obs.rule_groups(contract, obs.MetricNames.mlserver(), namespace="ml-prod"))
    assert f'{drift.ACCURACY_METRIC}{{namespace="ml-prod", workload="recsys-ranker-v2"}}' in rules


def _drift(signoff_exe: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [signoff_exe, "drift", str(RANKER), "--namespace", "ml-prod", "--model-version", "3", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "0.45"], "--baseline and --current go together"),
        (["--baseline", "0.4", "--current", "0.3", "--accuracy-drift", "0.1"], "not both"),
        (["--metric", "ndcg_at_10", "--accuracy-drift", "0.1"], "give them too"),
        (["--baseline", "0.4", "--current", "0.3", "--metric", "auc"], "it has: ndcg_at_10"),
        (["--accuracy-drift", "-0.1"], "a fraction >= 0"),
        (["--data-drift", "1.5"], "0..1"),
        ([], "nothing to publish"),
        (["--accuracy-drift", "0.1", "--textfile", "drift.txt"], "ending in .prom"),
        (["--accuracy-drift", "0.1", "--pushgateway", "pushgateway:9091"], "http://HOST:9091"),
    ],
)
def test_bad_input_is_a_clear_error(signoff_exe: str, args: list[str], message: str) -> None:
    done = _drift(signoff_exe, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_textfile_is_written_whole_for_node_exporter(signoff_exe: str, tmp_path: Path) -> None:
    out = tmp_path / "signoff-drift.prom"
    done = _drift(signoff_exe, "--baseline", "0.45", "--current", "0.445", "--textfile", str(out))
    assert done.returncode == 0, done.stderr
    assert "fires above 3.00% and pages ml: quiet" in done.stderr
    text = out.read_text()
    assert 'metric="ndcg_at_10"} 0.0111111' in text
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left behind


def test_unreachable_pushgateway_is_retryable(signoff_exe: str) -> None:
    done = _drift(signoff_exe, "--accuracy-drift", "0.1", "--pushgateway", "http://127.0.0.1:9")
    assert done.returncode == 3, done.stderr
    assert "cannot reach the Pushgateway at http://127.0.0.1:9" in done.stderr
