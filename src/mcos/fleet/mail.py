"""``[mail]``: the mailboxes agents watch, and the triage rules that override the model.

An account is an IMAP server or a Microsoft 365 mailbox, owned by one agent, with what that
agent may do with it (``read``, ``draft``, ``send``). Secrets are named by environment
variable only (``password_env``, ``client_secret_env``): the fleet file never holds one.

A rule classifies a message whatever the model says: a VIP sender needs the operator today, a
legal keyword goes to the orchestrator as legal, a newsletter domain can wait. Among the rules a
message matches, the highest ``priority`` wins, and at equal priority the later rule (as in
``[[routing]]``). Nothing in a message can change a rule: rules are read from this file only.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, model_validator

from mcos.fleet.model import FleetModel

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
ENV_VAR_PATTERN = r"^[A-Z][A-Z0-9_]{1,127}$"

MailPermission = Literal["read", "draft", "send"]
Category = Literal["operator", "jarvis", "handled", "later"]
"""``operator``: needs the operator today. ``jarvis``: for the orchestrator, legal or
strategic. ``handled``: routine, handled. ``later``: can wait."""
CATEGORIES: tuple[Category, ...] = ("operator", "jarvis", "handled", "later")
Topic = Literal["legal", "strategic"]
"""Why a ``jarvis`` message goes to the orchestrator; legal ones also become routed tasks."""
Tls = Literal["ssl", "starttls", "none"]
"""``ssl``: TLS from the first byte (993, 465); ``starttls``: upgraded (143, 587); ``none``:
plain text, allowed only to a loopback host (a local test server)."""

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
EnvVar = Annotated[str, Field(pattern=ENV_VAR_PATTERN)]
Address = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Account(FleetModel):
    name: Name
    """How the account is named in tools, events and the dashboard."""
    owner: Name
    """The agent that watches it; only that agent reads, drafts or sends from it."""
    may: tuple[MailPermission, ...] = ("read",)
    """What the owner may do: ``read``, ``draft`` (save replies to Drafts), ``send`` (also
    needs the agent's ``email.send`` capability, and an approval by default)."""
    address: Address
    """The mailbox's own address: the From of what is sent."""
    description: str = Field("", max_length=200)
    """A line shown in the Mail view and ``mcos mail accounts``."""


class ImapAccount(_Account):
    kind: Literal["imap"]
    """``imap``: any IMAP mailbox, mail sent over SMTP."""
    host: str = Field(min_length=1, max_length=253)
    """The IMAP server (``imap.gmail.com``, ``outlook.office365.com``)."""
    port: int = Field(993, ge=1, le=65535)
    """The IMAP port: 993 with ``ssl``, 143 with ``starttls``."""
    tls: Tls = "ssl"
    """``ssl`` (TLS from the first byte), ``starttls``, or ``none`` (a loopback test server
    only)."""
    user: str = Field(min_length=1, max_length=320)
    """The IMAP (and SMTP) login, usually the address."""
    password_env: EnvVar
    """The environment variable holding the password (on the owner's machine)."""
    folder: str = Field("INBOX", min_length=1, max_length=200)
    """The folder read for new mail."""
    drafts_folder: str = Field("Drafts", min_length=1, max_length=200)
    """Where drafted replies are saved, for the operator to see in their own client."""
    sent_folder: str = Field("Sent", min_length=1, max_length=200)
    """Where a copy of each message sent over SMTP is saved (SMTP itself keeps none)."""
    smtp_host: str | None = Field(None, min_length=1, max_length=253)
    """Where mail is sent from (default: ``host``); needed only with ``send``."""
    smtp_port: int = Field(465, ge=1, le=65535)
    """The SMTP port: 465 with ``ssl``, 587 with ``starttls``."""
    smtp_tls: Tls = "ssl"
    """As ``tls``, for SMTP."""

    @model_validator(mode="after")
    def _clear_text_only_locally(self) -> ImapAccount:
        for what, host, tls in (
            ("tls", self.host, self.tls),
            ("smtp_tls", self.smtp_host or self.host, self.smtp_tls),
        ):
            if tls == "none" and not _loopback(host):
                raise ValueError(
                    f'account {self.name!r}: {what} = "none" sends the password to {host} in '
                    'clear text; use "ssl" or "starttls" (plain text is only for a loopback '
                    "test server)"
                )
        return self


class M365Account(_Account):
    kind: Literal["m365"]
    """``m365``: a Microsoft 365 mailbox, read and sent through Microsoft Graph with an app
    registration."""
    tenant: str = Field(min_length=1, max_length=100)
    """The Entra ID tenant: its id or its domain (``specter.onmicrosoft.com``)."""
    client_id: str = Field(min_length=1, max_length=100)
    """The app registration's client id (application permissions Mail.ReadWrite, Mail.Send)."""
    client_secret_env: EnvVar
    """The environment variable holding the app registration's client secret."""
    mailbox: Address
    """The user whose mailbox is read (``/users/{mailbox}``)."""
    folder: str = Field("inbox", min_length=1, max_length=200)
    """The mail folder read: a well-known name (``inbox``) or a folder id."""


MailAccount = Annotated[ImapAccount | M365Account, Field(discriminator="kind")]


class MailMatch(FleetModel):
    senders: tuple[str, ...] = ()
    """Sender addresses; ``*`` matches any run of characters (``*@sars.gov.za``)."""
    domains: tuple[str, ...] = ()
    """Sender domains; a domain also matches its subdomains."""
    keywords: tuple[str, ...] = ()
    """Words or phrases in the subject or the body, matched at the start of a word, any case."""
    subject_keywords: tuple[str, ...] = ()
    """Like ``keywords``, in the subject only."""
    attachments: tuple[str, ...] = ()
    """Attachment file names; ``*`` as in ``senders`` (``*.pdf``)."""

    @model_validator(mode="after")
    def _something(self) -> MailMatch:
        if (
            not (self.senders or self.domains or self.keywords or self.subject_keywords)
            and not self.attachments
        ):
            raise ValueError(
                "the match is empty and would match nothing; give senders, domains, keywords, "
                "subject_keywords or attachments"
            )
        return self


class MailRule(FleetModel):
    name: Name
    """Shown in the digest and the events; unique among the rules."""
    match: MailMatch
    """A message matches when any one of the listed senders, domains, keywords… does."""
    category: Category
    """Where a matching mail goes: ``operator`` (needs the operator today), ``jarvis`` (legal or
    strategic), ``handled``, or ``later``; the model does not override it."""
    topic: Topic | None = None
    """For ``jarvis``: ``legal`` (also a task routed by ``[[routing]]``) or ``strategic``."""
    priority: int = Field(0, ge=-100, le=100)
    """When several rules match, the highest priority wins (then the first listed)."""
    reason: str = Field("", max_length=200)
    """Shown in the digest beside each message the rule classified."""
    accounts: tuple[Name, ...] = ()
    """Only for these accounts (default: all)."""

    @model_validator(mode="after")
    def _topic_for_jarvis(self) -> MailRule:
        if self.topic is not None and self.category != "jarvis":
            raise ValueError(
                f"rule {self.name!r}: a topic is for category 'jarvis' only; drop topic or set "
                'category = "jarvis"'
            )
        return self


class Mail(FleetModel):
    accounts: tuple[MailAccount, ...] = ()
    """The mailboxes, each owned by one agent (the communications agent in the seed)."""
    rules: tuple[MailRule, ...] = ()
    """Rules that classify mail before the model sees it (VIPs, newsletters, invoices, phishing)."""
    sync_every_seconds: int = Field(300, ge=10, le=86_400)
    """How often the owner's runner reads new mail."""
    first_sync_days: int = Field(7, ge=0, le=3_650)
    """A mailbox read for the first time (or after its server renumbered it) is read from this
    many days back, so years of old mail are not triaged (and paid for) at once; 0: all of it."""
    flag_to: Name | None = None
    """Who ``jarvis`` messages are flagged to (default: the orchestrator)."""

    def account(self, name: str) -> ImapAccount | M365Account | None:
        return next((a for a in self.accounts if a.name == name), None)

    def owned_by(self, agent: str) -> list[ImapAccount | M365Account]:
        return [a for a in self.accounts if a.owner == agent]
