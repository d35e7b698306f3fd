"""The guard: limits on the blast radius of what an agent may do, whatever its capabilities.

A fleet-wide ``[guard]`` (:class:`FleetGuard`) holds for every agent, and an agent's own
``[agents.guard]`` (:class:`Guard`) only adds to it: :func:`merge_guards` (called by
``Fleet.guard_for``, the one place they meet) takes the union of every list and the stricter of
every limit. Without a ``[guard]`` table the fleet blocks what no agent should reach from a
fetch: the machine itself, private networks, Tailscale and the cloud's metadata service.
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import TypeVar

from pydantic import Field, field_validator

from mcos.domain.hosts import BadHost, canonical_name, parse_host_port, parse_network
from mcos.fleet.model import FleetModel

DEFAULT_BLOCKED_NETWORKS: tuple[str, ...] = (
    "127.0.0.0/8",  # loopback: the runner's own machine, and the control plane beside it
    "::1/128",
    "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the local machine on Linux
    "::/128",
    "10.0.0.0/8",  # private networks
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",  # carrier-grade NAT: Tailscale's addresses (the seed's two machines)
    "169.254.0.0/16",  # link-local, with the cloud metadata service at 169.254.169.254
    "fe80::/10",
    "fc00::/7",  # unique-local: private IPv6, Tailscale's fd7a:115c:a1e0::/48, AWS fd00:ec2::254
)
"""What the fleet blocks when the fleet file's ``[guard]`` does not say."""

DEFAULT_BLOCKED_HOSTS: tuple[str, ...] = (
    "metadata.google.internal",  # cloud metadata services by name; by address they are above
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
)
"""Host names the fleet blocks when the fleet file's ``[guard]`` does not say."""


class Guard(FleetModel):
    """An agent's ``[agents.guard]``: what it adds to the fleet's ``[guard]``."""

    protected_paths: tuple[str, ...] = ()
    """Absolute paths or glob patterns (``/srv/fibreflow/production/**``) the agent may never
    write, delete or run in; ``..`` and letter case do not step around them."""
    blocked_hosts: tuple[str, ...] = ()
    """Host names or patterns (``prod.fibreflow.app``, ``*.internal``) the agent may never
    reach, compared lowercased, IDNA-encoded, without a trailing dot."""
    blocked_networks: tuple[str, ...] = ()
    """CIDR networks (``10.0.0.0/8``, ``fe80::/10``) no fetch may reach, whatever the name or
    the spelling of the address (``127.1``, ``0x7f000001``, ``::ffff:127.0.0.1``)."""
    allowed_hosts: tuple[str, ...] = ()
    """Exceptions to ``blocked_hosts`` and ``blocked_networks``: ``host`` or ``host:port``
    (``billing.internal:8443``, ``[fd00::5]:80``), for an agent that must reach one internal
    service. They never open the control plane's host."""
    max_files_per_change: int | None = Field(None, ge=1)
    """The most files one change may touch; the seed's runaway commit swept in 3,571."""
    max_spend_usd: float | None = Field(None, ge=0)
    """The largest single payment the agent may make without an operator's approval."""
    ask_first: tuple[str, ...] = ()
    """Kinds of action (``shell.exec``, ``email.send``) that need a person's approval each time,
    though the agent has the capability: the command waits, frozen, until someone approves it."""

    @field_validator("ask_first")
    @classmethod
    def _known_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from mcos.policy.actions import ACTION_KINDS  # mcos.policy imports this module

        for kind in value:
            if kind not in ACTION_KINDS:
                raise ValueError(
                    f"unknown action kind {kind!r}; use one of {', '.join(sorted(ACTION_KINDS))}"
                )
        return value

    @field_validator("protected_paths")
    @classmethod
    def _absolute_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if not pattern.startswith(("/", "*")):
                raise ValueError(
                    f"protected path {pattern!r} is relative, so it would never match; use an "
                    "absolute path or pattern, such as '/srv/fibreflow/production/**'"
                )
        return value

    @field_validator("blocked_hosts")
    @classmethod
    def _host_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        patterns = []
        for pattern in value:
            plain = pattern.replace("*", "x").replace("?", "x")
            try:
                canonical_name(plain)
            except BadHost:
                raise ValueError(
                    f"blocked host {pattern!r} is not a host name or pattern; use one such as "
                    "'prod.fibreflow.app' or '*.internal' (block addresses in blocked_networks)"
                ) from None
            patterns.append(pattern.lower().rstrip("."))
        return tuple(patterns)

    @field_validator("blocked_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            try:
                parse_network(text)
            except ValueError as exc:
                raise ValueError(
                    f"blocked network {text!r} is not a CIDR network ({exc}); {_network_fix(text)}"
                ) from None
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _exceptions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if "*" in entry or "?" in entry:
                raise ValueError(
                    f"allowed host {entry!r} is a pattern, and an exception names one host; "
                    "write 'host' or 'host:port', such as 'billing.internal:8443'"
                )
            try:
                parse_host_port(entry)
            except BadHost as exc:
                raise ValueError(
                    f"allowed host {entry!r} cannot be used: {exc}; write 'host' or "
                    "'host:port', such as 'billing.internal:8443' or '[fd00::5]:80'"
                ) from None
        return value


class FleetGuard(Guard):
    """The fleet-wide ``[guard]``: every agent's guard extends it.

    A key it leaves out keeps its default; ``blocked_networks = []`` really blocks none.
    """

    blocked_hosts: tuple[str, ...] = DEFAULT_BLOCKED_HOSTS
    """Host names or patterns no agent may reach (default: the cloud metadata names)."""
    blocked_networks: tuple[str, ...] = DEFAULT_BLOCKED_NETWORKS
    """CIDR networks no agent may reach (default: loopback, unspecified, private, carrier-grade
    NAT, link-local and unique-local)."""
    ask_first: tuple[str, ...] = ("email.send",)
    """Kinds of action that wait for a person every time (default: ``email.send``: no mail
    leaves without an approval; ``ask_first = []`` lets agents with the capability send)."""


N = TypeVar("N", int, float)


def merge_guards(fleet: Guard, agent: Guard) -> Guard:
    """What holds for the agent: every list of both, and the stricter of each limit."""
    return Guard.model_construct(
        protected_paths=_union(fleet.protected_paths, agent.protected_paths),
        blocked_hosts=_union(fleet.blocked_hosts, agent.blocked_hosts),
        blocked_networks=_union(fleet.blocked_networks, agent.blocked_networks),
        allowed_hosts=_union(fleet.allowed_hosts, agent.allowed_hosts),
        max_files_per_change=_stricter(fleet.max_files_per_change, agent.max_files_per_change),
        max_spend_usd=_stricter(fleet.max_spend_usd, agent.max_spend_usd),
        ask_first=_union(fleet.ask_first, agent.ask_first),
    )


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))


def _stricter(first: N | None, second: N | None) -> N | None:
    if first is None:
        return second
    return first if second is None else min(first, second)


def _network_fix(text: str) -> str:
    """A network with host bits set (``10.0.0.1/8``) is corrected; otherwise an example."""
    try:
        network = ip_network(text, strict=False)
    except ValueError:
        return "write a network such as '10.0.0.0/8' or 'fe80::/10', or one address"
    return f"write {str(network)!r}, the network it lies in"
