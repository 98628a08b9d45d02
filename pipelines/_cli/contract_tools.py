"""``signoff contract convert|schema|init``: the contract tools that need the models.

* ``signoff contract convert FILE --to yaml|md [-o OUT]``: one spelling to the other.
* ``signoff contract schema [--write] [--out DIR] [--check]``: the JSON Schemas.
* ``signoff contract init NAME [-o FILE | --out DIR] [--md] [--model-size SIZE]``: a commented starting
  contract that passes every gate's static checks; with ``--out DIR`` also a starting cluster policy.

Imports only ``contracts`` (pydantic, PyYAML): no kfp, mlflow, hera or kubernetes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from contracts import errors, loader, markdown, schema
from contracts._units import ByteSize
from contracts.workload import WorkloadContract, is_dns1123_label
from pipelines._cli.contract import write_output

__all__ = ["configure_convert", "configure_init", "configure_schema", "init_text"]


def configure_convert(convert: argparse.ArgumentParser) -> None:
    """Add the arguments of ``signoff contract convert``."""
    convert.add_argument("file", metavar="FILE", help="a contract (.yaml, .yml or .md)")
    convert.add_argument("--to", required=True, choices=("yaml", "md"), help="the spelling to write")
    convert.add_argument("-o", "--output", metavar="OUT", help="write here instead of standard output")
    convert.set_defaults(func=_convert)


def configure_schema(sch: argparse.ArgumentParser) -> None:
    """Add the arguments of ``signoff contract schema``."""
    sch.add_argument(
        "--write", action="store_true", help="write <name>.schema.json files instead of printing"
    )
    sch.add_argument("--out", metavar="DIR", type=Path, default=None, help="directory for --write / --check")
    sch.add_argument("--check", action="store_true", help="exit 1 when the files in DIR are stale")
    sch.set_defaults(func=_schema)


def configure_init(init: argparse.ArgumentParser) -> None:
    """Add the arguments of ``signoff contract init``."""
    init.add_argument("name", metavar="NAME", help="workload name (DNS-1123: lower case, digits, '-')")
    init.add_argument(
        "-o", "--output", metavar="FILE", help="where to write (default NAME.yaml or NAME.md; '-' for stdout)"
    )
    init.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=None,
        help="write DIR/contract.yaml (or .md) and a starting DIR/cluster-policy.yaml instead",
    )
    init.add_argument(
        "--model-size",
        metavar="SIZE",
        default="8GB",
        help="what the model takes in memory, e.g. 11KB, 1.2GB (default 8GB; the ML gate compares it "
        "with the artifact)",
    )
    init.add_argument("--md", action="store_true", help="write the Markdown spelling")
    init.add_argument("--force", action="store_true", help="overwrite what exists")
    init.set_defaults(func=_init)


def _convert(ns: argparse.Namespace) -> int:
    contract = loader.load_contract(ns.file)
    text = loader.dump_contract_yaml(contract) if ns.to == "yaml" else markdown.render_markdown(contract)
    write_output(text, ns.output)
    return 0


def _schema(ns: argparse.Namespace) -> int:
    directory = ns.out or schema.SCHEMA_DIR
    if ns.check:
        stale = [
            schema.file_name(name)
            for name, body in schema.schemas().items()
            if not (directory / schema.file_name(name)).is_file()
            or (directory / schema.file_name(name)).read_text(encoding="utf-8") != schema.render(body)
        ]
        for name in stale:
            print(f"stale: {directory / name} (run 'signoff contract schema --write')", file=sys.stderr)
        return 1 if stale else 0
    if ns.write:
        for path in schema.write(directory):
            print(f"wrote {path}")
        return 0
    sys.stdout.write(json.dumps(schema.schemas(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return 0


# --------------------------------------------------------------------------------------------- init

_YAML_COMMENTS: dict[str, str] = {
    "metadata:": "Who the workload is. name: a DNS-1123 label; model: the MLflow registered model name.",
    "  owners:": "The three owners; each signs one handoff gate. Use the team names of the trust policy.",
    "  slos:": "What the staging probe measures and production alerts watch. Units: ms/s/min, %.",
    "  resources:": "Per replica. gpu: null for a CPU-only model; the product must be in the\n"
    "cluster policy.",
    "  alerts:": "Each alert pages one owner: ml, platform or sre. Signals: latency, availability,\n"
    "error_rate, accuracy_drift, data_drift, gpu_oom, gpu_utilization, cold_start, throughput.",
    "  rollback:": "Automated: revert on these signals. Manual: who decides for which kind of problem.",
    "  quality:": "Metrics the ML gate checks on the model version's MLflow run (min and/or max).",
    "  promotion:": "automatic: promote once every gate's signed verdict verifies; manual: the ML team\n"
    "also signs an approval. Verdicts older than verdict_ttl no longer count.",
}
_MD_COMMENTS: dict[str, str] = {
    "## Workload:": "A starting contract: replace the team names and numbers,\n"
    "then run 'signoff contract check'.",
    "### Owner": "Team names as in the trust policy.\n"
    "Pager/Chat/Runbook lines belong to the owner above them.",
    "### SLOs": "P99/P50 latency, availability, error budget, max cold start, throughput per replica.",
    "### Resources": "Per replica. 'GPU: none (CPU only)' for a CPU model;\n"
    "the product must be in the cluster policy.",
    "### Alerts": "Each alert pages one owner: ML team, platform team or SRE.",
    "### Rollback": "Automated: revert on these signals. Manual: who decides for which kind of problem.",
    "### Quality": "Metrics the ML gate checks on the model version's MLflow run.",
    "### Promotion": "automatic, or manual (signed by the ML team).",
}


def _starter(name: str, model_size: str = "8GB") -> WorkloadContract:
    # Every owner an alert pages has a runbook: the SRE gate refuses a paging alert without one.
    runbook = f"https://runbooks.example.com/{name}"
    return WorkloadContract.model_validate(
        {
            "metadata": {"name": name, "model": name},
            "spec": {
                "owners": {
                    "ml": {"team": "ml-team", "chat": f"#{name}", "runbook": f"{runbook}/ml"},
                    "platform": {"team": "platform-team", "runbook": f"{runbook}/platform"},
                    "sre": {"team": "sre-team", "runbook": runbook},
                },
                "slos": {"p99_latency": "250ms", "availability": "99.9%", "max_cold_start": "2 min"},
                "resources": {
                    "gpu": {"count": 1, "product": "L4", "memory": "24GB"},
                    "replicas": {"min": 1, "max": 3},
                    "model_size": model_size,
                },
                "alerts": [
                    {
                        "signal": "latency",
                        "percentile": 99,
                        "threshold": "250ms",
                        "window": "5m",
                        "pages": "sre",
                    },
                    {"signal": "error_rate", "threshold": "1%", "window": "5m", "pages": "sre"},
                    {"signal": "accuracy_drift", "threshold": "5%", "pages": "ml"},
                    {"signal": "gpu_oom", "pages": "platform"},
                ],
                "rollback": {
                    "automated": [{"signal": "accuracy_drift"}],
                    "manual": [
                        {"problem": "quality", "decides": "ml"},
                        {"problem": "availability", "decides": "sre"},
                    ],
                },
                "quality": [{"metric": "accuracy", "min": 0.9}],
                "promotion": {"approval": "automatic"},
            },
        }
    )


def init_text(name: str, spelling: str = "yaml", model_size: str = "8GB") -> str:
    """The commented starting contract for workload ``name`` in ``spelling`` (``yaml`` or ``md``).

    Raises:
        InputError: ``name`` is not a DNS-1123 label, or ``model_size`` is not a size.
    """
    if not is_dns1123_label(name):
        raise errors.InputError(
            f"{name!r} is not a workload name; write a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters (e.g. 'fraud-scorer')"
        )
    try:
        size = ByteSize.parse(model_size)
    except ValueError as exc:
        raise errors.InputError(f"--model-size {model_size!r}: {exc}") from None
    contract = _starter(name, str(size))
    if spelling == "md":
        out = []
        for line in markdown.render_markdown(contract).splitlines():
            out.append(line)
            for prefix, comment in _MD_COMMENTS.items():
                if line.startswith(prefix):
                    out.append("<!-- " + comment.replace("\n", "\n     ") + " -->")
        return "\n".join(out) + "\n"
    out = [
        "# yaml-language-server: $schema=https://signoff.dev/schema/workload-contract.schema.json",
        "# A starting workload contract: replace the team names and numbers, then run",
        "# 'signoff contract check FILE'. The same contract can be written as Markdown ('--md').",
    ]
    for line in loader.dump_contract_yaml(contract).splitlines():
        comment = _YAML_COMMENTS.get(line, "")
        if comment:
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(f"{indent}# {part}" for part in comment.split("\n"))
        out.append(line)
    return "\n".join(out) + "\n"


def policy_text() -> str:
    """A starting cluster policy: the commented example shipped with signoff, to edit for a cluster."""
    example = (
        Path(__file__).resolve().parents[2] / "contracts" / "examples" / "cluster-policy.yaml"
    ).read_text(encoding="utf-8")
    body = example.split("\n", 1)[1]  # the example's schema line points into the source tree
    return (
        "# yaml-language-server: $schema=https://signoff.dev/schema/cluster-policy.schema.json\n"
        "# A starting cluster policy (the platform team's): the GPU products, namespaces, registries\n"
        "# and serving mode of YOUR cluster replace these. 'signoff contract check FILE' checks it.\n" + body
    )


def _init(ns: argparse.Namespace) -> int:
    spelling = "md" if ns.md else "yaml"
    text = init_text(ns.name, spelling, ns.model_size)
    if ns.out is not None:
        if ns.output is not None:
            raise errors.InputError(
                "--out DIR and -o FILE: pass one (--out writes contract and cluster policy)"
            )
        files = {ns.out / f"contract.{spelling}": text, ns.out / "cluster-policy.yaml": policy_text()}
        existing = [str(p) for p in files if p.exists()]
        if existing and not ns.force:
            raise errors.InputError(
                f"{', '.join(existing)} exist(s); pass --force to overwrite or choose another --out"
            )
        ns.out.mkdir(parents=True, exist_ok=True)
        for path, content in files.items():
            try:
                path.write_text(content, encoding="utf-8")
            except OSError as exc:
                raise errors.InputError(f"{path}: cannot write: {exc.strerror}") from None
        contract_path = ns.out / f"contract.{spelling}"
        print(f"wrote {contract_path} (the workload contract: replace the team names and numbers)")
        print(f"wrote {ns.out / 'cluster-policy.yaml'} (the platform team's cluster policy: your cluster's)")
        print(
            f"next: signoff keys generate --contract {contract_path} --out {ns.out / 'keys'} "
            f"--trust {ns.out / 'trust-policy.yaml'}"
        )
        return 0
    output = ns.output or f"{ns.name}.{spelling}"
    if output != "-" and Path(output).exists() and not ns.force:
        raise errors.InputError(f"{output} exists; pass --force to overwrite it or -o to write elsewhere")
    write_output(text, output)
    return 0
