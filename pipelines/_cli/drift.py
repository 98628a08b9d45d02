"""``signoff drift``: publish a served model's drift, the metrics the contract's drift alerts read.

    signoff drift CONTRACT --namespace NS --model-version V
        (--baseline X --current Y [--metric NAME] | --accuracy-drift RATIO) [--data-drift RATIO]
        [--pushgateway URL | --textfile FILE.prom]

The ML team's evaluation job runs it after scoring recent labelled traffic: ``--baseline`` is the
quality metric's value when the version was validated (its MLflow run), ``--current`` the value
now; signoff turns them into ``signoff_model_accuracy_drift_ratio`` as :mod:`gates.drift` defines
it. A job that computes drift its own way passes ``--accuracy-drift``/``--data-drift`` directly.
Without ``--pushgateway`` or ``--textfile`` the metrics are printed. A summary on standard error
says whether the contract's alert would fire and whether the contract rolls back on it.

Offline unless pushing; imports only ``contracts``, ``gates`` and the standard library.
"""

from __future__ import annotations

import argparse
import sys
import time

from components import metrics_push
from contracts import errors, loader
from contracts._units import Percent
from contracts.workload import Comparison, Signal, WorkloadContract
from gates import drift

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``drift`` options to ``parser``."""
    parser.add_argument("contract", metavar="CONTRACT", help="workload contract (.yaml or .md)")
    parser.add_argument("--namespace", required=True, metavar="NS", help="namespace the model serves in")
    parser.add_argument(
        "--model-version", required=True, metavar="V", help="the MLflow model version measured"
    )
    parser.add_argument("--metric", metavar="NAME", help="quality metric (default: the contract's first)")
    parser.add_argument(
        "--baseline", type=float, metavar="X", help="the metric when the version was validated"
    )
    parser.add_argument("--current", type=float, metavar="Y", help="the metric on recent labelled traffic")
    parser.add_argument(
        "--accuracy-drift",
        type=float,
        metavar="RATIO",
        help="accuracy drift computed elsewhere (0.03 is 3%%)",
    )
    parser.add_argument(
        "--data-drift", type=float, metavar="RATIO", help="share of input features that drifted (0..1)"
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--pushgateway", metavar="URL", help="push to this Pushgateway (http://HOST:9091)")
    out.add_argument(
        "--textfile", metavar="FILE", help="write FILE.prom for node-exporter's textfile collector"
    )
    parser.set_defaults(func=run)


def _accuracy(ns: argparse.Namespace, contract: WorkloadContract) -> tuple[float | None, str | None]:

    given = ns.baseline is not None or ns.current is not None
    if given and ns.accuracy_drift is not None:
        raise errors.InputError("give either --baseline and --current, or --accuracy-drift, not both")
    if given:
        if ns.baseline is None or ns.current is None:
            raise errors.InputError("--baseline and --current go together: the metric then, and now")
        threshold = drift.quality_metric(contract, ns.metric)
        return drift.accuracy_drift(threshold, ns.baseline, ns.current), threshold.metric
    if ns.metric is not None:
        raise errors.InputError("--metric names the metric --baseline and --current measure; give them too")
    if ns.accuracy_drift is not None:
        return drift.ratio(ns.accuracy_drift, "--accuracy-drift"), None
    return None, None


def _summary(contract: WorkloadContract, signal: Signal, value: float) -> str:
    alert = next((a for a in contract.spec.alerts if a.signal is signal), None)
    rollback = any(a.signal is signal for a in contract.spec.rollback.automated)
    line = f"{signal.value.replace('_', ' ')} {value:.2%}"
    if alert is None:
        return line + ": the contract has no alert on it"
    if not isinstance(alert.threshold, Percent):
        return line
    limit = alert.threshold.fraction
    above = alert.comparison is Comparison.ABOVE
    fires = value > limit if above else value < limit
    word = "above" if above else "below"
    line += f"; the contract's alert fires {word} {limit:.2%} and pages {alert.pages.value}: "
    line += "it will fire" if fires else "quiet"
    if fires and rollback:
        line += "; the contract rolls back automatically on it"
    return line


def run(ns: argparse.Namespace) -> int:
    """Publish the drift figures; 0 when published (whether or not an alert will fire)."""

    contract = loader.load_contract(ns.contract)
    accuracy, metric = _accuracy(ns, contract)
    data = drift.ratio(ns.data_drift, "--data-drift") if ns.data_drift is not None else None
    if data is not None and data > 1:
        raise errors.InputError(f"--data-drift is a share of features, 0..1, got {data}")
    if accuracy is None and data is None:
        raise errors.InputError(
            "nothing to publish: give --baseline and --current (or --accuracy-drift), and/or --data-drift"
        )
    reading = drift.DriftReading(
        namespace=ns.namespace,
        workload=contract.name,
        model_version=ns.model_version,
        evaluated_at=time.time(),
        accuracy=accuracy,
        metric=metric,
        data=data,
    )
    body = drift.exposition(reading)
    if ns.pushgateway:
        url = metrics_push.push(ns.pushgateway, drift.grouping_key(reading), body)
        print(f"pushed to {url}", file=sys.stderr)
    elif ns.textfile:
        print(f"wrote {metrics_push.write_textfile(ns.textfile, body)}", file=sys.stderr)
    else:
        sys.stdout.write(body)
    if accuracy is not None:
        print(_summary(contract, Signal.ACCURACY_DRIFT, accuracy), file=sys.stderr)
    if data is not None:
        print(_summary(contract, Signal.DATA_DRIFT, data), file=sys.stderr)
    return 0
