"""bench/pools.py in its tiny mode, so the benchmark cannot rot unseen: both contenders answer
and the table is printed. Figures are checked to be there, never how fast."""

from __future__ import annotations

from pathlib import Path

from tests.bench.tiny import run_tiny


def test_the_pools_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    printed, found = run_tiny("pools.py", tmp_path)
    assert "ours / httpx2's CPU per request" in printed, printed
    assert [row["contender"] for row in found["rows"]] == ["httpx2 transport", "mcos Transport"]
    for row in found["rows"]:
        assert row["rounds"] == 2 and row["cpu_us"] > 0 and row["p50_ms"] > 0, row
