"""How the dashboard's tests, benchmark and screenshots start Debian's Chromium, headless.

Plain data, so importing it needs no browser library. Pass both to Playwright's
``chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)``; never let a test tool
download a browser of its own.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
"""Debian's package ``chromium`` (``scripts/ensure-chromium`` installs it)."""
CHROMIUM_ARGS = (
    "--no-sandbox",  # tests run as root in a container
    "--disable-gpu",
    # Nothing of Chromium's own may reach for the network: on a closed machine its background
    # connections are refused, many at a time, at every start.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
