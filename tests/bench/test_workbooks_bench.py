"""bench/workbooks.py in its tiny mode, so the benchmark cannot rot unseen: a 300-row ledger
through each phase in its own process. Figures are checked to be there, never how fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "workbooks.py"


def test_the_workbooks_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    figures = tmp_path / "workbooks.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--tracemalloc", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (size,) = json.loads(figures.read_text())["sizes"]
    assert size["transactions"] == 300
    for phase in ("raw", "xlsx", "csv"):
        measured = size[phase]
        assert measured["rows"] == 300, f"{phase}: every ledger row read"
        assert measured["seconds"] > 0 and measured["peak_rss_mib"] > 0
        assert measured["tracemalloc_peak_mib"] > 0
    assert size["xlsx"]["findings"] == size["csv"]["findings"] == 11, "same findings either way"
    assert "rows/s" in done.stdout and "peak RSS" in done.stdout
