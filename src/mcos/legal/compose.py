"""A template, its parties and its fields, laid out as blocks of text: the draft before Word.

The layout is South African drafting practice: parties with their registration numbers, a
definitions clause (each defined term bold and quoted), clauses numbered ``1``, ``1.1``,
``1.1.1``, governing law (the Republic of South Africa), a High Court division's jurisdiction,
each party's *domicilium citandi et executandi* from the registry, and one signature block per
registry signatory of each signing party. ``**bold**`` in a template is parsed before any value
is put in, so a value cannot change the formatting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from mcos.legal.fields import Filled, long_date
from mcos.legal.parties import Party, Signatory
from mcos.legal.template import PLACEHOLDER, Clause, DocumentTemplate

SIGNED_BY_COMPANY = "For and on behalf of:"
SIGNED_BY_PERSON = "Signed by:"
NAME = "Name:"
CAPACITY = "Capacity:"
DULY_AUTHORISED = "who warrants that he or she is duly authorised hereto"
SIGNATURE_LINE = "_" * 36

BlockKind = Literal["title", "centre", "heading", "clause", "body", "signature"]


@dataclass(frozen=True)
class Run:
    text: str
    bold: bool = False


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    runs: tuple[Run, ...]
    number: str = ""
    """``1``, ``1.1``, ``1.1.1`` for clauses; empty otherwise."""
    level: int = 0

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


class _Writer:
    def __init__(
        self, template: DocumentTemplate, parties: list[Party], filled: Filled, today: date
    ):
        self.template = template
        self.filled = filled
        self.roles = {p.role: p for p in parties}
        self.parties = parties
        self.blocks: list[Block] = []
        self.values = dict(filled.values) | {
            "document": f"this {template.term}",
            "today": long_date(today),
        }

    # -- text ------------------------------------------------------------------------------

    def runs(self, text: str) -> tuple[Run, ...]:
        """``text`` with ``**bold**`` parsed first, then the placeholders filled."""
        out = []
        for index, piece in enumerate(re.split(r"\*\*", text)):
            if piece:
                out.append(Run(PLACEHOLDER.sub(self._value, piece), bold=index % 2 == 1))
        return tuple(out)

    def _value(self, match: re.Match[str]) -> str:
        head, _, fact = match.group(1).partition(".")
        if fact:
            return self.roles[head].fact(fact)
        return self.values[head]

    def add(self, kind: BlockKind, text: str, number: str = "", level: int = 0) -> None:
        self.blocks.append(Block(kind, self.runs(text), number, level))

    def add_runs(self, kind: BlockKind, runs: tuple[Run, ...], number: str, level: int) -> None:
        self.blocks.append(Block(kind, runs, number, level))

    # -- clauses ---------------------------------------------------------------------------

    def _holds(self, when: str | None, unless: str | None = None) -> bool:
        """Whether a ``when`` (``field`` given, or ``field=value``) and an ``unless`` hold."""
        if unless is not None and unless in self.filled.given:
            return False
        if when is None:
            return True
        name, equals, value = when.partition("=")
        if not equals:
            return name in self.filled.given
        return self.filled.raw.get(name) == value

    def _included(self, clause: str | Clause) -> bool:
        return isinstance(clause, str) or self._holds(clause.when, clause.unless)

    def clause(self, clause: str | Clause, number: str, level: int) -> None:
        if isinstance(clause, str):
            self.add("clause", clause, number, level)
            return
        if clause.heading:
            self.add("heading", clause.heading.upper(), number, level)
        elif clause.text:
            self.add("clause", clause.text, number, level)
        children: list[str | Clause] = []
        listed = clause.list
        if clause.heading and clause.text:  # the text is the first sub-clause, with the list
            children.append(Clause(text=clause.text, list=clause.list))
            listed = None
        children += [c for c in clause.items if self._included(c)]
        for index, child in enumerate(children, 1):
            self.clause(child, f"{number}.{index}", level + 1)
        if listed:  # the caller's lines, as they are: no markup or placeholder in them
            for index, line in enumerate(self.filled.lines[listed], len(children) + 1):
                self.add_runs("clause", (Run(line),), f"{number}.{index}", level + 1)

    def numbered(self, clauses: list[str | Clause], start: int = 1) -> int:
        number = start
        for clause in clauses:
            if self._included(clause):
                self.clause(clause, str(number), 0)
                number += 1
        return number

    # -- the standard parts ----------------------------------------------------------------

    def definition(self, term: str, meaning: str) -> Clause:
        return Clause(text=f"\u201c**{term}**\u201d means {meaning};")

    def standard_opening(self) -> list[str | Clause]:
        t = self.template
        last = len(self.parties) - 1
        parties = Clause(
            heading="Parties",
            items=tuple(
                f"{{{{ {p.role}.identity }}}} (\u201c**{p.term}**\u201d)"
                + ("." if i == last else "; and" if i == last - 1 else ";")
                for i, p in enumerate(self.parties)
            ),
        )
        definitions = [
            self.definition(t.term, f"this {t.title}, together with any annexures to it"),
            self.definition(
                "Parties",
                ", ".join(f"the {p.term}" for p in self.parties[:-1])
                + f" and the {self.parties[-1].term}, and \u201c**Party**\u201d means any one "
                "of them",
            ),
            *(self.definition(p.term, f"{{{{ {p.role}.identity }}}}") for p in self.parties),
            *(self.definition(d.term, d.meaning) for d in t.definitions if self._holds(d.when)),
        ]
        interpretation = Clause(
            heading="Definitions and interpretation",
            items=(
                Clause(
                    text=f"In this {t.term}, unless the context indicates otherwise, the "
                    "following words have the meanings given to them:",
                    items=tuple(definitions),
                ),
                "Headings are for convenience only and do not affect interpretation; words "
                "in the singular include the plural and the other way round.",
                f"A reference to a Party includes its successors in title and permitted "
                f"assigns. The rule that a contract is interpreted against the Party "
                f"responsible for its drafting does not apply to this {t.term}.",
            ),
        )
        return [parties, interpretation]

    def standard_closing(self) -> list[str | Clause]:
        t = self.template
        return [
            Clause(
                heading="Governing law and jurisdiction",
                items=(
                    f"This {t.term} is governed by and construed in accordance with the laws "
                    "of the Republic of South Africa.",
                    "The Parties consent to the non-exclusive jurisdiction of the {{ court }} "
                    f"in any proceedings arising from or in connection with this {t.term}.",
                ),
            ),
            Clause(
                heading="Domicilium citandi et executandi",
                items=(
                    Clause(
                        text="The Parties choose as their domicilia citandi et executandi, at "
                        "which all notices and legal process may be delivered, the following "
                        "physical addresses:",
                        items=tuple(
                            f"the {p.term}: {{{{ {p.role}.domicilium }}}}" for p in self.parties
                        ),
                    ),
                    "A Party may change its domicilium to another physical address in the "
                    "Republic of South Africa by written notice to the other Parties, "
                    "effective 7 (seven) days after the notice is received.",
                    "A notice delivered by hand to a Party's domicilium is presumed, until the "
                    "contrary is proved, to have been received on the day of delivery.",
                ),
            ),
            Clause(
                heading="General",
                items=(
                    f"This {t.term} is the whole agreement between the Parties on its subject "
                    "matter; no representation not recorded in it binds any Party.",
                    f"No variation or cancellation of this {t.term}, including of this clause, "
                    "has any effect unless it is in writing and signed by all the Parties.",
                    "No indulgence or extension of time granted by a Party waives any of its "
                    "rights.",
                    f"Each provision of this {t.term} is severable from the others.",
                    f"This {t.term} may be signed in counterparts, which together are one "
                    "document.",
                ),
            ),
        ]

    # -- signatures ------------------------------------------------------------------------

    def signature_block(self, party: Party, signatory: Signatory, witnesses: int) -> None:
        sig: BlockKind = "signature"
        if self.template.style == "agreement":
            self.add(sig, "SIGNED at ____________________ on ____________________ 20____.")
        if party.kind == "company":
            self.add_runs(sig, (Run(f"{SIGNED_BY_COMPANY} "), Run(party.name, True)), "", 0)
            self.add(sig, SIGNATURE_LINE)
            self.add_runs(sig, (Run(f"{NAME} "), Run(signatory.name)), "", 0)
            self.add_runs(sig, (Run(f"{CAPACITY} "), Run(signatory.capacity)), "", 0)
            self.add(sig, DULY_AUTHORISED)
        else:
            self.add_runs(sig, (Run(f"{SIGNED_BY_PERSON} "), Run(party.name, True)), "", 0)
            if party.id_number:
                self.add_runs(sig, (Run("Identity number: "), Run(party.id_number)), "", 0)
            self.add(sig, SIGNATURE_LINE)
            self.add(sig, "in his or her personal capacity")
        if witnesses:
            self.add(sig, "AS WITNESSES:")
            for n in range(1, witnesses + 1):
                self.add(sig, f"{n}. {SIGNATURE_LINE}  Name: ____________________")

    def signatures(self) -> None:
        for role in self.template.parties:
            if not role.signs:
                continue
            party = self.roles[role.role]
            if self.template.style == "letter":  # one signs a letter: the first signatory
                self.signature_block(party, party.signatories[0], 0)
                continue
            self.add("heading", f"SIGNED BY THE {role.term.upper()}")
            for signatory in party.signatories:
                self.signature_block(party, signatory, role.witnesses)


def compose(
    template: DocumentTemplate, parties: list[Party], filled: Filled, today: date
) -> list[Block]:
    """The draft as blocks, in order."""
    w = _Writer(template, parties, filled, today)
    if template.style == "agreement":
        w.add("title", template.title.upper())
        w.add("centre", "between")
        for i, party in enumerate(parties):
            w.add_runs("centre", (Run(party.name, True),), "", 0)
            w.add(
                "centre",
                f"(registration number {party.registration_number})"
                if party.registration_number
                else f"(identity number {party.id_number})"
                if party.id_number
                else "",
            )
            if i < len(parties) - 1:
                w.add("centre", "and")
        after = w.numbered(w.standard_opening())
        after = w.numbered(list(template.clauses), after)
        w.numbered(w.standard_closing(), after)
    else:
        sender = next(p for p, r in zip(parties, template.parties, strict=True) if r.signs)
        addressee = w.roles[template.addressee or ""]
        w.add_runs("centre", (Run(sender.name, True),), "", 0)
        numbers = (
            [f"Registration number {sender.registration_number}"]
            if (sender.registration_number)
            else []
        )
        numbers += [f"VAT number {sender.vat_number}"] if sender.vat_number else []
        w.add("centre", " | ".join([*numbers, sender.address]))
        w.add("body", "{{ today }}")
        w.add_runs("body", (Run(addressee.name, True),), "", 0)
        w.add(
            "body",
            addressee.address
            if template.deliver_to == "address"
            else f"At its domicilium citandi et executandi: {addressee.domicilium}",
        )
        w.add("title", template.title.upper())
        if template.subject:
            subject = tuple(Run(r.text, True) for r in w.runs(template.subject))
            w.add_runs("body", (Run("RE: ", True), *subject), "", 0)
        w.add("body", "Dear Sir or Madam")
        w.numbered(list(template.clauses))
        w.add("body", "Yours faithfully")
    w.signatures()
    return [b for b in w.blocks if b.text.strip()]
