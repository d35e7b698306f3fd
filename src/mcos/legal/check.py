"""The checker: a draft's parties, registration numbers and signatories against the registry.

It reads the ``.docx`` itself (what would be signed), not what it was rendered from, so it
catches a wrong fact however it got in — a free-text field the model filled, a hand-edited or
uploaded file. Its rules:

- a **registration number** (``YYYY/NNNNNN/NN``) must be a party's; one in a paragraph that
  names exactly one party must be that party's;
- a **company name** (words ending ``(Pty) Ltd``, ``Ltd``, ``Limited``, ``CC``, ``NPC``,
  ``Inc``) must be a party's legal or trading name;
- an **identity number** (13 digits) must be a party's or a signatory's;
- a **signature block** (``For and on behalf of:`` / ``Name:`` / ``Capacity:``, or ``Signed
  by:`` for a person) must be for a party, by one of its registry signatories, in the capacity
  the registry gives; every signing party needs at least one.

Each disagreement names what the draft says and the registry's right value.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from mcos.legal.compose import CAPACITY, NAME, SIGNED_BY_COMPANY, SIGNED_BY_PERSON
from mcos.legal.docx_io import docx_text
from mcos.legal.parties import Party

REGISTRATION = re.compile(r"(?<![\d/])(\d{4})\s*/\s*(\d{6})\s*/\s*(\d{2})(?![\d/])")
ID_NUMBER = re.compile(r"(?<!\d)\d{13}(?!\d)")
_WORD = r"[A-Z0-9][\w&'\u2019.\-]*"
COMPANY_NAME = re.compile(
    rf"(?:{_WORD}\s+){{1,7}}(?:\((?:Pty|PTY|RF)\)\s+(?:Ltd|LTD|Limited|LIMITED)|Limited|LIMITED|"
    r"Ltd|LTD|CC|NPC|Inc)\b"
)
LEADING_WORDS = frozenset(
    "The This That And Between By For Of On Behalf To Dear Re RE Whereas With From Per Signed "
    "Name Messrs Attention Attn".split()
)


@dataclass(frozen=True)
class Disagreement:
    rule: str
    """``registration_number``, ``party_name``, ``id_number``, ``signatory``, ``signature``."""
    found: str
    """What the draft says."""
    message: str
    """Which is wrong and the registry's right value, for the model and the operator."""


def _fold(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").split()).casefold()


def _registration(match: re.Match[str]) -> str:
    return "/".join(match.groups())


def _company_names(paragraph: str) -> list[str]:
    found = []
    for match in COMPANY_NAME.finditer(paragraph):
        words = match.group(0).split()
        while len(words) > 2 and words[0].rstrip(",.:") in LEADING_WORDS:
            words.pop(0)
        found.append(" ".join(words))
    return found


class _Check:
    def __init__(self, parties: list[Party], registry: Any, signing_roles: set[str]) -> None:
        self.parties = parties
        self.registry = registry
        self.signing = [p for p in parties if p.role in signing_roles]
        self.out: list[Disagreement] = []
        self.seen: set[tuple[str, str]] = set()

    def refuse(self, rule: str, found: str, message: str) -> None:
        if (rule, found) not in self.seen:
            self.seen.add((rule, found))
            self.out.append(Disagreement(rule, found, message))

    def party_list(self) -> str:
        return "; ".join(
            f"the {p.term}: {p.name}"
            + (f" ({p.registration_number})" if p.registration_number else "")
            for p in self.parties
        )

    def named(self, paragraph: str) -> list[Party]:
        text = _fold(paragraph)
        return [p for p in self.parties if _fold(p.name) in text]

    def registered_owner(self, number: str) -> Any | None:
        return next((c for c in self.registry.companies if c.registration_number == number), None)

    # -- the rules -------------------------------------------------------------------------

    def registration_numbers(self, paragraph: str) -> None:
        ours = {p.registration_number: p for p in self.parties if p.registration_number}
        named = [p for p in self.named(paragraph) if p.kind == "company"]
        for match in REGISTRATION.finditer(paragraph):
            number = _registration(match)
            if len(named) == 1 and number != named[0].registration_number:
                party = named[0]
                self.refuse(
                    "registration_number",
                    number,
                    f"registration number {number} is given for {party.name}, but the "
                    f"registry's is {party.registration_number}",
                )
            elif number not in ours:
                owner = self.registered_owner(number)
                whose = (
                    f"it is {owner.legal_name}'s, which is not a party"
                    if owner is not None
                    else "it is no company's in the registry"
                )
                self.refuse(
                    "registration_number",
                    number,
                    f"registration number {number} belongs to no party of this document "
                    f"({whose}); the parties are {self.party_list()}",
                )

    def company_names(self, paragraph: str) -> None:
        known = {_fold(n) for p in self.parties for n in (p.name, p.trading_as) if n}
        for name in _company_names(paragraph):
            folded = _fold(name)
            if folded in known or any(folded.endswith(" " + k) for k in known):
                continue
            registered = self.registry.find_company(name)
            if registered is not None:
                message = f"{name!r} is in the registry ({registered.legal_name}) but is not "
                message += f"a party of this document; the parties are {self.party_list()}"
            else:
                close = difflib.get_close_matches(
                    folded, {_fold(p.name): p.name for p in self.parties}, n=1, cutoff=0.6
                )
                hint = ""
                if close:
                    right = next(p for p in self.parties if _fold(p.name) == close[0])
                    hint = f"; the registry's name is {right.name!r}"
                message = (
                    f"unknown party {name!r}: it is not in the entity registry{hint}; the "
                    f"parties are {self.party_list()}"
                )
            self.refuse("party_name", name, message)

    def id_numbers(self, paragraph: str) -> None:
        people = {p.id_number: p.name for p in self.parties if p.id_number}
        people |= {s.id_number: s.name for p in self.parties for s in p.signatories if s.id_number}
        for match in ID_NUMBER.finditer(paragraph):
            if match.group(0) not in people:
                self.refuse(
                    "id_number",
                    match.group(0),
                    f"identity number {match.group(0)} is not that of any party or signatory "
                    "of this document in the registry",
                )

    def signature_blocks(self, paragraphs: list[str]) -> None:
        signed: set[str] = set()
        current: Party | None = None
        name: str | None = None
        for text in [*paragraphs, SIGNED_BY_COMPANY]:  # the sentinel closes the last block
            line = text.strip()
            if line.startswith((SIGNED_BY_COMPANY, SIGNED_BY_PERSON)):
                if current is not None and current.kind == "company" and name is None:
                    self.refuse(
                        "signature",
                        current.name,
                        f"the signature block for {current.name} names no signatory "
                        "(a 'Name:' line)",
                    )
                current, name = None, None
                if line == SIGNED_BY_COMPANY:
                    continue
                person = line.startswith(SIGNED_BY_PERSON)
                who = line.split(":", 1)[1].strip()
                current = next((p for p in self.parties if _fold(p.name) == _fold(who)), None)
                if current is None:
                    self.refuse(
                        "signature",
                        who,
                        f"a signature block is for {who!r}, who is not a party of this "
                        f"document; the parties are {self.party_list()}",
                    )
                elif person:
                    signed.add(current.role)
            elif current is not None and line.startswith(NAME) and current.kind == "company":
                name = line.split(":", 1)[1].strip()
                signatory = next(
                    (s for s in current.signatories if _fold(s.name) == _fold(name)), None
                )
                if signatory is None:
                    self.refuse("signatory", name, self._not_signatory(current, name))
                else:
                    signed.add(current.role)
            elif current is not None and line.startswith(CAPACITY) and name is not None:
                capacity = line.split(":", 1)[1].strip()
                signatory = next(
                    (s for s in current.signatories if _fold(s.name) == _fold(name)), None
                )
                if signatory is not None and _fold(signatory.capacity) != _fold(capacity):
                    self.refuse(
                        "signatory",
                        f"{name} ({capacity})",
                        f"{name} signs for {current.name} as {signatory.capacity!r} in the "
                        f"registry, not {capacity!r}",
                    )
        for party in self.signing:
            if party.role not in signed:
                self.refuse(
                    "signature",
                    party.name,
                    f"there is no signature block for {party.name} (the {party.term}); "
                    + self._signatories(party),
                )

    def _signatories(self, party: Party) -> str:
        listed = ", ".join(f"{s.name} ({s.capacity})" for s in party.signatories)
        return f"its registry signatories are: {listed}"

    def _not_signatory(self, party: Party, name: str) -> str:
        return f"{name} is not a signatory of {party.name}; " + self._signatories(party)


def check_paragraphs(
    paragraphs: list[str], parties: list[Party], registry: Any, signing_roles: set[str]
) -> list[Disagreement]:
    """Every disagreement of ``paragraphs`` with the registry's facts of ``parties``."""
    check = _Check(parties, registry, signing_roles)
    for paragraph in paragraphs:
        check.registration_numbers(paragraph)
        check.company_names(paragraph)
        check.id_numbers(paragraph)
    check.signature_blocks(paragraphs)
    return check.out


def check_docx(
    content: bytes, parties: list[Party], registry: Any, signing_roles: set[str]
) -> list[Disagreement]:
    """:func:`check_paragraphs` over a ``.docx`` file's paragraphs (its tables' included)."""
    return check_paragraphs(docx_text(content), parties, registry, signing_roles)
