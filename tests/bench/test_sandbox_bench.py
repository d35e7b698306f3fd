"""bench/sandbox.py in its tiny mode, so the benchmark cannot rot unseen: it runs every case with
every contender (each run's output checked by the benchmark itself) and writes its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sandbox.py"


def test_the_sandbox_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    figures = tmp_path / "sandbox.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = json.loads(figures.read_text())["rows"]
    measured = {(row["case"], row["contender"]) for row in rows if row["runs"] == 5}
    assert measured == {
        ("true", "direct"),
        ("true", "sandbox"),
        ("true", "sandbox, rlimits only"),
        ("true", "sandbox, networked"),
        ("echo hi", "direct"),
        ("echo hi", "sandbox"),
        ("grep 1 MiB", "direct"),
        ("grep 1 MiB", "sandbox"),
        ("python3 -c pass", "direct"),
        ("python3 -c pass", "sandbox"),
        ("curl (proxy)", "direct"),
        ("curl (proxy)", "sandbox, networked"),
    }
    assert all(row["p50_ms"] > 0 and row["x_direct"] > 0 for row in rows)
    assert "x_direct" in done.stdout, "the table is printed"
