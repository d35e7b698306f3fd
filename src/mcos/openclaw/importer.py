"""``mcos import openclaw``: an OpenClaw config becomes a fleet file of external agents.

What maps: each agent (``agents.entries`` keyed by id, or the older ``agents.list`` of objects
with an ``id``) with its name, identity, model (``"provider/model"``), context window, compaction
floor and memory-flush threshold, heartbeat, and its tool policy (``tools.profile``,
``allow``/``alsoAllow``/``deny``, global and per agent) turned into capabilities. Everything
else is reported with where it was, never guessed at; the few choices the import has to make
(a role, an escalation table OpenClaw has no notion of) are reported as assumptions. The text
written is checked by the fleet loader before anyone sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from mcos.fleet.loader import check_fleet_text
from mcos.fleet.schema import KNOWN_CAPABILITIES, Fleet
from mcos.openclaw.reader import Locator
from mcos.openclaw.tools import (
    PROFILES,
    capabilities_of,
    expand,
    is_mcos_server_glob,
    server_name,
)

DEFAULT_ROLE = "assistant"
IMPORTED_CAPABILITIES = ("read", "plan", "write", "exec", "network")
PLACEHOLDER_WINDOW = 200_000
_AGENT_KEYS_MAPPED = {
    "id",
    "name",
    "default",
    "identity",
    "model",
    "workspace",
    "tools",
    "contextTokens",
    "compaction",
    "heartbeat",
}
_DEFAULT_KEYS_MAPPED = {
    "model",
    "workspace",
    "contextTokens",
    "compaction",
    "heartbeat",
    "userTimezone",
}
_TOOL_KEYS_MAPPED = {"profile", "allow", "alsoAllow", "deny"}


@dataclass(frozen=True)
class Note:
    """One thing the import left for a person: not mapped, or mapped by an assumption."""

    kind: Literal["unmapped", "assumed"]
    where: str
    """The key in the OpenClaw config, such as ``agents.list[1].tools.deny[2]``."""
    line: int | None
    what: str
    """What the config said there (a value or a summary; never a secret's value)."""
    why: str
    """Why it was not mapped, or what was assumed, and what to do."""

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.where} = {self.what}\n    {self.why}"


@dataclass
class ImportResult:
    fleet_text: str
    fleet: Fleet
    notes: list[Note] = field(default_factory=list)

    @property
    def unmapped(self) -> list[Note]:
        return [n for n in self.notes if n.kind == "unmapped"]

    @property
    def assumed(self) -> list[Note]:
        return [n for n in self.notes if n.kind == "assumed"]


class ImportFailed(ValueError):
    """The config holds no agent that can be imported (no model anywhere, say)."""


@dataclass
class _AgentOut:
    name: str
    display_name: str
    title: str
    provider: str
    model: str
    context_window: int
    capabilities: tuple[str, ...]
    workspace: str | None
    reserve_floor: int | None = None
    soft_threshold: int | None = None
    heartbeat_seconds: int | None = None


class _Importer:
    def __init__(self, data: dict[str, Any], text: str) -> None:
        self.data = data
        self.locate = Locator(text)
        self.notes: list[Note] = []
        self.prices: dict[str, str] = {}

    def note(
        self,
        kind: Literal["unmapped", "assumed"],
        where: str,
        what: Any,
        why: str,
        *,
        line: int | None = None,
    ) -> None:
        found = Note(kind, where, line, _summary(what), why)
        if found not in self.notes:  # the global tool policy is read once per agent
            self.notes.append(found)

    def unmapped(self, where: str, what: Any, why: str, line: int | None) -> None:
        self.note("unmapped", where, what, why, line=line)

    # -- the agents --------------------------------------------------------------------

    def roster(self) -> Iterator[tuple[str, str, dict[str, Any], int | None]]:
        """(OpenClaw id, key prefix, entry, line) for each configured agent."""
        agents = self.data.get("agents") or {}
        if not isinstance(agents, dict):
            raise ImportFailed("`agents` is not an object")
        entries = agents.get("entries")
        listed = agents.get("list")
        if isinstance(entries, dict) and entries:
            for agent_id, entry in entries.items():
                if isinstance(entry, dict):
                    yield (
                        str(agent_id),
                        f"agents.entries.{agent_id}",
                        entry,
                        self.locate.agent_line(str(agent_id)),
                    )
        elif isinstance(listed, list) and listed:
            for i, entry in enumerate(listed):
                where = f"agents.list[{i}]"
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                    self.unmapped(where, entry, "an agent without a string `id`; skipped", None)
                    continue
                yield entry["id"], where, entry, self.locate.agent_line(entry["id"])
        else:
            self.note(
                "assumed",
                "agents",
                "(no agents.entries or agents.list)",
                "OpenClaw then runs one agent, `main`, on agents.defaults; imported as such",
            )
            yield "main", "agents.defaults", {}, self.locate.key_line("defaults")

    def agents(self) -> list[_AgentOut]:
        defaults = _dict((self.data.get("agents") or {}).get("defaults"))
        out: list[_AgentOut] = []
        taken: set[str] = set()
        for agent_id, where, entry, line in self.roster():
            name = self.mcos_name(agent_id, where, line, taken)
            taken.add(name)
            out.append(self.agent(name, agent_id, where, entry, defaults, line))
        self.defaults_notes(defaults)
        return out

    def mcos_name(self, agent_id: str, where: str, line: int | None, taken: set[str]) -> str:
        name = re.sub(r"[^a-z0-9-]+", "-", agent_id.lower()).strip("-")
        if not name or not name[0].isalpha():
            name = f"agent-{name}".rstrip("-")
        name = name[:32].rstrip("-")
        base, n = name, 2
        while name in taken:
            suffix = f"-{n}"
            name = base[: 32 - len(suffix)] + suffix
            n += 1
        if name != agent_id:
            self.note(
                "assumed",
                f"{where}.id",
                agent_id,
                f"Mission Control names are lowercase letters, digits and '-': imported as "
                f"{name!r} (the OpenClaw id stays {agent_id!r}; `mcos export openclaw` writes "
                "the new name)",
                line=line,
            )
        return name

    def agent(
        self,
        name: str,
        agent_id: str,
        where: str,
        entry: dict[str, Any],
        defaults: dict[str, Any],
        line: int | None,
    ) -> _AgentOut:
        identity = _dict(entry.get("identity"))
        display = entry.get("name") or identity.get("name") or ""
        title = identity.get("theme") or ""
        for key in sorted(set(identity) - {"name", "theme"}):
            self.unmapped(
                f"{where}.identity.{key}",
                identity[key],
                "Mission Control shows a name and a title only",
                self.locate.key_line(key, line),
            )
        provider, model = self.model(name, where, entry, defaults, line)
        window = self.window(name, where, entry, defaults, provider, model, line)
        workspace = entry.get("workspace")
        if not workspace and defaults.get("workspace"):
            # A roster entry without its own lives in <defaults.workspace>/<id>; a sole
            # implicit agent in the default workspace itself.
            root = str(defaults["workspace"]).rstrip("/")
            workspace = root if where == "agents.defaults" else f"{root}/{agent_id}"
        out = _AgentOut(
            name=name,
            display_name=str(display)[:100],
            title=str(title)[:200],
            provider=provider,
            model=model,
            context_window=window,
            capabilities=self.capabilities(where, entry, line),
            workspace=str(workspace) if workspace else None,
        )
        self.compaction(out, where, entry, defaults, line)
        self.heartbeat(out, where, entry, defaults, line)
        for key in sorted(set(entry) - _AGENT_KEYS_MAPPED):
            self.unmapped(
                f"{where}.{key}",
                entry[key],
                _why(key),
                self.locate.key_line(key, line),
            )
        return out

    def model(
        self,
        name: str,
        where: str,
        entry: dict[str, Any],
        defaults: dict[str, Any],
        line: int | None,
    ) -> tuple[str, str]:
        given = entry.get("model", defaults.get("model"))
        key = f"{where}.model" if "model" in entry else "agents.defaults.model"
        primary = given.get("primary") if isinstance(given, dict) else given
        if isinstance(given, dict) and given.get("fallbacks"):
            self.unmapped(
                f"{key}.fallbacks",
                given["fallbacks"],
                "an agent has one model and one credential in Mission Control (a fallback "
                "doubled the burn in the seed's fleet); OpenClaw keeps its fallbacks",
                self.locate.key_line("fallbacks", line if "model" in entry else None),
            )
        if not isinstance(primary, str) or "/" not in primary:
            raise ImportFailed(
                f'agent {name!r} has no model in the form "provider/model" ({key} is '
                f"{_summary(given)}); set agents.defaults.model.primary or its own model"
            )
        provider, model = primary.split("/", 1)
        provider = provider.strip().lower()
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", provider) or not model.strip():
            raise ImportFailed(f'agent {name!r}: {key} {primary!r} is not "provider/model"')
        return provider, model.strip()[:200]

    def window(
        self,
        name: str,
        where: str,
        entry: dict[str, Any],
        defaults: dict[str, Any],
        provider: str,
        model: str,
        line: int | None,
    ) -> int:
        given = entry.get("contextTokens", defaults.get("contextTokens"))
        if isinstance(given, int) and 1_000 <= given <= 10_000_000:
            return given
        known = _price_table_window(provider, model)
        if known is not None:
            self.note(
                "assumed",
                f"{where}.contextTokens",
                "(unset)",
                f"context_window = {known}, the price table's window for {provider}/{model}; "
                "set contextTokens (or context_window in fleet.toml) if the agent uses less",
                line=line,
            )
            return known
        self.note(
            "assumed",
            f"{where}.contextTokens",
            given if given is not None else "(unset)",
            f"neither the config nor the price table gives {provider}/{model}'s context "
            f"window: context_window = {PLACEHOLDER_WINDOW} is a placeholder; set the real one "
            "in fleet.toml, or the gauge misreads",
            line=line,
        )
        return PLACEHOLDER_WINDOW

    def compaction(
        self,
        out: _AgentOut,
        where: str,
        entry: dict[str, Any],
        defaults: dict[str, Any],
        line: int | None,
    ) -> None:
        merged = {**_dict(defaults.get("compaction")), **_dict(entry.get("compaction"))}
        floor = merged.get("reserveTokensFloor")
        flush = _dict(merged.get("memoryFlush")).get("softThresholdTokens")
        if isinstance(floor, int) and floor >= 0:
            out.reserve_floor = floor
        if isinstance(flush, int) and flush >= 0:
            out.soft_threshold = flush
        floor_used = out.reserve_floor if out.reserve_floor is not None else 20_000
        flush_used = out.soft_threshold if out.soft_threshold is not None else 4_000
        if floor_used + flush_used >= out.context_window:
            self.unmapped(
                f"{where}.compaction",
                merged,
                f"reserveTokensFloor + softThresholdTokens leave no room in a "
                f"{out.context_window}-token window; Mission Control's defaults kept",
                self.locate.key_line("compaction", line),
            )
            out.reserve_floor = out.soft_threshold = None

    def heartbeat(
        self,
        out: _AgentOut,
        where: str,
        entry: dict[str, Any],
        defaults: dict[str, Any],
        line: int | None,
    ) -> None:
        own = bool(_dict(entry.get("heartbeat")))
        beat = _dict(entry.get("heartbeat")) or _dict(defaults.get("heartbeat"))
        every = beat.get("every")
        if every is None:
            return
        seconds = _duration_seconds(every)
        key = f"{where}.heartbeat.every" if own else "agents.defaults.heartbeat.every"
        line = line if own else self.locate.key_line("defaults")
        if seconds is None or not 5 <= seconds <= 86_400:
            self.unmapped(
                key,
                every,
                'not a duration between 5s and 24h (such as "30m"); the fleet\'s default '
                "heartbeat (5 minutes) kept",
                self.locate.key_line("every", line),
            )
            return
        out.heartbeat_seconds = seconds
        self.note(
            "assumed",
            key,
            every,
            f"heartbeat_seconds = {seconds}; Mission Control calls the agent stalled after "
            f"3 missed heartbeats ({3 * seconds}s) and offline after 12",
            line=self.locate.key_line("every", line),
        )

    def capabilities(self, where: str, entry: dict[str, Any], line: int | None) -> tuple[str, ...]:
        """What the effective tool policy allows, as capabilities (deny wins, as in OpenClaw)."""
        global_tools = _dict(self.data.get("tools"))
        mine = _dict(entry.get("tools"))
        for key in sorted(set(mine) - _TOOL_KEYS_MAPPED):
            self.unmapped(
                f"{where}.tools.{key}",
                mine[key],
                _why(f"tools.{key}"),
                self.locate.key_line(key, line),
            )
        profile = mine.get("profile", global_tools.get("profile"))
        if profile is not None and profile not in PROFILES:
            self.unmapped(
                f"{where}.tools.profile" if "profile" in mine else "tools.profile",
                profile,
                f"not a profile the reference names ({', '.join(PROFILES)}); read as unset",
                self.locate.value_line(str(profile), line if "profile" in mine else None),
            )
            profile = None
        allow_key = "allow" if "allow" in mine else None
        allow_source = mine if allow_key else global_tools
        allow = self.entries(
            where if allow_key else "", allow_source, "allow", line if allow_key else None
        )
        also = self.entries(where, mine, "alsoAllow", line) | self.entries(
            "", global_tools, "alsoAllow", None
        )
        deny = self.entries(where, mine, "deny", line) | self.entries(
            "", global_tools, "deny", None
        )
        if profile is not None:
            tools = set(PROFILES[profile]) | allow
        elif "allow" in allow_source:
            tools = set(allow)
        else:
            tools = set(PROFILES["full"])  # no profile, no allowlist: core tools unfiltered
        tools = (tools | also) - deny
        return capabilities_of(tools)

    def entries(self, where: str, tools: dict[str, Any], key: str, line: int | None) -> set[str]:
        values = tools.get(key)
        if values is None:
            return set()
        prefix = f"{where}.tools" if where else "tools"
        if not isinstance(values, list):
            self.unmapped(f"{prefix}.{key}", values, "not a list of tool names; ignored", line)
            return set()
        named = [v for v in values if isinstance(v, str) and not is_mcos_server_glob(v)]
        expansion = expand(named)
        for value in expansion.unknown:
            index = values.index(value)
            self.unmapped(
                f"{prefix}.{key}[{index}]",
                value,
                "not a tool the OpenClaw reference names (a plugin's or an MCP server's "
                "tool?): Mission Control has no capability for it",
                self.locate.value_line(value, line),
            )
        return set(expansion.tools)

    def defaults_notes(self, defaults: dict[str, Any]) -> None:
        start = self.locate.key_line("defaults")
        for key in sorted(set(defaults) - _DEFAULT_KEYS_MAPPED):
            self.unmapped(
                f"agents.defaults.{key}", defaults[key], _why(key), self.locate.key_line(key, start)
            )
        compaction = _dict(defaults.get("compaction"))
        for key in sorted(set(compaction) - {"reserveTokensFloor", "memoryFlush"}):
            self.unmapped(
                f"agents.defaults.compaction.{key}",
                compaction[key],
                "Mission Control keeps the flush line only (reserveTokensFloor, "
                "softThresholdTokens); compaction itself is OpenClaw's",
                self.locate.key_line(key, start),
            )

    # -- the rest of the file ------------------------------------------------------------

    def top_level_notes(self) -> None:
        agents = _dict(self.data.get("agents"))
        for key in sorted(set(agents) - {"list", "entries", "defaults", "ownership"}):
            self.unmapped(f"agents.{key}", agents[key], _why(key), self.locate.key_line(key))
        tools = _dict(self.data.get("tools"))
        for key in sorted(set(tools) - _TOOL_KEYS_MAPPED):
            self.unmapped(
                f"tools.{key}", tools[key], _why(f"tools.{key}"), self.locate.key_line(key)
            )
        servers = _dict(_dict(self.data.get("mcp")).get("servers"))
        for server in servers:
            if server.startswith(server_name("")):
                continue  # Mission Control's own, written by `mcos export openclaw`
            self.unmapped(
                f"mcp.servers.{server}",
                "(an MCP server)",
                "its tools are the OpenClaw agent's own; Mission Control governs only what "
                "reaches it, so keep the server's own permissions tight",
                self.locate.key_line(server),
            )
        for key in sorted(set(self.data) - {"agents", "tools", "mcp", "meta", "$schema"}):
            self.unmapped(key, self.data[key], _why(key), self.locate.key_line(key))


def import_openclaw(
    data: dict[str, Any],
    text: str,
    *,
    source: str = "openclaw.json",
    machine: str = "openclaw",
    fleet_name: str | None = None,
) -> ImportResult:
    """Turn a parsed OpenClaw config into fleet-file text that the loader accepts."""
    importer = _Importer(data, text)
    agents = importer.agents()
    importer.top_level_notes()
    timezone = _dict(_dict(data.get("agents")).get("defaults")).get("userTimezone")
    importer.note(
        "assumed",
        "(every agent)",
        f'role = "{DEFAULT_ROLE}"',
        "OpenClaw has no roles; give each agent its own (orchestrator, security, ...) so "
        "routing and the escalation table can find it",
    )
    importer.note(
        "assumed",
        "(escalation)",
        "P0, P1, P2 confirmed by a human",
        "OpenClaw has no escalation table and no agent here has the orchestrator or security "
        "role; once some do, restore the seed's table (see `mcos init`'s template)",
    )
    never = sorted(KNOWN_CAPABILITIES - set(IMPORTED_CAPABILITIES))
    importer.note(
        "assumed",
        "(capabilities)",
        ", ".join(never),
        "no OpenClaw tool is the same act, so none was granted; grant them in fleet.toml "
        "to the agents that need them",
    )
    text_out = _render(agents, source, machine, fleet_name or "Imported from OpenClaw", timezone)
    fleet, problems = check_fleet_text(text_out)
    if fleet is None:
        # Priced by nobody: write a zero price, loudly, rather than leave the file unusable.
        unpriced = [p for p in problems if p.key.endswith(".model") and "price" in p.message]
        if unpriced and len(unpriced) == len(problems):
            models = sorted({a.model for a in agents if f"model {a.model!r}" in str(problems)})
            for model in models:
                importer.note(
                    "assumed",
                    "(prices)",
                    model,
                    f'the price table does not know it: [prices."{model}"] is written at 0; '
                    "set its real prices (USD per million tokens), or spend reads as nothing",
                )
            text_out += "".join(
                f'\n[prices."{model}"]  # FILL IN: unknown to the price table\n'
                "input_per_mtok = 0\noutput_per_mtok = 0\n"
                for model in models
            )
            fleet, problems = check_fleet_text(text_out)
        if fleet is None:
            raise AssertionError(
                "the imported fleet does not pass its own check: "
                + "; ".join(f"{p.key}: {p.message}" for p in problems)
            )
    return ImportResult(text_out, fleet, importer.notes)


def _render(agents: list[_AgentOut], source: str, machine: str, name: str, timezone: Any) -> str:
    today = datetime.now(UTC).date().isoformat()
    out = [
        f"# Imported by `mcos import openclaw` from {source} on {today}.",
        '# Every agent runs in OpenClaw (runtime = "external"): `mcos run` never starts them;',
        "# each joins Mission Control with its own agent token (`mcos tokens issue --agent",
        "# NAME`) through the MCP entry `mcos export openclaw` writes. Capabilities come from",
        "# each agent's OpenClaw tool policy; the import's report lists what it left to you.",
        "",
        "[fleet]",
        f"name = {_q(name)}",
    ]
    if isinstance(timezone, str) and _valid_timezone(timezone):
        out.append(f"timezone = {_q(timezone)}")
    out += [
        "",
        "[[machines]]",
        f"name = {_q(machine)}",
        f"description = {_q('The OpenClaw gateway (imported from ' + source + ')')}",
    ]
    for agent in agents:
        out += ["", "[[agents]]", f"name = {_q(agent.name)}"]
        if agent.display_name:
            out.append(f"display_name = {_q(agent.display_name)}")
        out.append(f"role = {_q(DEFAULT_ROLE)}")
        if agent.title:
            out.append(f"title = {_q(agent.title)}")
        out += [
            f"machine = {_q(machine)}",
            'runtime = "external"',
            f"provider = {_q(agent.provider)}",
            f"model = {_q(agent.model)}",
            f"context_window = {agent.context_window}",
            "capabilities = [" + ", ".join(_q(c) for c in agent.capabilities) + "]",
            'supervisor = "operator"',
        ]
        if agent.workspace:
            out.append(f"# OpenClaw workspace: {agent.workspace}")
        if agent.reserve_floor is not None or agent.soft_threshold is not None:
            out.append("[agents.context]")
            if agent.reserve_floor is not None:
                out.append(f"reserve_floor = {agent.reserve_floor}")
            if agent.soft_threshold is not None:
                out.append(f"soft_threshold = {agent.soft_threshold}")
        if agent.heartbeat_seconds is not None:
            beat = agent.heartbeat_seconds
            out += [
                "[agents.liveness]",
                f"heartbeat_seconds = {beat}",
                f"stalled_after_seconds = {min(3 * beat, 7 * 86_400)}",
                f"offline_after_seconds = {min(12 * beat, 30 * 86_400)}",
            ]
    out += ["", "# OpenClaw has no escalation table: a person confirms every incident above P3."]
    for severity in ("P0", "P1", "P2"):
        out += [f"[escalation.{severity}]", 'confirm_by = ["human"]', 'reach = "fleet"']
    out += ["[escalation.P3]", "confirm_by = []", 'reach = "self"', ""]
    return "\n".join(out)


def _q(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's; non-ASCII is written as is)."""
    return json.dumps(value, ensure_ascii=False)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _summary(value: Any) -> str:
    """What a key held, for the report: an object by its keys only (a channel's bot token or a
    sandbox's env would otherwise be echoed), a list of names as is."""
    if isinstance(value, dict):
        text = "{" + ", ".join(str(k) for k in value) + "}"
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, list):
        text = f"[{len(value)} items]"
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _duration_seconds(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        return None
    parts = re.findall(r"(\d+)\s*(h|m|s)", value.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != re.sub(r"\s", "", value.lower()):
        return None
    scale = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * scale[u] for n, u in parts)


def _price_table_window(provider: str, model: str) -> int | None:
    try:
        from genai_prices import data_snapshot

        _, found = data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return None
    window = getattr(found, "context_window", None)
    return window if isinstance(window, int) and 1_000 <= window <= 10_000_000 else None


def _valid_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_WHY = {
    "sandbox": "OpenClaw's sandbox confines the agent's own commands there; Mission Control's "
    "sandbox applies to agents `mcos run` runs. Keep it: it still holds in OpenClaw",
    "bindings": "which chat channel reaches which agent is OpenClaw's routing; Mission "
    "Control routes tasks by [[routing]] rules, which you write",
    "channels": "chat channels (and their tokens) stay in OpenClaw; nothing of them is copied",
    "skills": "skills are OpenClaw's prompt extensions; no capability follows from them",
    "subagents": "who may spawn whom is OpenClaw's; in Mission Control, `plan` creates tasks",
    "tools.exec": "exec settings (host, approvals) are OpenClaw's; the `exec` capability and "
    "Mission Control's ask-before-acting govern what reaches the control plane",
    "tools.elevated": "elevated exec has no Mission Control equivalent: it is never granted",
    "tools.byProvider": "per-provider tool policy is not imported; the agent-level policy is",
    "tools.sandbox": "the sandbox's own tool gate stays in OpenClaw",
    "gateway": "the gateway's own settings (port, auth, bind) stay in OpenClaw",
    "models": "custom providers and model catalogs stay in OpenClaw; each agent's model is "
    "imported for pricing",
    "env": "environment values are never copied into fleet.toml (they may be secrets)",
    "auth": "credentials stay in OpenClaw; external agents need none in fleet.toml",
}


def _why(key: str) -> str:
    return _WHY.get(
        key,
        f"`{key}` is an OpenClaw setting with no Mission Control equivalent; it stays in OpenClaw",
    )
