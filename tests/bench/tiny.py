"""Running a benchmark in its tiny mode, as the tests of ``tests/bench`` do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_tiny(script: str, tmp_path: Path, timeout: float = 120) -> tuple[str, dict[str, Any]]:
    """``bench/SCRIPT --tiny``: what it printed and the figures it wrote; a failure shows the
    end of its output."""
    figures = tmp_path / f"{Path(script).stem}.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=BENCH,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    found: dict[str, Any] = json.loads(figures.read_text())
    return done.stdout, found
