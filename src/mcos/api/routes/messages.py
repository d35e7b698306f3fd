"""/api/v1/messages: agent to agent, to a channel, to the fleet."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.params import AfterSeq
from mcos.api.responses import JSON
from mcos.contract.agent import Message, MessageList
from mcos.contract.errors import errors
from mcos.contract.requests import AgentName, MessageIn
from mcos.contract.vocab import MessageKind
from mcos.fleet.schema import NAME_PATTERN
from mcos.services import messages

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


@router.post(
    "", response_model=Message, responses=errors(409), status_code=201, summary="Send a message"
)
async def send_message(body: MessageIn, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    view = await store.write(messages.send_message, store.fleet, principal, body)
    return JSON(view, status_code=201)


@router.get(
    "",
    response_model=MessageList,
    responses=errors(),
    summary="The message log, newest last (an agent: what it sent, and what reached it)",
)
async def list_messages(
    store: CurrentStore,
    principal: CurrentPrincipal,
    agent: AgentName | None = None,
    channel: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    kind: MessageKind | None = None,
    after_id: AfterSeq = 0,
    limit: Annotated[int, Query(ge=1, le=5_000)] = 200,
) -> JSON:
    reader = None
    if not principal.is_operator:
        config = store.fleet.agent(principal.name)
        reader = (principal.name, frozenset(config.channels if config else ()))
    items = await store.read(
        lambda conn: messages.list_messages(
            conn,
            reader=reader,
            agent=agent,
            channel=channel,
            kind=kind.value if kind else None,
            after_id=after_id,
            limit=limit,
        )
    )
    return JSON({"messages": items})
