"""A labelled sample mailbox for the seed fleet: five accounts, a week of realistic mail.

Written for measuring triage (``bench/mail.py``) and for demos and tests that need mail which
looks like the operator's: clients, suppliers, invoices, legal notices, investors, newsletters,
notifications, phishing and prompt injections, threads, attachments and HTML-only bodies. Every
message carries the label a careful assistant would give it (:class:`Label`), which the shipped
rules (:data:`SAMPLE_RULES`, the fleet template's) get right only some of the time, by design.

Deterministic: :func:`messages` is the same list on every call and machine; :func:`backlog`
draws ``n`` more from the same templates, by their everyday frequency, for throughput runs.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from mcos.fleet.mail import Category, MailRule, Topic
from mcos.mail.message import MailItem
from mcos.mail.sample._compose import compose, parse_item
from mcos.mail.sample._templates import ALL, KINDS, TEMPLATES, Kind, Template
from mcos.mail.sample._vocabulary import values

__all__ = [
    "ACCOUNTS",
    "KINDS",
    "SAMPLE_RULES",
    "Kind",
    "Label",
    "SampleAccount",
    "SampleMail",
    "backlog",
    "load_rules",
    "messages",
    "rules_toml",
    "write_maildir",
]

SAST = timezone(timedelta(hours=2), "SAST")
FIRST_DAY = date(2026, 11, 16)
"""The Monday the sample week starts: mail arrives Monday to Friday, 06:00 to 20:00 SAST."""


@dataclass(frozen=True)
class SampleAccount:
    name: str
    kind: str
    """``m365`` or ``imap``, as in ``[[mail.accounts]]``."""
    address: str
    company: str


ACCOUNTS: tuple[SampleAccount, ...] = (
    SampleAccount("specter-m365", "m365", "director@specterholdings.example", "Specter Holdings"),
    SampleAccount("fibreflow-m365", "m365", "office@velocityfibre.example", "Velocity Fibre"),
    SampleAccount("build-imap", "imap", "office@specterbuild.example", "Specter Build"),
    SampleAccount("outdoor-imap", "imap", "bookings@specteroutdoor.example", "Specter Outdoor"),
    SampleAccount("labs-imap", "imap", "hello@specterlabs.example", "Specter Labs"),
)
"""The seed's five mailboxes: two Microsoft 365 tenants, three IMAP servers (one per company)."""
_ADDRESS = {a.name: a.address for a in ACCOUNTS}
assert set(_ADDRESS) == set(ALL), "every template account is one of ACCOUNTS"


@dataclass(frozen=True)
class Label:
    """The truth for one message: what a careful assistant would do with it."""

    category: Category
    topic: Topic | None
    kind: Kind
    template: str
    """The template it was written from (for reading a benchmark's misses)."""
    note: str = ""
    """Why the label is what it is, when that is not obvious."""


@dataclass(frozen=True)
class SampleMail:
    account: str
    raw: bytes
    """The message as a server holds it (RFC 5322)."""
    label: Label
    uid: int
    """Its position in its account, from 1: the IMAP UID in a Maildir or a test server."""

    def item(self) -> MailItem:
        """The message as a mail source reads it (key ``"1:{uid}"``, as for IMAP)."""
        return parse_item(self.raw, f"1:{self.uid}")


def _generate(
    plan: Iterable[Template], rng: random.Random, days: int, start_uid: dict[str, int]
) -> list[SampleMail]:
    drafts: list[tuple[datetime, str, bytes, Label]] = []
    for template in plan:
        account = rng.choice(template.accounts)
        weekday = rng.randrange(days)  # counted in working days: weekends stay quiet
        day = FIRST_DAY + timedelta(days=weekday // 5 * 7 + weekday % 5)
        sent = datetime(day.year, day.month, day.day, 6, tzinfo=SAST) + timedelta(
            minutes=rng.randrange(14 * 60)
        )
        slots = values(rng, day)
        label = Label(
            template.category, template.topic, template.kind, template.name, template.note
        )
        parent = None
        for position in range(template.thread):
            message = compose(
                template, rng, slots, to=_ADDRESS[account], sent_at=sent,
                position=position, parent=parent,
            )  # fmt: skip
            drafts.append((sent, account, bytes(message), label))
            parent = message
            sent += timedelta(minutes=rng.randrange(20, 300))
    drafts.sort(key=lambda d: d[0])
    uids = dict(start_uid)
    found = []
    for _, account, raw, label in drafts:
        uids[account] = uids.get(account, 0) + 1
        found.append(SampleMail(account, raw, label, uids[account]))
    return found


@cache
def _messages() -> tuple[SampleMail, ...]:
    rng = random.Random(20261116)
    plan = [t for t in TEMPLATES for _ in range(t.count)]
    return tuple(_generate(plan, rng, days=5, start_uid={}))


def messages() -> list[SampleMail]:
    """The labelled sample: about 240 messages over the five accounts, oldest first."""
    return list(_messages())


def backlog(n: int, seed: int = 0) -> list[SampleMail]:
    """``n`` messages drawn from the same templates by everyday frequency, oldest first.

    A thread's follow-ups count towards ``n``; the list is cut at exactly ``n``.
    """
    rng = random.Random(seed)
    weights = [t.weight for t in TEMPLATES]
    plan = rng.choices(TEMPLATES, weights=weights, k=n)
    days = max(5, n // 60)
    return _generate(plan, rng, days=days, start_uid={})[:n]


def write_maildir(root: Path, mails: Sequence[SampleMail], account: str | None = None) -> int:
    """Drop ``mails`` (of ``account`` only, if given) into the Maildir at ``root``, in ``new/``.

    Creates ``cur``, ``new`` and ``tmp``; each message is written to ``tmp`` then moved, as the
    Maildir convention requires. Returns how many were written.
    """
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    written = 0
    for mail in mails:
        if account is not None and mail.account != account:
            continue
        name = f"{1_700_000_000 + mail.uid}.sample{mail.uid}.{mail.account}"
        staged = root / "tmp" / name
        staged.write_bytes(mail.raw)
        staged.rename(root / "new" / name)
        written += 1
    return written


def rules_toml() -> str:
    """The fleet template (``mcos init``), whose ``[[mail.rules]]`` are the shipped rules."""
    from mcos.fleet.loader import template_text

    return template_text()


def load_rules(text: str) -> tuple[MailRule, ...]:
    """The ``[[mail.rules]]`` of a TOML document, validated as the fleet file's are."""
    data = tomllib.loads(text)
    return tuple(MailRule.model_validate(r) for r in data.get("mail", {}).get("rules", []))


SAMPLE_RULES: tuple[MailRule, ...] = load_rules(rules_toml())
"""The rules the fleet template ships (its ``[[mail.rules]]``), which the sample measures."""
