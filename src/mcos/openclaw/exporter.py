"""``mcos export openclaw``: from the fleet file, what each OpenClaw agent's config needs.

For each agent it writes the tool policy its capabilities allow (``tools.allow`` and an explicit
``tools.deny`` of every tool whose capability it lacks, since deny wins over any profile OpenClaw
adds) and an ``mcp.servers`` entry pointing it at Mission Control: ``/mcp`` with a bearer token
(streamable HTTP), or ``mcos mcp --agent NAME`` (stdio). The token is never written: the entry
reads it from an environment variable (OpenClaw substitutes ``${VAR}`` in its config), and each
agent's tools allow its own server only and deny the others'.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from mcos.fleet.schema import Agent, Fleet
from mcos.openclaw.tools import policy_for, server_glob, server_name

Transport = Literal["http", "stdio"]
Shape = Literal["entries", "list"]


def token_variable(agent: str) -> str:
    """The environment variable the OpenClaw gateway holds ``agent``'s Mission Control token in."""
    return "MCOS_TOKEN_" + re.sub(r"[^A-Z0-9]", "_", agent.upper())


def openclaw_agents(fleet: Fleet, names: tuple[str, ...] = ()) -> list[Agent]:
    """The agents to export: those named, else every external agent of the fleet."""
    if names:
        found = [fleet.agent(n) for n in names]
        missing = [n for n, a in zip(names, found, strict=True) if a is None]
        if missing:
            raise LookupError(f"no agent named {missing[0]!r} in the fleet")
        return [a for a in found if a is not None]
    return [a for a in fleet.agents if a.external]


def mcp_server(agent: Agent, url: str, transport: Transport) -> dict[str, Any]:
    """The ``mcp.servers`` entry that connects ``agent`` to Mission Control as itself."""
    variable = "${" + token_variable(agent.name) + "}"
    if transport == "stdio":
        return {
            "command": "mcos",
            "args": ["mcp", "--agent", agent.name, "--url", url],
            "env": {"MCOS_TOKEN": variable},
        }
    return {
        "url": f"{url.rstrip('/')}/mcp",
        "transport": "streamable-http",
        "headers": {"Authorization": f"Bearer {variable}"},
    }


def export_openclaw(
    agents: list[Agent],
    *,
    url: str,
    transport: Transport = "http",
    shape: Shape = "entries",
) -> dict[str, Any]:
    """The part of ``openclaw.json`` Mission Control governs, for ``agents``."""
    names = [a.name for a in agents]
    roster: dict[str, dict[str, Any]] = {}
    for agent in agents:
        allow, deny = policy_for(agent.capabilities)
        allow.append(server_glob(agent.name))
        deny += [server_glob(other) for other in names if other != agent.name]
        roster[agent.name] = {
            "name": agent.label,
            "model": f"{agent.provider}/{agent.model}",
            "contextTokens": agent.context_window,
            "tools": {"allow": allow, "deny": deny},
        }
    agents_block: dict[str, Any]
    if shape == "entries":
        agents_block = {"entries": roster}
        if len(roster) > 1:
            agents_block = {"ownership": "explicit", **agents_block}
    else:
        agents_block = {"list": [{"id": name, **entry} for name, entry in roster.items()]}
    return {
        "agents": agents_block,
        "mcp": {"servers": {server_name(a.name): mcp_server(a, url, transport) for a in agents}},
    }


def render(config: dict[str, Any], *, source: str, agents: list[Agent]) -> str:
    """JSON5 text (plain JSON with ``//`` comments) to merge into ``openclaw.json``."""
    variables = ", ".join(token_variable(a.name) for a in agents)
    header = [
        f"// Written by `mcos export openclaw` from {source}: merge into openclaw.json.",
        "// Each agent's tools are what its capabilities allow there; its Mission Control",
        "// server is its own (the others' are denied). The tokens are not here: set",
        f"// {variables} in the gateway's environment",
        "// (`mcos tokens issue --agent NAME` prints one, once).",
    ]
    return "\n".join(header) + "\n" + json.dumps(config, indent=2, ensure_ascii=False) + "\n"
