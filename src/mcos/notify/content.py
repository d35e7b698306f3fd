"""What a notification says: a short subject and body a person reads on a phone at 3 a.m.
(who, what, since when, what to do) and the link that opens the exact item in the dashboard.

Pure: the caller reads what an event does not carry (a task's kind, the written briefing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from mcos.domain import events as ev

BODY_LIMIT = 1200
"""Characters of free text (an incident's body, the briefing) kept in a notification."""


@dataclass(frozen=True)
class Notice:
    kind: str
    """What it carries, as in a channel's ``carries`` (``p0``, ``approvals``, ...)."""
    subject: str
    body: str
    link: str
    """Opens the item in the dashboard."""


def kind_of(event_type: str, data: dict[str, Any], task_kind: str | None = None) -> str | None:
    """Which ``carries`` kind an event is, or ``None`` when no channel carries it."""
    if event_type == ev.INCIDENT_RAISED and data.get("status") == "unconfirmed":
        return {"P0": "p0", "P1": "p1"}.get(str(data.get("severity")))
    if event_type == ev.APPROVAL_REQUESTED and data.get("kind") != "incident":
        return "approvals"  # an incident's confirmation is carried as p0/p1
    if event_type in (ev.COMMITTEE_OPENED, ev.COMMITTEE_DECIDED):
        return "committee"
    if event_type == ev.SUPERVISION_ESCALATED:
        return "silent"
    if event_type == ev.BUDGET_EXCEEDED and data.get("paused"):
        return "budget"
    if event_type == ev.TASK_MOVED and task_kind == "briefing":
        to, was = data.get("to"), data.get("from")
        if to == "review" or (to == "done" and was != "review"):
            return "briefing"  # written once: into review, or straight to done
    if event_type == ev.MAIL_SEND_FAILED:
        return "mail_failed"
    return None


def _clip(text: object, limit: int = BODY_LIMIT) -> str:
    text = str(text or "").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _when(ts: datetime, zone: ZoneInfo) -> str:
    return ts.astimezone(zone).strftime("%H:%M on %a %d %b (%Z)")


def _who(actor: object) -> str:
    text = str(actor or "someone")
    return text.split(":", 1)[1] if text.startswith(("agent:", "operator:")) else text


def notice(
    kind: str,
    event_type: str,
    ts: datetime,
    data: dict[str, Any],
    *,
    fleet_name: str,
    zone: ZoneInfo,
    link_base: str,
    briefing_text: str | None = None,
) -> Notice:
    """The notification for an event of ``kind`` (see :func:`kind_of`)."""
    when = _when(ts, zone)
    base = link_base.rstrip("/")
    if kind in ("p0", "p1"):
        reporter, severity = data.get("reporter"), kind.upper()
        title = _clip(data.get("title"), 120)
        waits = (
            "It reaches no agent until the orchestrator and you confirm it."
            if kind == "p0"
            else "It reaches no agent until the orchestrator confirms it; you may decide too."
        )
        return Notice(
            kind,
            f"{severity} from {reporter}: {title} — waiting for confirmation",
            f"{reporter} raised {severity} incident #{data.get('id')} at {when}:\n{title}\n"
            + (f"\n{_clip(data.get('body'))}\n" if data.get("body") else "")
            + f"\n{waits} Confirm or dismiss it in Mission Control.",
            f"{base}/#/inbox?incident={data.get('id')}",
        )
    if kind == "approvals":
        agent = data.get("agent") or "the fleet"
        waiting = ", ".join(data.get("waiting_for") or data.get("required") or []) or "nobody"
        return Notice(
            kind,
            f"Approval #{data.get('id')} waiting: {data.get('kind')} for {agent}",
            f"{_who(data.get('requested_by'))} asked at {when} to approve a {data.get('kind')} "
            f"for {agent}.\n"
            + (f"Reason: {_clip(data.get('reason'), 400)}\n" if data.get("reason") else "")
            + f"Waiting for: {waiting}. Expires {_when_text(data.get('expires_at'), zone)}.\n"
            "Approve or deny it in Mission Control.",
            f"{base}/#/inbox?approval={data.get('id')}",
        )
    if kind == "committee":
        committee = data.get("committee")
        link = f"{base}/#/inbox?committee={committee}"
        if event_type == ev.COMMITTEE_OPENED:
            human = " You have a vote." if data.get("human") else ""
            return Notice(
                kind,
                f"Committee #{committee} opened: {_clip(data.get('title'), 120)}",
                f"Opened at {when}: {_clip(data.get('question'), 600)}\n"
                f"Members: {', '.join(data.get('members') or [])}; rule {data.get('rule')}, "
                f"quorum {data.get('quorum')}.{human}",
                link,
            )
        outcome = data.get("outcome") or str(data.get("status", "")).replace("_", " ")
        return Notice(
            kind,
            f"Committee #{committee} {outcome}: {_clip(data.get('title'), 120)}",
            f"Decided at {when}: {_clip(data.get('explanation'), 600)}\nThe minutes are in "
            "Mission Control.",
            link,
        )
    if kind == "silent":
        agent = data.get("agent")
        return Notice(
            kind,
            f"{agent} is silent; supervision could not wake it",
            f"At {when}: {_clip(data.get('reason'), 600)}.\nIts runner needs a person: "
            f"restart `mcos run` on its machine, or nudge it from Mission Control.",
            f"{base}/#/agents/{agent}",
        )
    if kind == "budget":
        agent = data.get("agent")
        return Notice(
            kind,
            f"{agent} paused: over budget",
            f"{agent} was paused at {when}: {_clip(data.get('reason'), 400)}.\nIt makes no "
            "model call until its budget allows it again (raise it in Mission Control, or wait "
            "for the next day or month).",
            f"{base}/#/agents/{agent}",
        )
    if kind == "briefing":
        return Notice(
            kind,
            f"Morning briefing — {fleet_name}",
            (_clip(briefing_text) if briefing_text else "The morning briefing is written.")
            + f"\n\n(Written at {when}; the figures are in Mission Control.)",
            f"{base}/#/brief",
        )
    agent = data.get("agent") or _who(data.get("actor"))
    return Notice(
        kind,
        f"Mail from {agent} was not sent",
        f"At {when}: {_clip(data.get('error') or data.get('reason'), 600)}",
        f"{base}/#/agents/{agent}" if data.get("agent") else f"{base}/#/fleet",
    )


def _when_text(value: object, zone: ZoneInfo) -> str:
    if not isinstance(value, str):
        return "in 24 hours"
    try:
        return "at " + _when(datetime.fromisoformat(value), zone)
    except ValueError:
        return value


def test_notice(channel: str, fleet_name: str, link_base: str, operator: str) -> Notice:
    """What ``POST /api/v1/notify/{name}/test`` sends."""
    return Notice(
        "test",
        f"Mission Control test — {channel}",
        f"{operator} sent this test through channel {channel!r} of {fleet_name}. If you read "
        "it here, the channel works.",
        f"{link_base.rstrip('/')}/#/fleet",
    )
