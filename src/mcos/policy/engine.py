"""The rules, in order, and ``decide``: the first refusal wins, then any approval needed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatch
from pathlib import PurePosixPath

from mcos.fleet.schema import HUMAN, Agent
from mcos.policy.actions import ACTION_KINDS, Action
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
    grants: tuple[Grant, ...] = field(default=())
    """Time-boxed restorations currently on record for this agent."""


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


def protected_paths(request: PolicyRequest) -> Decision | None:
    if request.action.kind == "file.read":
        return None
    for path in request.action.paths:
        normalised = str(PurePosixPath(path))
        for pattern in request.agent.guard.protected_paths:
            if fnmatch(normalised, pattern) or fnmatch(normalised + "/", pattern):
                return Deny(
                    "protected_path",
                    f"{path} is protected for agent {request.agent.name!r} (matches {pattern!r})",
                )
    return None


def blocked_hosts(request: PolicyRequest) -> Decision | None:
    host = request.action.host
    if host is None:
        return None
    for pattern in request.agent.guard.blocked_hosts:
        if fnmatch(host.lower(), pattern.lower()):
            return Deny(
                "blocked_host",
                f"host {host} is blocked for agent {request.agent.name!r} (matches {pattern!r})",
            )
    return None


def blast_radius(request: PolicyRequest) -> Decision | None:
    limit = request.agent.guard.max_files_per_change
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
    limit = request.agent.guard.max_spend_usd
    if (
        request.action.kind == "payment.send"
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
    if request.action.kind in request.agent.guard.ask_first:
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
    protected_paths,
    blocked_hosts,
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
