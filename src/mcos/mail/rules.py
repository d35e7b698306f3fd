# TEMPORARY local stand-in until the corpus branch lands; not committed.
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mcos.fleet.mail import MailRule
from mcos.mail.message import MailItem


@dataclass(frozen=True)
class RuleVerdict:
    rule: str
    category: str
    topic: str | None
    reason: str


def classify_by_rules(
    rules: Sequence[MailRule], account: str, item: MailItem
) -> RuleVerdict | None:
    best = None
    for r in rules:
        if r.accounts and account not in r.accounts:
            continue
        text = (item.subject + " " + item.text).lower()
        hit = (
            item.sender in r.match.senders
            or item.sender.split("@")[-1] in r.match.domains
            or any(k.lower() in text for k in r.match.keywords)
        )
        if hit and (best is None or r.priority >= best.priority):
            best = r
    return None if best is None else RuleVerdict(best.name, best.category, best.topic, best.reason)
