"""bench/pools.py in its tiny mode, so the benchmark cannot rot unseen: both contenders answer
and the table is printed. Figures are checked to be there, never how fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "pools.py"


def test_the_pools_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    figures = tmp_path / "pools.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "ours / httpx2's CPU per request" in done.stdout, done.stdout
    found = json.loads(figures.read_text())
    assert [row["contender"] for row in found["rows"]] == ["httpx2 transport", "mcos Transport"]
    for row in found["rows"]:
        assert row["rounds"] == 2 and row["cpu_us"] > 0 and row["p50_ms"] > 0, row
