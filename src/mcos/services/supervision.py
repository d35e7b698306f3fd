"""Supervision: the control plane nudges a silent agent, offers its work elsewhere, then tells.

Run by the liveness sweep after ``sweep_liveness``. One episode per silence of an agent that
has heartbeated before (an agent never started is not stalled); the step to take comes from
:func:`mcos.domain.supervision.next_step`, and the episode's state is a row, so a restart
neither repeats a step nor forgets one. The automation acts as the operator ``supervision``:
its reassignments and messages say so in the log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from mcos.contract.requests import MessageIn, TaskAssign, isoformat
from mcos.contract.vocab import MessageKind
from mcos.domain import events as ev
from mcos.domain.kanban import TaskStatus
from mcos.domain.liveness import Liveness
from mcos.domain.supervision import LIVE, Episode, Rules, Step, next_step, pick_peer
from mcos.fleet.schema import OPERATOR, Agent, Fleet
from mcos.services.access import SYSTEM, Principal
from mcos.services.agents import nudge_agent, row_liveness
from mcos.services.messages import send_message
from mcos.services.tasks import assign_task
from mcos.storage import tables
from mcos.storage.writer import WriteContext

A, T, S = tables.agents, tables.tasks, tables.supervision_episodes
SUPERVISION = Principal("operator", "supervision")
OPEN = (TaskStatus.ASSIGNED.value, TaskStatus.IN_PROGRESS.value)


def rules_for(fleet: Fleet, agent: Agent) -> Rules:
    config = fleet.supervision
    interval = config.nudge_every_seconds or fleet.liveness_for(agent).stalled_after_seconds
    return Rules(config.max_wake_attempts, float(interval), config.reassign)


def _episode(row: Any) -> Episode:
    return Episode(
        started_at=row.started_at,
        nudges=row.nudges,
        reassigned=row.reassigned,
        escalated=row.escalated,
        last_step_at=row.last_step_at,
    )


def _open_tasks(conn: Connection) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in conn.execute(
        select(T.c.id, T.c.assignee).where(T.c.status.in_(OPEN)).order_by(T.c.id)
    ):
        if row.assignee is not None:
            out.setdefault(row.assignee, []).append(row.id)
    return out


# Only the columns the sweep reads: every agent's whole row (its JSON columns decoded) took
# most of a 10,000-agent sweep, which holds the writer.
_SWEPT = (
    select(
        A.c.name,
        A.c.role,
        A.c.last_heartbeat_at,
        A.c.reported_status,
        A.c.cooldown_until,
        A.c.paused,
    )
    .where(A.c.active.is_(True))
    .order_by(A.c.name)
)


def supervise(ctx: WriteContext, fleet: Fleet) -> int:
    """Take the next step of every agent's stall episode; returns how many steps were taken."""
    if not fleet.supervision.enabled:
        return 0
    # Only the agents that can take a step: those in an episode, and those silent for the
    # fleet's shortest threshold (no other agent is stalled or offline). Every agent, with its
    # liveness derived, is read only if one of them has work to hand over (peers_of). At 10,000
    # agents, reading and deriving every row every few seconds was most of the sweep.
    quiet_since = ctx.now - timedelta(seconds=fleet.shortest_silence_seconds)
    in_episode = select(S.c.agent).where(S.c.ended_at.is_(None))
    rows = ctx.conn.execute(
        _SWEPT.where(or_(A.c.last_heartbeat_at <= quiet_since, A.c.name.in_(in_episode)))
    ).all()
    episodes = {r.agent: r for r in ctx.conn.execute(select(S).where(S.c.ended_at.is_(None)))}
    liveness = {r.name: row_liveness(fleet, r, ctx.now) for r in rows}
    tasks = _open_tasks(ctx.conn)
    live_by_role: dict[str, list[str]] | None = None

    def peers_of(row: Any) -> dict[str, int]:
        """The live agents of the same role and their open tasks, as the sweep has them now.
        Asked only of an agent that has work to hand over or is escalated: asked of every
        agent, it made the sweep quadratic (10,000 agents: minutes in the writer)."""
        nonlocal live_by_role
        if live_by_role is None:
            live_by_role = {}
            for r in ctx.conn.execute(_SWEPT).all():
                if row_liveness(fleet, r, ctx.now) in LIVE:
                    live_by_role.setdefault(r.role, []).append(r.name)
        same_role = live_by_role.get(row.role, ())
        return {name: len(tasks.get(name, [])) for name in same_role if name != row.name}

    taken = 0
    for row in rows:
        agent = fleet.agent(row.name)
        episode = episodes.get(row.name)
        if agent is None or (episode is None and row.last_heartbeat_at is None):
            continue
        own = tasks.get(row.name)
        peers = peers_of(row) if own else None
        rules = rules_for(fleet, agent)
        step = next_step(
            _episode(episode) if episode is not None else None,
            liveness[row.name],
            ctx.now,
            rules,
            can_reassign=bool(peers and own),
        )
        if step is None:
            continue
        if step == Step.RECOVER:
            _recover(ctx, episode, liveness[row.name])
        else:
            if episode is None:
                episode = _start(ctx, row.name, liveness[row.name])
            silent = (ctx.now - row.last_heartbeat_at).total_seconds()
            context = {
                "agent": row.name,
                "episode": episode.id,
                "liveness": liveness[row.name].value,
                "silent_seconds": round(silent, 3),
            }
            if step == Step.NUDGE:
                _nudge(ctx, episode, rules, context)
            elif step == Step.REASSIGN:
                assert peers is not None  # can_reassign: it has work and peers
                peer = pick_peer(peers)
                assert peer is not None
                handed = tasks.pop(row.name, [])
                _reassign(ctx, episode, peer, row.role, handed, context)
                # The peer's load counts them now: a second silent agent's work, in this same
                # sweep, goes to the next least-loaded agent rather than piling on this one.
                tasks.setdefault(peer, []).extend(handed)
            else:
                peers = peers if peers is not None else peers_of(row)
                _escalate(ctx, fleet, episode, agent, peers, tasks.get(row.name, []), context)
        taken += 1
    return taken


def _start(ctx: WriteContext, agent: str, liveness: Liveness) -> Any:
    episode_id = ctx.conn.execute(
        insert(S).values(
            agent=agent,
            started_at=ctx.now,
            liveness=liveness.value,
            nudges=0,
            reassigned=False,
            escalated=False,
            detail={},
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    return ctx.conn.execute(select(S).where(S.c.id == episode_id)).one()


def _advance(ctx: WriteContext, episode: Any, **values: Any) -> None:
    ctx.conn.execute(update(S).where(S.c.id == episode.id).values(last_step_at=ctx.now, **values))


def _nudge(ctx: WriteContext, episode: Any, rules: Rules, context: dict[str, Any]) -> None:
    attempt = episode.nudges + 1
    reason = (
        f"supervision: silent for {context['silent_seconds']:.0f}s "
        f"(wake attempt {attempt} of {rules.max_wake_attempts})"
    )
    nudge_agent(ctx, context["agent"], reason, SYSTEM)
    _advance(ctx, episode, nudges=attempt)
    ctx.append(
        ev.SUPERVISION_NUDGED,
        SYSTEM,
        f"agent:{context['agent']}",
        context | {"attempt": attempt, "max_wake_attempts": rules.max_wake_attempts},
    )


def _reassign(
    ctx: WriteContext,
    episode: Any,
    peer: str,
    role: str,
    task_ids: list[int],
    context: dict[str, Any],
) -> None:
    why = (
        f"{context['agent']} has been silent for {context['silent_seconds']:.0f}s and did not "
        f"wake after {episode.nudges} nudge(s); {peer} is the least-loaded live {role} agent"
    )
    for task_id in task_ids:
        assign_task(ctx, SUPERVISION, task_id, TaskAssign(assignee=peer))
    _advance(ctx, episode, reassigned=True, detail={"reassigned": task_ids, "to": peer})
    ctx.append(
        ev.SUPERVISION_REASSIGNED,
        SYSTEM,
        f"agent:{context['agent']}",
        context | {"to": peer, "tasks": task_ids, "reason": why},
    )


def _escalate(
    ctx: WriteContext,
    fleet: Fleet,
    episode: Any,
    agent: Agent,
    peers: dict[str, int],
    open_tasks: list[int],
    context: dict[str, Any],
) -> None:
    if episode.reassigned:
        done = f"its tasks {episode.detail.get('reassigned')} went to {episode.detail.get('to')}"
    elif not peers:
        done = f"no other live {agent.role} agent can take its work"
    else:
        done = "it had no open tasks to hand over"
    why = (
        f"{agent.name} has been {context['liveness']} for {context['silent_seconds']:.0f}s and "
        f"did not wake after {episode.nudges} nudge(s); {done}"
    )
    told = [OPERATOR]
    if agent.supervisor != OPERATOR and fleet.agent(agent.supervisor) is not None:
        send_message(
            ctx,
            fleet,
            SUPERVISION,
            MessageIn(to=agent.supervisor, kind=MessageKind.REPORT, body=f"Supervision: {why}."),
        )
        told.append(agent.supervisor)
    _advance(ctx, episode, escalated=True)
    ctx.append(
        ev.SUPERVISION_ESCALATED,
        SYSTEM,
        f"agent:{agent.name}",
        context | {"told": told, "open_tasks": open_tasks, "reason": why},
    )


def _recover(ctx: WriteContext, episode: Any, liveness: Liveness) -> None:
    ctx.conn.execute(update(S).where(S.c.id == episode.id).values(ended_at=ctx.now))
    ctx.append(
        ev.SUPERVISION_RECOVERED,
        SYSTEM,
        f"agent:{episode.agent}",
        {
            "agent": episode.agent,
            "episode": episode.id,
            "liveness": liveness.value,
            "after_seconds": round((ctx.now - episode.started_at).total_seconds(), 3),
            "nudges": episode.nudges,
            "reassigned": episode.reassigned,
            "escalated": episode.escalated,
        },
    )


def open_escalations(conn: Connection) -> list[dict[str, Any]]:
    """Agents supervision has told the operator about and that are still silent, oldest first:
    the dashboard's inbox lists them, since only a person can bring a dead runner back."""
    rows = conn.execute(
        select(S).where(S.c.escalated.is_(True), S.c.ended_at.is_(None)).order_by(S.c.started_at)
    )
    return [
        {
            "agent": r.agent,
            "episode": r.id,
            "silent_since": isoformat(r.started_at),
            "liveness": r.liveness,
            "nudges": r.nudges,
            "reassigned": r.detail.get("reassigned") or [],
            "reassigned_to": r.detail.get("to"),
            "told_at": isoformat(r.last_step_at),
        }
        for r in rows
    ]
