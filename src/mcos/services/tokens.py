"""Bearer tokens: issued once in plain text, stored only as a SHA-256 hash, with a scope and an
expiry, revocable at any time.

Tokens are 256 random bits, so a fast hash is the right tool (no password stretching needed):
a stolen database reveals no usable token. Three kinds, each with its scope:

- ``agent``: acts as one agent, and only while that agent is in the fleet;
- ``runner``: acts as any agent of one machine (the request names it in ``X-MCOS-Agent``),
  and otherwise only follows that machine's share of the event stream; it issues no token;
- ``operator``: a person, whose label is their name in the ``operators`` table and whose powers
  are their role's (``services/operators.py``); a token whose person was removed is refused.

A revocation or a rotation is checked on the very next request: the token cache
(:class:`TokenCache`) is cleared by both, on every replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, func, insert, select, update

from mcos.contract.requests import isoformat
from mcos.contract.vocab import OperatorRole
from mcos.domain import events as ev
from mcos.errors import Conflict, InvalidInput, NotFound
from mcos.fleet.schema import Fleet
from mcos.services.access import SYSTEM
from mcos.storage import tables
from mcos.storage.writer import WriteContext

TokenKind = Literal["agent", "operator", "runner"]
PREFIXES: dict[str, str] = {"agent": "mcos_a_", "operator": "mcos_o_", "runner": "mcos_r_"}
DEFAULT_LIFETIME: dict[str, timedelta | None] = {
    "agent": timedelta(days=90),
    "runner": timedelta(days=90),
    "operator": None,
}
"""How long a token lives unless its issuer says otherwise; ``None``: until revoked."""
TOKEN_EVENTS = frozenset(
    {
        ev.TOKEN_REVOKED,
        ev.TOKEN_ROTATED,
        ev.AGENT_REMOVED,
        ev.OPERATOR_ROLE_CHANGED,
        ev.OPERATOR_REMOVED,
    }
)
"""Events after which a cached token may no longer mean what it meant (a role is cached too)."""

TK = tables.tokens
OP = tables.operators


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenRecord:
    """What a presented token stands for, once found valid."""

    id: int
    kind: TokenKind
    agent: str | None
    machine: str | None
    label: str
    expires_at: datetime | None
    role: OperatorRole | None = None
    """An operator token's person's role."""

    def valid_at(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


def token_view(row: Any, now: datetime) -> dict[str, Any]:
    if row.revoked_at is not None:
        status = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        status = "expired"
    else:
        status = "active"
    scope = (
        f"agent:{row.agent}"
        if row.kind == "agent"
        else f"machine:{row.machine}"
        if row.kind == "runner"
        else "operator"
    )
    return {
        "id": row.id,
        "kind": row.kind,
        "scope": scope,
        "agent": row.agent,
        "machine": row.machine,
        "label": row.label,
        "prefix": row.prefix,
        "created_at": isoformat(row.created_at),
        "expires_at": isoformat(row.expires_at),
        "revoked_at": isoformat(row.revoked_at),
        "revoked_by": row.revoked_by,
        "replaced_by": row.replaced_by,
        "status": status,
    }


def _check_scope(
    ctx: WriteContext, fleet: Fleet | None, kind: str, agent: str | None, machine: str | None
) -> None:
    if kind == "agent":
        found = ctx.conn.execute(
            select(tables.agents.c.active).where(tables.agents.c.name == agent)
        ).first()
        if found is None or not found.active:
            raise NotFound(f"no agent named {agent!r} in the fleet", field="agent")
    elif agent is not None:
        raise InvalidInput(f"a {kind} token belongs to no agent", field="agent")
    if kind == "runner":
        known = [m.name for m in fleet.machines] if fleet is not None else []
        if machine not in known:
            raise InvalidInput(
                f"no machine named {machine!r} in the fleet; use one of {', '.join(known)}",
                field="machine",
            )
    elif machine is not None:
        raise InvalidInput(f"a {kind} token belongs to no machine", field="machine")


def _check_operator(ctx: WriteContext, name: str) -> None:
    """An operator token is issued only to a known person (``mcos operators add`` makes one)."""
    known = ctx.conn.execute(select(OP.c.name).where(OP.c.name == name)).first()
    if known is None:
        raise NotFound(
            f"no operator named {name!r}; add the person first: "
            f"`mcos operators add {name} --role owner|approver|viewer`",
            field="label",
        )


def issue(
    ctx: WriteContext,
    kind: TokenKind,
    *,
    fleet: Fleet | None = None,
    agent: str | None = None,
    machine: str | None = None,
    label: str = "",
    lifetime: timedelta | Literal["default"] | None = "default",
    actor: str = SYSTEM,
) -> tuple[str, dict[str, Any]]:
    """Create a token: its plain text (the only time it exists) and its view."""
    _check_scope(ctx, fleet, kind, agent, machine)
    life = DEFAULT_LIFETIME[kind] if lifetime == "default" else lifetime
    token = PREFIXES[kind] + secrets.token_urlsafe(32)
    label = label or agent or machine or kind
    if kind == "operator":
        _check_operator(ctx, label)
    token_id = ctx.conn.execute(
        insert(TK).values(
            token_hash=hash_token(token),
            prefix=token[:12],
            kind=kind,
            agent=agent,
            machine=machine,
            label=label,
            created_at=ctx.now,
            expires_at=ctx.now + life if life is not None else None,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    view = token_view(_row(ctx.conn, token_id), ctx.now)
    ctx.append(
        ev.TOKEN_ISSUED,
        actor,
        f"agent:{agent}" if agent else f"machine:{machine}" if machine else None,
        {k: view[k] for k in ("id", "kind", "agent", "machine", "label", "prefix", "expires_at")},
    )
    return token, view


def issue_token(
    ctx: WriteContext,
    kind: TokenKind,
    *,
    agent: str | None = None,
    label: str = "",
    actor: str = SYSTEM,
) -> str:
    """A token with the default lifetime; returns its plain text."""
    token, _ = issue(ctx, kind, agent=agent, label=label, actor=actor)
    return token


def _row(conn: Connection, token_id: int) -> Any:
    row = conn.execute(select(TK).where(TK.c.id == token_id)).first()
    if row is None:
        raise NotFound(f"no token #{token_id}", field="token_id")
    return row


def live_owner_tokens(conn: Connection, now: datetime) -> int:
    """Live operator tokens held by owners: the ones that can still issue tokens."""
    count: int = conn.execute(
        select(func.count())
        .select_from(TK.join(OP, OP.c.name == TK.c.label))
        .where(
            TK.c.kind == "operator",
            OP.c.role == "owner",
            TK.c.revoked_at.is_(None),
            (TK.c.expires_at.is_(None)) | (TK.c.expires_at > now),
        )
    ).scalar_one()
    return count


def revoke_token(ctx: WriteContext, token_id: int, actor: str) -> dict[str, Any]:
    """Revoke a token (and end the dashboard sessions it opened); refused for the last live
    owner's token, which would leave nobody able to issue tokens or name operators."""
    row = _row(ctx.conn, token_id)
    if row.revoked_at is not None:
        raise Conflict(f"token #{token_id} was already revoked", code="already_revoked")
    live = row.expires_at is None or row.expires_at > ctx.now
    if (
        row.kind == "operator"
        and live
        and operator_role(ctx.conn, row.label) == "owner"
        and live_owner_tokens(ctx.conn, ctx.now) <= 1
    ):
        raise Conflict(
            f"token #{token_id} is the last owner's token: revoking it would leave nobody able "
            "to issue tokens or name operators; issue another first "
            "(`mcos tokens issue --operator NAME`, or `mcos operators add NAME --role owner`)",
            code="last_operator_token",
        )
    _revoke(ctx, row, actor)
    view = token_view(_row(ctx.conn, token_id), ctx.now)
    ctx.append(ev.TOKEN_REVOKED, actor, _subject(row), _brief(view))
    return view


def operator_role(conn: Connection, name: str) -> str | None:
    """A person's role, or ``None`` if nobody of that name is an operator."""
    role: str | None = conn.execute(select(OP.c.role).where(OP.c.name == name)).scalar()
    return role


def _revoke(ctx: WriteContext, row: Any, actor: str) -> None:
    ctx.conn.execute(
        update(TK).where(TK.c.id == row.id).values(revoked_at=ctx.now, revoked_by=actor)
    )
    S = tables.sessions
    ctx.conn.execute(
        update(S).where(S.c.token_id == row.id, S.c.ended_at.is_(None)).values(ended_at=ctx.now)
    )


def revoke_held(ctx: WriteContext, token_id: int, actor: str) -> int:
    """Revoke a token whose holder is being removed (the caller has made sure an owner stays)."""
    row = _row(ctx.conn, token_id)
    _revoke(ctx, row, actor)
    ctx.append(
        ev.TOKEN_REVOKED,
        actor,
        _subject(row),
        _brief(token_view(_row(ctx.conn, token_id), ctx.now)),
    )
    return token_id


def rotate_token(
    ctx: WriteContext, fleet: Fleet, token_id: int, actor: str, grace: timedelta
) -> tuple[str, dict[str, Any]]:
    """A new token of the same kind, scope and label; the old one stops at once, or after
    ``grace`` (time to put the new one in place on another machine)."""
    row = _row(ctx.conn, token_id)
    if row.revoked_at is not None:
        raise Conflict(f"token #{token_id} is revoked; issue a new one", code="already_revoked")
    token, view = issue(
        ctx,
        row.kind,
        fleet=fleet,
        agent=row.agent,
        machine=row.machine,
        label=row.label,
        actor=actor,
    )
    if grace > timedelta(0):
        ends = ctx.now + grace
        if row.expires_at is not None and row.expires_at < ends:
            ends = row.expires_at
        ctx.conn.execute(
            update(TK).where(TK.c.id == row.id).values(expires_at=ends, replaced_by=view["id"])
        )
    else:
        _revoke(ctx, row, actor)
        ctx.conn.execute(update(TK).where(TK.c.id == row.id).values(replaced_by=view["id"]))
    old = token_view(_row(ctx.conn, token_id), ctx.now)
    ctx.append(ev.TOKEN_ROTATED, actor, _subject(row), _brief(old) | {"new_id": view["id"]})
    return token, view


def _subject(row: Any) -> str | None:
    return f"agent:{row.agent}" if row.agent else f"machine:{row.machine}" if row.machine else None


def _brief(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in ("id", "kind", "agent", "machine", "label", "prefix", "status")}


def list_tokens(
    conn: Connection, now: datetime, *, everything: bool = False
) -> list[dict[str, Any]]:
    """Tokens, oldest first: live ones, or ``everything`` (revoked and expired too)."""
    rows = conn.execute(select(TK).order_by(TK.c.id))
    views = [token_view(r, now) for r in rows]
    return views if everything else [v for v in views if v["status"] == "active"]


def get_token(conn: Connection, token_id: int, now: datetime) -> dict[str, Any]:
    return token_view(_row(conn, token_id), now)


def resolve_token(conn: Connection, token: str, now: datetime) -> TokenRecord | None:
    """What ``token`` stands for, or ``None`` if it is unknown, revoked, expired, or its agent is
    no longer in the fleet."""
    A = tables.agents
    row = conn.execute(
        select(TK, A.c.active, OP.c.role)
        .outerjoin(A, A.c.name == TK.c.agent)
        .outerjoin(OP, (OP.c.name == TK.c.label) & (TK.c.kind == "operator"))
        .where(TK.c.token_hash == hash_token(token), TK.c.revoked_at.is_(None))
    ).first()
    if row is None or (row.kind == "agent" and not row.active):
        return None
    return _record(row, now)


def _record(row: Any, now: datetime) -> TokenRecord | None:
    """A valid token's record; ``None`` if it expired, or is an operator's whose person is gone."""
    if row.kind == "operator" and row.role is None:
        return None
    record = TokenRecord(
        row.id, row.kind, row.agent, row.machine, row.label, row.expires_at, row.role
    )
    return record if record.valid_at(now) else None


class TokenCache:
    """Resolved tokens kept briefly in memory so a heartbeat costs no extra query.

    Cleared whenever a token is revoked or rotated, or an agent leaves the fleet (on every
    replica, from the event log), so it never lets a revoked token through; expiry is checked
    on every use.

    When an entry lapses, the requests that present that token at once share one lookup
    (:meth:`lookup`), and entries lapse at spread times (a quarter of the TTL at random). Every
    agent's token is cached in the same second when a fleet starts; without both, each of them
    lapsed at the same moment every TTL, and each request in flight read its token in a worker
    thread: at 4,000 heartbeats/s on PostgreSQL a pause of 100-150 ms every 30 s, the whole p99.
    """

    def __init__(self, ttl_seconds: float = 30.0, max_entries: int = 100_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, TokenRecord]] = {}
        self._loading: dict[str, asyncio.Future[TokenRecord | None]] = {}
        self._generation = 0
        """Counts :meth:`clear`: a lookup begun before one does not cache what it read."""

    def get(self, token: str, now: datetime) -> TokenRecord | None:
        entry = self._entries.get(token)
        if entry is None or entry[0] < time.monotonic() or not entry[1].valid_at(now):
            return None
        return entry[1]

    async def lookup(
        self,
        token: str,
        now: datetime,
        load: Callable[[], Awaitable[TokenRecord | None]],
    ) -> TokenRecord | None:
        """The cached record, or ``load()``'s, shared with every request that asks for the same
        token while it runs; ``None`` for a token that resolves to nothing."""
        record = self.get(token, now)
        if record is not None:
            return record
        pending = self._loading.get(token)
        if pending is None:
            pending = asyncio.ensure_future(self._load(token, load))
            self._loading[token] = pending
        # Shielded: a caller that goes away does not cancel the others' lookup.
        return await asyncio.shield(pending)

    async def _load(
        self, token: str, load: Callable[[], Awaitable[TokenRecord | None]]
    ) -> TokenRecord | None:
        generation = self._generation
        try:
            record = await load()
        finally:
            del self._loading[token]
        if record is not None and generation == self._generation:
            self.put(token, record)
        return record

    def put(self, token: str, record: TokenRecord) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        lapses = time.monotonic() + self.ttl * (1 - random.random() / 4)
        self._entries[token] = (lapses, record)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    def on_events(self, events: list[ev.Event]) -> None:
        """A broker listener: forget everything after a revocation, a rotation or a removal."""
        if any(e.type in TOKEN_EVENTS for e in events):
            self.clear()


# -- dashboard sessions ------------------------------------------------------------------

SESSION_LIFETIME = timedelta(days=7)


def open_session(ctx: WriteContext, record: TokenRecord) -> tuple[str, dict[str, Any]]:
    """A dashboard session for an operator token: the secret for the cookie, and its view."""
    secret = "mcos_s_" + secrets.token_urlsafe(32)
    ends = ctx.now + SESSION_LIFETIME
    if record.expires_at is not None and record.expires_at < ends:
        ends = record.expires_at
    S = tables.sessions
    ctx.conn.execute(
        insert(S).values(
            session_hash=hash_token(secret),
            token_id=record.id,
            operator=record.label,
            created_at=ctx.now,
            expires_at=ends,
        )
    )
    return secret, {"operator": record.label, "expires_at": isoformat(ends)}


def resolve_session(conn: Connection, secret: str, now: datetime) -> TokenRecord | None:
    """The operator token behind a live session, or ``None`` (ended, expired, token revoked)."""
    S = tables.sessions
    row = conn.execute(
        select(TK, OP.c.role, S.c.expires_at.label("session_ends"))
        .join(S, S.c.token_id == TK.c.id)
        .outerjoin(OP, OP.c.name == TK.c.label)
        .where(
            S.c.session_hash == hash_token(secret),
            S.c.ended_at.is_(None),
            TK.c.revoked_at.is_(None),
            TK.c.kind == "operator",
        )
    ).first()
    if row is None or row.session_ends <= now:
        return None
    return _record(row, now)


def end_session(ctx: WriteContext, secret: str) -> bool:
    S = tables.sessions
    ended = ctx.conn.execute(
        update(S)
        .where(S.c.session_hash == hash_token(secret), S.c.ended_at.is_(None))
        .values(ended_at=ctx.now)
    )
    return bool(ended.rowcount)
