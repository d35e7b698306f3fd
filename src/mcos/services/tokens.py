"""Bearer tokens: issued once in plain text, stored only as a SHA-256 hash.

Tokens are 256 random bits, so a fast hash is the right tool (no password stretching needed):
a stolen database reveals no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Literal

from sqlalchemy import Connection, insert, select

from mcos.domain import events as ev
from mcos.errors import InvalidInput, NotFound
from mcos.services.access import SYSTEM, Principal
from mcos.storage import tables
from mcos.storage.writer import WriteContext

PREFIXES = {"agent": "mcos_a_", "operator": "mcos_o_"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    ctx: WriteContext,
    kind: Literal["agent", "operator"],
    *,
    agent: str | None = None,
    label: str = "",
    actor: str = SYSTEM,
) -> str:
    """Create a token and return it; this is the only time it exists in plain text."""
    if kind == "agent":
        found = ctx.conn.execute(
            select(tables.agents.c.active).where(tables.agents.c.name == agent)
        ).first()
        if found is None or not found.active:
            raise NotFound(f"no agent named {agent!r} in the fleet", field="agent")
    elif agent is not None:
        raise InvalidInput("an operator token belongs to no agent", field="agent")
    token = PREFIXES[kind] + secrets.token_urlsafe(32)
    label = label or (agent if kind == "agent" else "operator") or kind
    ctx.conn.execute(
        insert(tables.tokens).values(
            token_hash=hash_token(token),
            prefix=token[:12],
            kind=kind,
            agent=agent,
            label=label,
            created_at=ctx.now,
        )
    )
    ctx.append(
        ev.TOKEN_ISSUED,
        actor,
        f"agent:{agent}" if agent else None,
        {"kind": kind, "agent": agent, "label": label, "prefix": token[:12]},
    )
    return token


def resolve_token(conn: Connection, token: str) -> Principal | None:
    row = conn.execute(
        select(tables.tokens.c.kind, tables.tokens.c.agent, tables.tokens.c.label).where(
            tables.tokens.c.token_hash == hash_token(token),
            tables.tokens.c.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    if row.kind == "agent":
        return Principal("agent", row.agent)
    return Principal("operator", row.label)


class TokenCache:
    """Resolved tokens kept briefly in memory so a heartbeat costs no extra query."""

    def __init__(self, ttl_seconds: float = 30.0, max_entries: int = 100_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, token: str, principal: Principal) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token] = (time.monotonic() + self.ttl, principal)
