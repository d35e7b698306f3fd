"""A runner that takes its fleet from the control plane, and the changes it can take up live.

``mcos run --url --token`` without a local ``fleet.toml`` reads ``GET /api/v1/fleet`` (the view
of its machine, see :mod:`mcos.fleet.view`), then polls it with ``If-None-Match`` every
``MCOS_FLEET_POLL_SECONDS``. A new version is compared with the running one
(:func:`fleet_change`): an agent that left the machine stops, a new one starts, one whose
settings changed (capabilities, budget, guard, sandbox, model, mailboxes, or fleet-wide
settings that reach it) is restarted, each after its current step. What a running runner
cannot take up (the services it watches, the control plane's URL, a machine gone) is named in
its log as needing a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from mcos.contract import paths
from mcos.fleet.schema import Agent, Fleet
from mcos.fleet.view import fleet_from_view
from mcos.runtime.client import ControlPlane

log = logging.getLogger("mcos.runtime")


@dataclass(frozen=True)
class FleetFollow:
    """Where the runner's fleet comes from: the control plane, read with this token."""

    token: str
    machine: str | None
    """Sent as ``machine`` (an operator's token must name one; a runner's may)."""
    every_seconds: float = 30.0


@dataclass(frozen=True)
class FleetChange:
    start: tuple[Agent, ...] = ()
    stop: tuple[str, ...] = ()
    restart: tuple[Agent, ...] = ()
    needs_restart: tuple[str, ...] = ()
    """What the running runner cannot take up, each said in a sentence."""


async def poll_fleet(
    control_plane: ControlPlane, follow: FleetFollow, version: str | None
) -> tuple[str, Fleet] | None:
    """The control plane's fleet if its version is not ``version``; ``None`` when unchanged
    (HTTP 304) or when what came cannot be used (logged)."""
    headers = {"Authorization": f"Bearer {follow.token}"}
    if version is not None:
        headers["If-None-Match"] = f'"{version}"'
    params = {"machine": follow.machine} if follow.machine else None
    # The client's one reading of answers: 304 comes back as a response, errors as ApiError or
    # Unreachable (no answer, 5xx, 429).
    response = await control_plane.send(headers, "GET", paths.FLEET, params=params)
    if response.status_code == 304:
        return None
    body = response.json()
    try:
        return str(body["version"]), fleet_from_view(body["fleet"])
    except (KeyError, TypeError, ValidationError) as exc:
        log.error("the control plane's fleet could not be read; keeping the running one: %s", exc)
        return None


def fleet_change(
    old: Fleet,
    new: Fleet,
    machines: set[str],
    running: set[str],
    only: frozenset[str] = frozenset(),
) -> FleetChange:
    """What to do on these machines to go from ``old`` to ``new``."""
    wanted = {
        a.name: a
        for a in new.agents
        if a.machine in machines and not a.external and (not only or a.name in only)
    }
    restart = []
    for name in sorted(running & set(wanted)):
        before = old.agent(name)
        if before is None or _settings(old, before) != _settings(new, wanted[name]):
            restart.append(wanted[name])
    needs = []
    for machine in sorted(machines):
        if new.machine(machine) is None:
            needs.append(f"machine {machine!r} is no longer in the fleet: stop this runner")
        elif [s for s in old.services if s.machine == machine] != [
            s for s in new.services if s.machine == machine
        ]:
            needs.append(f"the services of machine {machine!r} changed")
    if old.control_plane.url != new.control_plane.url:
        needs.append(f"the control plane's url is now {new.control_plane.url}")
    return FleetChange(
        start=tuple(a for n, a in wanted.items() if n not in running),
        stop=tuple(sorted(running - set(wanted))),
        restart=tuple(restart),
        needs_restart=tuple(needs),
    )


def _settings(fleet: Fleet, agent: Agent) -> tuple[Any, ...]:
    """Everything of the fleet an agent's loop is built from."""
    return (
        agent,
        fleet.guard_for(agent),
        fleet.sandbox_for(agent),
        fleet.liveness_for(agent),
        tuple(fleet.mail.owned_by(agent.name)),
        fleet.mail.rules,
        fleet.escalation,
        fleet.fleet,
        fleet.prices,
        fleet.deploy_targets,
        fleet.machine(agent.machine),
        fleet.control_plane,
    )
