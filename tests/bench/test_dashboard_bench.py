"""bench/dashboard.py in its tiny mode, so the benchmark cannot rot unseen: a small fleet is
filled through the API, Debian's Chromium loads each view once, and a few live updates are
watched in the page, quiet and under other heartbeats. Figures are checked to be there (the
page's probes still find what they look for), never how fast they are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mcos.testing.chromium import CHROMIUM

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dashboard.py"


def test_the_dashboard_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing; run scripts/ensure-chromium"
    figures = tmp_path / "dashboard.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for printed in ("first view #/fleet", "first view #/board", "live update, quiet"):
        assert printed in done.stdout, printed
    found = json.loads(figures.read_text())
    assert (found["agents"], found["tasks"]) == (20, 60)
    assert sum(found["columns"].values()) == found["snapshot"]["tasks"] == 60
    (fleet,) = found["first_view_fleet"]
    (board,) = found["first_view_board"]
    assert fleet["agents"] == 20, "the fleet view shows every agent's card"
    assert board["tasks"] > 0, "the probe finds the board's task cards"
    for load in (fleet, board):  # NaN where the probe no longer finds what it times
        assert all(load[key] > 0 for key in ("snapshot", "ready", "painted")), load
    for key in ("live_quiet", "post_quiet", "live_busy", "post_busy"):
        assert len(found[key]) == 3, key
    assert found["background_per_s"] > 0, "other heartbeats flowed during the busy phase"
