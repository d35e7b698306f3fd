"""The uvicorn server ``mcos serve`` runs: it ends live streams before waiting for requests."""

from __future__ import annotations

import socket

import uvicorn

from mcos.stream import Broker


class Server(uvicorn.Server):
    """Ends every ``/api/v1/stream`` response at shutdown.

    A stream never finishes by itself, so uvicorn would wait out its graceful-shutdown timeout
    for each open dashboard. Ended streams close cleanly after their last complete frame; the
    client reconnects with ``Last-Event-ID`` and loses nothing.
    """

    def __init__(self, config: uvicorn.Config, broker: Broker) -> None:
        super().__init__(config)
        self.broker = broker

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.broker.end_all()
        await super().shutdown(sockets)
