"""Named operators: the people who run the fleet, each with a role and their own tokens.

An operator is a row of ``operators`` (name, role); their tokens are operator tokens whose label
is their name, so every event a person causes names them (``operator:alice``). Roles:

- ``owner``: everything, including tokens, operators and budgets;
- ``approver``: decides approvals, confirms incidents, votes, pauses and resumes agents, works
  the board; never tokens, operators or budgets;
- ``viewer``: sees everything, changes nothing.

What each role may call is checked once, in ``api/auth.py`` (``check_role``). This module keeps
what the API cannot: the fleet always has an owner, and a person the escalation table names as
its ``human`` stays one who may confirm.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from mcos.contract.requests import isoformat
from mcos.contract.vocab import DECIDING_ROLES, OPERATOR_NAME_PATTERN, OPERATOR_ROLES
from mcos.domain import events as ev
from mcos.errors import Conflict, InvalidInput, NotFound
from mcos.fleet.schema import Fleet
from mcos.services import tokens
from mcos.services.access import SYSTEM
from mcos.storage import tables
from mcos.storage.writer import WriteContext

OP = tables.operators
TK = tables.tokens
NAME = re.compile(OPERATOR_NAME_PATTERN)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidInput(
            f"operator name {name!r} is not valid: use lowercase letters, digits, '.', '_' or "
            "'-', starting with a letter (at most 64), e.g. 'alice'",
            field="name",
        )
    return name


def check_role(role: str) -> str:
    if role not in OPERATOR_ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(OPERATOR_ROLES)}", field="role")
    return role


def _row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(OP).where(OP.c.name == name)).first()
    if row is None:
        raise NotFound(f"no operator named {name!r} (`mcos operators ls` lists them)", field="name")
    return row


def _live_tokens(conn: Connection, now: datetime) -> dict[str, int]:
    """How many live operator tokens each person holds."""
    rows = conn.execute(
        select(TK.c.label, func.count())
        .where(
            TK.c.kind == "operator",
            TK.c.revoked_at.is_(None),
            TK.c.expires_at.is_(None) | (TK.c.expires_at > now),
        )
        .group_by(TK.c.label)
    )
    return {label: int(count) for label, count in rows}


def _view(row: Any, live: dict[str, int]) -> dict[str, Any]:
    return {
        "name": row.name,
        "role": row.role,
        "actor": f"operator:{row.name}",
        "created_at": isoformat(row.created_at),
        "created_by": row.created_by,
        "tokens": live.get(row.name, 0),
    }


def _owners(conn: Connection) -> int:
    count: int = conn.execute(select(func.count()).where(OP.c.role == "owner")).scalar_one()
    return count


def list_operators(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Every operator, by name, with their role and how many live tokens they hold."""
    live = _live_tokens(conn, now)
    return [_view(row, live) for row in conn.execute(select(OP).order_by(OP.c.name))]


def get_operator(conn: Connection, name: str, now: datetime) -> dict[str, Any]:
    return _view(_row(conn, name), _live_tokens(conn, now))


def add_operator(
    ctx: WriteContext, name: str, role: str, actor: str = SYSTEM
) -> tuple[str, dict[str, Any]]:
    """A new person with ``role`` and their first token: its plain text (shown once) and their
    view."""
    check_name(name)
    check_role(role)
    if ctx.conn.execute(select(OP.c.name).where(OP.c.name == name)).first() is not None:
        raise Conflict(
            f"operator {name!r} already exists; `mcos tokens issue --operator {name}` gives them "
            "another token",
            code="operator_exists",
            field="name",
        )
    ctx.conn.execute(insert(OP).values(name=name, role=role, created_at=ctx.now, created_by=actor))
    ctx.append(ev.OPERATOR_ADDED, actor, f"operator:{name}", {"name": name, "role": role})
    token, issued = tokens.issue(ctx, "operator", label=name, actor=actor)
    return token, get_operator(ctx.conn, name, ctx.now) | {"token_id": issued["id"]}


def _refuse_last_owner(ctx: WriteContext, row: Any, what: str) -> None:
    if row.role == "owner" and _owners(ctx.conn) <= 1:
        raise Conflict(
            f"{row.name!r} is the last owner: {what} would leave nobody able to issue tokens or "
            f"name operators; make someone else an owner first (`mcos operators role NAME owner`)",
            code="last_owner",
            field="name",
        )


def _refuse_named_human(fleet: Fleet | None, name: str, what: str) -> None:
    """The escalation table's named human must stay able to confirm, or those incidents never
    could be."""
    named = sorted(s for s, r in (fleet.escalation if fleet else {}).items() if r.human == name)
    if named:
        raise Conflict(
            f"the escalation table names {name!r} as the human who confirms "
            f"{', '.join(named)} incidents: {what} would leave them unconfirmable; change "
            "[escalation] human in the fleet file first",
            code="named_human",
            field="name",
        )


def escalation_problems(conn: Connection, fleet: Fleet) -> list[str]:
    """Escalation rules naming a person who is not an owner or approver here: said at start, as
    such incidents could never be confirmed (the fleet file is read before any person exists)."""
    roles = {r.name: r.role for r in conn.execute(select(OP.c.name, OP.c.role))}
    return [
        f"[escalation.{severity}] human = {rule.human!r}: "
        + (
            f"{rule.human!r} is a {roles[rule.human]}, who cannot confirm"
            if rule.human in roles
            else "no operator of that name"
        )
        + f"; {severity} incidents cannot be confirmed until `mcos operators add {rule.human} "
        "--role approver` (or role owner)"
        for severity, rule in sorted(fleet.escalation.items())
        if rule.human is not None and roles.get(rule.human) not in DECIDING_ROLES
    ]


def set_role(
    ctx: WriteContext, name: str, role: str, actor: str, fleet: Fleet | None = None
) -> dict[str, Any]:
    """Change a person's role; takes effect on their very next request."""
    check_role(role)
    row = _row(ctx.conn, name)
    if row.role == role:
        return get_operator(ctx.conn, name, ctx.now)
    if role != "owner":
        _refuse_last_owner(ctx, row, f"making them {role}")
    if role not in DECIDING_ROLES:
        _refuse_named_human(fleet, name, f"making them a {role}")
    ctx.conn.execute(update(OP).where(OP.c.name == name).values(role=role))
    ctx.append(
        ev.OPERATOR_ROLE_CHANGED,
        actor,
        f"operator:{name}",
        {"name": name, "role": role, "was": row.role},
    )
    return get_operator(ctx.conn, name, ctx.now)


def remove_operator(
    ctx: WriteContext, name: str, actor: str, fleet: Fleet | None = None
) -> dict[str, Any]:
    """Remove a person and revoke every token they hold (and so their dashboard sessions)."""
    row = _row(ctx.conn, name)
    _refuse_last_owner(ctx, row, "removing them")
    _refuse_named_human(fleet, name, "removing them")
    view = get_operator(ctx.conn, name, ctx.now)
    held = ctx.conn.execute(
        select(TK.c.id).where(
            TK.c.kind == "operator", TK.c.label == name, TK.c.revoked_at.is_(None)
        )
    ).scalars()
    revoked = [tokens.revoke_held(ctx, token_id, actor) for token_id in list(held)]
    ctx.conn.execute(delete(OP).where(OP.c.name == name))
    ctx.append(
        ev.OPERATOR_REMOVED,
        actor,
        f"operator:{name}",
        {"name": name, "role": row.role, "revoked_tokens": revoked},
    )
    return view | {"tokens": 0}
