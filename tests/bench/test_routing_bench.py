"""bench/routing.py in its tiny mode, so the benchmark cannot rot unseen: every request answers
as expected both ways (the benchmark checks it) and the table is printed. Figures are checked to
be there, never how fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "routing.py"


def test_the_routing_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    figures = tmp_path / "routing.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "GET /api/v1/health" in done.stdout, done.stdout
    rows = json.loads(figures.read_text())["rows"]
    assert len(rows) == 5
    for row in rows:
        assert row["index_us"] > 0 and row["fastapi_us"] > 0, row
