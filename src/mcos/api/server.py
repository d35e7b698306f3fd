"""The uvicorn server ``mcos serve`` runs: it ends live streams before waiting for requests,
speaks HTTP with header, body and write timeouts (``protocol.py``), and speaks it in the clear
on loopback only, unless told that a proxy in front terminates TLS."""

from __future__ import annotations

import ipaddress
import socket
import ssl

import uvicorn
from starlette.types import ASGIApp

from mcos.api.protocol import timed_protocol
from mcos.errors import InvalidInput
from mcos.logs import log_config
from mcos.settings import Settings
from mcos.stream import Broker


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address; any other name or address may be reached from
    another machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_transport(settings: Settings, host: str) -> None:
    """Refuse to listen where bearer tokens and the session cookie would cross a network in the
    clear: beyond loopback, ``mcos serve`` needs its own certificate (``--tls-cert`` and
    ``--tls-key``) or the word that a proxy in front terminates TLS (``--behind-proxy``), and
    behind a proxy the https URL operators open (``MCOS_PUBLIC_URL``), which the dashboard's
    origin check and its Secure cookie go by."""
    cert, key = settings.tls_cert, settings.tls_key
    if (cert is None) != (key is None):
        missing = "--tls-key (MCOS_TLS_KEY)" if key is None else "--tls-cert (MCOS_TLS_CERT)"
        raise InvalidInput(
            f"TLS needs a certificate and its private key: give {missing} too",
            field="--tls-key" if key is None else "--tls-cert",
        )
    if cert is not None and key is not None:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput(
                f"cannot use the certificate {str(cert)!r} with the key {str(key)!r}: {exc}",
                field="--tls-cert",
            ) from None
        return
    if is_loopback(host):
        return
    if not settings.behind_proxy:
        raise InvalidInput(
            f"refusing to listen on {host!r} over plain HTTP: tokens would cross the network "
            "unencrypted. Give --tls-cert and --tls-key (MCOS_TLS_CERT, MCOS_TLS_KEY); or, when "
            "a reverse proxy in front terminates TLS, --behind-proxy (MCOS_BEHIND_PROXY=1); or "
            "listen on 127.0.0.1",
            field="--host",
        )
    public = settings.public_url or ""
    if not public.startswith("https://"):
        raise InvalidInput(
            f"behind a TLS proxy, MCOS_PUBLIC_URL must be the https URL operators open (such as "
            f"https://mc.example.com), not {settings.public_url!r}: the dashboard accepts "
            "requests from that origin only, and its cookie is Secure by it",
            field="MCOS_PUBLIC_URL",
        )


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
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
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
