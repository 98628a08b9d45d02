"""``python -m bench.run_all GROUP...`` re-runs some groups and keeps every other group's figures."""

from __future__ import annotations

from bench import run_all


def _rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and line.count(" | ") == 5]


def test_a_partial_run_replaces_its_groups_rows_and_keeps_the_others() -> None:
    full = run_all.compose(
        "",
        {
            "digest": (
                [{"benchmark": "digest_folder vs raw", "figure": 3.7, "ratio": 1.01}],
                "| digest | d |",
            ),
            "cli": ([{"benchmark": "signoff render", "figure": 128.0, "ratio": 17.6}], "| cli | c1 |"),
        },
    )
    again = run_all.compose(
        full, {"cli": ([{"benchmark": "signoff render", "figure": 110.0, "ratio": 15.0}], "| cli | c2 |")}
    )
    rows = _rows(again)
    assert [r.split(" | ")[0] for r in rows[1:]] == ["| cli", "| digest"]  # the groups in run order
    assert "| cli | signoff render | 110 |  | 15 |  |" in rows
    assert not any("128" in r for r in rows)  # the old cli figure is gone
    assert "| digest | digest_folder vs raw | 3.7 |  | 1.01 |  |" in rows  # kept verbatim
    assert "| digest | d |" in again.splitlines() and "| cli | c2 |" in again.splitlines()
    assert "| cli | c1 |" not in again.splitlines()
    assert run_all.compose(again, {}) == again  # reading back loses nothing


def test_a_pipe_in_a_benchmark_name_keeps_the_table_readable() -> None:
    text = run_all.compose(
        "", {"gates": ([{"benchmark": "export openslo|backstage", "figure": 1.0}], "| gates | g |")}
    )
    again = run_all.compose(text, {"cli": ([{"benchmark": "x", "figure": 2.0}], "| cli | c |")})
    assert "| gates | export openslo\\|backstage | 1 |  |  |  |" in again.splitlines()


def test_rows_of_the_earlier_single_run_layout_are_kept() -> None:
    old = "\n".join(
        [
            "# Benchmark results",
            "",
            "Load average (1, 5, 15 min) before the run: 0.50, 0.24, 0.09; after it: 0.69, 0.42, 0.19.",
            "",
            run_all.ROWS_HEAD,
            "|---|---|---|---|---|---|",
            "| registry | one promotion | 472 | 64.1 | 7.36 | ms |",
            "| cli | signoff render | 128 | 7.25 | 17.6 | ms |",
        ]
    )
    text = run_all.compose(
        old, {"cli": ([{"benchmark": "signoff render", "figure": 110.0}], "| cli | now |")}
    )
    assert "| registry | one promotion | 472 | 64.1 | 7.36 | ms |" in text.splitlines()
    assert "| cli | signoff render | 128 | 7.25 | 17.6 | ms |" not in text.splitlines()
