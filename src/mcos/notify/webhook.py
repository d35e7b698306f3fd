"""A ``webhook`` channel: Slack's incoming-webhook JSON, or a generic JSON body signed with
HMAC-SHA256 (the scheme is in ``README.md``: ``X-MCOS-Signature: t=UNIX,v1=HEX`` over
``f"{t}.{body}"``, and ``X-MCOS-Delivery`` to de-duplicate)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx2

from mcos.fleet.notify import WebhookChannel, url_problem
from mcos.notify.transport import Delivery, DeliveryError, secret, summary
from mcos.tls import trust_context

SIGNATURE_HEADER = "X-MCOS-Signature"
DELIVERY_HEADER = "X-MCOS-Delivery"


def sign(secret_value: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``: ``t=...,v1=...``."""
    mac = hmac.new(secret_value.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret_value: str, header: str, body: bytes, *, now: float, tolerance: float = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (no replays)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret_value, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(delivery: Delivery) -> dict[str, Any]:
    n = delivery.notice
    text = f"*{_slack_escape(n.subject)}*\n{_slack_escape(n.body)}"
    return {"text": f"{text}\n<{n.link}|Open in Mission Control>"}


def signed_body(delivery: Delivery) -> dict[str, Any]:
    n = delivery.notice
    return {
        "id": delivery.id,
        "fleet": delivery.fleet,
        "kind": n.kind,
        "subject": n.subject,
        "body": n.body,
        "link": n.link,
        "event": {"seq": delivery.event_seq, "type": delivery.event_type},
    }


async def send(
    channel: WebhookChannel, delivery: Delivery, environ: Mapping[str, str], seconds: float
) -> None:
    url = channel.url if channel.url is not None else secret(environ, channel.url_env or "")
    problem = url_problem(url)
    if problem is not None:
        raise DeliveryError(f"{channel.url_env}: {problem}")
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery.id}
    if channel.format == "slack":
        body = json.dumps(slack_body(delivery)).encode()
    else:
        body = json.dumps(signed_body(delivery), separators=(",", ":")).encode()
        headers[SIGNATURE_HEADER] = sign(
            secret(environ, channel.secret_env or ""), int(time.time()), body
        )
    host = httpx2.URL(url).host  # never the URL itself: Slack's holds the secret
    try:
        async with httpx2.AsyncClient(
            timeout=seconds, follow_redirects=False, verify=trust_context()
        ) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx2.HTTPError as exc:
        raise DeliveryError(f"webhook {host} unreachable: {type(exc).__name__}") from None
    if not response.is_success:
        raise DeliveryError(
            f"webhook {host} answered {response.status_code}: {summary(response.text, 200)}"
        )
