"""The batch endpoint: many heartbeats, messages and events in one atomic, idempotent write.

Every item carries a client-chosen id. A retried batch records nothing twice: items whose id was
already recorded for the same actor come back as ``duplicate``. The batch is all or nothing: if
any new item is refused, nothing of it is written and the error names that item.
"""

from __future__ import annotations

from typing import Any

from mcos.contract.requests import BatchIn
from mcos.errors import InvalidInput
from mcos.fleet.schema import Fleet
from mcos.services.access import Principal, require_self
from mcos.services.events import check_client_event
from mcos.services.heartbeats import HeartbeatItem, record_heartbeats
from mcos.services.messages import send_message
from mcos.storage.writer import WriteContext


def check_batch(principal: Principal, batch: BatchIn) -> None:
    """Checks that need no database: unique ids, acting only as oneself, event types."""
    # Heartbeats, messages and events share one id space per actor (the event log's
    # (actor, client_id) key), so an id may appear only once in the whole batch.
    seen: set[str] = set()
    for name in ("heartbeats", "messages", "events"):
        for index, item in enumerate(getattr(batch, name)):
            if item.id in seen:
                raise InvalidInput(
                    f"id {item.id!r} appears twice in this batch", field=f"{name}[{index}].id"
                )
            seen.add(item.id)
    for index, heartbeat in enumerate(batch.heartbeats):
        field = f"heartbeats[{index}].agent"
        if heartbeat.agent is None and principal.is_operator:
            raise InvalidInput(
                "an operator token must name the agent of each heartbeat", field=field
            )
        if heartbeat.agent is not None:
            require_self(principal, heartbeat.agent, field=field)
    for index, event in enumerate(batch.events):
        check_client_event(event, f"events[{index}].", principal)


def apply_batch(
    ctx: WriteContext, fleet: Fleet, principal: Principal, batch: BatchIn
) -> dict[str, Any]:
    result: dict[str, list[dict[str, Any]]] = {"heartbeats": [], "messages": [], "events": []}
    actor = principal.actor
    seen_heartbeats = {
        client_id
        for _, client_id in ctx.recorded_client_ids([(actor, h.id) for h in batch.heartbeats])
    }
    new_heartbeats = [
        HeartbeatItem(
            h.agent or principal.name,
            h,
            principal.actor,
            answer=False,
            field=f"heartbeats[{index}]",
        )
        for index, h in enumerate(batch.heartbeats)
        if h.id not in seen_heartbeats
    ]
    recorded = iter(record_heartbeats(ctx, fleet, new_heartbeats) if new_heartbeats else [])
    for heartbeat in batch.heartbeats:
        if heartbeat.id in seen_heartbeats:
            result["heartbeats"].append({"id": heartbeat.id, "status": "duplicate"})
        else:
            seq = next(recorded)["seq"]
            result["heartbeats"].append(ctx.seq_of(seq, {"id": heartbeat.id, "status": "created"}))
    for index, message in enumerate(batch.messages):
        view = send_message(
            ctx, fleet, principal, message, field=f"messages[{index}]", duplicate_ok=True
        )
        status = (
            {"id": message.id, "status": "duplicate"}
            if view is None
            else ctx.seq_of(
                ctx.seq, {"id": message.id, "status": "created", "message_id": view["id"]}
            )
        )
        result["messages"].append(status)
    seen = {
        client_id for _, client_id in ctx.recorded_client_ids([(actor, e.id) for e in batch.events])
    }
    for event in batch.events:
        if event.id in seen:
            result["events"].append({"id": event.id, "status": "duplicate"})
            continue
        appended = ctx.append(
            event.type, principal.actor, event.subject, event.data, client_id=event.id
        )
        result["events"].append(ctx.seq_of(appended.seq, {"id": event.id, "status": "created"}))
    counts = {
        name: {
            "created": sum(1 for r in rows if r["status"] == "created"),
            "duplicate": sum(1 for r in rows if r["status"] == "duplicate"),
        }
        for name, rows in result.items()
    }
    return {"counts": counts, **result}
