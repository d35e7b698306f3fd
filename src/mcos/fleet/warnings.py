"""What a valid fleet file still does that an operator should know: warnings, not problems.

A problem stops ``mcos`` (see :mod:`mcos.fleet.loader`); a warning is a choice the fleet file
made on purpose and that weakens a guarantee, such as running an agent's commands on a machine
without a sandbox. ``mcos fleet check`` lists them and exits 0; the control plane can show them
on each affected agent.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcos.fleet.schema import Fleet


@dataclass(frozen=True)
class FleetWarning:
    agent: str
    """The agent it concerns."""
    message: str
    """What is weaker than it could be, why, and how to fix it."""


def fleet_warnings(fleet: Fleet) -> list[FleetWarning]:
    """Every warning for ``fleet``, in the order of its agents."""
    unconfined = {m.name for m in fleet.machines if m.sandbox == "none"}
    warnings = []
    for agent in fleet.agents:
        if "exec" in agent.capabilities and agent.machine in unconfined:
            warnings.append(
                FleetWarning(
                    agent.name,
                    f"{agent.label} has exec on machine {agent.machine!r}, which has no sandbox "
                    '(sandbox = "none"): its commands run unconfined, able to read and write '
                    "whatever the runner can, other agents' workspaces and the network included; "
                    "install bubblewrap there and drop the opt-out, or move the agent to a "
                    "sandboxed machine",
                )
            )
    return warnings
