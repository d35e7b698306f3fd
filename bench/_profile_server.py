"""``mcos serve`` under cProfile, for ``bench/ingest.py --profile DIR``.

Builds the app exactly as ``mcos serve`` does and runs it under uvicorn with the same settings,
with one cProfile profiler per thread: the event loop (main thread) and the writer thread are
where the time goes, and cProfile only sees the thread that enabled it. On SIGINT uvicorn shuts
down, the writer thread commits and stops, and the profiles are written as ``loop.pstats``,
``writer.pstats`` and ``workers.pstats`` (the worker threads that run reads). cProfile slows
the server down (about 2x on call-heavy code), so read these profiles for proportions, not speed.

Run: ``python bench/_profile_server.py FLEET_DIR PORT OUT_DIR``.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
from pathlib import Path

import uvicorn

from mcos.api.app import create_app
from mcos.fleet.loader import FLEET_FILENAME
from mcos.settings import Settings

profiles: list[tuple[str, cProfile.Profile]] = []
_thread_run = threading.Thread.run


def _profiled_run(self: threading.Thread) -> None:
    profile = cProfile.Profile()
    profiles.append((self.name, profile))
    profile.enable()
    try:
        _thread_run(self)
    finally:
        profile.disable()


def main() -> None:
    fleet_dir, port, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    threading.Thread.run = _profiled_run  # type: ignore[method-assign]
    settings = Settings(fleet=fleet_dir / FLEET_FILENAME)
    app = create_app(settings)
    loop_profile = cProfile.Profile()
    loop_profile.enable()
    try:
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            log_level=settings.log_level,
            access_log=settings.access_log,
            timeout_graceful_shutdown=5,
        )
    finally:
        loop_profile.disable()
        loop_profile.dump_stats(out / "loop.pstats")
        writers = [p for name, p in profiles if name == "mcos-writer"]
        workers = [p for name, p in profiles if name != "mcos-writer"]
        for name, group in (("writer", writers), ("workers", workers)):
            if group:
                stats = pstats.Stats(group[0])
                for more in group[1:]:
                    stats.add(more)
                stats.dump_stats(out / f"{name}.pstats")


if __name__ == "__main__":
    main()
