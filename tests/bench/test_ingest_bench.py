"""bench/ingest.py in its tiny mode, so the benchmark cannot rot unseen: every phase (the
driver's baseline, heartbeats closed and at a fixed rate, with client ids, batches, the live
stream) runs against a real ``mcos serve`` on SQLite and the bare app, and the table is printed.
Figures are checked to be there and free of errors, never how fast they are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest.py"
PHASES = [
    "bare_post_closed",
    "heartbeat_closed",
    "bare_post_open",
    "heartbeat_open",
    "heartbeat_ids",
    "db_baseline",
    "batch",
    "sse_bare_5",
    "sse_mcos_5",
]


def test_the_ingest_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    figures = tmp_path / "ingest.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "srv us/item" in done.stdout and "memory after the runs" in done.stdout
    found = json.loads(figures.read_text())
    assert found["results"]["backend"] == "sqlite"
    table = {row["phase"]: row for row in found["table"]}
    assert list(table) == PHASES, "every phase has its row"
    for name in PHASES:
        assert name in done.stdout, f"{name} is printed"
        if name != "db_baseline":
            assert table[name]["errors"] == 0, (name, found["results"][name])
    assert not any(row["met"] is False for row in found["table"]), "a tiny run is not judged"
    results = found["results"]
    for name in ("bare_post_closed", "heartbeat_closed", "heartbeat_open", "heartbeat_ids"):
        assert results[name]["completed_total"] > 0, name
    assert results["batch"]["events_per_s"] > 0 and results["db_baseline"]["rows_per_s"] > 0
    for name in ("sse_bare_5", "sse_mcos_5"):
        sse = results[name]
        assert sse["connected"] == sse["subscribers"] == 5, name
        assert sse["delivered"] == 5 * sse["expected_per_subscriber"] > 0, name
    assert results["event_log_last_seq"] > 0
