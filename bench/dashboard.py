"""Dashboard benchmark in Debian's Chromium: the first view of a big fleet, and live updates.

Self-contained: it writes a fleet of ``--agents`` agents (default 500) into a temporary folder,
starts ``mcos serve`` on SQLite, fills it through the API (a heartbeat for every agent through
``POST /api/v1/batch``, ``--tasks`` tasks spread over every column, a usage record per agent),
then drives ``/usr/bin/chromium`` with Playwright (never a downloaded browser):

* **first view**: cold loads (a new browser context each, signed in through the API) of
  ``#/fleet`` and ``#/board``; time from navigation start (``performance.now()`` = 0) until the
  page sets ``body[data-ready="1"]``, and until the frame after it (painted);
* **live update**: a heartbeat with a new context size is posted for one agent and an in-page
  MutationObserver records ``Date.now()`` when that agent's gauge shows it; latency is that
  minus ``time.time()`` taken just before the POST (same machine, same clock). Measured quiet,
  then while ``--background-rate`` other heartbeats per second flow.

    python bench/dashboard.py [--tiny] [--agents 500] [--tasks 5000] [--loads 7] [--updates 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _fleet import fleet_toml
from _servers import Server
from playwright.sync_api import Browser, Page, sync_playwright

from mcos.testing.chromium import CHROMIUM, CHROMIUM_ARGS

PYTHON = sys.executable
# Share of the tasks per column, and the moves that take a new card there.
COLUMNS: list[tuple[str, float, list[str]]] = [
    ("inbox", 0.15, []),
    ("assigned", 0.20, []),
    ("in_progress", 0.25, ["in_progress"]),
    ("review", 0.10, ["in_progress", "review"]),
    ("done", 0.25, ["in_progress", "review", "done"]),
    ("blocked", 0.05, ["blocked"]),
]

# Records, in the page, when body[data-ready] turns "1" and the frame after it.
FIRST_VIEW_PROBE = """
window.__bench = {};
new MutationObserver((_, observer) => {
  const body = document.body;
  if (!body || body.dataset.ready !== "1" || window.__bench.ready) return;
  window.__bench.ready = performance.now();
  const snapshot = performance.getEntriesByType("resource")
    .find((entry) => entry.name.includes("/api/v1/dashboard/snapshot"));
  window.__bench.snapshot = snapshot ? snapshot.responseEnd : NaN;
  window.__bench.agents = document.querySelectorAll("[data-agent]").length;
  window.__bench.tasks = document.querySelectorAll("[data-task]").length;
  requestAnimationFrame(() => { window.__bench.painted = performance.now(); });
  observer.disconnect();
}).observe(document, {attributes: true, subtree: true, attributeFilter: ["data-ready"]});
"""

# Watches one agent's gauge; records Date.now() when its text first contains the wanted text.
LIVE_PROBE = """([agent, wanted]) => {
  if (window.__observer) window.__observer.disconnect();
  window.__hit = null;
  // Watch the whole page: a re-sorted grid replaces the card element itself.
  const shows = () => {
    const gauge = document.querySelector(`[data-agent="${agent}"] [data-field="gauge"]`);
    return gauge !== null && gauge.textContent.includes(wanted);
  };
  window.__observer = new MutationObserver(() => {
    if (window.__hit === null && shows()) {
      window.__hit = Date.now();
      window.__observer.disconnect();
    }
  });
  window.__observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  return shows();
}"""


def fill(server: Server, token: str, names: list[str], tasks: int) -> dict[str, int]:
    """Heartbeats for every agent, tasks across the columns, one LLM call per agent."""
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(5)
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as batch:
        for start in range(0, len(names), 1_000):
            beats = [
                {
                    "id": f"fill-{name}",
                    "agent": name,
                    "status": rng.choice(["working", "working", "idle"]),
                    "context_tokens": rng.randrange(5_000, 190_000),
                    "note": "warming up",
                }
                for name in names[start : start + 1_000]
            ]
            batch.post("/api/v1/batch", json={"heartbeats": beats}).raise_for_status()

    plan: list[tuple[int, str, list[str]]] = []
    for status, share, moves in COLUMNS:
        plan += [(len(plan) + n, status, moves) for n in range(round(tasks * share))]
    plan = plan[:tasks]

    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=server.url, headers=headers, timeout=60)
        c: httpx.Client = local.client
        return c

    def make(item: tuple[int, str, list[str]]) -> None:
        n, status, moves = item
        body: dict[str, Any] = {"title": f"Bench task {n}", "priority": "normal"}
        if status not in ("inbox", "blocked"):
            body["assignee"] = names[n % len(names)]
        created = client().post("/api/v1/tasks", json=body)
        created.raise_for_status()
        for move in moves:
            moved = client().post(
                f"/api/v1/tasks/{created.json()['id']}/move", json={"status": move}
            )
            moved.raise_for_status()

    def spend(name: str) -> None:
        client().post(
            f"/api/v1/agents/{name}/usage",
            json={"input_tokens": 12_000, "output_tokens": 800, "latency_ms": 900},
        ).raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(make, plan))
        list(pool.map(spend, names))
    return {status: sum(1 for _, s, _ in plan if s == status) for status, _, _ in COLUMNS}


def signed_in_context(browser: Browser, server: Server, token: str) -> Any:
    context = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(60_000)
    signed = context.request.post("/api/v1/dashboard/session", data={"token": token})
    if signed.status != 200:
        raise SystemExit(f"sign-in failed: {signed.status} {signed.text()}")
    return context


def first_views(
    browser: Browser, server: Server, token: str, view: str, loads: int
) -> list[dict[str, float]]:
    results = []
    for _ in range(loads):
        context = signed_in_context(browser, server, token)
        context.add_init_script(FIRST_VIEW_PROBE)
        page = context.new_page()
        page.goto(f"/#/{view}")
        page.wait_for_function("() => window.__bench && window.__bench.painted !== undefined")
        results.append(page.evaluate("window.__bench"))
        context.close()
    return results


def gauge_text(tokens: int) -> str:
    """What the gauge shows for ``tokens`` of a 200k window: its percentage."""
    return f"{round(tokens / 200_000 * 100)}%"


def live_updates(
    page: Page, server: Server, token: str, agent: str, updates: int
) -> tuple[list[float], list[float]]:
    """Post-to-shown latencies, and the POSTs' own round trips, in ms."""
    latencies, posts = [], []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        previous = None
        for n in range(updates):
            percent = 10 + (n * 7) % 80
            if percent == previous:
                percent += 1
            previous = percent
            tokens = percent * 2_000
            if page.evaluate(LIVE_PROBE, [agent, gauge_text(tokens)]):
                raise SystemExit(f"the gauge of {agent} already shows {gauge_text(tokens)}")
            before = time.time() * 1000
            client.post(
                f"/api/v1/agents/{agent}/heartbeat",
                json={"status": "working", "context_tokens": tokens},
            ).raise_for_status()
            posts.append(time.time() * 1000 - before)
            page.wait_for_function("() => window.__hit !== null", timeout=10_000)
            latencies.append(page.evaluate("window.__hit") - before)
            time.sleep(0.05)  # pacing between samples, not waiting for anything
    return latencies, posts


class Background(threading.Thread):
    """Heartbeats for other agents at a steady rate, until stopped."""

    def __init__(self, server: Server, token: str, names: list[str], rate: float) -> None:
        super().__init__(daemon=True)
        self.server, self.token, self.names, self.rate = server, token, names, rate
        self.halt = threading.Event()
        self.sent = 0

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        rng = random.Random(7)
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=30) as client:
            start = time.monotonic()
            while not self.halt.is_set():
                name = rng.choice(self.names)
                client.post(
                    f"/api/v1/agents/{name}/heartbeat",
                    json={"status": "working", "context_tokens": rng.randrange(1_000, 190_000)},
                ).raise_for_status()
                self.sent += 1
                due = start + self.sent / self.rate
                self.halt.wait(max(0.0, due - time.monotonic()))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="A small fleet, a few loads: tests'.")
    parser.add_argument("--agents", type=int, help="Agents in the fleet (500).")
    parser.add_argument("--tasks", type=int, help="Tasks on the board (5,000).")
    parser.add_argument("--loads", type=int, help="Cold loads per view (7).")
    parser.add_argument("--updates", type=int, help="Live updates per phase (100).")
    parser.add_argument("--background-rate", type=float, help="Heartbeats/s (50).")
    parser.add_argument("--json-out", type=Path, help="Also write the figures here as JSON.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary fleet folder.")
    args = parser.parse_args()
    args.agents = args.agents or (20 if args.tiny else 500)
    args.tasks = args.tasks or (60 if args.tiny else 5_000)
    args.loads = args.loads or (1 if args.tiny else 7)
    args.updates = args.updates or (3 if args.tiny else 100)
    args.background_rate = args.background_rate or (20.0 if args.tiny else 50.0)
    return args


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCOS_")}
    env |= {
        "XDG_CONFIG_HOME": str(folder / "config"),
        "MCOS_DATABASE_URL": f"sqlite+pysqlite:///{folder / 'fleet' / 'mcos.db'}",
    }
    subprocess.run(
        [PYTHON, "-m", "mcos", "init", str(folder / "fleet")],
        env=env,
        check=True,
        capture_output=True,
    )
    (folder / "fleet" / "fleet.toml").write_text(fleet_toml(args.agents), encoding="utf-8")
    token = (folder / "fleet" / ".mcos" / "operator.token").read_text().strip()
    server = Server(
        "mcos serve",
        [PYTHON, "-m", "mcos", "serve", "--fleet", str(folder / "fleet"), "--port", "{port}"],
        env,
        folder / "mcos.log",
    )
    results: dict[str, Any] = {"agents": args.agents, "tasks": args.tasks}
    server.start("/api/v1/health")
    try:
        names = [f"agent-{i:04d}" for i in range(args.agents)]
        began = time.monotonic()
        results["columns"] = fill(server, token, names, args.tasks)
        print(f"filled in {time.monotonic() - began:.1f} s: {results['columns']}", flush=True)
        headers = {"Authorization": f"Bearer {token}"}
        began = time.monotonic()
        snapshot = httpx.get(server.url + "/api/v1/dashboard/snapshot", headers=headers, timeout=60)
        results["snapshot"] = {
            "ms": (time.monotonic() - began) * 1000,
            "bytes": len(snapshot.content),
            "tasks": len(snapshot.json()["tasks"]),
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for view in ("fleet", "board"):
                if not args.tiny:
                    first_views(browser, server, token, view, 1)  # warm the server's caches
                results[f"first_view_{view}"] = first_views(
                    browser, server, token, view, args.loads
                )
            context = signed_in_context(browser, server, token)
            page = context.new_page()
            page.goto("/#/fleet")
            page.wait_for_function("() => document.body.dataset.stream === 'live'")
            watched = names[len(names) // 2]
            results["live_quiet"], results["post_quiet"] = live_updates(
                page, server, token, watched, args.updates
            )
            others = [n for n in names if n != watched]
            background = Background(server, token, others, args.background_rate)
            background.start()
            began = time.monotonic()
            try:
                results["live_busy"], results["post_busy"] = live_updates(
                    page, server, token, watched, args.updates
                )
            finally:
                background.halt.set()
                background.join()
            results["background_per_s"] = background.sent / (time.monotonic() - began)
            context.close()
            browser.close()
    finally:
        server.stop()
    return results


def report(results: dict[str, Any]) -> None:
    snap = results["snapshot"]
    print(
        f"\n{results['agents']} agents, {results['tasks']} tasks; snapshot "
        f"{snap['bytes'] / 1e6:.2f} MB ({snap['tasks']} tasks in it), served in {snap['ms']:.0f} ms"
    )
    print(f"{'measure':<44}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}  n")
    for view in ("fleet", "board"):
        loads = results[f"first_view_{view}"]
        for key, what in (
            ("snapshot", "snapshot received"),
            ("ready", "data-ready"),
            ("painted", "data-ready + frame"),
        ):
            values = [load[key] for load in loads]
            label = f"first view #/{view}: to {what}"
            print(
                f"{label:<44}"
                f"{statistics.median(values):>7.0f}ms{pct(values, 0.9):>7.0f}ms{'':>9}"
                f"{max(values):>7.0f}ms  {len(values)}"
            )
        shown = loads[-1]
        cards = f"{shown['agents']:.0f} agent cards, {shown['tasks']:.0f} task cards"
        print(f"    (rendered {cards})")
    busy = f", {results['background_per_s']:.0f} other heartbeats/s"
    for key, label in (
        ("live_quiet", "live update, quiet"),
        ("post_quiet", "  (its POST's round trip)"),
        ("live_busy", "live update" + busy),
        ("post_busy", "  (its POST's round trip)"),
    ):
        values = results[key]
        print(
            f"{label:<44}{pct(values, 0.5):>7.0f}ms{pct(values, 0.9):>7.0f}ms"
            f"{pct(values, 0.99):>7.0f}ms{max(values):>7.0f}ms  {len(values)}"
        )


def main() -> None:
    args = parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mcos-dashboard-bench-"))
    try:
        results = run(args, folder)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    report(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
