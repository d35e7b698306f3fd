"""bench/otlp.py in its tiny mode, so the benchmark cannot rot unseen: both phases run against a
real ``mcos serve`` and the table is printed. Figures are checked to be there, never how fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "otlp.py"


def test_the_otlp_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    figures = tmp_path / "otlp.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "/v1/traces (spans)" in done.stdout and "/api/v1/batch (events)" in done.stdout
    found = json.loads(figures.read_text())
    for phase in ("batch", "otlp"):
        assert found[phase]["requests"] > 0 and found[phase]["errors"] == 0, found[phase]
        assert found[phase]["items_per_s"] > 0
    assert "otlp_over_batch" in found
