"""The table that picks a channel kind's sender: every kind sends through one interface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mcos.fleet.notify import AnyChannel
from mcos.notify import email, telegram, webhook
from mcos.notify.transport import Delivery

Send = Callable[[Any, Delivery, Mapping[str, str], float], Awaitable[None]]
SENDERS: dict[str, Send] = {
    "email": email.send,
    "webhook": webhook.send,
    "telegram": telegram.send,
}


async def send(
    channel: AnyChannel, delivery: Delivery, environ: Mapping[str, str], seconds: float
) -> None:
    """Send ``delivery`` through ``channel`` within ``seconds``; raise
    :class:`~mcos.notify.transport.DeliveryError` when it did not arrive."""
    await SENDERS[channel.kind](channel, delivery, environ, seconds)
