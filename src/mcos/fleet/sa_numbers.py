"""South African number formats the entity registry checks: pure functions, no I/O.

Each check returns ``None`` for a good value, or "what is wrong; how to fix it" (the loader
shows the part after the last "; " as the fix).

* Company registration numbers (CIPC): ``YYYY/NNNNNN/NN``. ``YYYY`` is the year of
  incorporation (1900 to this year), ``NNNNNN`` the sequence in that year, ``NN`` the kind of
  entity. The suffixes accepted are those in use on CIPC numbers: :data:`ENTITY_SUFFIXES`
  (the common ones named: 06 public company, 07 private company, 08 non-profit company,
  10 external company, 21 personal liability company, 23 close corporation, 24-26
  co-operatives, 30 state-owned company). A trust is registered with the Master of the High
  Court, not CIPC: its number is the Master's reference, ``IT 1234/2015`` (an optional office
  letter in brackets after it, such as ``IT 1234/2015(G)``).
* VAT numbers (SARS): ten digits starting with 4.
* Identity numbers (Home Affairs): 13 digits, ``YYMMDDSSSSCAZ``: a real date of birth
  (either century), citizenship ``C`` of 0 (citizen), 1 (permanent resident) or 2 (refugee),
  and the Luhn check digit ``Z``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

ENTITY_SUFFIXES: dict[str, str] = {
    "01": "",
    "02": "",
    "06": "public company (Ltd)",
    "07": "private company ((Pty) Ltd)",
    "08": "non-profit company (NPC, formerly section 21)",
    "09": "",
    "10": "external company",
    "11": "",
    "12": "",
    "14": "",
    "15": "",
    "16": "",
    "17": "",
    "20": "",
    "21": "personal liability company (Inc)",
    "22": "",
    "23": "close corporation (CC)",
    "24": "primary co-operative",
    "25": "secondary co-operative",
    "26": "tertiary co-operative",
    "30": "state-owned company (SOC Ltd)",
    "31": "",
    "80": "",
}
"""The entity-type suffixes CIPC numbers carry, with a name where it is well known."""

_COMPANY = re.compile(r"^(\d{4})/(\d{6})/(\d{2})$")
_TRUST = re.compile(r"^IT ?\d{1,6}/(\d{4})(\s?\([A-Z]{1,3}\))?$")


def _today() -> date:
    return datetime.now(UTC).date()


def is_trust(kind: str) -> bool:
    """A trust (``kind`` mentions "trust") has a Master's reference, not a CIPC number."""
    return "trust" in kind.lower()


def registration_problem(value: str, kind: str, today: date | None = None) -> str | None:
    """Why ``value`` is not a South African registration number for an entity of ``kind``."""
    this_year = (today or _today()).year
    if is_trust(kind):
        match = _TRUST.match(value)
        if match is None:
            return (
                f"{value!r} is not a Master's reference for a trust; write it as on the letters "
                "of authority, such as 'IT 1234/2015'"
            )
        year = int(match.group(1))
    else:
        match = _COMPANY.match(value)
        if match is None:
            return (
                f"{value!r} is not a CIPC registration number; write it as YYYY/NNNNNN/NN, "
                "such as '2019/123456/07' (as on the registration certificate, CoR14.3)"
            )
        year = int(match.group(1))
        suffix = match.group(3)
        if suffix not in ENTITY_SUFFIXES:
            named = ", ".join(f"{k} {v}" for k, v in ENTITY_SUFFIXES.items() if v)
            return (
                f"{value!r} ends in {suffix}, which is not a CIPC entity type; check the "
                f"certificate (the last two digits are the entity type: {named})"
            )
    if not 1900 <= year <= this_year:
        return (
            f"{value!r} gives the year {year}, which is not between 1900 and {this_year}; "
            "check the year of registration on the certificate"
        )
    return None


def vat_problem(value: str) -> str | None:
    """Why ``value`` is not a South African VAT number."""
    if re.fullmatch(r"4\d{9}", value):
        return None
    return (
        f"{value!r} is not a South African VAT number; write the ten digits starting with 4, "
        "without spaces, such as '4123456789' (as on the VAT registration notice, VAT103)"
    )


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum over ``digits`` (the last digit being the check digit)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def id_birth_date(value: str) -> date | None:
    """The date of birth in a 13-digit ID number (the later century that gives a real date
    not in the future), or ``None`` when ``YYMMDD`` is no date in either century."""
    yy, mm, dd = int(value[0:2]), int(value[2:4]), int(value[4:6])
    for century in (2000, 1900):
        try:
            born = date(century + yy, mm, dd)
        except ValueError:
            continue
        if born <= _today() or century == 1900:
            return born
    return None


def id_number_problem(value: str) -> str | None:
    """Why ``value`` is not a South African identity number."""
    if not re.fullmatch(r"\d{13}", value):
        return (
            f"{value!r} is not a South African ID number; write its 13 digits without spaces "
            "(a foreign national's number goes in `passport`)"
        )
    if id_birth_date(value) is None:
        return (
            f"{value!r} starts with {value[:6]}, which is not a date of birth (YYMMDD); "
            "check the first six digits against the ID document"
        )
    if value[10] not in "012":
        return (
            f"{value!r} has {value[10]} as its citizenship digit (the 11th), not 0, 1 or 2; "
            "check the number against the ID document"
        )
    if not luhn_ok(value):
        return (
            f"{value!r} fails the ID number's check digit (Luhn), so a digit is wrong or two "
            "are swapped; copy it again from the ID document"
        )
    return None


def looks_like_account_number(value: str) -> bool:
    """Six or more digits in a row (spaces ignored): an account or card number."""
    return re.search(r"\d{6,}", re.sub(r"\s", "", value)) is not None
