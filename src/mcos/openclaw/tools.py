"""OpenClaw's tool vocabulary, and how it maps onto Mission Control capabilities.

Written from OpenClaw's published configuration reference ("Configuration — tool policy"):
tool ids, ``group:*`` shorthands and ``tools.profile`` base allowlists. Each tool maps to the
one capability that governs the same kind of action in Mission Control (``read``, ``write``,
``exec``, ``network``, ``plan``), or to ``None``: a tool OpenClaw knows that Mission Control has
no capability for (a canvas, a chat channel, a phone node). Pure data and small functions.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

TOOL_CAPABILITY: dict[str, str | None] = {
    # group:fs
    "read": "read",
    "write": "write",
    "edit": "write",
    "apply_patch": "write",
    # group:runtime (``bash`` is OpenClaw's alias for ``exec``)
    "exec": "exec",
    "bash": "exec",
    "process": "exec",
    "code_execution": "exec",
    # group:web, and the browser (it fetches pages)
    "web_search": "network",
    "web_fetch": "network",
    "x_search": "network",
    "browser": "network",
    # group:memory: reading the agent's own notes
    "memory_search": "read",
    "memory_get": "read",
    # group:sessions: handing work to other agents is planning in Mission Control's words
    "sessions_spawn": "plan",
    "sessions_send": "plan",
    "subagents": "plan",
    "sessions": None,
    "sessions_list": None,
    "sessions_history": None,
    "sessions_search": None,
    "sessions_yield": None,
    "session_status": None,
    "conversations_list": None,
    "conversations_send": None,
    "conversations_turn": None,
    "suggest_task": None,
    "dismiss_task": None,
    # Everything else OpenClaw names: no Mission Control capability says the same thing.
    "message": None,
    "screen": None,
    "theme": None,
    "dashboard": None,
    "terminal": None,
    "portal": None,
    "canvas": None,
    "show_widget": None,
    "heartbeat_respond": None,
    "automations": None,
    "cron": None,
    "gateway": None,
    "plugins": None,
    "openclaw": None,
    "nodes": None,
    "computer": None,
    "agents_list": None,
    "get_goal": None,
    "create_goal": None,
    "update_goal": None,
    "progress_card": None,
    "ask_user": None,
    "skill_workshop": None,
    "view_image": None,
    "image": None,
    "image_generate": None,
    "music_generate": None,
    "video_generate": None,
    "transcripts": None,
    "tts": None,
    "pdf": None,
}
"""Every tool id the reference names -> the capability it needs here, or ``None``."""

GROUPS: dict[str, tuple[str, ...]] = {
    "group:runtime": ("exec", "process", "code_execution"),
    "group:fs": ("read", "write", "edit", "apply_patch"),
    "group:sessions": (
        "sessions",
        "sessions_list",
        "sessions_history",
        "sessions_search",
        "conversations_list",
        "conversations_send",
        "conversations_turn",
        "sessions_send",
        "sessions_spawn",
        "sessions_yield",
        "subagents",
        "session_status",
        "suggest_task",
        "dismiss_task",
    ),
    "group:memory": ("memory_search", "memory_get"),
    "group:web": ("web_search", "x_search", "web_fetch"),
    "group:ui": (
        "browser",
        "screen",
        "theme",
        "dashboard",
        "terminal",
        "portal",
        "canvas",
        "show_widget",
    ),
    "group:automation": ("heartbeat_respond", "automations", "cron", "gateway", "plugins"),
    "group:messaging": ("message",),
    "group:nodes": ("nodes", "computer"),
    "group:agents": (
        "agents_list",
        "get_goal",
        "create_goal",
        "update_goal",
        "progress_card",
        "ask_user",
        "skill_workshop",
    ),
    "group:media": (
        "view_image",
        "image_generate",
        "music_generate",
        "video_generate",
        "transcripts",
        "tts",
        "pdf",
    ),
}
GROUPS["group:openclaw"] = tuple(
    sorted(
        {t for tools in GROUPS.values() for t in tools}
        - {"read", "write", "edit", "apply_patch", "exec", "process", "canvas"}
    )
)

CORE_TOOLS = tuple(sorted(set(TOOL_CAPABILITY) - {"bash", "image"}))
"""What an unset or ``full`` profile leaves unfiltered (aliases aside)."""

PROFILES: dict[str, tuple[str, ...]] = {
    "minimal": ("session_status", "gateway"),
    "coding": (
        *GROUPS["group:fs"],
        *GROUPS["group:runtime"],
        *GROUPS["group:web"],
        *GROUPS["group:sessions"],
        *GROUPS["group:memory"],
        "cron",
        "gateway",
        "get_goal",
        "create_goal",
        "update_goal",
        "progress_card",
        "ask_user",
        "skill_workshop",
        "view_image",
        "image_generate",
        "music_generate",
        "video_generate",
    ),
    "messaging": (
        "message",
        "sessions",
        "sessions_list",
        "sessions_history",
        "sessions_search",
        "conversations_list",
        "conversations_send",
        "conversations_turn",
        "sessions_send",
        "sessions_spawn",
        "sessions_yield",
        "subagents",
        "session_status",
        "gateway",
        "ask_user",
    ),
    "full": CORE_TOOLS,
}

MCOS_SERVER_PREFIX = "mcos-"
"""``mcp.servers`` entries ``mcos export openclaw`` writes are named ``mcos-AGENT``."""

CAPABILITY_TOOLS: dict[str, tuple[str, ...]] = {
    capability: tuple(
        sorted(t for t, c in TOOL_CAPABILITY.items() if c == capability and t not in {"bash"})
    )
    for capability in ("read", "write", "exec", "network", "plan")
}
"""What ``mcos export openclaw`` allows for each capability (and denies without it)."""

ALWAYS_ALLOWED = ("session_status",)
"""Harmless tools every exported agent keeps: its own session's status."""


def server_name(agent: str) -> str:
    """The ``mcp.servers`` key for ``agent``'s Mission Control connection."""
    return f"{MCOS_SERVER_PREFIX}{agent}"


def server_glob(agent: str) -> str:
    """The tool-policy glob for every tool of ``agent``'s Mission Control server."""
    return f"{server_name(agent)}__*"


def is_mcos_server_glob(entry: str) -> bool:
    """An allow/deny entry naming a Mission Control server's tools (written by the export)."""
    return entry.lower().startswith(MCOS_SERVER_PREFIX) and "__" in entry


@dataclass(frozen=True)
class Expansion:
    """The tools a list of allow/deny entries names, and the entries it could not place."""

    tools: frozenset[str]
    unknown: tuple[str, ...]
    """Entries naming nothing in the reference: plugin or MCP tools, misspellings."""


def expand(entries: Iterable[str]) -> Expansion:
    """Tool ids named by ``entries``: ids, ``group:*`` names and ``*`` wildcards, any case."""
    tools: set[str] = set()
    unknown: list[str] = []
    for entry in entries:
        name = entry.strip().lower()
        if name in GROUPS:
            tools.update(GROUPS[name])
        elif name == "bash":
            tools.add("exec")
        elif name in TOOL_CAPABILITY:
            tools.add(name)
        elif "*" in name:
            matched = fnmatch.filter(CORE_TOOLS, name)
            tools.update(matched)
            if not matched:
                unknown.append(entry)
        else:
            unknown.append(entry)
    return Expansion(frozenset(tools), tuple(unknown))


def capabilities_of(tools: Iterable[str]) -> tuple[str, ...]:
    """The Mission Control capabilities the tools need, in a stable order."""
    order = ("read", "plan", "write", "exec", "network")
    held = {TOOL_CAPABILITY.get(t) for t in tools}
    return tuple(c for c in order if c in held)


def policy_for(capabilities: Iterable[str]) -> tuple[list[str], list[str]]:
    """OpenClaw ``tools.allow`` and ``tools.deny`` lists giving exactly these capabilities."""
    held = set(capabilities)
    allow = [*ALWAYS_ALLOWED]
    deny: list[str] = []
    for capability, tools in CAPABILITY_TOOLS.items():
        (allow if capability in held else deny).extend(tools)
    if "exec" not in held:
        deny.append("bash")
    return allow, deny
