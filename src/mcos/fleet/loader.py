"""Load and check a fleet file, explaining every problem with the file, the key and the fix."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mcos.contract.vocab import HUMAN
from mcos.errors import UserError
from mcos.fleet import FLEET_FILENAME as FLEET_FILENAME  # where it always was
from mcos.fleet._guard_checks import guard_problems
from mcos.fleet._mail_checks import mail_problems
from mcos.fleet._notify_checks import notify_problems
from mcos.fleet._service_checks import service_problems
from mcos.fleet.costs import cost_problems
from mcos.fleet.schedules import schedule_problems
from mcos.fleet.schema import KNOWN_CAPABILITIES, OPERATOR, Fleet
from mcos.fleet.view import secret_problems


@dataclass(frozen=True)
class FleetProblem:
    """One thing wrong with a fleet file."""

    key: str
    """Dotted TOML path, such as ``agents[6].credential``."""
    message: str
    fix: str
    line: int | None = None

    def render(self, path: Path | str) -> str:
        where = f"{path}:{self.line}" if self.line else str(path)
        return f"{where}: {self.key}: {self.message}\n    fix: {self.fix}"


class FleetFileError(UserError):
    """A fleet file that cannot be used; carries every problem found, not just the first."""

    code = "invalid_fleet"

    def __init__(self, path: Path | str, problems: list[FleetProblem]) -> None:
        self.path = Path(path)
        self.problems = problems
        first = problems[0]
        summary = f"{len(problems)} problem(s) in {path}"
        super().__init__(
            summary + "\n" + "\n".join(p.render(path) for p in problems), field=first.key
        )


def template_text(*, minimal: bool = False) -> str:
    """The built-in fleet template: the seed's 23 agents on two machines, or with ``minimal``
    one agent on one machine (``mcos init --minimal``)."""
    name = "minimal.toml" if minimal else "template.toml"
    return resources.files("mcos.fleet").joinpath(name).read_text(encoding="utf-8")


def load_fleet(path: Path | str) -> Fleet:
    """Read and validate ``path``; raise :class:`FleetFileError` listing every problem."""
    path = Path(path)
    if path.is_dir():
        path = path / FLEET_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FleetFileError(
            path,
            [FleetProblem("(file)", "no such file", "run `mcos init DIR` to write one")],
        ) from None
    fleet, problems = check_fleet_text(text)
    if problems:
        raise FleetFileError(path, problems)
    assert fleet is not None
    return fleet


def check_fleet_text(text: str) -> tuple[Fleet | None, list[FleetProblem]]:
    """Parse and validate fleet-file text; return the fleet or the problems found."""
    return check_toml_text(text, Fleet, _from_pydantic, cross_check)


Model = TypeVar("Model", bound=BaseModel)


def check_toml_text(
    text: str,
    model: type[Model],
    explain: Callable[[Any, dict[str, Any], _KeyLocator], FleetProblem],
    cross: Callable[[Model], list[FleetProblem]],
) -> tuple[Model | None, list[FleetProblem]]:
    """Parse TOML text into ``model``: the value, or every problem with its line — the
    syntax, then each field (``explain``), then what spans sections (``cross``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _line_from_toml_error(str(exc))
        return None, [
            FleetProblem("(syntax)", f"not valid TOML: {exc}", "fix the TOML syntax", line)
        ]
    locator = _KeyLocator(text)
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        return None, [explain(err, data, locator) for err in exc.errors()]
    problems = [FleetProblem(p.key, p.message, p.fix, locator.line(p.key)) for p in cross(value)]
    return (None, problems) if problems else (value, [])


def cross_check(fleet: Fleet) -> list[FleetProblem]:
    """Checks that span sections: unique names, known references, one credential per agent."""
    problems: list[FleetProblem] = []
    machines = {m.name for m in fleet.machines}
    names = [a.name for a in fleet.agents]
    roles = {a.role for a in fleet.agents}
    channels = {c.name for c in fleet.channels}
    # Membership is written twice (agent.channels, channel.members); services read the agent's
    # list, so a name edited in one place only would silently do nothing.
    members_of = {c.name: set(c.members) for c in fleet.channels}
    channels_of = {a.name: set(a.channels) for a in reversed(fleet.agents)}

    for i, count in _duplicates([m.name for m in fleet.machines]):
        problems.append(
            FleetProblem(
                f"machines[{i}].name",
                f"machine name is used {count} times",
                "give each machine its own name",
            )
        )
    for i, count in _duplicates([r.kind for r in fleet.value_ledger]):
        problems.append(
            FleetProblem(
                f"value_ledger[{i}].kind",
                f"kind of work is listed {count} times",
                "keep one entry per kind",
            )
        )
    seen_names: set[str] = set()
    seen_credentials: dict[str, str] = {}
    for i, agent in enumerate(fleet.agents):
        key = f"agents[{i}]"
        if agent.name in seen_names:
            problems.append(
                FleetProblem(
                    f"{key}.name",
                    f"agent {agent.name!r} is defined twice",
                    "rename one of them or delete the copy",
                )
            )
        seen_names.add(agent.name)
        if agent.machine not in machines:
            problems.append(
                FleetProblem(
                    f"{key}.machine",
                    f"agent {agent.name!r} names unknown machine {agent.machine!r}",
                    _did_you_mean(agent.machine, machines, "add a [[machines]] entry for it"),
                )
            )
        owner = seen_credentials.get(agent.credential) if agent.credential else None
        if owner is not None:
            problems.append(
                FleetProblem(
                    f"{key}.credential",
                    f"agent {agent.name!r} names credential {agent.credential} which agent "
                    f"{owner!r} already uses",
                    "give every agent its own credential variable: two agents on one key share one "
                    "rate limit, so one agent's burst puts the other in cooldown too",
                )
            )
        elif agent.credential is not None:
            seen_credentials[agent.credential] = agent.name
        if agent.supervisor != OPERATOR and agent.supervisor not in names:
            problems.append(
                FleetProblem(
                    f"{key}.supervisor",
                    f"supervisor {agent.supervisor!r} is not an agent",
                    _did_you_mean(
                        agent.supervisor, set(names), f"use an agent name or {OPERATOR!r}"
                    ),
                )
            )
        if agent.supervisor == agent.name:
            problems.append(
                FleetProblem(
                    f"{key}.supervisor",
                    "an agent cannot supervise itself",
                    f"name another agent or {OPERATOR!r}",
                )
            )
        for j, channel in enumerate(agent.channels):
            if channel not in channels:
                problems.append(
                    FleetProblem(
                        f"{key}.channels[{j}]",
                        f"unknown channel {channel!r}",
                        _did_you_mean(channel, channels, "add a [[channels]] entry for it"),
                    )
                )
            elif agent.name not in members_of[channel]:
                problems.append(
                    FleetProblem(
                        f"{key}.channels[{j}]",
                        f"agent {agent.name!r} lists channel {channel!r}, whose members do not "
                        "include it",
                        f"add {agent.name!r} to the members of channel {channel!r}, or remove "
                        "the channel here (membership is written in both places)",
                    )
                )
    for i, chan in enumerate(fleet.channels):
        for j, member in enumerate(chan.members):
            if member not in names:
                problems.append(
                    FleetProblem(
                        f"channels[{i}].members[{j}]",
                        f"channel {chan.name!r} lists unknown agent {member!r}",
                        _did_you_mean(member, set(names), "remove it"),
                    )
                )
            elif chan.name not in channels_of[member]:
                problems.append(
                    FleetProblem(
                        f"channels[{i}].members[{j}]",
                        f"channel {chan.name!r} lists {member!r}, whose channels do not include it",
                        f"add {chan.name!r} to the channels of agent {member!r}, or remove "
                        "the member here (membership is written in both places)",
                    )
                )
    from mcos.pricing import priceable

    for i, agent in enumerate(fleet.agents):
        if not priceable(fleet, agent.provider, agent.model):
            problems.append(
                FleetProblem(
                    f"agents[{i}].model",
                    f"agent {agent.name!r}: the price table does not know {agent.provider} model "
                    f"{agent.model!r}, so its budget could not be enforced in money",
                    f'check the model name, or add a [prices."{agent.model}"] table with '
                    "input_per_mtok and output_per_mtok (USD per million tokens)",
                )
            )
    for severity, rule in fleet.escalation.items():
        for j, approver in enumerate(rule.confirm_by):
            if approver != HUMAN and approver not in roles:
                problems.append(
                    FleetProblem(
                        f"escalation.{severity}.confirm_by[{j}]",
                        f"no agent has role {approver!r}, so {severity} incidents could never be "
                        "confirmed",
                        _did_you_mean(approver, roles, f"name an agent role or {HUMAN!r}"),
                    )
                )
    problems += _routing_problems(fleet)
    problems += [FleetProblem(key, message, fix) for key, message, fix in secret_problems(fleet)]
    problems += [FleetProblem(key, message, fix) for key, message, fix in mail_problems(fleet)]
    problems += [FleetProblem(key, message, fix) for key, message, fix in guard_problems(fleet)]
    problems += [FleetProblem(key, message, fix) for key, message, fix in notify_problems(fleet)]
    problems += [FleetProblem(key, message, fix) for key, message, fix in cost_problems(fleet)]
    problems += [FleetProblem(key, message, fix) for key, message, fix in service_problems(fleet)]
    problems += [
        FleetProblem(key, message, fix)
        for key, message, fix in schedule_problems(
            fleet.schedules, {a.name: a.role for a in fleet.agents}
        )
    ]
    return problems


def _routing_problems(fleet: Fleet) -> list[FleetProblem]:
    """Each ``[[routing]]`` rule must name a role, agent and capabilities that exist."""
    problems: list[FleetProblem] = []
    roles = {a.role for a in fleet.agents}
    held = {c for a in fleet.agents for c in a.capabilities} | KNOWN_CAPABILITIES
    for i, count in _duplicates([r.name for r in fleet.routing]):
        problems.append(
            FleetProblem(
                f"routing[{i}].name",
                f"routing rule name is used {count} times",
                "give each rule its own name; to override a rule, give yours a higher priority",
            )
        )
    for i, rule in enumerate(fleet.routing):
        key = f"routing[{i}]"
        if rule.role is not None and rule.role not in roles:
            problems.append(
                FleetProblem(
                    f"{key}.role",
                    f"rule {rule.name!r}: no agent has role {rule.role!r}",
                    _did_you_mean(rule.role, roles, "name the role of an agent in [[agents]]"),
                )
            )
        pinned = fleet.agent(rule.agent) if rule.agent is not None else None
        if rule.agent is not None and pinned is None:
            problems.append(
                FleetProblem(
                    f"{key}.agent",
                    f"rule {rule.name!r}: no agent named {rule.agent!r}",
                    _did_you_mean(
                        rule.agent, {a.name for a in fleet.agents}, "name an agent or remove it"
                    ),
                )
            )
        elif pinned is not None and rule.role is not None and pinned.role != rule.role:
            problems.append(
                FleetProblem(
                    f"{key}.agent",
                    f"rule {rule.name!r}: agent {pinned.name!r} has role {pinned.role!r}, "
                    f"not {rule.role!r}",
                    "pin an agent of the rule's role, or drop `role` and keep the pin",
                )
            )
        for j, capability in enumerate(rule.capabilities):
            if capability not in held:
                problems.append(
                    FleetProblem(
                        f"{key}.capabilities[{j}]",
                        f"rule {rule.name!r}: capability {capability!r} is not known",
                        _did_you_mean(capability, held, f"use one of {', '.join(sorted(held))}"),
                    )
                )
        targets = [
            a
            for a in fleet.agents
            if (pinned is None or a is pinned) and (rule.role is None or a.role == rule.role)
        ]
        if (
            targets
            and all(c in held for c in rule.capabilities)
            and not any(set(rule.capabilities) <= set(a.capabilities) for a in targets)
        ):
            problems.append(
                FleetProblem(
                    f"{key}.capabilities",
                    f"rule {rule.name!r}: no agent it targets holds "
                    f"{', '.join(rule.capabilities)}, so it could never route",
                    "grant the capabilities to an agent of the role, or require fewer",
                )
            )
    return problems


def _duplicates(values: list[str]) -> list[tuple[int, int]]:
    counts = Counter(values)
    seen: set[str] = set()
    out = []
    for i, value in enumerate(values):
        if counts[value] > 1 and value in seen:
            out.append((i, counts[value]))
        seen.add(value)
    return out


def _did_you_mean(value: str, options: set[str], otherwise: str) -> str:
    close = difflib.get_close_matches(value, sorted(options), n=1)
    return f"did you mean {close[0]!r}? otherwise {otherwise}" if close else otherwise


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


_FIELD_FIXES = {
    "missing": "add it",
    "string_pattern_mismatch": "use the form the message shows",
    "literal_error": "use one of the values the message lists",
}


def _from_pydantic(
    err: Any, data: dict[str, Any], locator: _KeyLocator, root: type[BaseModel] = Fleet
) -> FleetProblem:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    key = _key(loc)
    message = str(err["msg"])
    kind = str(err["type"])
    value = err.get("input")
    fix = _FIELD_FIXES.get(kind, "correct the value")
    name = _agent_name(loc, data)
    if name:
        message = f"(agent {name!r}) {message}"
    if kind == "extra_forbidden":
        field = str(loc[-1])
        if field in {"credentials", "fallback_credential", "failover_credential"}:
            message = "an agent has exactly one credential"
            fix = (
                "remove it and keep the single `credential`: a second (failover) key doubles "
                "the burn rate instead of helping, since both keys hit their limits together; "
                "rate limits are transient, so wait out the cooldown"
            )
        else:
            fix = _did_you_mean(field, _known_fields(loc, root), "remove it") + " (unknown key)"
            message = f"unknown key {field!r}"
    elif loc and loc[-1] == "credential" and isinstance(value, list):
        message = "an agent has exactly one credential, not a list"
        fix = (
            "name one environment variable: a second (failover) key doubles the burn rate "
            "instead of helping, since both keys hit their limits together"
        )
    elif loc and loc[-1] == "credential" and kind == "string_pattern_mismatch":
        # Never echo the value: it may be the secret itself.
        message = message.replace(
            str(err["msg"]),
            "the credential is not an environment-variable name (capitals, digits and _, such as "
            "MCOS_DONNA_ANTHROPIC_KEY); it may be a key pasted in by mistake",
        )
        fix = (
            "name the environment variable that holds the key (such as MCOS_DONNA_ANTHROPIC_KEY), "
            "never the key itself"
        )
    elif kind == "value_error":
        # The schema's own checks say "what is wrong; how to fix it" and name the bad value.
        message = message.replace("Value error, ", "", 1)
        wrong, _, how = message.rpartition("; ")
        if wrong:
            message, fix = wrong, how
    elif value is not None and kind not in {"missing", "extra_forbidden"} and len(repr(value)) < 80:
        message = f"{message} (got {value!r})"
    return FleetProblem(key, message, fix, locator.line(key))


def _agent_name(loc: tuple[int | str, ...], data: dict[str, Any]) -> str | None:
    if len(loc) >= 2 and loc[0] == "agents" and isinstance(loc[1], int):
        agents = data.get("agents")
        if isinstance(agents, list) and loc[1] < len(agents) and isinstance(agents[loc[1]], dict):
            name = agents[loc[1]].get("name")
            return name if isinstance(name, str) else None
    return None


def _known_fields(loc: tuple[int | str, ...], root: type[BaseModel] = Fleet) -> set[str]:
    model = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return set()
        inner = _model_in(field.annotation)
        if inner is None:
            return set()
        model = inner
    return set(model.model_fields)


def _model_in(annotation: Any) -> Any:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _line_from_toml_error(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


class _KeyLocator:
    """Finds the line of a dotted key in TOML text, best effort (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line(self, key: str) -> int | None:
        parts = re.findall(r"([A-Za-z0-9_-]+)(?:\[(\d+)\])?", key)
        if not parts:
            return None
        start, end = 0, len(self.lines)
        table = ""
        for index, (name, position) in enumerate(parts):
            table = f"{table}.{name}" if table else name
            if position:
                found = self._nth_header(f"[[{table}]]", int(position), start, end)
                if found is None:
                    # An index into an array of values (``members[3]``): the assignment's line.
                    assignment = self._find(rf"^\s*{re.escape(name)}\s*=", start, end)
                    return None if assignment is None else assignment + 1
                start, end = found, self._next_array_item(f"[[{table}]]", found, end)
                if index == len(parts) - 1:
                    return start + 1
                continue
            header = self._find(rf"^\s*\[{re.escape(table)}\]\s*(#.*)?$", start, end)
            if header is not None and index < len(parts) - 1:
                start = header
                continue
            assignment = self._find(rf"^\s*{re.escape(name)}\s*=", start, end)
            if assignment is not None:
                return assignment + 1
            if header is not None:
                return header + 1
            if index == len(parts) - 1:
                # A table given only as sub-tables (``[escalation.P0]``): its first one.
                sub = self._find(rf"^\s*\[{re.escape(table)}\.", start, end)
                if sub is not None:
                    return sub + 1
        return start + 1 if start else None

    def _find(self, pattern: str, start: int, end: int) -> int | None:
        regex = re.compile(pattern)
        for i in range(start, end):
            if regex.match(self.lines[i]):
                return i
        return None

    def _nth_header(self, header: str, n: int, start: int, end: int) -> int | None:
        count = -1
        for i in range(start, end):
            if self.lines[i].strip().startswith(header):
                count += 1
                if count == n:
                    return i
        return None

    def _next_array_item(self, header: str, after: int, end: int) -> int:
        for i in range(after + 1, end):
            if self.lines[i].strip().startswith(header):
                return i
        return end
