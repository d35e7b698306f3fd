"""The uvicorn server ``mcos serve`` runs: it ends live streams before waiting for requests, and
speaks HTTP with header, body and write timeouts (``protocol.py``)."""

from __future__ import annotations

import socket

import uvicorn
from starlette.types import ASGIApp

from mcos.api.protocol import timed_protocol
from mcos.logs import log_config
from mcos.settings import Settings
from mcos.stream import Broker


def server_config(app: ASGIApp, settings: Settings, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=log_config(settings.log_format, settings.log_level),
        log_level=settings.log_level,
        access_log=settings.access_log,
        timeout_graceful_shutdown=5,
        # X-Forwarded-Proto/-For are believed from the configured TLS proxies only.
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies.strip() or None,
        http=timed_protocol(settings),
    )


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
