"""Checks of ``[[services]]`` that span sections: the machine, the owner, its capability.

Each problem is ``(key, message, fix)``; :func:`mcos.fleet.loader.cross_check` adds the line.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcos.fleet.schema import Fleet

Problem = tuple[str, str, str]
REMEDY_CAPABILITY = "exec"
"""What ``service.restart`` and ``service.rollback`` need of the owner (``policy/actions.py``)."""


def service_problems(fleet: Fleet) -> list[Problem]:
    problems: list[Problem] = []
    machines = [m.name for m in fleet.machines]
    twice = {name for name, n in Counter(s.name for s in fleet.services).items() if n > 1}
    for i, service in enumerate(fleet.services):
        key = f"services[{i}]"
        if service.name in twice:
            problems.append(
                (
                    f"{key}.name",
                    f"service {service.name!r} is listed twice",
                    "give each its own name",
                )
            )
        if service.machine not in machines:
            problems.append(
                (
                    f"{key}.machine",
                    f"no machine named {service.machine!r}",
                    f"use one of: {', '.join(machines)}",
                )
            )
            continue
        here = [a for a in fleet.agents if a.machine == service.machine]
        if service.owner is None:
            infra = [a.name for a in here if a.role == "infrastructure"]
            if len(infra) != 1:
                said = "no agent" if not infra else f"{len(infra)} agents ({', '.join(infra)})"
                problems.append(
                    (
                        f"{key}.owner",
                        f"service {service.name!r} names no owner, and {said} of role "
                        f"'infrastructure' run on {service.machine!r}",
                        "set owner to the agent that watches it (one on the same machine)",
                    )
                )
                continue
        owner = fleet.agent(fleet.owner_of(service) or "")
        if owner is None:
            problems.append(
                (
                    f"{key}.owner",
                    f"no agent named {service.owner!r}",
                    f"use one of {service.machine!r}'s agents: "
                    + (", ".join(a.name for a in here) or "(none yet)"),
                )
            )
            continue
        if owner.machine != service.machine:
            problems.append(
                (
                    f"{key}.owner",
                    f"agent {owner.name!r} runs on {owner.machine!r}, not on "
                    f"{service.machine!r}: the runner that probes the service reports as one of "
                    "its own machine's agents",
                    f"give an owner that runs on {service.machine!r}, or move the service",
                )
            )
        asked = [n for n, r in service.remedies.items() if r.policy != "deny"]
        if asked and REMEDY_CAPABILITY not in owner.capabilities:
            problems.append(
                (
                    f"{key}.runbook.{asked[0]}",
                    f"owner {owner.name!r} lacks {REMEDY_CAPABILITY!r}, which service.{asked[0]} "
                    "needs, so the remedy could never be carried out",
                    f'grant {owner.name!r} {REMEDY_CAPABILITY!r}, or set its policy to "deny"',
                )
            )
    return problems
