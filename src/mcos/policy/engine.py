"""The rules, in order, and ``decide``: the first refusal wins, then any approval needed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase

from mcos.contract.vocab import HUMAN, ActionKind
from mcos.domain.hosts import (
    BadHost,
    IPAddress,
    blocking_network,
    canonical_host,
    ip_literal,
    parse_host_port,
)
from mcos.domain.hosts import reached as reached_by
from mcos.domain.paths import matches, normalise_path
from mcos.fleet.guard import Guard
from mcos.fleet.schema import Agent
from mcos.fleet.services import AnyService, is_build
from mcos.policy.actions import ACTION_KINDS, FILE_KINDS, REQUIRED, Action
from mcos.policy.decisions import Allow, Decision, Deny, NeedsApproval


@dataclass(frozen=True)
class Grant:
    """A capability restored to an agent by an operator's approval, until it lapses."""

    agent: str
    capability: str
    expires_at: datetime
    approval_id: int


@dataclass(frozen=True)
class PolicyRequest:
    agent: Agent
    """The acting agent's configuration, from the fleet file."""
    action: Action
    now: datetime
    guard: Guard
    """The guard that holds for the agent: ``fleet.guard_for(agent)``, never its own alone."""
    grants: tuple[Grant, ...] = field(default=())
    """Time-boxed restorations currently on record for this agent."""
    control_plane_host: str | None = None
    """The control plane's host (``control_plane.url``): no fetch may reach it, exception or not."""
    service: AnyService | None = None
    """For ``service.*``: the service named by the action's ``target``, from the fleet file."""
    service_owner: str | None = None
    """The agent that owns ``service`` (``Fleet.owner_of``)."""


Rule = Callable[[PolicyRequest], Decision | None]
"""Answers for the actions it guards, ``None`` for the others."""


def known_kind(request: PolicyRequest) -> Decision | None:
    if request.action.kind not in ACTION_KINDS:
        kinds = ", ".join(sorted(ACTION_KINDS))
        return Deny(
            "unknown_action",
            f"unknown action kind {request.action.kind!r}; known kinds are {kinds}",
        )
    return None


def capability(request: PolicyRequest) -> Decision | None:
    """The capability an action needs comes from the fleet file, or a live restoration."""
    needed = ACTION_KINDS[request.action.kind]
    agent = request.agent
    if needed in agent.capabilities:
        return None
    for grant in request.grants:
        if (
            grant.agent == agent.name
            and grant.capability == needed
            and grant.expires_at > request.now
        ):
            return None
    return Deny(
        "capability",
        f"agent {agent.name!r} lacks the {needed!r} capability needed for "
        f"{request.action.kind}; it is not granted in the fleet file, and no operator has "
        f"restored it (ask with an approval: capability restorations are time-boxed)",
    )


def needs_grants(agent: Agent, action: Action) -> bool:
    """Whether live grants can change the decision on ``action``: only when the capability it
    needs is not the agent's own (:func:`capability`), so a caller may skip reading them."""
    needed = ACTION_KINDS.get(action.kind)
    return needed is not None and needed not in agent.capabilities


def complete(request: PolicyRequest) -> Decision | None:
    """An action must say what its limits are checked against: a payment its amount."""
    action = request.action
    for name in REQUIRED.get(action.kind, ()):
        if getattr(action, name) in (None, "", ()):
            return Deny(
                "incomplete_action",
                f"{action.kind} without {name} is refused: its limits cannot be checked "
                f"without it; ask again with the {name} of the action as it will be done",
            )
    return None


def service_remedy(request: PolicyRequest) -> Decision | None:
    """A service's remedy: only its owner asks, only the runbook's command, never a build on
    production unless allowed, then the remedy's own policy (allow, ask, deny)."""
    action = request.action
    if not action.kind.startswith("service."):
        return None
    which = action.kind.removeprefix("service.")
    service, agent = request.service, request.agent.name
    if service is None:
        return Deny("unknown_service", f"no service named {action.target!r} in the fleet file")
    if request.service_owner != agent:
        return Deny(
            "service_owner",
            f"service {service.name!r} is {request.service_owner!r}'s to remedy, not "
            f"{agent!r}'s; ask its owner",
        )
    remedy = service.runbook.remedy(which)
    if remedy is None:
        return Deny(
            "no_remedy",
            f"service {service.name!r} has no {which} in its runbook; an operator adds "
            f"[services.runbook.{which}] to the fleet file",
        )
    if action.command != remedy.command:
        return Deny(
            "runbook_command",
            f"a {which} of {service.name!r} runs the runbook's command ({remedy.command!r}), "
            "not another; ask with that command",
        )
    if service.production and not service.allow_build and is_build(remedy.command):
        return Deny(
            "production_build",
            f"{service.name!r} is production and its {which} builds ({remedy.command!r}); no "
            "build runs on production unless the fleet file sets allow_build = true",
        )
    if remedy.policy == "deny":
        return Deny(
            "service_policy",
            f'the runbook denies {action.kind} of {service.name!r} (policy = "deny"); an '
            "operator does it by hand",
        )
    if remedy.policy == "ask":
        return NeedsApproval(
            "service_policy",
            f"{action.kind} of {service.name!r} ({remedy.command!r}) waits for a person "
            '(policy = "ask")',
            (HUMAN,),
        )
    return None


def absolute_paths(request: PolicyRequest) -> Decision | None:
    """A relative path means nothing to the guard, so it is refused, not matched."""
    if request.action.kind not in FILE_KINDS:
        return None
    for path in request.action.paths:
        if normalise_path(path) is None:
            return Deny(
                "relative_path",
                f"{path!r} is not an absolute path; ask with the full path of the file or "
                "folder (the runtime sends its workspace's)",
            )
    return None


def protected_paths(request: PolicyRequest) -> Decision | None:
    action = request.action
    if action.kind == ActionKind.FILE_READ:
        return None
    touched = list(action.paths)
    if action.target is not None and action.target.startswith("/"):
        touched.append(action.target)  # a repository committed to
    for path in touched:
        for pattern in request.guard.protected_paths:
            if matches(path, pattern):
                shown = normalise_path(path)
                said = path if shown == path else f"{path} (that is {shown})"
                return Deny(
                    "protected_path",
                    f"{said} is protected for agent {request.agent.name!r} (matches {pattern!r})",
                )
    return None


def fetch_host(request: PolicyRequest) -> Decision | None:
    """The host and addresses of a fetch must be real ones: read, not guessed at."""
    if request.action.kind != ActionKind.HTTP_FETCH or not request.action.host:
        return None
    try:
        canonical_host(request.action.host)
        for address in request.action.addresses:
            if ip_literal(address) is None:
                raise BadHost(f"address {address!r} is a name, not an IP address")
    except BadHost as exc:
        return Deny("invalid_host", f"{exc}; ask with the host and the addresses it resolved to")
    return None


def control_plane(request: PolicyRequest) -> Decision | None:
    """No agent fetches from the control plane, whatever its guard's exceptions say."""
    action = request.action
    if (
        action.kind != ActionKind.HTTP_FETCH
        or not action.host
        or request.control_plane_host is None
    ):
        return None
    own = _canonical(request.control_plane_host) or request.control_plane_host.lower()
    reached = {_canonical(action.host)}
    reached.update(str(a) for address in _addresses(action) for a in reached_by(address))
    if own in reached:
        return Deny(
            "control_plane",
            f"host {action.host} is the control plane's ({own}); no agent may fetch from it, "
            "whatever its guard's exceptions",
        )
    return None


def blocked_hosts(request: PolicyRequest) -> Decision | None:
    action = request.action
    if action.kind != ActionKind.HTTP_FETCH or not action.host or _excepted(request):
        return None
    host = _canonical(action.host) or action.host.lower()
    for pattern in request.guard.blocked_hosts:
        if fnmatchcase(host, pattern.lower().rstrip(".")):
            said = action.host if host == action.host else f"{action.host} (that is {host})"
            return Deny(
                "blocked_host",
                f"host {said} is blocked for agent {request.agent.name!r} (matches {pattern!r})",
            )
    return None


def blocked_networks(request: PolicyRequest) -> Decision | None:
    """Every address the host resolved to, and the host itself if it is one, in any spelling."""
    action = request.action
    if action.kind != ActionKind.HTTP_FETCH or not action.host or _excepted(request):
        return None
    for address in _addresses(action):
        network = blocking_network(address, request.guard.blocked_networks)
        if network is not None:
            via = "is" if ip_literal(action.host) is not None else "resolves to"
            return Deny(
                "blocked_network",
                f"host {action.host} {via} {address}, in blocked network {network}, which "
                f"agent {request.agent.name!r} may not reach (an operator may add the host to "
                "its guard's allowed_hosts)",
            )
    return None


def _canonical(host: str) -> str | None:
    try:
        return canonical_host(host)
    except BadHost:
        return None  # refused by fetch_host, which runs first


def _address(text: str) -> IPAddress | None:
    try:
        return ip_literal(text)
    except BadHost:
        return None


def _addresses(action: Action) -> list[IPAddress]:
    """The host itself when it is an address in any notation, then every resolved address."""
    host = _canonical(action.host or "")
    found = [_address(host) if host else None, *(_address(a) for a in action.addresses)]
    return [address for address in found if address is not None]


def _excepted(request: PolicyRequest) -> bool:
    """An ``allowed_hosts`` entry names this host (and this port, when it gives one)."""
    host = _canonical(request.action.host or "")
    for entry in request.guard.allowed_hosts:
        try:
            allowed, port = parse_host_port(entry)  # checked when the fleet file loaded
        except BadHost:
            continue
        if host is not None and allowed == host and port in (None, request.action.port):
            return True
    return False


def blast_radius(request: PolicyRequest) -> Decision | None:
    limit = request.guard.max_files_per_change
    touched = request.action.files_touched
    if limit is not None and touched is not None and touched > limit:
        return Deny(
            "max_files_per_change",
            f"the change touches {touched} files; agent "
            f"{request.agent.name!r} may touch at most {limit}",
        )
    return None


def spend_limit(request: PolicyRequest) -> Decision | None:
    amount = request.action.amount_usd
    limit = request.guard.max_spend_usd
    if (
        request.action.kind == ActionKind.PAYMENT_SEND
        and amount is not None
        and (limit is None or amount > limit)
    ):
        allowed = "any payment" if limit is None else f"more than ${limit:,.2f}"
        return NeedsApproval(
            "max_spend_usd",
            f"a payment of ${amount:,.2f} is {allowed} agent {request.agent.name!r} may make alone",
            (HUMAN,),
        )
    return None


def ask_first(request: PolicyRequest) -> Decision | None:
    if request.action.kind in request.guard.ask_first:
        return NeedsApproval(
            "ask_first",
            f"agent {request.agent.name!r} must ask a person before every "
            f"{request.action.kind} (guard.ask_first)",
            (HUMAN,),
        )
    return None


RULES: tuple[Rule, ...] = (
    known_kind,
    capability,
    complete,
    service_remedy,
    absolute_paths,
    protected_paths,
    fetch_host,
    control_plane,
    blocked_hosts,
    blocked_networks,
    blast_radius,
    spend_limit,
    ask_first,
)


def decide(request: PolicyRequest, rules: tuple[Rule, ...] = RULES) -> Decision:
    """Run every rule: the first refusal wins; otherwise any approval needed; otherwise allow."""
    pending: NeedsApproval | None = None
    for rule in rules:
        decision = rule(request)
        if isinstance(decision, Deny):
            return decision
        if isinstance(decision, NeedsApproval) and pending is None:
            pending = decision
    return pending or Allow()
