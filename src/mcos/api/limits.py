"""Refuse oversize bodies before they are read into memory (pure ASGI, no per-request task).

One limit for every body (``MCOS_MAX_REQUEST_BYTES``, JSON), but for the routes given their own
(``BodyLimit.larger``: the artifact upload takes ``MCOS_ARTIFACT_MAX_BYTES`` of raw bytes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcos.errors import PayloadTooLarge


@dataclass(frozen=True)
class RouteLimit:
    """A route whose bodies have a limit of their own (larger or smaller than the default)."""

    method: str
    path: re.Pattern[str]
    max_bytes: int
    field: str | None
    """The field the 413 names (``content`` for an uploaded file)."""
    answer: Callable[[str, int], tuple[str, bytes]] | None = None
    """The 413's content type and body from the request's content type and the limit, for a
    route whose protocol has its own error body (OTLP's ``google.rpc.Status``); else the one
    error shape."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, larger: Sequence[RouteLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = tuple(larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, field, answer = self.max_bytes, None, None
        for route in self.larger:
            if scope["method"] == route.method and route.path.fullmatch(scope["path"]):
                max_bytes, field, answer = route.max_bytes, route.field, route.answer
                break
        await self._limited(scope, receive, send, max_bytes, field, answer)

    async def _limited(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        max_bytes: int,
        field: str | None,
        answer: Callable[[str, int], tuple[str, bytes]] | None,
    ) -> None:
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > max_bytes or declared < 0:
                    await self._refuse(send, max_bytes, field, answer, content_type)
                    return
        seen = 0
        refused = False

        async def limited_receive() -> Message:
            # A body without Content-Length (chunked) is counted as it arrives. Past the limit
            # the 413 is sent from here, and the app is told the client went away: raising
            # instead would reach the app as a body-parsing failure (a 400).
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    refused = True
                    await self._refuse(send, max_bytes, field, answer, content_type)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # the 413 has been sent; whatever the app answers is dropped
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(
        self,
        send: Send,
        max_bytes: int,
        field: str | None,
        answer: Callable[[str, int], tuple[str, bytes]] | None,
        content_type: str,
    ) -> None:
        error = PayloadTooLarge(f"the request body is larger than {max_bytes} bytes", field=field)
        media, body = (
            answer(content_type, max_bytes)
            if answer is not None
            else ("application/json", orjson.dumps(error.body()))
        )
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": [
                    (b"content-type", media.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
