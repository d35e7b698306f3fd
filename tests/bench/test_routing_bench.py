"""bench/routing.py in its tiny mode, so the benchmark cannot rot unseen: every request answers
as expected both ways (the benchmark checks it) and the table is printed. Figures are checked to
be there, never how fast."""

from __future__ import annotations

from pathlib import Path

from tests.bench.tiny import run_tiny


def test_the_routing_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    printed, found = run_tiny("routing.py", tmp_path)
    assert "GET /api/v1/health" in printed, printed
    assert len(found["rows"]) == 5
    for row in found["rows"]:
        assert row["index_us"] > 0 and row["fastapi_us"] > 0, row
