"""Property tests: any valid contract survives both spellings; no mutated document crashes the parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import loader, markdown
from contracts._units import ByteSize, Duration, Percent
from contracts.errors import DocumentError
from contracts.workload import Signal, WorkloadContract

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------------------ strategies

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ALNUM = _LOWER + _LOWER.upper() + "0123456789"


def _word(first: str, middle: str, last: str, most: int) -> st.SearchStrategy[str]:
    """Cheaper than ``st.from_regex`` for ``[first]([middle]*[last])?``."""
    return st.tuples(
        st.sampled_from(first), st.text(middle, max_size=most), st.sampled_from(last), st.booleans()
    ).map(lambda t: t[0] + (t[1] + t[2] if t[3] else ""))


dns = _word(_LOWER, _LOWER + "0123456789-", _LOWER + "0123456789", 20)
model_name = _word(_ALNUM, _ALNUM + "._-", _ALNUM + "._-", 30)
team = _word(_ALNUM, _ALNUM + "._-", _ALNUM, 20)
handle = _word("#@" + _ALNUM, _ALNUM + " ._#@:/-", _ALNUM, 20)
runbook = st.tuples(st.text(_LOWER, min_size=1, max_size=10), st.text(_ALNUM + "/_.-", max_size=20)).map(
    lambda t: f"https://{t[0]}.example.com/{t[1]}"
)
metric = _word(_LOWER, _LOWER + "0123456789_ ./-", _LOWER + "0123456789", 12)
product = _word(_ALNUM, _ALNUM + "._-", _ALNUM + "._-", 10)

durations = st.one_of(
    st.integers(1, 999).map(lambda n: Duration.parse(f"{n}ms")),
    st.integers(1, 100_000).map(lambda n: Duration.parse(f"{n}s")),
    st.tuples(st.integers(0, 500), st.integers(1, 999)).map(lambda t: Duration.parse(f"{t[0]}.{t[1]}s")),
    st.integers(1, 600).map(lambda n: Duration.parse(f"{n} min")),
    st.integers(1, 48).map(lambda n: Duration.parse(f"{n}h")),
    st.integers(1, 30).map(lambda n: Duration.parse(f"{n}d")),
)
percents = st.one_of(
    st.integers(1, 100).map(lambda n: Percent.parse(f"{n}%")),
    st.tuples(st.integers(0, 99), st.integers(1, 9999)).map(lambda t: Percent.parse(f"{t[0]}.{t[1]}%")),
)
sizes = st.one_of(
    st.integers(1, 10**13).map(ByteSize.of_bytes),
    st.integers(1, 2048).map(lambda n: ByteSize.parse(f"{n}GiB")),
)
numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0.001, max_value=1000, allow_nan=False, allow_infinity=False)

_DURATION_SIGNALS = (Signal.LATENCY, Signal.COLD_START)
_PERCENT_SIGNALS = (Signal.AVAILABILITY, Signal.ERROR_RATE, Signal.ACCURACY_DRIFT, Signal.DATA_DRIFT,
                    Signal.GPU_UTILIZATION)  # fmt: skip


@st.composite
def alerts(draw: st.DrawFn) -> dict[str, Any]:
    signal = draw(st.sampled_from(list(Signal)))
    alert: dict[str, Any] = {
        "signal": signal.value,
        "pages": draw(st.sampled_from(["ml", "platform", "sre"])),
    }
    if signal is Signal.GPU_OOM:
        return alert
    if signal in _DURATION_SIGNALS:
        alert["threshold"] = str(draw(durations))
    elif signal in _PERCENT_SIGNALS:
        alert["threshold"] = str(draw(percents))
    else:
        alert["threshold"] = draw(positive)
    alert["comparison"] = draw(st.sampled_from([">", "<"]))
    if signal is Signal.LATENCY and draw(st.booleans()):
        alert["percentile"] = draw(st.integers(1, 100))
    if draw(st.booleans()):
        alert["window"] = str(draw(durations))
    return alert


@st.composite
def owner(draw: st.DrawFn, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"team": name}
    for key, strategy in (("pager", handle), ("chat", handle), ("runbook", runbook)):
        if draw(st.booleans()):
            out[key] = draw(strategy)
    return out


@st.composite
def contracts(draw: st.DrawFn) -> WorkloadContract:
    teams = draw(st.lists(team, min_size=3, max_size=3, unique=True))
    p99 = draw(durations)
    slos: dict[str, Any] = {"p99_latency": str(p99), "availability": str(draw(percents)),
                            "max_cold_start": str(draw(durations))}  # fmt: skip
    if draw(st.booleans()):
        slos["p50_latency"] = str(
            Duration.of_seconds(p99.seconds * draw(st.sampled_from([0.1, 0.25, 0.5, 1.0])))
        )
    if draw(st.booleans()):
        slos["error_rate"] = str(draw(percents))
    if draw(st.booleans()):
        slos["throughput_per_replica"] = draw(positive)
    low = draw(st.integers(0, 50))
    resources: dict[str, Any] = {
        "gpu": draw(st.none() | st.fixed_dictionaries({
            "count": st.integers(1, 64),
            "product": product,
            "memory": sizes.map(str),
        })),
        "replicas": {"min": low, "max": draw(st.integers(max(low, 1), 200))},
        "model_size": str(draw(sizes)),
    }  # fmt: skip
    if draw(st.booleans()):
        resources["cpu"] = draw(positive)
    if draw(st.booleans()):
        resources["memory"] = str(draw(sizes))
    alert_list = draw(st.lists(alerts(), max_size=8))
    seen: set[str] = set()
    unique_alerts = []
    for a in alert_list:
        key = a["signal"] + str(a.get("percentile"))
        if key not in seen:
            seen.add(key)
            unique_alerts.append(a)
    quality = []
    for name in draw(st.lists(metric, max_size=4, unique=True)):
        bounds = sorted(draw(st.lists(numbers, min_size=2, max_size=2)))
        kind = draw(st.sampled_from(["min", "max", "both"]))
        q: dict[str, Any] = {"metric": name}
        if kind in ("min", "both"):
            q["min"] = bounds[0]
        if kind in ("max", "both"):
            q["max"] = bounds[1]
        quality.append(q)
    data = {
        "metadata": {"name": draw(dns), "model": draw(model_name)},
        "spec": {
            "owners": {
                "ml": draw(owner(teams[0])),
                "platform": draw(owner(teams[1])),
                "sre": draw(owner(teams[2])),
            },
            "slos": slos,
            "resources": resources,
            "alerts": unique_alerts,
            "rollback": {
                "automated": [
                    {"signal": s.value} for s in draw(st.lists(st.sampled_from(list(Signal)), max_size=3))
                ],
                "manual": [
                    {"problem": p, "decides": draw(st.sampled_from(["ml", "platform", "sre"]))}
                    for p in draw(
                        st.lists(
                            st.sampled_from(["quality", "availability", "latency", "cost", "security"]),
                            max_size=5,
                            unique=True,
                        )
                    )
                ],
            },
            "quality": quality,
            "promotion": {
                "approval": draw(st.sampled_from(["automatic", "manual"])),
                "verdict_ttl": str(draw(durations)),
            },
        },
    }
    return WorkloadContract.model_validate(data)


# -------------------------------------------------------------------------------------------- round trip


@_SETTINGS
@given(contracts())
def test_any_valid_contract_round_trips_yaml_markdown_yaml(contract: WorkloadContract) -> None:
    from_yaml = loader.parse_contract_text(loader.dump_contract_yaml(contract), "c.yaml", "yaml")
    assert from_yaml == contract
    md = markdown.render_markdown(from_yaml)
    from_md = markdown.parse_markdown(md, "c.md")
    assert from_md == contract
    assert from_md.digest() == contract.digest()
    assert loader.dump_contract_yaml(from_md) == loader.dump_contract_yaml(contract)
    assert markdown.render_markdown(from_md) == md


# ------------------------------------------------------------------------------------------- mutations

_SEEDS = {p.name: p.read_bytes() for p in sorted(EXAMPLES.glob("*")) if p.suffix in (".yaml", ".md")}
_JUNK = [b"\t", b"\x00", b"\xff", b"&a ", b"*a", b"!!python/object:os.system ", b"- ", b": ", b"{", b"]",
         b"#", b"\n", b"  ", b"---\n", b"\xe2\x80\x94", b"\xe2\x86\x92", b"%", b"ms", b"GB", b"-1", b"1e309",
         b".nan", b"### ", b"## Workload: ", b"pages ", b"<!--", b"\"", b"'", b"x" * 300]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(_SEEDS)))
    data = _SEEDS[name]
    for _ in range(draw(st.integers(1, 4))):
        lines = data.split(b"\n")
        op = draw(
            st.sampled_from(["byte", "insert", "delete-line", "dup-line", "swap-lines", "truncate", "indent"])
        )
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        j = draw(st.integers(0, max(len(lines) - 1, 0)))
        k = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "byte":
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
        elif op == "insert":
            data = data[:i] + draw(st.sampled_from(_JUNK) | st.binary(max_size=8)) + data[i:]
        elif op == "delete-line":
            data = b"\n".join(lines[:j] + lines[j + 1 :])
        elif op == "dup-line":
            data = b"\n".join([*lines[: j + 1], lines[j], *lines[j + 1 :]])
        elif op == "swap-lines":
            lines[j], lines[k] = lines[k], lines[j]
            data = b"\n".join(lines)
        elif op == "truncate":
            data = data[:i]
        else:
            lines[j] = b"  " + lines[j]
            data = b"\n".join(lines)
    return name, data


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_documents_give_a_model_or_a_clean_document_error(case: tuple[str, bytes]) -> None:
    name, data = case
    spelling = loader.spelling_of(name)
    try:
        doc = loader.parse_document_bytes(data, name, spelling)
    except DocumentError as exc:
        assert exc.problems, "a DocumentError names at least one problem"
        assert str(exc).startswith(name)
        assert all(p.message for p in exc.problems)
        return
    # Whatever parsed is a real, digestible document that renders and reads back the same.
    assert doc.digest().startswith("sha256:")
    if isinstance(doc, WorkloadContract):
        assert markdown.parse_markdown(markdown.render_markdown(doc), "x.md") == doc
        assert loader.parse_contract_text(loader.dump_contract_yaml(doc), "x.yaml") == doc
