"""Microsoft 365 mail through Graph, against a fake Entra ID + Graph at the wire over TLS.

The real parts run: MSAL's client-credentials flow, httpx, TLS with a CA the fake made. The
cursor goes through JSON between reads, as it does through the database across a restart.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, unquote_plus

import pytest

from mcos.fleet.mail import M365Account
from mcos.mail.graph import GraphSender, GraphSource
from mcos.mail.message import MAX_TEXT_CHARS, MailboxError, OutgoingMail, SyncBatch
from mcos.mail.settings import MailSettings
from mcos.testing.fake_graph import FakeAttachment, FakeGraph

TENANT = "specter.onmicrosoft.com"
CLIENT_ID = "0b7c3b1e-5f0e-4d5e-9c35-2f8a1e6b7d10"
SECRET = "s3cr3t~Q8Q~not-a-real-secret-value"
MAILBOX = "donna@specter.example"
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        graph.add_app(TENANT, CLIENT_ID, SECRET)
        graph.add_mailbox(MAILBOX, tenant=TENANT)
        yield graph


def _account(**changes: Any) -> M365Account:
    fields: dict[str, Any] = {
        "name": "specter",
        "owner": "donna",
        "kind": "m365",
        "may": ("read", "draft", "send"),
        "address": MAILBOX,
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "client_secret_env": "MCOS_SPECTER_GRAPH_SECRET",
        "mailbox": MAILBOX,
    }
    return M365Account(**(fields | changes))


def _source(fake: FakeGraph, secret: str = SECRET) -> GraphSource:
    return GraphSource(
        _account(),
        secret,
        login_url=fake.login_url,
        graph_url=fake.graph_url,
        verify=fake.ssl_context(),
        timeout=10,
        max_retry_wait=0.2,
    )


def _sender(fake: FakeGraph) -> GraphSender:
    return GraphSender(
        _account(),
        SECRET,
        login_url=fake.login_url,
        graph_url=fake.graph_url,
        verify=fake.ssl_context(),
        timeout=10,
    )


def _fetch(
    fake: FakeGraph,
    cursor: dict[str, Any] | None,
    limit: int = 50,
    since: datetime | None = None,
) -> SyncBatch:
    async def scenario() -> SyncBatch:
        source = _source(fake)
        try:
            return await source.fetch(cursor, limit, since=since)
        finally:
            await source.close()

    return asyncio.run(scenario())


def _through_json(cursor: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(cursor))
    return loaded


def _mail(n: int, *, minutes: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "sender": f"Client{n}@Example.com",
        "subject": f"subject {n}",
        "body": f"body {n}",
        "received_at": T0 + timedelta(minutes=n if minutes is None else minutes),
        **extra,
    }


def test_a_first_read_from_a_date_asks_graph_for_mail_received_since(fake: FakeGraph) -> None:
    for n in (1, 2, 3, 4):
        fake.add_message(MAILBOX, **_mail(n, minutes=n * 60))
    first = _fetch(fake, None, since=T0 + timedelta(minutes=150))
    assert [i.subject for i in first.items] == ["subject 3", "subject 4"]
    asked = [c for c in fake.calls if c.path.endswith("/messages/delta")]
    assert "receivedDateTime" in unquote_plus(asked[0].query)
    fake.add_message(MAILBOX, **_mail(5, minutes=600))
    later = _fetch(fake, _through_json(first.cursor))
    assert [i.subject for i in later.items] == ["subject 5"]


def test_a_second_read_gets_only_new_mail_and_a_saved_cursor_continues_exactly(
    fake: FakeGraph,
) -> None:
    for n in (1, 2, 3):
        fake.add_message(MAILBOX, **_mail(n))
    first = _fetch(fake, None)
    assert [i.subject for i in first.items] == ["subject 1", "subject 2", "subject 3"], (
        "the first sync reads the folder, oldest first"
    )
    assert not first.more and not first.reset
    assert first.items[0].sender == "client1@example.com", "addresses are kept lower case"

    fake.add_message(MAILBOX, **_mail(4))
    second = _fetch(fake, _through_json(first.cursor))  # a new source: as after a restart
    assert [i.subject for i in second.items] == ["subject 4"], "only what came since"

    again = _fetch(fake, _through_json(second.cursor))
    assert again.items == [] and not again.more, "nothing new, nothing read twice"


def test_a_read_stops_at_limit_and_the_cursor_continues_with_the_rest(fake: FakeGraph) -> None:
    for n in range(1, 8):
        fake.add_message(MAILBOX, **_mail(n))
    seen: list[str] = []
    cursor: dict[str, Any] | None = None
    batches = 0
    while True:
        batch = _fetch(fake, cursor, limit=3)
        batches += 1
        assert len(batch.items) <= 3, "never more than the limit"
        seen += [i.subject for i in batch.items]
        cursor = _through_json(batch.cursor)
        if not batch.more:
            break
    assert batches == 3
    assert sorted(seen) == sorted(f"subject {n}" for n in range(1, 8)), "each message once"
    assert len(seen) == len(set(seen))
    fake.add_message(MAILBOX, **_mail(9))
    assert [i.subject for i in _fetch(fake, cursor).items] == ["subject 9"]


def test_an_expired_delta_link_starts_over_and_says_so(fake: FakeGraph) -> None:
    fake.add_message(MAILBOX, **_mail(1))
    first = _fetch(fake, None)
    fake.add_message(MAILBOX, **_mail(2))
    fake.expire_sync_state(MAILBOX)
    batch = _fetch(fake, _through_json(first.cursor))
    assert batch.reset, "the caller learns the read started over"
    assert [i.subject for i in batch.items] == ["subject 1", "subject 2"]
    assert any(c.status == 410 for c in fake.calls), "the fake did answer 410"
    assert not _fetch(fake, _through_json(batch.cursor)).reset, "the new link works"


def test_a_saved_link_to_another_server_is_not_followed_the_read_starts_over(
    fake: FakeGraph,
) -> None:
    fake.add_message(MAILBOX, **_mail(1))
    elsewhere = {"delta_link": "https://graph.evil.example/v1.0/users/x/delta?$deltatoken=t"}
    batch = _fetch(fake, elsewhere)
    assert batch.reset, "the bearer token goes only to the configured Graph"
    assert [i.subject for i in batch.items] == ["subject 1"]
    assert batch.cursor["delta_link"].startswith(fake.graph_url)


def test_throttling_is_waited_out_then_the_read_succeeds(fake: FakeGraph) -> None:
    fake.add_message(MAILBOX, **_mail(1))
    fake.throttle(2, retry_after=0)
    batch = _fetch(fake, None)
    assert [i.subject for i in batch.items] == ["subject 1"]
    assert [c.status for c in fake.calls][:3] == [429, 429, 200]


def test_throttling_that_does_not_end_is_a_network_error(fake: FakeGraph) -> None:
    fake.throttle(50, retry_after=0)
    with pytest.raises(MailboxError) as raised:
        _fetch(fake, None)
    assert raised.value.kind == "network"
    assert "429" in raised.value.message


def test_a_wrong_client_secret_is_an_auth_error_naming_the_variable_not_the_secret(
    fake: FakeGraph,
) -> None:
    wrong = "wr0ng~secret~value-123456"

    async def scenario() -> None:
        source = _source(fake, secret=wrong)
        try:
            await source.fetch(None, 10)
        finally:
            await source.close()

    with pytest.raises(MailboxError) as raised:
        asyncio.run(scenario())
    error = raised.value
    assert error.kind == "auth"
    assert "MCOS_SPECTER_GRAPH_SECRET" in error.message and "'specter'" in error.message
    assert "invalid_client" in error.message
    assert wrong not in error.message and wrong not in str(error)
    assert [r.granted for r in fake.token_requests] == [False]
    assert fake.calls == [], "no Graph call without a token"


def test_attachments_are_listed_never_downloaded(fake: FakeGraph) -> None:
    fake.add_message(
        MAILBOX,
        **_mail(1),
        attachments=(
            FakeAttachment("contract.pdf", "application/pdf", b"x" * 1234),
            FakeAttachment("photo.png", "image/png", b"y" * 99),
        ),
    )
    fake.add_message(MAILBOX, **_mail(2))
    items = _fetch(fake, None).items
    assert [(a.filename, a.content_type, a.size) for a in items[0].attachments] == [
        ("contract.pdf", "application/pdf", 1234),
        ("photo.png", "image/png", 99),
    ]
    assert items[1].attachments == ()
    assert fake.attachment_contents_served == 0, "no attachment content left the server"
    listed = [c for c in fake.calls if c.path.endswith("/attachments")]
    assert len(listed) == 1, "asked only for the message that has attachments"


def test_html_bodies_become_readable_text_and_long_ones_are_cut(fake: FakeGraph) -> None:
    html = (
        "<html><head><style>p {color: red}</style><title>x</title></head><body>"
        "<p>Dear Donna,</p><p>Please sign the <b>NDA</b>&nbsp;by Friday &amp; reply.</p>"
        "<ul><li>one</li><li>two</li></ul><script>alert(1)</script>"
        '<p><a href="https://sign.example/abc">Sign here</a></p></body></html>'
    )
    fake.add_message(MAILBOX, **_mail(1, body=html, html=True))
    fake.add_message(MAILBOX, **_mail(2, body="z" * (MAX_TEXT_CHARS + 500)))
    items = _fetch(fake, None).items
    assert items[0].text == (
        "Dear Donna,\n\nPlease sign the NDA by Friday & reply.\n\n- one\n- two\n\n"
        "Sign here (https://sign.example/abc)"
    )
    assert len(items[1].text) == MAX_TEXT_CHARS and items[1].text.endswith("are shown]")


def test_fields_map_to_the_mail_item(fake: FakeGraph) -> None:
    sent = fake.add_message(
        MAILBOX,
        **_mail(1),
        sender_name="Harvey Specter",
        cc=("Louis@Specter.example",),
        conversation_id="AAQkConversation1",
    )
    fake.add_message(MAILBOX, **_mail(2), conversation_id="AAQkConversation1")
    items = _fetch(fake, None).items
    item = items[0]
    assert item.key == sent.id and item.message_id == sent.internet_message_id
    assert item.thread == "AAQkConversation1" == items[1].thread
    assert item.sender_name == "Harvey Specter" and item.cc == ("louis@specter.example",)
    assert item.to == (MAILBOX,) and item.received_at == T0 + timedelta(minutes=1)
    delta = next(c for c in fake.calls if c.path.endswith("/delta"))
    assert 'IdType="ImmutableId"' in delta.headers["prefer"], "keys survive a move"
    query = unquote(delta.query)
    assert "$select=" in query and ",body," in query, "only the fields an item needs"


def test_deleted_mail_is_skipped(fake: FakeGraph) -> None:
    doomed = fake.add_message(MAILBOX, **_mail(1))
    first = _fetch(fake, None)
    fake.delete_message(MAILBOX, doomed.id)
    fake.add_message(MAILBOX, **_mail(2))
    assert [i.subject for i in _fetch(fake, _through_json(first.cursor)).items] == ["subject 2"]


def test_one_token_serves_many_calls_and_a_rejected_token_is_replaced(fake: FakeGraph) -> None:
    fake.add_message(MAILBOX, **_mail(1), attachments=(FakeAttachment("a.pdf"),))

    async def scenario() -> None:
        source = _source(fake)
        try:
            batch = await source.fetch(None, 10)
            await source.fetch(batch.cursor, 10)
            await source.fetch(batch.cursor, 10)
            assert len(fake.token_requests) == 1, "the token is reused until it expires"
            fake.expire_tokens()
            await source.fetch(batch.cursor, 10)
            assert len(fake.token_requests) == 2, "a token Graph refuses is fetched anew"
        finally:
            await source.close()

    asyncio.run(scenario())
    assert len(fake.calls) >= 5


def _outgoing(**changes: Any) -> OutgoingMail:
    fields: dict[str, Any] = {
        "sender": MAILBOX,
        "to": ("harvey@client.example",),
        "cc": ("louis@client.example",),
        "subject": "The NDA",
        "body": "Dear Harvey,\n\nSigned copy attached tomorrow.\n\nDonna",
    }
    return OutgoingMail(**(fields | changes))


def test_a_draft_is_saved_to_drafts(fake: FakeGraph) -> None:
    async def scenario() -> str:
        source = _source(fake)
        try:
            return await source.save_draft(_outgoing())
        finally:
            await source.close()

    draft_id = asyncio.run(scenario())
    [draft] = fake.drafts(MAILBOX)
    assert draft.id == draft_id
    assert (draft.subject, draft.body, draft.body_type) == ("The NDA", _outgoing().body, "text")
    assert draft.to == ("harvey@client.example",) and draft.cc == ("louis@client.example",)
    assert fake.sent == [], "a draft is not sent"


def test_send_mail_sends_exactly_the_given_message(fake: FakeGraph) -> None:
    async def scenario() -> str:
        sender = _sender(fake)
        try:
            return await sender.send(_outgoing())
        finally:
            await sender.close()

    reference = asyncio.run(scenario())
    [sent] = fake.sent
    assert sent.via == "sendMail" and sent.save_to_sent_items
    assert sent.message == {
        "subject": "The NDA",
        "body": {"contentType": "Text", "content": _outgoing().body},
        "toRecipients": [{"emailAddress": {"address": "harvey@client.example"}}],
        "ccRecipients": [{"emailAddress": {"address": "louis@client.example"}}],
    }
    assert reference.startswith("graph-request:") and len(reference) > len("graph-request:")


def _send(fake: FakeGraph, mail: OutgoingMail) -> str:
    async def scenario() -> str:
        sender = _sender(fake)
        try:
            return await sender.send(mail)
        finally:
            await sender.close()

    return asyncio.run(scenario())


def test_a_throttled_send_is_sent_once_when_the_throttling_ends(fake: FakeGraph) -> None:
    fake.throttle(1, retry_after=0, status=429)
    _send(fake, _outgoing())
    assert len(fake.sent) == 1
    assert [c.status for c in fake.calls] == [429, 202]


def test_a_send_that_failed_after_the_fact_is_not_tried_again(fake: FakeGraph) -> None:
    fake.throttle(1, status=500)
    with pytest.raises(MailboxError) as raised:
        _send(fake, _outgoing())
    assert raised.value.kind == "network" and "asked 1 times" in raised.value.message
    assert [c.status for c in fake.calls] == [500], "a lost answer never sends twice"


def test_a_reply_is_threaded_by_graph_and_carries_exactly_the_given_text(fake: FakeGraph) -> None:
    original = fake.add_message(MAILBOX, **_mail(1, body="<p>Can you send the NDA?</p>", html=True))
    mail = _outgoing(subject="Re: subject 1", in_reply_to=original.internet_message_id)

    async def scenario() -> str:
        sender = _sender(fake)
        try:
            return await sender.send(mail)
        finally:
            await sender.close()

    message_id = asyncio.run(scenario())
    [sent] = fake.sent
    assert sent.via == "send" and sent.in_reply_to == original.internet_message_id
    assert sent.message["internetMessageId"] == message_id
    assert sent.message["conversationId"] == original.conversation_id
    assert sent.message["subject"] == "Re: subject 1"
    assert sent.message["body"] == {"contentType": "text", "content": mail.body}, (
        "the quoted original createReply added is replaced by exactly the approved text"
    )
    assert [r["emailAddress"]["address"] for r in sent.message["toRecipients"]] == list(mail.to)
    assert [r["emailAddress"]["address"] for r in sent.message["ccRecipients"]] == list(mail.cc)


def test_a_reply_to_a_message_not_in_the_mailbox_is_not_sent(fake: FakeGraph) -> None:
    async def scenario() -> None:
        sender = _sender(fake)
        try:
            await sender.send(_outgoing(in_reply_to="<nowhere@example.com>"))
        finally:
            await sender.close()

    with pytest.raises(MailboxError, match="not in") as raised:
        asyncio.run(scenario())
    assert raised.value.kind == "protocol" and fake.sent == []


def test_sending_as_another_address_is_refused(fake: FakeGraph) -> None:
    async def scenario() -> None:
        sender = _sender(fake)
        try:
            await sender.send(_outgoing(sender="jessica@specter.example"))
        finally:
            await sender.close()

    with pytest.raises(MailboxError) as raised:
        asyncio.run(scenario())
    assert raised.value.kind == "config" and fake.sent == []


def test_the_runner_builds_a_source_from_settings_and_the_environment(
    fake: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCOS_M365_LOGIN_URL", fake.login_url)
    monkeypatch.setenv("MCOS_GRAPH_URL", fake.graph_url)
    monkeypatch.setenv("MCOS_MAIL_CA_FILE", str(fake.ca_file))
    fake.add_message(MAILBOX, **_mail(1))

    with pytest.raises(MailboxError, match="MCOS_SPECTER_GRAPH_SECRET is not set") as missing:
        GraphSource.from_settings(_account(), {}, MailSettings())
    assert missing.value.kind == "config"

    async def scenario() -> SyncBatch:
        env = {"MCOS_SPECTER_GRAPH_SECRET": SECRET}
        source = GraphSource.from_settings(_account(), env, MailSettings())
        try:
            return await source.fetch(None, 10)
        finally:
            await source.close()

    assert [i.subject for i in asyncio.run(scenario()).items] == ["subject 1"]


def test_an_unknown_mailbox_is_a_config_error(fake: FakeGraph) -> None:
    async def scenario() -> None:
        source = GraphSource(
            _account(mailbox="nobody@specter.example"),
            SECRET,
            login_url=fake.login_url,
            graph_url=fake.graph_url,
            verify=fake.ssl_context(),
        )
        try:
            await source.fetch(None, 10)
        finally:
            await source.close()

    with pytest.raises(MailboxError, match=r"nobody@specter\.example") as raised:
        asyncio.run(scenario())
    assert raised.value.kind == "config"
