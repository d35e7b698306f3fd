"""What the control plane answers about mail: accounts, what a runner read, triage, digests and
drafts.

As in :mod:`mcos.contract.fleet`, each model is a body a route really returns, checked against a
running control plane in ``tests/contract/test_responses.py``. A mail's text is the sender's:
untrusted, whatever model carries it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from mcos.contract.agent import Answer

Json = dict[str, Any]


class MailAccount(Answer):
    name: str
    kind: str
    owner: str
    address: str
    may: list[str]
    cursor: Json | None
    synced_at: datetime | None
    messages: int
    failing_since: datetime | None
    error_kind: str | None
    error: str | None


class MailAccountList(Answer):
    accounts: list[MailAccount]


class MailSynced(Answer):
    account: str
    stored: int
    duplicates: int
    classified_by_rules: int
    ids: list[int]
    reset: bool
    recovered: bool


class MailFailure(Answer):
    account: str
    owner: str
    kind: str
    error: str
    failing_since: datetime


class Mail(Answer):
    """A mail as listed; ``GET /mail/messages/{id}`` adds its text, addresses and key. Its text
    is the sender's: untrusted."""

    id: int
    account: str
    thread: str
    sender: str
    sender_name: str
    subject: str
    received_at: datetime
    attachments: int | list[Json]
    category: str | None
    topic: str | None
    reason: str | None
    classified_by: str | None
    model_category: str | None
    triaged_at: datetime | None
    flag_message_id: str | None
    task_id: int | None
    digest_id: int | None
    key: str | None = None
    message_id: str | None = None
    to: list[str] | None = None
    cc: list[str] | None = None
    text: str | None = None
    synced_at: datetime | None = None


class MailList(Answer):
    messages: list[Mail]


class Triaged(Answer):
    mail: list[Mail]
    overridden_by_rules: list[Json]


class Digest(Answer):
    id: int
    agent: str
    task_id: int | None
    day: date
    counts: dict[str, int]
    created_at: datetime
    markdown: str


class DigestList(Answer):
    digests: list[Digest]


class Draft(Answer):
    """A mail draft, never edited; ``body_sha256`` is what an ``email.send`` must name."""

    id: int
    account: str
    agent: str
    reply_to: int | None
    from_: str = Field(alias="from")
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    in_reply_to: str
    body_sha256: str
    status: str
    draft_ref: str | None
    approval_id: int | None
    sent_ref: str | None
    sent_at: datetime | None
    error: str | None
    created_at: datetime


class DraftList(Answer):
    drafts: list[Draft]
