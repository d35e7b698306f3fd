"""The baseline of ``bench/ingest.py``: a bare Starlette app under uvicorn, as ``mcos serve`` runs.

It does the least an HTTP service can do for the same requests: parse the JSON body and answer
JSON (no auth, no validation, no database), and fan Server-Sent Events out to subscribers through
one ``asyncio.Queue`` each. The control plane's figures are read as ratios against this one,
measured in the same run on the same machine.

Run: ``python bench/_bare.py PORT``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

subscribers: set[asyncio.Queue[bytes]] = set()
sequence = 0


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def heartbeat(request: Request) -> Response:
    body = await request.json()
    return JSONResponse(
        {"agent": request.path_params["name"], "status": body.get("status"), "tasks": []}
    )


async def publish(request: Request) -> Response:
    """Frame the posted events as SSE and hand one chunk to every subscriber."""
    global sequence
    body = await request.json()
    frames = []
    for event in body["events"]:
        sequence += 1
        data = json.dumps(event, separators=(",", ":")).encode()
        frames.append(b"id: %d\nevent: %s\ndata: %s\n\n" % (sequence, event["type"].encode(), data))
    chunk = b"".join(frames)
    for queue in subscribers:
        queue.put_nowait(chunk)
    return JSONResponse({"published": len(frames)})


async def stream(_: Request) -> Response:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    subscribers.add(queue)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            while True:
                yield await queue.get()
        finally:
            subscribers.discard(queue)

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/v1/agents/{name}/heartbeat", heartbeat, methods=["POST"]),
        Route("/publish", publish, methods=["POST"]),
        Route("/stream", stream),
    ]
)

if __name__ == "__main__":
    # The same uvicorn settings as `mcos serve` (src/mcos/cli/setup.py).
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
