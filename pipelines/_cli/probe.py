"""``signoff probe``: measure a serving endpoint against the contract's SLOs.

::

    signoff probe URL --contract C [--rate R --duration D --protocol mlflow|kserve-v1|kserve-v2
                      --example FILE --model-name N --json OUT --report OUT.md]
    signoff probe --serve models:/NAME/VERSION|PATH --contract C ...

Waits for readiness (at most the contract's ``max_cold_start``), loads the endpoint open loop at
a constant arrival rate (default: the contract's ``throughput_per_replica``, else 10/s) and
prints the figures next to the SLOs. With ``--serve`` it first launches ``mlflow models serve``
on a free loopback port and measures the cold start from launch to the first ``/ping``.
Exit 0 when every SLO holds, 1 when one does not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, cast

from components import local_serving, probe
from contracts import errors
from contracts.loader import load_contract
from gates.evidence import ProbeResult


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the probe's arguments."""
    parser.description = __doc__.split("::")[0].strip() if __doc__ else None
    parser.add_argument("url", nargs="?", help="base URL of the endpoint, e.g. http://127.0.0.1:5000")
    parser.add_argument(
        "--serve", metavar="MODEL", help="launch 'mlflow models serve' for a model folder or models:/NAME/VER"
    )
    parser.add_argument("--contract", required=True, metavar="FILE", help="the workload contract (YAML)")
    parser.add_argument("--rate", type=float, help="requests per second (default: the contract's throughput)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default: 10)")
    parser.add_argument("--protocol", choices=("mlflow", "kserve-v1", "kserve-v2"), default="mlflow")
    parser.add_argument(
        "--example", metavar="FILE", help="input example JSON (default with --serve PATH: the model's own)"
    )
    parser.add_argument("--model-name", help="model name in KServe paths (default: the contract's model)")
    parser.add_argument("--ready-path", help="readiness path (default: /ping, or the KServe model readiness)")
    parser.add_argument("--json", metavar="OUT", help="write the figures (ProbeResult JSON) here")
    parser.add_argument("--report", metavar="OUT.md", help="write the Markdown report here")
    parser.add_argument(
        "--log-dir",
        metavar="DIR",
        help="with --serve: keep the server's log here (default: shown only on failure)",
    )
    parser.set_defaults(func=run)


def _read_example(path: str) -> dict[str, Any] | list[Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise errors.InputError(f"{path}: no such file (--example)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.InputError(f"{path}: not a JSON input example: {exc}") from None
    if not isinstance(data, dict | list):
        raise errors.InputError(f"{path}: an input example must be a JSON object or array")
    return cast("dict[str, Any] | list[Any]", data)


def _check_rate(ns: argparse.Namespace) -> None:
    if ns.rate is not None and not 0 < ns.rate <= 100_000:
        raise errors.InputError(f"--rate {ns.rate:g}: give a number of requests per second in (0, 100000]")
    if not 0 < ns.duration <= 3600:
        raise errors.InputError(f"--duration {ns.duration:g}: give a number of seconds in (0, 3600]")


def run(ns: argparse.Namespace) -> int:
    """Probe, print the report, write the outputs; 0 when every SLO holds, else 1."""

    contract = load_contract(ns.contract)
    if bool(ns.url) == bool(ns.serve):
        raise errors.InputError("give either a URL to probe or --serve MODEL to launch one (not both)")
    _check_rate(ns)
    if ns.serve and ns.protocol != "mlflow":
        raise errors.InputError(
            f"--serve runs 'mlflow models serve', which speaks --protocol mlflow, not {ns.protocol}; "
            "probe a KServe endpoint by its URL instead"
        )
    model_name = ns.model_name or contract.metadata.model
    if ns.example:
        example = _read_example(ns.example)
    elif ns.serve:
        example = local_serving.fetch_example(ns.serve)
    else:
        raise errors.InputError(
            "--example FILE is needed: the request body is built from the model's input example "
            "(a model folder's serving_input_example.json or input_example.json)"
        )
    kwargs: dict[str, Any] = {
        "example": example, "protocol": ns.protocol, "model_name": model_name, "rate": ns.rate,
        "duration_s": ns.duration, "ready_path": ns.ready_path,
    }  # fmt: skip
    if ns.serve:
        deadline = contract.spec.slos.max_cold_start.seconds
        note = f"signoff: starting mlflow models serve -m {ns.serve} (deadline {deadline:g}s)"
        print(note, file=sys.stderr)
        with local_serving.serve(ns.serve, deadline_s=deadline, log_dir=ns.log_dir) as server:
            if server.cold_start_s is None:
                exit_reason = server.exit_reason()
                if exit_reason:
                    print(f"signoff: {exit_reason}", file=sys.stderr)
                result = ProbeResult(
                    url=server.url, protocol=ns.protocol, ready=False, cold_start_deadline_s=deadline,
                    target_rate=float(ns.rate or contract.spec.slos.throughput_per_replica or 10.0),
                    server_exit=exit_reason,
                    first_error=None if exit_reason else f"{local_serving.READY_PATH} did not answer 2xx "
                    f"within {deadline:g}s",
                )  # fmt: skip
            else:
                print(f"signoff: ready after {server.cold_start_s:.1f}s at {server.url}", file=sys.stderr)
                kwargs["ready_path"] = ns.ready_path or local_serving.READY_PATH
                measured = probe.probe(server.url, contract, **kwargs)
                result = measured.model_copy(
                    update={"cold_start_s": server.cold_start_s, "cold_start_deadline_s": deadline}
                )
    else:
        result = probe.probe(ns.url, contract, **kwargs)
    report = probe.report_markdown(result, contract)
    print(report, end="")
    if ns.json:
        Path(ns.json).write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if ns.report:
        Path(ns.report).write_text(report, encoding="utf-8")
    return 0 if probe.passed(result, contract) else 1
