"""bench/scale.py in its tiny mode, so the benchmark cannot rot unseen: replicas on a PostgreSQL
database of its own, every kind of request, the fan-out between replicas, and the tables printed.
Figures are checked to be there and free of errors, never how fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scale.py"


def test_the_scale_benchmark_runs_in_its_tiny_mode(tmp_path: Path, postgres_database: str) -> None:
    # postgres_database: skipped without PostgreSQL (failed on CI); the run makes its own.
    figures = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for heading in ("offered/s", "RSS MiB", "sent via", "per 1,000 agents"):
        assert heading in done.stdout, f"the table with {heading!r} is printed"
    found = json.loads(figures.read_text())
    results = found["results"]
    for kind in ("heartbeat", "usage", "event", "probe"):
        figures_of = results["load"]["kinds"][kind]
        assert figures_of["requests"] > 0 and figures_of["errors"] == 0, (kind, figures_of)
    assert len(results["used"]["replica_cpu_pct"]) == results["replicas"] == 2
    origins = {"r0", "r1"}
    for reader in results["fanout"]:
        assert reader["errors"] == 0 and reader["missing"] == 0, reader
        assert set(reader["by_origin"]) == origins, "each replica streams both replicas' events"
    assert results["between_replicas"]["pairs"] > 0, "probes paired across replicas"
    assert found["summary"]["fanout_between_replicas_p50_ms"] is not None
