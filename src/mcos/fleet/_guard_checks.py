"""Checks of the guard, the sandbox and the deploy targets that span sections of a fleet file.

Each problem is ``(key, message, fix)``; :func:`mcos.fleet.loader.cross_check` adds the line.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from mcos.domain.hosts import BadHost, canonical_host, parse_host_port
from mcos.fleet.guard import Guard
from mcos.fleet.sandbox import protected_binds

if TYPE_CHECKING:
    from mcos.fleet.schema import Fleet

Problem = tuple[str, str, str]


def guard_problems(fleet: Fleet) -> list[Problem]:
    problems = _control_plane_exceptions(fleet, "guard", fleet.guard)
    for i, agent in enumerate(fleet.agents):
        key = f"agents[{i}]"
        problems += _control_plane_exceptions(fleet, f"{key}.guard", agent.guard)
        guard = fleet.guard_for(agent)
        for j, path, pattern in protected_binds(agent.sandbox, guard):
            problems.append(
                (
                    f"{key}.sandbox.read_write[{j}]",
                    f"agent {agent.name!r} would get {path} writable, which its guard protects "
                    f"(protected_paths has {pattern!r})",
                    "remove it, or list it in read_only: a protected path is never writable",
                )
            )
    return problems + _deploy_target_problems(fleet)


def _control_plane_exceptions(fleet: Fleet, key: str, guard: Guard) -> list[Problem]:
    """An exception naming the control plane's host would be a hole: it is never opened."""
    try:
        control_plane = canonical_host(fleet.control_plane.host)
    except BadHost:
        return []
    problems = []
    for j, entry in enumerate(guard.allowed_hosts):
        host, _ = parse_host_port(entry)  # the schema checked it parses
        if host == control_plane:
            problems.append(
                (
                    f"{key}.allowed_hosts[{j}]",
                    f"{entry!r} names the control plane's host ({fleet.control_plane.url}), "
                    "which no agent may reach, whatever the port",
                    "remove it; run the service the agent needs on another host, or give the "
                    "control plane an address of its own",
                )
            )
    return problems


def _deploy_target_problems(fleet: Fleet) -> list[Problem]:
    problems = []
    machines = {m.name for m in fleet.machines}
    counts = Counter(t.name for t in fleet.deploy_targets)
    seen: set[str] = set()
    for i, target in enumerate(fleet.deploy_targets):
        key = f"deploy_targets[{i}]"
        if target.name in seen:
            problems.append(
                (
                    f"{key}.name",
                    f"deploy target name {target.name!r} is used {counts[target.name]} times",
                    "give each deploy target its own name",
                )
            )
        seen.add(target.name)
        if target.machine not in machines:
            problems.append(
                (
                    f"{key}.machine",
                    f"deploy target {target.name!r} names unknown machine {target.machine!r}",
                    f"use one of {', '.join(sorted(machines))}, or add a [[machines]] entry",
                )
            )
    return problems
