"""Screenshots of `mcos demo` once its day is played, for the README: docs/screenshots/demo-*.png.

Run from the repository root with the project's virtualenv:

    .venv/bin/python scripts/demo_screenshots.py [--out docs/screenshots]

It runs ``mcos demo`` on a temporary folder at 2,000 times real speed, waits for the day's last
scene, then Debian's Chromium (``/usr/bin/chromium``, never a downloaded browser) opens the
fleet, the inbox and the briefing at 1440x900 and saves them. Nothing is staged: what shows is
what the demo's day left, simulated strip and all.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from mcos.testing.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_the_day(url: str, folder: Path, demo: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise SystemExit(f"mcos demo exited early; see {folder / 'serve.log'}")
        token_file = folder / ".mcos" / "operator.token"
        if token_file.exists():
            token = token_file.read_text().strip()
            try:
                scenes = httpx.get(
                    url + "/api/v1/events",
                    params={"types": "demo.scene", "limit": 1000},
                    headers={"Authorization": f"Bearer {token}"},
                ).json()["events"]
            except httpx.TransportError:
                scenes = []
            if any(s["data"]["title"] == "The day ends" for s in scenes):
                return token
        time.sleep(0.5)
    raise SystemExit("the demo's day did not end within 5 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "demo"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCOS_")}
        env["XDG_CONFIG_HOME"] = str(Path(scratch) / "config")
        demo = subprocess.Popen(
            [sys.executable, "-m", "mcos", "demo", str(folder), "--port", str(port), "--speed=2e3"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            token = wait_for_the_day(url, folder, demo)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(url + "/")
                page.fill("#token", token)
                page.click("button[type=submit]")
                page.wait_for_selector("body[data-ready]")
                for view in ("fleet", "inbox", "brief"):
                    page.goto(f"{url}/#/{view}")
                    page.wait_for_selector("body[data-ready]")
                    page.wait_for_timeout(800)  # the live stream settles the last cards
                    page.screenshot(path=args.out / f"demo-{view}.png")
                    print(f"wrote {args.out / f'demo-{view}.png'}")
                browser.close()
        finally:
            demo.send_signal(signal.SIGINT)
            demo.wait(60)


if __name__ == "__main__":
    main()
