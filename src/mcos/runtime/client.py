"""The runtime's side of the control plane's HTTP API, over :mod:`mcos.client`: one pool shared
by a runner's agents, each request with the runner token acting as one agent.

Questions that need an answer now (may I run this? may I spend? what is my work?) go straight
to the control plane and fail closed when it cannot be reached. Reports (usage, memory notes,
compactions, task progress) go through the durable outbox, so an outage loses none of them.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from mcos.client.aio import AsyncClient
from mcos.client.errors import ApiError, Unreachable
from mcos.client.outbox import DeliveryResult, Outbox, Report
from mcos.client.wire import AGENT_HEADER, UPLOAD_TIMEOUT, Wire, storable
from mcos.contract import paths

__all__ = [
    "AGENT_HEADER",
    "UPLOAD_TIMEOUT",
    "AgentLink",
    "ApiError",
    "ControlPlane",
    "Unreachable",
    "deliver",
    "deliver_many",
    "storable",
]


class ControlPlane(Wire):
    """HTTP to one control plane, shared by every agent of a runner (one connection pool);
    :class:`mcos.client.wire.Wire`, where requests are sent and their errors read."""


TELL_WAIT_SECONDS = 5.0
"""How long :meth:`AgentLink.tell` waits for the agent's earlier reports to be delivered before
it queues behind them instead."""


@dataclass
class AgentLink:
    """One agent's way to the control plane: the runner's token acting as this agent (named in
    ``X-MCOS-Agent``), and the runner's outbox."""

    name: str
    token: str
    control_plane: ControlPlane
    outbox: Outbox
    client: AsyncClient = field(init=False, repr=False)
    """The same, as the public client: named methods and typed results over the runner's pool
    and outbox (no retries of its own: the runtime decides what waits)."""
    _queued: list[asyncio.Future[Any]] = field(init=False, repr=False, default_factory=list)
    """Reports queued with :meth:`queue`, and values with :meth:`keep`, whose commit nobody has
    awaited yet."""

    def __post_init__(self) -> None:
        self.client = AsyncClient(
            self.control_plane.url,
            self.token,
            agent=self.name,
            retries=0,
            outbox=self.outbox,
            http=self.control_plane.http,
        )

    async def ask(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Ask now; raises :class:`Unreachable` or :class:`ApiError`."""
        return await self.control_plane.request(
            self.token, method, path, body, params, agent=self.name
        )

    async def upload_artifact(
        self, task_id: int, name: str, content: bytes, content_type: str, note: str = ""
    ) -> dict[str, Any]:
        """Attach ``content`` to the task as the next version of ``name``; the artifact as
        stored (``id``, ``version``, ``sha256``, ``size``…). Raises :class:`Unreachable` or
        :class:`ApiError` (403 not party to the task, 413 too large, 422 a bad name or type)."""
        params = {"name": name} | ({"note": note} if note else {})
        stored: dict[str, Any] = await self.control_plane.upload(
            self.token,
            paths.artifacts(task_id),
            content,
            content_type,
            params,
            agent=self.name,
        )
        return stored

    async def report(self, method: str, path: str, body: dict[str, Any]) -> None:
        """Durably queue a report; it reaches the control plane in order, exactly once.

        Returns once it, and every report queued before it with :meth:`queue`, is committed.
        """
        committed = self.outbox.queue(self.name, method, path, storable(body))
        await self._commit_all(committed)

    def queue(self, method: str, path: str, body: dict[str, Any]) -> None:
        """Queue a report in order and go on before it is committed (it usually is within a
        millisecond): :meth:`committed`, or the next :meth:`report`, waits for the commit.

        For a report that may share the commit of the next one, with nothing in between that
        must not outlive it in a crash: a model call's usage, before the step's state is saved
        and before its tools act (their ``acted`` report) or its task is finished.
        """
        self._keep(self.outbox.queue(self.name, method, path, storable(body)))

    def keep(self, key: str, value: bytes) -> None:
        """Queue ``value`` to be kept under ``key`` (the agent's saved state) in order with its
        reports, and go on: :meth:`committed` waits for it too."""
        self._keep(self.outbox.keep(key, value))

    async def committed(self) -> None:
        """Return once everything queued with :meth:`queue` and :meth:`keep` is committed;
        raises what failed."""
        await self._commit_all()

    def _keep(self, future: asyncio.Future[Any]) -> None:
        # What went through without an error is no longer anyone's to wait for; a failure is
        # kept for the next caller of committed(), which raises it.
        self._queued = [f for f in self._queued if not f.done() or _failed(f)]
        self._queued.append(future)

    async def _commit_all(self, *more: asyncio.Future[Any]) -> None:
        waiting, self._queued = [*self._queued, *more], []
        if waiting:
            # Shielded: a caller cancelled meanwhile leaves the reports queued, to be delivered.
            await asyncio.shield(asyncio.gather(*waiting))

    async def tell(self, method: str, path: str, body: dict[str, Any]) -> Any | None:
        """Send now if the control plane is up (its refusal comes back to the caller), else queue;
        after the agent's reports still in the outbox, never before them.

        The body gets a client id first, so a request that was committed but whose answer was
        lost is recorded once when the outbox delivers it again.
        """
        body = {"id": f"{self.name}-{uuid.uuid4().hex[:16]}"} | body
        if self.outbox.pending_for(self.name):
            # Never before what this agent reported earlier (its task's move to in_progress):
            # those go first, or this goes after them through the outbox.
            try:
                await asyncio.wait_for(self.outbox.delivered_for(self.name), TELL_WAIT_SECONDS)
            except TimeoutError:
                await self.report(method, path, body)
                return None
        try:
            return await self.ask(method, path, body)
        except Unreachable:
            await self.report(method, path, body)
            return None


def _failed(future: asyncio.Future[Any]) -> bool:
    return not future.cancelled() and future.exception() is not None


async def deliver_many(
    control_plane: ControlPlane, tokens: dict[str, str], reports: list[Report]
) -> list[DeliveryResult] | None:
    """The outbox's bundle callback: the reports in as few requests as fit, when one runner
    token covers them all (one machine: the usual runner); else ``None``, one by one."""
    wanted = {tokens.get(r.agent) for r in reports}
    if len(wanted) != 1:
        return None
    return await control_plane.deliver_many(wanted.pop(), reports)


async def deliver(control_plane: ControlPlane, tokens: dict[str, str], report: Report) -> Any:
    """The outbox's delivery callback: send one report with the runner token of its agent's
    machine, acting as that agent."""
    result: DeliveryResult = await control_plane.deliver(tokens.get(report.agent), report)
    return result
