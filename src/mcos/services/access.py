"""Who is calling, and the few access rules of the core: an agent acts only as itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mcos.contract.vocab import ORCHESTRATOR, OperatorRole
from mcos.errors import Forbidden, InvalidInput
from mcos.fleet.schema import Fleet


@dataclass(frozen=True)
class Principal:
    kind: Literal["agent", "operator", "runner"]
    """``runner`` only reaches the routes that read the log (the stream): everywhere else a
    runner token acts as one of its machine's agents, and is that agent's principal."""
    name: str
    """The agent's name, the operator's label, or the runner's machine."""
    machine: str | None = None
    """For a runner, and for an agent acting through one: the machine the runner token is for."""
    token_id: int | None = None
    """The token (or the dashboard session's token) the caller presented."""
    role: OperatorRole | None = None
    """A person's role, for an operator token; ``None`` for agents, runners and the control
    plane's own principals (the scheduler, supervision), which no role check is made against."""

    @property
    def actor(self) -> str:
        """How this caller appears in the event log: ``agent:donna``, ``operator:admin``."""
        return f"{self.kind}:{self.name}"

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"


SYSTEM = "system"


def require_operator(principal: Principal, what: str) -> None:
    if not principal.is_operator:
        raise Forbidden(f"only an operator may {what}; this is agent {principal.name!r}'s token")


"""The role whose agent gets fleet-level powers: route, nudge, reassign, suspend, resume."""


def is_orchestrator(fleet: Fleet, principal: Principal) -> bool:
    """Whether this caller is an agent whose fleet role is ``orchestrator``."""
    config = fleet.agent(principal.name) if principal.kind == "agent" else None
    return config is not None and config.role == ORCHESTRATOR


def require_fleet_power(fleet: Fleet, principal: Principal, what: str) -> None:
    """Operators and orchestrator-role agents may act on the whole fleet; no other agent."""
    if principal.is_operator or is_orchestrator(fleet, principal):
        return
    config = fleet.agent(principal.name)
    role = config.role if config else "unknown"
    raise Forbidden(
        f"only an operator or an agent with role {ORCHESTRATOR!r} may {what}; agent "
        f"{principal.name!r} has role {role!r}"
    )


def require_self(principal: Principal, agent: str, *, field: str = "agent") -> None:
    """An agent token acts only as its own agent; operators may act for any."""
    if principal.kind == "agent" and principal.name != agent:
        raise Forbidden(
            f"agent {principal.name!r}'s token cannot act as agent {agent!r}", field=field
        )


class Impersonation(Forbidden):
    """An agent's token naming another agent; callers record the attempt before refusing."""

    def __init__(self, principal: Principal, named: str) -> None:
        super().__init__(
            f"agent {principal.name!r}'s token cannot act as agent {named!r}", field="agent"
        )
        self.named = named


def acting_agent(fleet: Fleet, principal: Principal, named: str | None, *, what: str) -> str:
    """The agent a request is for: an agent token's own; an operator must name one.

    ``what`` completes "name the agent ..." in the error an operator gets without one.
    """
    if principal.kind == "agent":
        if named not in (None, principal.name):
            raise Impersonation(principal, named)
        name = principal.name
    elif named is None:
        raise InvalidInput(f"name the agent {what}", field="agent")
    else:
        name = named
    if fleet.agent(name) is None:
        raise InvalidInput(f"no agent named {name!r} in the fleet", field="agent")
    return name
