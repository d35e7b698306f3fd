"""Every template rendered from the two-company registry and read back clause by clause."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from mcos.fleet.registry import Registry
from mcos.legal.render import render
from mcos.legal.template import DEFAULT_COURT, HIGH_COURT_DIVISIONS, templates
from tests.legal.conftest import Line, read_back

TODAY = date(2026, 2, 2)
VELOCITY = ("Velocity Fibre (Pty) Ltd", "2019/407215/07")
MOKOENA = ("Mokoena Splicing CC", "2009/045678/23")

CASES: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "independent-contractor-agreement": (
        {"client": "velocity-fibre", "contractor": "mokoena-splicing"},
        {
            "effective_date": "2026-03-01",
            "services": ["Splice and test fibre in Irene", "Report weekly on progress"],
            "monthly_fee": 75000,
            "term_months": 12,
            "court": HIGH_COURT_DIVISIONS[0],
        },
    ),
    "investment-participation-agreement": (
        {"investor": "alex-specter", "company": "velocity-fibre"},
        {
            "effective_date": "2026-03-01",
            "investment_amount": "2500000",
            "payment_date": "2026-03-15",
            "participation_percent": 15,
            "purpose": "the roll-out of fibre in Irene",
        },
    ),
    "deed-of-cession": (
        {"cedent": "mokoena-splicing", "cessionary": "velocity-fibre"},
        {
            "effective_date": "2026-03-01",
            "ceded_rights": "all the Cedent's present and future book debts",
            "secured_obligations": "all amounts the Cedent owes the Cessionary",
        },
    ),
    "directors-suretyship": (
        {"surety": "alex-specter", "creditor": "mokoena-splicing", "debtor": "velocity-fibre"},
        {
            "effective_date": "2026-03-01",
            "principal_obligations": "all amounts under the splicing agreement",
            "maximum_amount": 500000,
        },
    ),
    "fica-pack-cover-letter": (
        {"sender": "velocity-fibre", "institution": "mokoena-splicing", "client": "alex-specter"},
        {"purpose": "a supplier account", "enclosures": ["Certified ID copy", "Proof of address"]},
    ),
    "compliance-letter": (
        {"sender": "velocity-fibre", "addressee": "mokoena-splicing"},
        {
            "subject": "POPIA compliance",
            "requirement": "the Protection of Personal Information Act 4 of 2013",
            "confirmations": ["We have registered an information officer."],
        },
    ),
    "notice": (
        {"sender": "velocity-fibre", "recipient": "mokoena-splicing"},
        {
            "notice_type": "breach",
            "agreement_title": "Independent Contractor Agreement",
            "agreement_date": "2026-03-01",
            "details": ["The weekly reports of March were not delivered."],
        },
    ),
}


def test_every_shipped_template_has_a_case() -> None:
    assert set(CASES) == set(templates())


def drafted(key: str, registry: Registry) -> list[Line]:
    parties, fields = CASES[key]
    return read_back(render(key, parties, fields, registry, today=TODAY).content)


def check_numbering(lines: list[Line]) -> None:
    """1, 2, 3 at the top; under each, 1.1, 1.2 ... and 1.1.1 ..., none skipped."""
    seen: set[str] = set()
    last: dict[str, int] = {}
    for line in lines:
        if not line.number:
            continue
        parent, _, own = line.number.rpartition(".")
        assert parent == "" or parent in seen, f"{line.number} has no clause {parent}"
        assert int(own) == last.get(parent, 0) + 1, f"{line.number} skips a number"
        last[parent] = int(own)
        seen.add(line.number)
    assert "1" in seen


def signature_blocks(lines: list[Line]) -> list[tuple[str, str, str]]:
    """(company, name, capacity) of each ``For and on behalf of`` block."""
    blocks = []
    for i, line in enumerate(lines):
        if line.text.startswith("For and on behalf of: "):
            company = line.text.removeprefix("For and on behalf of: ")
            name = lines[i + 2].text.removeprefix("Name: ")
            capacity = lines[i + 3].text.removeprefix("Capacity: ")
            assert lines[i + 4].text == "who warrants that he or she is duly authorised hereto"
            blocks.append((company, name, capacity))
    return blocks


@pytest.mark.parametrize(
    "key", [k for k, t in templates().items() if t.style == "agreement"], ids=str
)
def test_an_agreement_reads_back_with_its_clauses_in_south_african_form(
    key: str, registry: Registry
) -> None:
    lines = drafted(key, registry)
    template = templates()[key]
    check_numbering(lines)
    text = "\n".join(line.text for line in lines)
    # The parties clause: names and registration numbers exactly as the registry has them.
    headings = {line.body: line.number for line in lines if line.number.count(".") == 0}
    assert headings["PARTIES"] == "1" and headings["DEFINITIONS AND INTERPRETATION"] == "2"
    parties = [line.body for line in lines if re.fullmatch(r"1\.\d", line.number)]
    assert len(parties) == len(template.parties)
    for name, number in (VELOCITY, MOKOENA):
        if name in text:
            assert f"{name}, registration number {number}" in text
    # Definitions: each term bold and quoted, and used outside the definitions clause.
    definitions = [line for line in lines if line.number.startswith("2.1.")]
    terms = []
    for line in definitions:
        match = re.match(r"^\u201c(.+?)\u201d means ", line.body)
        assert match, f"a definition not in the form \u201cTerm\u201d means: {line.body!r}"
        assert match.group(1) in line.bold, f"{match.group(1)!r} is not bold"
        terms.append(match.group(1))
    assert template.term in terms and "Parties" in terms
    assert {p.term for p in template.parties} <= set(terms)
    rest = "\n".join(line.body for line in lines if not line.number.startswith(("1.", "2.")))
    for term in terms:
        assert re.search(rf"\b{re.escape(term)}\b", rest), f"{term!r} is defined but never used"
    # Governing law, jurisdiction and the domicilia from the registry.
    law = headings["GOVERNING LAW AND JURISDICTION"]
    clauses = {line.number: line.body for line in lines}
    assert "laws of the Republic of South Africa" in clauses[f"{law}.1"]
    court = CASES[key][1].get("court", DEFAULT_COURT)
    assert f"jurisdiction of the {court} " in clauses[f"{law}.2"]
    domicilium = headings["DOMICILIUM CITANDI ET EXECUTANDI"]
    addresses = {v for k, v in clauses.items() if k.startswith(f"{domicilium}.1.")}
    if "Velocity Fibre (Pty) Ltd" in text:  # its domicilium, not its registered address
        assert any(a.endswith(": 2 Fibre Park, Lynnwood Road, Pretoria, 0081") for a in addresses)
    if "Mokoena Splicing CC" in text:
        assert any(a.endswith(": 7 Aloe Crescent, Rosslyn, Pretoria, 0200") for a in addresses)
    # One signature block per registry signatory of each signing party, with its capacity.
    expected = []
    for role in template.parties:
        key_ = CASES[key][0][role.role]
        if role.signs and registry.company(key_) is not None:
            company = registry.company(key_)
            assert company is not None
            expected += [
                (company.legal_name, p.full_name, capacity)
                for p, capacity in registry.signatories_of(key_)
            ]
    assert signature_blocks(lines) == expected


def test_the_contractor_agreement_reads_back_clause_by_clause(registry: Registry) -> None:
    lines = drafted("independent-contractor-agreement", registry)
    clauses = {line.number: line.body for line in lines if line.number}
    assert lines[0].text == "INDEPENDENT CONTRACTOR AGREEMENT"
    assert clauses["1.1"] == (
        "Velocity Fibre (Pty) Ltd, registration number 2019/407215/07 (\u201cClient\u201d); and"
    )
    assert clauses["1.2"] == (
        "Mokoena Splicing CC, registration number 2009/045678/23 (\u201cContractor\u201d)."
    )
    assert clauses["4"] == "SERVICES"
    assert clauses["4.1.1"] == "Splice and test fibre in Irene"
    assert clauses["4.1.2"] == "Report weekly on progress"
    assert "\u201cFee\u201d means the monthly fee of R75 000.00 (seventy-five thousand rand)" in (
        "\n".join(clauses.values())
    )
    assert clauses["6.1"].endswith(
        "ends 12 (twelve) months after it, unless terminated earlier under this Agreement."
    )
    assert signature_blocks(lines) == [
        ("Velocity Fibre (Pty) Ltd", "Alexander James Specter", "Director"),
        ("Velocity Fibre (Pty) Ltd", "Lindiwe Precious Dlamini", "Director, duly authorised"),
        ("Mokoena Splicing CC", "Pieter Mokoena", "Member"),
    ]


def test_the_suretyship_is_signed_by_the_surety_before_two_witnesses(registry: Registry) -> None:
    lines = drafted("directors-suretyship", registry)
    texts = [line.text for line in lines]
    at = texts.index("Signed by: Alexander James Specter")
    assert texts[at + 1] == "Identity number: 8504125123086"
    assert texts[at + 3] == "in his or her personal capacity"
    assert texts[at + 4] == "AS WITNESSES:"
    assert texts[at + 5].startswith("1. ___") and texts[at + 6].startswith("2. ___")
    assert any("renounces the benefits of excussion" in t for t in texts)
    # The debtor does not sign: no block for Velocity Fibre.
    assert [b[0] for b in signature_blocks(lines)] == ["Mokoena Splicing CC"]


@pytest.mark.parametrize("key", [k for k, t in templates().items() if t.style == "letter"], ids=str)
def test_a_letter_reads_back_from_the_sender_to_the_addressee(key: str, registry: Registry) -> None:
    lines = drafted(key, registry)
    check_numbering(lines)
    texts = [line.text for line in lines]
    assert texts[0] == "Velocity Fibre (Pty) Ltd"
    assert texts[1] == (
        "Registration number 2019/407215/07 | VAT number 4620197384 | "
        "Unit 4, 18 Karee Street, Irene, Centurion, 0157"
    )
    assert texts[2] == "2 February 2026"
    assert texts[3] == "Mokoena Splicing CC"
    assert "Yours faithfully" in texts
    assert signature_blocks(lines) == [
        ("Velocity Fibre (Pty) Ltd", "Alexander James Specter", "Director")
    ]


def test_a_notice_goes_to_the_recipients_domicilium(registry: Registry) -> None:
    texts = [line.text for line in drafted("notice", registry)]
    assert texts[4] == (
        "At its domicilium citandi et executandi: 7 Aloe Crescent, Rosslyn, Pretoria, 0200"
    )
    assert "RE: Notice of breach: Independent Contractor Agreement dated 1 March 2026" in texts
