"""bench/otlp.py in its tiny mode, so the benchmark cannot rot unseen: both phases run against a
real ``mcos serve`` and the table is printed. Figures are checked to be there, never how fast."""

from __future__ import annotations

from pathlib import Path

from tests.bench.tiny import run_tiny


def test_the_otlp_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    printed, found = run_tiny("otlp.py", tmp_path)
    assert "/v1/traces (spans)" in printed and "/api/v1/batch (events)" in printed
    for phase in ("batch", "otlp"):
        assert found[phase]["requests"] > 0 and found[phase]["errors"] == 0, found[phase]
        assert found[phase]["items_per_s"] > 0
    assert "otlp_over_batch" in found
