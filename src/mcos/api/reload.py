"""Reloading ``fleet.toml`` into a running control plane (``kill -HUP`` on ``mcos serve``).

The file goes through the same loader and checks as at start; a file with a problem is
refused (logged with every problem) and the running fleet is kept. What the control plane
cannot change while it runs (its URL, its database) is refused the same way. Otherwise the
agents table is synchronised (one event per changed agent), notify channels registered, the
token cache dropped (a removed machine's runner token stops working), and the new fleet takes
over for every request after it; runners see the new version at their next poll of
``GET /api/v1/fleet``.
"""

from __future__ import annotations

import asyncio
import logging

from mcos.errors import McosError
from mcos.fleet.loader import load_fleet
from mcos.services import agents as agent_service
from mcos.services import notify as notify_service
from mcos.services import operators as operator_service
from mcos.services.store import Store
from mcos.services.tokens import TokenCache
from mcos.settings import Settings

log = logging.getLogger("mcos.reload")


async def reload_fleet(store: Store, settings: Settings, cache: TokenCache) -> bool:
    """Load the fleet file again and switch to it; whether the running fleet changed."""
    try:
        fleet = await asyncio.to_thread(load_fleet, settings.fleet)
    except McosError as exc:
        log.error("fleet file not reloaded; the running fleet is kept:\n%s", exc.message)
        return False
    if fleet == store.fleet:
        log.info("fleet file reloaded: unchanged")
        return False
    if fleet.control_plane != store.fleet.control_plane:
        log.error(
            "fleet file not reloaded: [control_plane] changed (url or database_url), which "
            "needs `mcos serve` restarted; the running fleet is kept"
        )
        return False
    changed = await store.write(agent_service.sync_fleet, fleet)
    await store.write(notify_service.register_channels, fleet)
    store.fleet = fleet
    cache.clear()
    log.warning("fleet file reloaded: %s", changed)
    for problem in await store.read(operator_service.escalation_problems, fleet):
        log.warning("%s", problem)
    return True
