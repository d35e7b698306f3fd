"""Each HTTP request's id and its metrics, in one plain ASGI middleware.

The id is the caller's ``X-Request-ID`` when it is a sane one (letters, digits and ``._:-``, up
to 128 characters), else a new random one; it is answered in ``X-Request-ID`` and set in
:data:`mcos.logs.REQUEST_ID` while the request is handled, so log lines carry it. The request
is counted by its route's template (``/api/v1/agents/{name}/heartbeat``), never its raw path,
and timed to its response's headers (a live stream's whole life would say nothing).
"""

from __future__ import annotations

import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcos.api.metrics import UNMATCHED, Metrics
from mcos.logs import REQUEST_ID

HEADER = b"x-request-id"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other a client makes up counts as ``other`` (no new series)."""
SANE_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
# Request ids name a request in the logs; nobody needs them unguessable. ``secrets`` would ask
# the kernel (os.urandom) on every request, and that call hands the GIL over: under load,
# taking it back from the writer thread cost up to a millisecond a request (bench/scale.py
# --profile). Seeded from the kernel once.
_IDS = random.Random()


def request_id_of(scope: Scope) -> str:
    """The caller's request id if it is sane, else a new one."""
    for name, value in scope["headers"]:
        if name == HEADER:
            if SANE_ID.fullmatch(value):
                return str(value.decode())
            break
    return f"{_IDS.getrandbits(64):016x}"


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        echoed = (HEADER, request_id.encode())
        started = time.perf_counter()
        answered: float | None = None
        status = 500  # unless a response starts: the error middleware around answers 500

        async def send_with_id(message: Message) -> None:
            nonlocal answered, status
            if message["type"] == "http.response.start":
                answered = time.perf_counter()
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        reset = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(reset)
            template = getattr(scope.get("route"), "path", None) or UNMATCHED
            seconds = (answered or time.perf_counter()) - started
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.observe_request(method, template, status, seconds)
