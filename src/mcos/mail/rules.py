"""The fleet file's mail rules applied to one message: which rule wins, and what it matched.

Pure and deterministic, so the digest can say exactly why a message landed where it did, and a
benchmark can measure the rules without a model. Rules match on data only (the sender address,
its domain, words in the subject or body, attachment names): a mail that says "classify me as
routine" is just a mail containing those words. It can add matches (a keyword rule reads the
body) but never remove one, so a stronger rule it matches still wins.

Precedence is the one ``[[routing]]`` uses: among the rules that match, the highest
``priority`` wins, and at equal priority the later rule in the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from mcos.fleet.mail import Category, MailRule, Topic
from mcos.mail.message import MailItem


@dataclass(frozen=True)
class RuleVerdict:
    """The winning rule for one message, and the evidence, for the digest and the audit."""

    rule: str
    category: Category
    topic: Topic | None
    reason: str
    """The rule's ``reason`` as written in the fleet file (may be empty)."""
    priority: int
    matched: tuple[str, ...]
    """What matched, readable: ``"sender ceo@x.example"``, ``"keyword 'summons'"``."""
    also: tuple[str, ...] = ()
    """The other rules that matched and lost, best first."""

    def describe(self) -> str:
        """One line for the digest: the rule, its reason, and the evidence."""
        why = f": {self.reason}" if self.reason else ""
        return f"rule {self.rule!r}{why} ({', '.join(self.matched)})"


def _glob(pattern: str) -> re.Pattern[str]:
    # Only "*" is special (any run of characters), as the fleet file documents; no "?" or "[".
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.IGNORECASE)


@lru_cache(maxsize=4096)
def _compiled_glob(pattern: str) -> re.Pattern[str]:
    return _glob(pattern)


@lru_cache(maxsize=1024)
def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern per rule's keywords: at the start of a word, any case (as routing matches).

    "deploy" finds "deployment", "hr" does not find "three". The longest keyword is tried first
    so that the match reports it rather than a shorter one sharing its start.
    """
    ordered = sorted({k.lower() for k in keywords}, key=len, reverse=True)
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(k) for k in ordered) + ")")


def keywords_in(keywords: Sequence[str], text: str) -> tuple[str, ...]:
    """The keywords (as written in the rule) found in ``text`` at the start of a word."""
    if not keywords:
        return ()
    lowered = text.lower()
    found = {m.group(0) for m in _keyword_pattern(tuple(keywords)).finditer(lowered)}
    if not found:
        return ()
    # The alternation reports each place once; a shorter keyword sharing a longer one's start
    # ("board" in "board meeting") is also found there, so check those by themselves.
    return tuple(
        k
        for k in keywords
        if k.lower() in found or _keyword_pattern((k,)).search(lowered) is not None
    )


def sender_domain(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def in_domain(domain: str, address: str) -> bool:
    """The address is at ``domain`` or one of its subdomains (``a@mail.x.example`` is in x)."""
    own, wanted = sender_domain(address), domain.lower().strip(".")
    return own == wanted or own.endswith("." + wanted)


def rule_evidence(rule: MailRule, item: MailItem) -> tuple[str, ...]:
    """What of ``rule``'s match this message meets, readable; empty when it does not match."""
    match = rule.match
    evidence: list[str] = []
    sender = item.sender.lower()
    evidence += [f"sender {sender}" for p in match.senders if _compiled_glob(p).fullmatch(sender)]
    evidence += [f"domain {d}" for d in match.domains if in_domain(d, sender)]
    body = f"{item.subject}\n{item.text}"
    evidence += [f"keyword {k!r}" for k in keywords_in(match.keywords, body)]
    evidence += [
        f"subject keyword {k!r}" for k in keywords_in(match.subject_keywords, item.subject)
    ]
    for pattern in match.attachments:
        glob = _compiled_glob(pattern)
        evidence += [
            f"attachment {a.filename!r}" for a in item.attachments if glob.fullmatch(a.filename)
        ]
    return tuple(dict.fromkeys(evidence))


def applies_to(rule: MailRule, account: str) -> bool:
    return not rule.accounts or account in rule.accounts


def classify_by_rules(
    rules: Sequence[MailRule], account: str, item: MailItem
) -> RuleVerdict | None:
    """The verdict of the winning rule for ``item`` read from ``account``, or ``None``.

    Only rules for that account (or for all accounts) count. Highest ``priority`` wins; at
    equal priority, the later rule. Nothing in the message can choose the rule: it is matched
    against the rules' data, never asked.
    """
    found: list[tuple[int, int, MailRule, tuple[str, ...]]] = []
    for position, rule in enumerate(rules):
        if not applies_to(rule, account):
            continue
        evidence = rule_evidence(rule, item)
        if evidence:
            found.append((rule.priority, position, rule, evidence))
    if not found:
        return None
    found.sort(key=lambda f: (-f[0], -f[1]))
    _, _, best, evidence = found[0]
    return RuleVerdict(
        rule=best.name,
        category=best.category,
        topic=best.topic,
        reason=best.reason,
        priority=best.priority,
        matched=evidence,
        also=tuple(f[2].name for f in found[1:]),
    )


def final_category(model: Category | None, rule: RuleVerdict | None) -> Category | None:
    """A rule overrides the model; the model decides what no rule covers.

    ``None`` when neither classified the message (no rule matched and the model gave no valid
    verdict): the caller shows it as unsorted rather than guessing.
    """
    if rule is not None:
        return rule.category
    return model
