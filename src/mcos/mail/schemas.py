"""Request bodies of ``/api/v1/mail``: what a runner reports it read, what an agent decides.

Validated like every body of the API (``mcos.contract.requests``): unknown keys refused, strings
bounded by their columns and storable on both backends.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from mcos.contract.requests import _Input
from mcos.fleet.mail import NAME_PATTERN, Category, Topic
from mcos.inputs import Instant, RowId
from mcos.mail.message import MAX_ATTACHMENTS, MAX_TEXT_CHARS

AddressText = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
MAX_BATCH = 100
"""Messages in one sync report (the runner sends about 25 at a time)."""


class AttachmentIn(_Input):
    filename: str = Field(max_length=500)
    content_type: str = Field(max_length=200)
    size: int = Field(ge=0, le=10**12)


class MailItemIn(_Input):
    key: str = Field(min_length=1, max_length=255)
    message_id: str = Field(max_length=2_000)
    thread: str = Field(min_length=1, max_length=2_000)
    sender: str = Field(max_length=320)
    sender_name: str = Field(max_length=500)
    to: list[str] = Field(default_factory=list, max_length=500)
    cc: list[str] = Field(default_factory=list, max_length=500)
    subject: str = Field(max_length=2_000)
    received_at: Instant
    text: str = Field(max_length=MAX_TEXT_CHARS + 200)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    in_reply_to: str = Field("", max_length=2_000)


class SyncIn(_Input):
    """New mail read from an account, with the cursor that follows it: stored in one write."""

    items: list[MailItemIn] = Field(default_factory=list, max_length=MAX_BATCH)
    cursor: dict[str, Any]
    """Where the next read starts once these are stored (opaque to the control plane)."""
    reset: bool = False
    """The mailbox changed identity and the read started over: known messages are matched by
    their Message-ID as well as their key."""

    @model_validator(mode="after")
    def _small_cursor(self) -> SyncIn:
        if len(str(self.cursor)) > 8_000:
            raise ValueError("the cursor is over 8,000 characters; it is a position, not data")
        return self


class SyncFailedIn(_Input):
    kind: str = Field(pattern=r"^(auth|network|protocol|config)$")
    message: str = Field(min_length=1, max_length=2_000)


class VerdictIn(_Input):
    message: RowId
    """The mail's id in the control plane."""
    category: Category
    topic: Topic | None = None
    reason: str = Field("", max_length=500)
    """One line: why, as the digest shows it."""


class TriageIn(_Input):
    verdicts: list[VerdictIn] = Field(min_length=1, max_length=200)


class DigestIn(_Input):
    summary: str = Field("", max_length=10_000)
    """The agent's own paragraph on top; the lists below it come from the records."""
    task_id: RowId | None = None
    """The digest task this answers."""


class DraftIn(_Input):
    account: str = Field(pattern=NAME_PATTERN)
    reply_to: RowId | None = None
    """The mail replied to (its thread and Message-ID are carried over)."""
    to: list[AddressText] = Field(default_factory=list, max_length=50)
    cc: list[AddressText] = Field(default_factory=list, max_length=50)
    subject: str = Field(min_length=1, max_length=998)
    body: str = Field(min_length=1, max_length=100_000)
    draft_ref: str | None = Field(None, max_length=255)
    """Where the mailbox saved it (its Drafts folder), when it did."""

    @model_validator(mode="after")
    def _someone(self) -> DraftIn:
        if not self.to and self.reply_to is None:
            raise ValueError("a draft needs 'to', or 'reply_to' to answer a mail's sender")
        return self


class SentIn(_Input):
    body_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """The hash of what was sent: it must be the draft's, as approved."""
    approval_id: RowId | None = None
    sent_ref: str = Field("", max_length=255)


class SendFailedIn(_Input):
    message: str = Field(min_length=1, max_length=2_000)
