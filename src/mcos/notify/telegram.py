"""A ``telegram`` channel: the Bot API's ``sendMessage``, plain text (nothing to escape)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx2

from mcos.fleet.notify import TelegramChannel
from mcos.notify.transport import Delivery, DeliveryError, secret, summary
from mcos.tls import trust_context

MAX_TEXT = 4096
"""Telegram refuses a longer message."""


def text_of(delivery: Delivery) -> str:
    n = delivery.notice
    text = f"{n.subject}\n\n{n.body}\n\n{n.link}"
    if len(text) > MAX_TEXT:
        keep = MAX_TEXT - len(n.link) - 4
        text = f"{text[:keep]}…\n\n{n.link}"
    return text


async def send(
    channel: TelegramChannel, delivery: Delivery, environ: Mapping[str, str], seconds: float
) -> None:
    token = secret(environ, channel.token_env)
    url = f"{channel.api_url}/bot{token}/sendMessage"
    payload = {
        "chat_id": channel.chat_id,
        "text": text_of(delivery),
        "disable_web_page_preview": True,
    }
    try:
        async with httpx2.AsyncClient(
            timeout=seconds, follow_redirects=False, verify=trust_context()
        ) as client:
            response = await client.post(url, json=payload)
    except httpx2.HTTPError as exc:
        # The URL holds the token: name the host only.
        raise DeliveryError(
            f"Telegram {httpx2.URL(channel.api_url).host} unreachable: {type(exc).__name__}"
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not response.is_success or not isinstance(answer, dict) or answer.get("ok") is not True:
        description = answer.get("description") if isinstance(answer, dict) else None
        raise DeliveryError(
            f"Telegram answered {response.status_code}: "
            f"{summary(str(description or response.text), 200)}"
        )
