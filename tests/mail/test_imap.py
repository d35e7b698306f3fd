"""ImapSource against a real Dovecot: what an operator's mailbox would show and keep."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import trustme
from imap_tools import MailBoxUnencrypted

from mcos.fleet.mail import ImapAccount
from mcos.mail.imap import ImapSource
from mcos.mail.message import MAX_TEXT_CHARS, MailboxError, OutgoingMail, SyncBatch
from mcos.testing.dovecot import Dovecot
from tests.fixtures.server import free_port
from tests.mail.conftest import PASSWORD, USER, message


def fetch(account: ImapAccount, cursor: dict[str, object] | None, limit: int = 50) -> SyncBatch:
    return asyncio.run(ImapSource(account, PASSWORD, timeout=10).fetch(cursor, limit))


def test_a_second_sync_reads_only_the_new_mail(dovecot: Dovecot, account: ImapAccount) -> None:
    for subject in ("one", "two", "three"):
        dovecot.deliver(USER, message(subject), account.folder)
    first = fetch(account, None)
    assert [i.subject for i in first.items] == ["one", "two", "three"], "oldest first"
    assert not first.more and not first.reset
    dovecot.deliver(USER, message("four"), account.folder)
    dovecot.deliver(USER, message("five"), account.folder)
    second = fetch(account, first.cursor)
    assert [i.subject for i in second.items] == ["four", "five"], "nothing is read twice"
    assert second.cursor["uidvalidity"] == first.cursor["uidvalidity"]
    third = fetch(account, second.cursor)
    assert third.items == [] and third.cursor == second.cursor, "no new mail, same cursor"


def test_limit_leaves_the_rest_for_the_next_call(dovecot: Dovecot, account: ImapAccount) -> None:
    for n in range(5):
        dovecot.deliver(USER, message(f"m{n}"), account.folder)
    batch = fetch(account, None, limit=2)
    assert [i.subject for i in batch.items] == ["m0", "m1"] and batch.more
    batch = fetch(account, batch.cursor, limit=2)
    assert [i.subject for i in batch.items] == ["m2", "m3"] and batch.more
    batch = fetch(account, batch.cursor, limit=2)
    assert [i.subject for i in batch.items] == ["m4"] and not batch.more


def test_a_new_uidvalidity_starts_over(dovecot: Dovecot, account: ImapAccount) -> None:
    for subject in ("old", "older"):
        dovecot.deliver(USER, message(subject), account.folder)
    before = fetch(account, None)
    dovecot.renumber(USER, account.folder)
    after = fetch(account, before.cursor)
    assert after.reset, "the caller must learn that UIDs were renumbered"
    assert after.cursor["uidvalidity"] != before.cursor["uidvalidity"]
    assert [i.subject for i in after.items] == ["old", "older"], "read again from UID 1"
    assert {i.message_id for i in after.items} == {i.message_id for i in before.items}
    assert not {i.key for i in after.items} & {i.key for i in before.items}


def test_a_reply_chain_is_one_thread(dovecot: Dovecot, account: ImapAccount) -> None:
    first, reply, again = "<a@example.com>", "<b@specter.test>", "<c@example.com>"
    dovecot.deliver(USER, message("Offer", message_id=first), account.folder)
    dovecot.deliver(
        USER,
        message("Re: Offer", message_id=reply, in_reply_to=first, references=first),
        account.folder,
    )
    dovecot.deliver(
        USER,
        message(
            "Re: Re: Offer", message_id=again, in_reply_to=reply, references=f"{first} {reply}"
        ),
        account.folder,
    )
    dovecot.deliver(USER, message("Unrelated", message_id="<z@example.com>"), account.folder)
    items = fetch(account, None).items
    assert [i.thread for i in items] == [first, first, first, "<z@example.com>"]
    assert [i.in_reply_to for i in items] == ["", first, reply, ""]
    assert items[2].message_id == again


def test_the_fields_a_reader_sees(dovecot: Dovecot, account: ImapAccount) -> None:
    sent = datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    dovecot.deliver(
        USER,
        message(
            "Quarterly numbers",
            sender='"Bob Builder" <Bob@Example.COM>',
            to="donna@specter.test, ops@specter.test",
            cc="Carol <carol@example.com>",
            date=sent,
            text="Plain words.\n",
        ),
        account.folder,
    )
    [item] = fetch(account, None).items
    assert item.sender == "bob@example.com" and item.sender_name == "Bob Builder"
    assert item.to == ("donna@specter.test", "ops@specter.test")
    assert item.cc == ("carol@example.com",)
    assert item.received_at == datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert item.received_at.tzinfo is not None
    assert item.text.strip() == "Plain words."
    assert item.key.endswith(":1")


def test_without_a_date_header_the_server_time_counts(
    dovecot: Dovecot, account: ImapAccount
) -> None:
    dovecot.deliver(USER, message("no date"), account.folder)
    [item] = fetch(account, None).items
    assert abs(item.received_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_attachments_are_listed_not_opened(dovecot: Dovecot, account: ImapAccount) -> None:
    payload = b"%PDF-1.4 " + bytes(range(256)) * 40
    dovecot.deliver(
        USER,
        message(
            "Contract",
            attachments=(
                ("contract.pdf", "application/pdf", payload),
                ("run-me.sh", "application/x-sh", b"#!/bin/sh\nrm -rf /\n"),
            ),
        ),
        account.folder,
    )
    [item] = fetch(account, None).items
    assert [(a.filename, a.content_type) for a in item.attachments] == [
        ("contract.pdf", "application/pdf"),
        ("run-me.sh", "application/x-sh"),
    ]
    assert item.attachments[0].size == len(payload)
    assert "PDF" not in item.text and "rm -rf" not in item.text
    assert item.text.strip() == "Hello Donna."


def test_an_html_only_message_is_read_as_text(dovecot: Dovecot, account: ImapAccount) -> None:
    html = (
        "<html><head><title>Ignore me</title><style>p {color: red}</style></head><body>"
        "<script>alert('x')</script><p>Dear Donna,</p><p>Please sign the <b>NDA</b> &amp; "
        "return it.</p><ul><li>one</li><li>two</li></ul>"
        '<a href="https://example.com/sign">here</a></body></html>'
    )
    dovecot.deliver(USER, message("HTML", text=None, html=html), account.folder)
    [item] = fetch(account, None).items
    assert item.text.startswith("Dear Donna,\n\nPlease sign the NDA & return it.")
    assert "- one\n- two" in item.text
    assert "here (https://example.com/sign)" in item.text
    for hidden in ("Ignore me", "color", "alert", "<"):
        assert hidden not in item.text, f"{hidden!r} is markup, not text"


def test_a_long_body_is_cut_and_says_so(dovecot: Dovecot, account: ImapAccount) -> None:
    dovecot.deliver(USER, message("long", text="word " * 20_000), account.folder)
    [item] = fetch(account, None).items
    assert len(item.text) <= MAX_TEXT_CHARS
    assert item.text.startswith("word word") and "[cut: the message has 100,001" in item.text


def test_reading_leaves_mail_unread(dovecot: Dovecot, account: ImapAccount) -> None:
    dovecot.deliver(USER, message("unread"), account.folder)
    assert len(fetch(account, None).items) == 1
    with MailBoxUnencrypted(dovecot.host, dovecot.port, timeout=10).login(
        USER, PASSWORD, account.folder
    ) as box:
        [flags] = [m.flags for m in box.fetch(mark_seen=False, headers_only=True)]
    assert "\\Seen" not in flags, "the operator still sees the message as new"


def test_a_wrong_password_is_an_auth_error(account: ImapAccount) -> None:
    # A server of its own: after a failed login Dovecot slows every later login from the same
    # address for a while (its auth penalty), which would slow the module's other tests.
    with Dovecot.start({USER: PASSWORD}) as lone:
        source = ImapSource(account.model_copy(update={"port": lone.port}), "not it", timeout=10)
        with pytest.raises(MailboxError) as caught:
            asyncio.run(source.fetch(None, 10))
    assert caught.value.kind == "auth"
    assert "donna-mail" in caught.value.message and "$DONNA_MAIL_PASSWORD" in caught.value.message
    assert "not it" not in caught.value.message, "the password is never shown"


def test_a_closed_port_is_a_network_error(account: ImapAccount) -> None:
    closed = account.model_copy(update={"port": free_port()})
    with pytest.raises(MailboxError) as caught:
        asyncio.run(ImapSource(closed, PASSWORD, timeout=5).fetch(None, 10))
    assert caught.value.kind == "network"


def test_a_missing_folder_names_the_setting(account: ImapAccount) -> None:
    missing = account.model_copy(update={"folder": "No-Such-Folder"})
    with pytest.raises(MailboxError) as caught:
        asyncio.run(ImapSource(missing, PASSWORD, timeout=10).fetch(None, 10))
    assert caught.value.kind == "config" and "'No-Such-Folder'" in caught.value.message


def test_a_draft_is_saved_with_the_draft_flag(dovecot: Dovecot, account: ImapAccount) -> None:
    mail = OutgoingMail(
        sender="donna@specter.test",
        to=("alice@example.com",),
        cc=("jarvis@specter.test",),
        subject="Re: Offer",
        body="Thank you, Alice.\nWe accept — see you Monday.\n",
        in_reply_to="<a@example.com>",
    )
    reference = asyncio.run(ImapSource(account, PASSWORD, timeout=10).save_draft(mail))
    folder, _, uid = reference.partition(":")
    assert folder == account.drafts_folder and uid == "1"
    with MailBoxUnencrypted(dovecot.host, dovecot.port, timeout=10).login(
        USER, PASSWORD, account.drafts_folder
    ) as box:
        [draft] = list(box.fetch(mark_seen=False))
    assert "\\Draft" in draft.flags
    assert draft.from_ == "donna@specter.test"
    assert draft.to == ("alice@example.com",) and draft.cc == ("jarvis@specter.test",)
    assert draft.subject == "Re: Offer"
    assert draft.text == mail.body.replace("\n", "\r\n")
    assert draft.obj["In-Reply-To"] == "<a@example.com>"
    assert draft.obj["References"] == "<a@example.com>"
    assert draft.obj["Message-ID"].endswith("@specter.test>")
    second = asyncio.run(ImapSource(account, PASSWORD, timeout=10).save_draft(mail))
    assert second == f"{account.drafts_folder}:2", "the folder is reused, not recreated"


def test_a_header_with_a_line_break_is_refused(account: ImapAccount) -> None:
    mail = OutgoingMail(
        sender="donna@specter.test",
        to=("alice@example.com",),
        subject="Hi\r\nBcc: everyone@example.com",
        body="x",
    )
    with pytest.raises(MailboxError) as caught:
        asyncio.run(ImapSource(account, PASSWORD, timeout=10).save_draft(mail))
    assert "subject" in caught.value.message and "line break" in caught.value.message


def test_tls_reads_with_the_trusted_certificate_only(tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    with Dovecot.start({USER: PASSWORD}, certificate=(cert, key)) as server:
        assert server.tls_port is not None
        server.deliver(USER, message("over TLS"))
        base = ImapAccount(
            kind="imap",
            name="donna-mail",
            owner="donna",
            address="donna@specter.test",
            host=server.host,
            user=USER,
            password_env="DONNA_MAIL_PASSWORD",
        )
        for tls, port in (("ssl", server.tls_port), ("starttls", server.port)):
            account = base.model_copy(update={"tls": tls, "port": port})
            source = ImapSource(account, PASSWORD, timeout=10, ssl_context=trusting)
            batch = asyncio.run(source.fetch(None, 10))
            assert [i.subject for i in batch.items] == ["over TLS"], tls
        untrusted = base.model_copy(update={"tls": "ssl", "port": server.tls_port})
        with pytest.raises(MailboxError) as caught:
            asyncio.run(ImapSource(untrusted, PASSWORD, timeout=10).fetch(None, 10))
    assert caught.value.kind == "network" and "TLS" in caught.value.message
