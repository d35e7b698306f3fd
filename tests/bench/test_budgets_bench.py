"""bench/budgets.py in its tiny mode, so the benchmark cannot rot unseen: each back end is filled,
before and after are checked to give the same figures (by the benchmark itself), and the table
is printed. Figures are checked to be there, never how fast."""

from __future__ import annotations

from pathlib import Path

from tests.bench.tiny import run_tiny

OPERATIONS = {"check, one agent", "all 23 agents", "record one call"}


def test_the_budgets_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    printed, found = run_tiny("budgets.py", tmp_path)
    assert "before/after" in printed and "check, one agent" in printed, printed
    backends = {"sqlite", "postgresql"} if found["postgres"] else {"sqlite"}
    measured = {(r["backend"], r["usage_rows"], r["operation"]) for r in found["rows"]}
    assert measured == {(b, n, op) for b in backends for n in (200, 2000) for op in OPERATIONS}
    for row in found["rows"]:
        assert row["runs"] == 5 and row["before_p50_ms"] > 0 and row["after_p50_ms"] > 0, row
