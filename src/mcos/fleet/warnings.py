"""What a valid fleet file still does that an operator should know: warnings, not problems.

A problem stops ``mcos`` (see :mod:`mcos.fleet.loader`); a warning is a choice the fleet file
made on purpose and that weakens a guarantee, such as running an agent's commands on a machine
without a sandbox. ``mcos fleet check`` lists them and exits 0; the control plane can show them
on each affected agent. A notify channel whose secret variable is not set where the check
runs is warned about too (:func:`notify_warnings`): the file may be right and the machine not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mcos.fleet._notify_checks import missing_secrets
from mcos.fleet.schema import Agent, Fleet


@dataclass(frozen=True)
class FleetWarning:
    agent: str
    """The agent it concerns, or ``notify:NAME`` for a notify channel."""
    message: str
    """What is weaker than it could be, why, and how to fix it."""


def fleet_warnings(fleet: Fleet) -> list[FleetWarning]:
    """Every warning for ``fleet``, in the order of its agents."""
    return [
        FleetWarning(agent.name, message)
        for agent in fleet.agents
        for message in agent_warnings(fleet, agent)
    ]


def notify_warnings(fleet: Fleet, environ: Mapping[str, str]) -> list[FleetWarning]:
    """A channel whose secret variable is not set in ``environ`` can send nothing."""
    return [
        FleetWarning(f"notify:{channel}", message)
        for channel, message in missing_secrets(fleet, environ)
    ]


def mail_warnings(fleet: Fleet, environ: Mapping[str, str]) -> list[FleetWarning]:
    """A mailbox whose secret variable is not set here cannot be read by a runner here."""
    found = []
    for account in fleet.mail.accounts:
        variable = account.password_env if account.kind == "imap" else account.client_secret_env
        if environ.get(variable):
            continue
        owner = fleet.agent(account.owner)
        where = f"machine {owner.machine!r}" if owner is not None else "the owner's machine"
        what = "password" if account.kind == "imap" else "app registration's client secret"
        found.append(
            FleetWarning(
                f"mail:{account.name}",
                f"{variable} is not set in this environment, so the mailbox cannot be read "
                f"here; on {where}, where {account.owner} runs, export it (the {what} of "
                f"{account.address}) before `mcos run`",
            )
        )
    return found


def agent_warnings(fleet: Fleet, agent: Agent) -> list[str]:
    """The warnings that concern one agent (shown on its card)."""
    machine = fleet.machine(agent.machine)
    if "exec" in agent.capabilities and machine is not None and machine.sandbox == "none":
        return [
            f"{agent.label} has exec on machine {agent.machine!r}, which has no sandbox "
            '(sandbox = "none"): its commands run unconfined, able to read and write '
            "whatever the runner can, other agents' workspaces and the network included; "
            "install bubblewrap there and drop the opt-out, or move the agent to a "
            "sandboxed machine"
        ]
    return []
