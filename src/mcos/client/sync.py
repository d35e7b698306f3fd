"""The blocking client: :class:`AsyncClient`'s methods, for a plain script or a synchronous SDK.

A :class:`Client` owns one event loop on a thread of its own, where its :class:`AsyncClient`
(and its connection pool, and its outbox's delivery) live; each method runs there and blocks the
caller until it is done. So it works the same from a script, a thread pool, or code already
inside another event loop (a notebook), and the pool is reused between calls. Close it (or use
``with``) to drain its outbox and stop the thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
    Sequence,
)
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from mcos.client.aio import AsyncClient
from mcos.client.outbox import Outbox
from mcos.contract.agent import Event

P = ParamSpec("P")
R = TypeVar("R")


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Awaitable[R]],
) -> Callable[Concatenate[Client, P], R]:
    """``AsyncClient.method`` as a blocking method of :class:`Client`, same arguments."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async def run() -> R:
            return await method(self.aio, *args, **kwargs)

        return self._run(run())

    call.__name__ = method.__name__
    call.__qualname__ = f"Client.{method.__name__}"
    call.__doc__ = method.__doc__
    return call


class Client:
    """The same methods as :class:`AsyncClient` (see it for each), blocking."""

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
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mcos-client", daemon=True
        )
        self._thread.start()
        self._closed = False

        async def make() -> AsyncClient:
            client = AsyncClient(
                url,
                token,
                agent=agent,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                outbox=outbox,
            )
            return await client.__aenter__()

        try:
            self.aio = self._run(make())
            """The asynchronous client underneath (its methods run on this client's loop)."""
        except BaseException:
            self._stop()
            raise

    def _run(self, work: Coroutine[Any, Any, R]) -> R:
        if self._closed:
            work.close()
            raise RuntimeError("this mcos client is closed")
        future: Future[R] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result()

    @property
    def url(self) -> str:
        return self.aio.url

    @property
    def token(self) -> str | None:
        return self.aio.token

    def close(self) -> None:
        """Deliver what this client's own outbox holds (for a while), close, stop the thread."""
        if self._closed:
            return
        try:
            self._run(self.aio.aclose())
        finally:
            self._stop()

    def _stop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def new_id(self) -> str:
        return self.aio.new_id()

    request = _blocking(AsyncClient.request)
    upload = _blocking(AsyncClient.upload)
    download = _blocking(AsyncClient.download)
    whoami = _blocking(AsyncClient.whoami)
    name = _blocking(AsyncClient.name)
    heartbeat = _blocking(AsyncClient.heartbeat)
    tasks = _blocking(AsyncClient.tasks)
    my_tasks = _blocking(AsyncClient.my_tasks)
    task = _blocking(AsyncClient.task)
    create_task = _blocking(AsyncClient.create_task)
    move = _blocking(AsyncClient.move)
    assign = _blocking(AsyncClient.assign)
    comment = _blocking(AsyncClient.comment)
    ask = _blocking(AsyncClient.ask)
    approval = _blocking(AsyncClient.approval)
    wait_for_approval = _blocking(AsyncClient.wait_for_approval)
    request_approval = _blocking(AsyncClient.request_approval)
    raise_incident = _blocking(AsyncClient.raise_incident)
    report_usage = _blocking(AsyncClient.report_usage)
    flush_memory = _blocking(AsyncClient.flush_memory)
    memory = _blocking(AsyncClient.memory)
    send_message = _blocking(AsyncClient.send_message)
    messages = _blocking(AsyncClient.messages)
    incidents = _blocking(AsyncClient.incidents)
    events = _blocking(AsyncClient.events)

    def stream(self, after: int | None = None, types: Sequence[str] = ()) -> Iterator[Event]:
        """:meth:`AsyncClient.stream`, one event at a time (blocks until the next arrives)."""
        events: AsyncGenerator[Event, None] = self.aio.stream(after, types)
        try:
            while True:
                try:
                    yield self._run(anext_of(events))
                except StopAsyncIteration:
                    return
        finally:
            if not self._closed:
                self._run(events.aclose())


async def anext_of(events: AsyncIterator[Event]) -> Event:
    return await events.__anext__()
