"""Each channel kind against a real local receiver speaking its protocol: SMTP with a login,
a Slack-style webhook, a signed webhook checked by the receiver, Telegram's Bot API."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from pydantic import TypeAdapter

from mcos.fleet.notify import AnyChannel, NotifyChannel
from mcos.notify.content import Notice
from mcos.notify.senders import send
from mcos.notify.transport import Delivery, DeliveryError
from mcos.notify.webhook import sign, verify
from tests.notify.receivers import HttpReceiver, SmtpServer

CHANNEL: TypeAdapter[AnyChannel] = TypeAdapter(NotifyChannel)
DELIVERY = Delivery(
    id="ops:42",
    notice=Notice(
        "p0",
        "P0 from sentinel: intrusion <on> velo & co — waiting for confirmation",
        "sentinel raised P0 incident #7 at 03:12.",
        "http://mc.example/#/inbox?incident=7",
    ),
    fleet="Specter Holdings",
    event_seq=42,
    event_type="incident.raised",
)


def channel(**fields: Any) -> AnyChannel:
    return CHANNEL.validate_python({"name": "ops", "carries": ["p0"], **fields})


def deliver(ch: AnyChannel, env: dict[str, str], delivery: Delivery = DELIVERY) -> None:
    asyncio.run(send(ch, delivery, env, 5))


# The loopback test server takes a login without TLS, as a local relay may; aiosmtpd warns.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_email_goes_through_a_real_smtp_server_with_its_login() -> None:
    with SmtpServer(login=("mc", "s3cret")) as smtp:
        ch = channel(
            kind="email",
            host="127.0.0.1",
            port=smtp.port,
            tls="none",
            user="mc",
            password_env="NOTIFY_SMTP_PASSWORD",
            **{"from": "mc@specter.test"},
            to=["owner@specter.test"],
        )
        deliver(ch, {"NOTIFY_SMTP_PASSWORD": "s3cret"})
        (mail,) = smtp.messages
        assert mail["Subject"] == DELIVERY.notice.subject
        assert mail["To"] == "owner@specter.test"
        assert mail["X-MCOS-Delivery"] == "ops:42", "a client can de-duplicate on it"
        text = mail.get_content()
        assert "http://mc.example/#/inbox?incident=7" in text, "the link opens the incident"

        with pytest.raises(DeliveryError, match=r"SMTP 127\.0\.0\.1"):
            deliver(ch, {"NOTIFY_SMTP_PASSWORD": "wrong"})
        with pytest.raises(DeliveryError, match="NOTIFY_SMTP_PASSWORD is not set"):
            deliver(ch, {})
        assert len(smtp.messages) == 1, "a refused login delivers nothing"


def test_an_smtp_server_that_is_down_is_a_delivery_error() -> None:
    with SmtpServer() as smtp:
        port = smtp.port
    ch = channel(
        kind="email", host="127.0.0.1", port=port, tls="none",
        **{"from": "mc@specter.test"}, to=["owner@specter.test"],
    )  # fmt: skip
    with pytest.raises(DeliveryError, match=r"SMTP 127\.0\.0\.1.*(Connect call failed|refused)"):
        deliver(ch, {})


def test_a_slack_webhook_gets_slacks_json_with_the_text_escaped() -> None:
    with HttpReceiver() as hook:
        deliver(
            channel(kind="webhook", format="slack", url_env="SLACK_URL"), {"SLACK_URL": hook.url()}
        )
        (got,) = hook.received
        text = got.json()["text"]
        assert "&lt;on&gt; velo &amp; co" in text, "Slack's control characters are escaped"
        assert "<http://mc.example/#/inbox?incident=7|Open in Mission Control>" in text


def test_a_signed_webhook_verifies_at_the_receiver_and_names_the_delivery() -> None:
    with HttpReceiver(secret="hook-secret") as hook:
        deliver(
            channel(kind="webhook", format="signed", url=hook.url(), secret_env="HOOK_SECRET"),
            {"HOOK_SECRET": "hook-secret"},
        )
        (got,) = hook.received
        assert hook.state.bad_signatures == 0
        assert got.headers["X-MCOS-Delivery"] == "ops:42"
        body = got.json()
        assert body["kind"] == "p0" and body["link"].endswith("incident=7")
        assert body["event"] == {"seq": 42, "type": "incident.raised"}

        with pytest.raises(DeliveryError, match="answered 401"):
            deliver(
                channel(kind="webhook", format="signed", url=hook.url(), secret_env="HOOK_SECRET"),
                {"HOOK_SECRET": "another-secret"},
            )
        assert hook.state.bad_signatures == 1, "a wrong secret is caught by the receiver"


def test_the_signature_helper_rejects_a_changed_body_and_an_old_timestamp() -> None:
    now = int(time.time())
    body = json.dumps({"id": "ops:1"}).encode()
    header = sign("k", now, body)
    assert verify("k", header, body, now=now)
    assert not verify("k", header, body + b" ", now=now)
    assert not verify("other", header, body, now=now)
    assert not verify("k", header, body, now=now + 3600), "a replay an hour later is refused"


def test_telegram_sends_through_the_bot_api_and_a_bad_token_is_named_not_shown() -> None:
    with HttpReceiver(telegram_token="123:ABC") as bot:
        ch = channel(kind="telegram", token_env="TG_TOKEN", chat_id=987654, api_url=bot.url(""))
        deliver(ch, {"TG_TOKEN": "123:ABC"})
        (got,) = bot.received
        sent = got.json()
        assert sent["chat_id"] == "987654"
        assert sent["text"].startswith("P0 from sentinel")
        assert "http://mc.example/#/inbox?incident=7" in sent["text"]

        with pytest.raises(DeliveryError, match="Telegram answered 401: Unauthorized") as caught:
            deliver(ch, {"TG_TOKEN": "999:WRONG"})
        assert "999:WRONG" not in caught.value.message, "the token is never in an error"
