"""The asynchronous client: an agent's named operations on the control plane, typed results.

Two layers. :meth:`AsyncClient.request` sends one request and answers raw JSON (the runtime's
hot paths use it and never pay for models), retrying what is safe to retry. The named methods
(:meth:`~AsyncClient.heartbeat`, :meth:`~AsyncClient.move`, :meth:`~AsyncClient.ask`...) build
the body, give every write a client id, and parse the answer into :mod:`mcos.contract.agent`.

Reports (a task created, moved or commented, an incident, usage, a memory note, a message) are
writes an agent can hand over and forget: with an outbox, one the control plane does not take
now is queued durably and the method answers ``None``; it is delivered later, exactly once.
Questions (heartbeat, ask, reads) are never queued: they fail closed with :class:`Unreachable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx2

from mcos.client.errors import ApiError, Unreachable, error_of
from mcos.client.outbox import DeliveryResult, Outbox, Report, backoff_delay
from mcos.client.wire import Wire, delivered, headers_for, storable
from mcos.contract import paths
from mcos.contract.agent import (
    Approval,
    Comment,
    Decision,
    Event,
    HeartbeatAnswer,
    Incident,
    MemoryNote,
    Message,
    Principal,
    Task,
    Usage,
)
from mcos.contract.vocab import MessageKindName, Severity
from mcos.sse import FrameReader

STREAM_READ_TIMEOUT = 90.0
"""Seconds a stream may stay silent: the control plane sends a keep-alive well within it."""
RESYNC = "stream.resync"
OUTBOX_DRAIN_SECONDS = 5.0
"""How long closing a client that made its own outbox keeps delivering what it holds."""
DUPLICATE = "duplicate"
"""``status`` of :meth:`AsyncClient.request`'s answer to a replay the control plane had already
recorded (``{"id": ..., "status": "duplicate"}``, as the batch endpoint answers)."""


def is_duplicate(answer: Any) -> bool:
    """``answer`` is :meth:`AsyncClient.request`'s "recorded by an earlier attempt"."""
    return isinstance(answer, dict) and answer.get("status") == DUPLICATE and len(answer) == 2


class AsyncClient:
    """One agent's (or operator's) way to a control plane: one pool, one bearer token.

    ``agent``: the agent a runner token acts as (sent as ``X-MCOS-Agent``); leave it ``None``
    with an agent's own token (its name is read from ``GET /tokens/current`` when needed).
    ``retries``: how often a request that may be repeated (a read, a write with a client id)
    is tried again after :class:`Unreachable`, waiting ``backoff`` seconds, doubling.
    ``outbox``: an :class:`Outbox` to queue reports in (its owner delivers it), or a path for
    one this client makes, delivers while open and drains on close.
    ``http``: a pool to share (it stays open when this client closes).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        agent: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        outbox: Outbox | Path | str | None = None,
        http: httpx2.AsyncClient | None = None,
    ) -> None:
        self.wire = Wire(url, timeout=timeout, http=http)
        self.url = self.wire.url
        self.token = token
        self.agent = agent
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.outbox: Outbox | None = outbox if isinstance(outbox, Outbox) else None
        self._outbox_path = Path(outbox) if isinstance(outbox, str | Path) else None
        self._delivery: asyncio.Task[None] | None = None
        self._name = agent

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncClient:
        self._own_outbox()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Deliver what this client's own outbox holds (for a while), then close the pool."""
        if self._delivery is not None and self.outbox is not None:
            await self.outbox.drain(OUTBOX_DRAIN_SECONDS)
            self.outbox.close()
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
            self._delivery = None
        await self.wire.aclose()

    def _own_outbox(self) -> Outbox | None:
        """The outbox, made and started on first use when this client was given a path."""
        if self.outbox is None and self._outbox_path is not None:
            self.outbox = Outbox(
                self._outbox_path,
                self._deliver,
                deliver_many=lambda reports: self.wire.deliver_many(self.token, reports),
            )
            self._delivery = asyncio.get_running_loop().create_task(self.outbox.run())
        return self.outbox

    async def _deliver(self, report: Report) -> DeliveryResult:
        return await delivered(
            self.wire.request(self.token, report.method, report.path, report.body, agent=self.agent)
        )

    # -- the low level -----------------------------------------------------------------------

    def new_id(self) -> str:
        """A fresh client id: a write sent again with it is recorded once."""
        return f"{self._name or 'mcos'}-{uuid.uuid4().hex[:16]}"

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        *,
        retries: int | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """One request; the answer's raw JSON. Raises :class:`ApiError` or :class:`Unreachable`.

        Retried after :class:`Unreachable` only when repeating it is harmless: a ``GET``, a body
        with a client ``id``, or ``idempotent=True``. A retry the control plane answers
        ``duplicate_id`` was recorded by an earlier attempt whose answer was lost: it is done,
        and answered ``{"id": ..., "status": "duplicate"}`` (see :func:`is_duplicate`).
        """
        if idempotent is None:
            idempotent = method == "GET" or (body is not None and body.get("id") is not None)
        tries = (self.retries if retries is None else retries) if idempotent else 0
        attempt = 0
        while True:
            try:
                return await self.wire.request(
                    self.token, method, path, body, params, agent=self.agent
                )
            except Unreachable:
                if attempt >= tries:
                    raise
                attempt += 1
                await asyncio.sleep(backoff_delay(attempt, self.backoff))
            except ApiError as exc:
                if attempt and exc.code == "duplicate_id" and body and body.get("id"):
                    return {"id": body["id"], "status": DUPLICATE}
                raise

    async def upload(
        self, path: str, content: bytes, content_type: str, params: dict[str, Any]
    ) -> Any:
        """POST a file's bytes with their media type (an artifact); the raw JSON answer."""
        return await self.wire.upload(
            self.token, path, content, content_type, params, agent=self.agent
        )

    async def download(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """GET bytes (an artifact's content); errors as :meth:`request`."""
        response = await self.wire.send(
            headers_for(self.token, self.agent), "GET", path, params=params
        )
        return response.content

    async def _report(self, path: str, body: dict[str, Any], method: str = "POST") -> Any | None:
        """A write an agent may hand over: sent with a client id, retried; with an outbox, one
        the control plane does not take now is queued (``None``). The raw answer otherwise,
        which :func:`is_duplicate` tells when an earlier attempt recorded it (answer lost)."""
        body = {k: v for k, v in body.items() if v is not None}
        body.setdefault("id", self.new_id())
        outbox = self._own_outbox()
        try:
            # With an outbox, it retries durably: no point waiting here first.
            answer = await self.request(method, path, body, retries=0 if outbox else None)
        except Unreachable:
            if outbox is None:
                raise
            await outbox.put(await self._lane(), method, path, storable(body))
            return None
        return answer

    async def _lane(self) -> str:
        if self._name is None:
            with contextlib.suppress(Unreachable, ApiError, ValueError):
                await self.name()
        return self._name or "client"

    # -- who -------------------------------------------------------------------------------

    async def whoami(self) -> Principal:
        """The token's principal: its kind, scope, expiry, and whom requests are recorded as."""
        principal = Principal.model_validate(await self.request("GET", paths.TOKENS_CURRENT))
        if self._name is None and principal.kind == "agent":
            self._name = principal.agent
        return principal

    async def name(self) -> str:
        """The agent this client acts as (asked of the control plane once, if not given)."""
        if self._name is None:
            principal = await self.whoami()
            if principal.agent is None:
                raise ValueError(
                    f"a {principal.kind} token acts as no agent: use the agent's own token, "
                    "or a runner token with agent='NAME'"
                )
        assert self._name is not None
        return self._name

    # -- heartbeat and tasks -----------------------------------------------------------------

    async def heartbeat(
        self,
        status: str = "working",
        *,
        context_tokens: int | None = None,
        context_window: int | None = None,
        current_task: int | None = None,
        note: str | None = None,
        ack_messages_through: int | None = None,
        ack_incidents_through: int | None = None,
        id: str | None = None,
    ) -> HeartbeatAnswer:
        """Report liveness and the context gauge (tokens of the latest prompt); the answer is
        the work waiting: tasks, directives, messages, incidents, confirmations to give."""
        path = paths.heartbeat(await self.name())
        body = {
            "status": status,
            "context_tokens": context_tokens,
            "context_window": context_window,
            "current_task": current_task,
            "note": note,
            "ack_messages_through": ack_messages_through,
            "ack_incidents_through": ack_incidents_through,
        }
        body = {k: v for k, v in body.items() if v is not None}
        if self.outbox is not None:  # how far behind its reports are, for the operator's metrics
            body["outbox_pending"] = self.outbox.pending()
        answer = await self.request("POST", path, body | {"id": id or self.new_id()})
        if is_duplicate(answer):
            # Recorded, but the work waiting was lost with the answer: a heartbeat is a state,
            # so reporting the same state again (a new id) is the honest way to hear it.
            answer = await self.request("POST", path, body | {"id": self.new_id()})
        return HeartbeatAnswer.model_validate(answer)

    async def tasks(
        self,
        status: str | None = None,
        assignee: str | None = None,
        *,
        limit: int = 500,
        after_id: int = 0,
    ) -> list[Task]:
        """Tasks on the board, oldest first (page with ``after_id``)."""
        params = {"status": status, "assignee": assignee, "limit": limit, "after_id": after_id}
        answer = await self.request(
            "GET", paths.TASKS, params={k: v for k, v in params.items() if v is not None}
        )
        return [Task.model_validate(t) for t in answer["tasks"]]

    async def my_tasks(self, status: str | None = None) -> list[Task]:
        """The tasks assigned to this agent (every status, or one)."""
        return await self.tasks(status, await self.name())

    async def task(self, task_id: int) -> Task:
        """One task with its description, dependencies, children and full history."""
        return Task.model_validate(await self.request("GET", paths.task(task_id)))

    async def create_task(
        self,
        title: str,
        description: str = "",
        *,
        assignee: str | None = None,
        priority: str = "normal",
        kind: str | None = None,
        parent_id: int | None = None,
        depends_on: Sequence[int] = (),
        due_at: datetime | None = None,
        id: str | None = None,
    ) -> Task | None:
        """Put a card in the inbox (or assign it); ``None`` if it was queued in the outbox, or
        recorded by an earlier attempt whose answer was lost."""
        body = {
            "id": id,
            "title": title,
            "description": description,
            "assignee": assignee,
            "priority": priority,
            "kind": kind,
            "parent_id": parent_id,
            "depends_on": list(depends_on) or None,
            "due_at": due_at.isoformat() if due_at else None,
        }
        answer = await self._report(paths.TASKS, body)
        return None if answer is None or is_duplicate(answer) else Task.model_validate(answer)

    async def move(
        self, task_id: int, status: str, reason: str | None = None, *, id: str | None = None
    ) -> Task | None:
        """Move the card (``in_progress``, ``review``, ``blocked``...); the card as it is now,
        or ``None`` if the move was queued in the outbox."""
        answer = await self._report(
            paths.move(task_id), {"id": id, "status": status, "reason": reason}
        )
        if answer is None:
            return None
        if is_duplicate(answer):  # recorded by an attempt whose answer was lost: read the card
            return await self.task(task_id)
        return Task.model_validate(answer)

    async def assign(self, task_id: int, assignee: str | None, *, id: str | None = None) -> Task:
        """Assign the card (``None`` unassigns, from ``assigned`` only)."""
        body = {"id": id or self.new_id(), "assignee": assignee}
        answer = await self.request("POST", paths.assign(task_id), body)
        if is_duplicate(answer):
            return await self.task(task_id)
        return Task.model_validate(answer)

    async def comment(self, task_id: int, body: str, *, id: str | None = None) -> Comment | None:
        """Comment on a task; ``None`` if queued (see :meth:`create_task`)."""
        answer = await self._report(paths.comments(task_id), {"id": id, "body": body})
        return None if answer is None or is_duplicate(answer) else Comment.model_validate(answer)

    # -- asking before acting ----------------------------------------------------------------

    async def ask(self, /, kind: str, **fields: Any) -> Decision:
        """May this agent do this exact action? ``outcome``: ``allow``, ``ask`` (wait for
        ``approval_id``) or ``deny`` (with the policy's reason). Never queued: if the control
        plane cannot be asked, :class:`Unreachable` is raised and the agent must not act.

        ``fields`` are the action's (``command``, ``paths``, ``host``, ``amount_usd``,
        ``reason``...; ``approval_id`` carries out an approved action).
        """
        body = {"kind": kind} | {k: v for k, v in fields.items() if v is not None}
        try:
            # Asking again is one ask (an identical pending approval is answered again).
            answer = await self.request("POST", paths.ACTIONS, body, idempotent=True)
        except ApiError as exc:
            if exc.status == 403 and exc.code == "policy_denied":
                return Decision(decision="deny", reason=exc.message)
            raise
        return Decision.model_validate(answer)

    async def approval(self, approval_id: int) -> Approval:
        """One approval with its decisions."""
        return Approval.model_validate(await self.request("GET", paths.approval(approval_id)))

    async def wait_for_approval(
        self,
        approval_id: int,
        timeout: float = 600.0,  # noqa: ASYNC109 (an agent waits for a person, for so long)
        *,
        poll: float = 1.0,
    ) -> Approval:
        """The approval once decided (approved, denied, expired); :class:`TimeoutError` if it
        is still pending after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        wait = poll
        while True:
            approval = await self.approval(approval_id)
            if approval.settled:
                return approval
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"approval #{approval_id} still pending after {timeout:g} s")
            await asyncio.sleep(min(wait, left))
            wait = min(wait * 1.5, 10.0)

    async def request_approval(
        self,
        /,
        kind: str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109
        **fields: Any,
    ) -> Decision:
        """Ask; if a person must approve, wait for them, and carry the approved action out.

        ``allow``: go ahead (approved now, or allowed outright); ``deny``: the policy refused,
        or the approval was denied or expired (the reason says which); ``ask``: still pending
        after ``timeout`` seconds (``approval_id`` to wait on).
        """
        decision = await self.ask(kind, **fields)
        if decision.outcome != "ask" or decision.approval_id is None:
            return decision
        try:
            approval = await self.wait_for_approval(decision.approval_id, timeout)
        except TimeoutError:
            return decision
        if approval.status != "approved":
            said = "; ".join(d.comment for d in approval.decisions if d.comment)
            return Decision(
                decision="deny",
                reason=f"approval #{approval.id} was {approval.status}"
                + (f": {said}" if said else ""),
                approval_id=approval.id,
            )
        try:
            return await self.ask(kind, approval_id=approval.id, **fields)
        except ApiError as exc:  # expired or applied meanwhile: 409 approval_*
            if exc.code.startswith("approval_"):
                return Decision(decision="deny", reason=exc.message, approval_id=approval.id)
            raise

    # -- reports -----------------------------------------------------------------------------

    async def raise_incident(
        self,
        severity: Severity,
        title: str,
        detail: str = "",
        *,
        agent: str | None = None,
        id: str | None = None,
    ) -> Incident | None:
        """Raise an incident; the escalation table decides who must confirm it before it reaches
        anyone. ``agent``: operators only, the agent reporting. ``None`` if queued."""
        body = {"id": id, "severity": severity, "title": title, "body": detail, "agent": agent}
        answer = await self._report(paths.INCIDENTS, body)
        return None if answer is None or is_duplicate(answer) else Incident.model_validate(answer)

    async def report_usage(
        self,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        *,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        latency_ms: int | None = None,
        task_id: int | None = None,
        id: str | None = None,
    ) -> Usage | None:
        """Record one LLM call; priced by the control plane's price table (``model`` ``None``:
        the agent's model). ``None`` if queued."""
        body = {
            "id": id,
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            "latency_ms": latency_ms,
            "task_id": task_id,
        }
        answer = await self._report(paths.usage(await self.name()), body)
        return None if answer is None or is_duplicate(answer) else Usage.model_validate(answer)

    async def flush_memory(
        self, text: str, *, day: date | None = None, id: str | None = None
    ) -> MemoryNote | None:
        """Write a memory note (the pre-compaction flush) for ``day`` (default: today in the
        fleet's time zone). ``None`` if queued."""
        body = {"id": id, "content": text, "day": day.isoformat() if day else None}
        answer = await self._report(paths.memory(await self.name()), body)
        return None if answer is None or is_duplicate(answer) else MemoryNote.model_validate(answer)

    async def memory(self, days: Sequence[date] = ()) -> list[MemoryNote]:
        """This agent's notes of ``days`` (default: today and yesterday)."""
        answer = await self.request(
            "GET",
            paths.memory(await self.name()),
            params={"day": [d.isoformat() for d in days]} if days else None,
        )
        return [MemoryNote.model_validate(n) for n in answer["notes"]]

    async def send_message(
        self,
        body: str,
        *,
        to: str | None = None,
        channel: str | None = None,
        fleet: bool = False,
        kind: MessageKindName = "chat",
        task_id: int | None = None,
        id: str | None = None,
    ) -> Message | None:
        """To one agent (``to``), a channel, or the whole fleet (needs ``broadcast``).
        ``None`` if queued."""
        payload = {
            "id": id,
            "body": body,
            "to": to,
            "channel": channel,
            "fleet": fleet or None,
            "kind": kind,
            "task_id": task_id,
        }
        answer = await self._report(paths.MESSAGES, payload)
        return None if answer is None or is_duplicate(answer) else Message.model_validate(answer)

    # -- reading -----------------------------------------------------------------------------

    async def messages(
        self, *, channel: str | None = None, after_id: int = 0, limit: int = 200
    ) -> list[Message]:
        """The message log an agent may read: what it sent and what reached it."""
        params = {"channel": channel, "after_id": after_id, "limit": limit}
        answer = await self.request(
            "GET", paths.MESSAGES, params={k: v for k, v in params.items() if v is not None}
        )
        return [Message.model_validate(m) for m in answer["messages"]]

    async def incidents(self, status: str | None = None) -> list[Incident]:
        """Incidents, newest first (an agent sees only those that reach it)."""
        answer = await self.request(
            "GET", paths.INCIDENTS, params={"status": status} if status else None
        )
        return [Incident.model_validate(i) for i in answer["incidents"]]

    async def events(
        self, after: int = 0, types: Sequence[str] = (), *, limit: int = 500
    ) -> list[Event]:
        """The event log after ``after`` (an agent: only events it is party to)."""
        params: dict[str, Any] = {"after": after, "limit": limit}
        if types:
            params["types"] = ",".join(types)
        answer = await self.request("GET", paths.EVENTS, params=params)
        return [Event.model_validate(e) for e in answer["events"]]

    async def stream(
        self, after: int | None = None, types: Sequence[str] = ()
    ) -> AsyncGenerator[Event, None]:
        """Follow the event log live (``/api/v1/stream``), from now or after ``after``.

        A dropped connection, or a ``stream.resync`` (this subscriber fell behind), reconnects
        with ``Last-Event-ID`` set to the last event seen: nothing is missed or repeated. A
        ``stream.resync`` with an id (``after`` is older than what ``mcos db archive`` kept)
        reconnects from that id.
        :class:`Unreachable` after ``retries`` failed reconnects in a row; :class:`ApiError`
        at once (a bad token, a bad ``after``).
        """
        last = after
        failures = 0
        params = {"types": ",".join(types)} if types else None
        timeout = httpx2.Timeout(self.timeout, read=STREAM_READ_TIMEOUT)
        while True:
            headers = headers_for(self.token, self.agent)
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                async with self.wire.http.stream(
                    "GET", paths.STREAM, headers=headers, params=params, timeout=timeout
                ) as response:
                    if response.status_code >= 400:
                        raise error_of(
                            response.status_code, await response.aread(), "GET /api/v1/stream"
                        )
                    failures = 0
                    reader = FrameReader()
                    async for line in response.aiter_lines():
                        frame = reader.feed(line)
                        if frame is None:
                            continue
                        if frame.event == RESYNC:
                            # Fell behind: reconnect and replay from `last`; or resumed from
                            # before the archive horizon: its id moves `last` past it.
                            if frame.id is not None:
                                last = frame.id
                            break
                        if frame.id is not None:
                            last = frame.id
                        if frame.data is not None:
                            yield Event.model_validate_json(frame.data)
            except (httpx2.HTTPError, Unreachable) as exc:
                failures += 1
                if failures > self.retries:
                    if isinstance(exc, Unreachable):
                        raise
                    raise Unreachable(f"event stream at {self.url} lost: {exc!r}") from None
                await asyncio.sleep(backoff_delay(failures, self.backoff))
