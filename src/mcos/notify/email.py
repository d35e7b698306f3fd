"""An ``email`` channel: one message over SMTP (aiosmtplib), TLS unless to a loopback host."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from mcos.fleet.notify import EmailChannel
from mcos.notify.transport import Delivery, DeliveryError, secret, summary
from mcos.tls import trust_context


def message(channel: EmailChannel, delivery: Delivery) -> EmailMessage:
    notice = delivery.notice
    msg = EmailMessage()
    msg["Subject"] = notice.subject
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.to)
    msg["Date"] = formatdate(localtime=False)
    domain = channel.sender.rsplit("@", 1)[1]
    # Stable across retries: a mail client shows a message delivered twice only once.
    msg["Message-ID"] = f"<mcos.{delivery.id.replace(':', '.')}@{domain}>"
    msg["X-MCOS-Delivery"] = delivery.id
    msg.set_content(
        f"{notice.body}\n\nOpen it: {notice.link}\n\n— Mission Control, {delivery.fleet}\n"
    )
    return msg


async def send(
    channel: EmailChannel, delivery: Delivery, environ: Mapping[str, str], seconds: float
) -> None:
    password = secret(environ, channel.password_env) if channel.password_env else None
    try:
        await aiosmtplib.send(
            message(channel, delivery),
            hostname=channel.host,
            port=channel.port,
            username=channel.user,
            password=password,
            use_tls=channel.tls == "ssl",
            start_tls=channel.tls == "starttls",
            tls_context=trust_context() if channel.tls != "none" else None,
            timeout=seconds,
        )
    except aiosmtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP {channel.host}:{channel.port}: {summary(str(exc))}") from None
    except OSError as exc:
        why = summary(str(exc) or type(exc).__name__)
        raise DeliveryError(f"SMTP {channel.host}:{channel.port} unreachable: {why}") from None
