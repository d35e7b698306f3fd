"""How the entity registry is shown: as JSON for the API, the tool and the CLI; pure.

Identity and passport numbers are personal data. They are shown in full only to a reader
allowed to see them (``personal_data=True``: the operator, and agents with the
``personal_data`` capability, who draft FICA packs and suretyships); to everyone else as
:func:`mask` leaves them, the last four characters.
"""

from __future__ import annotations

from typing import Any

from mcos.fleet.registry import Company, Person, Registry, fold

PERSONAL_DATA = "personal_data"
"""The capability that lets an agent read identity and passport numbers in full."""


def mask(value: str | None) -> str | None:
    """``8504125123086`` -> ``*********3086``: enough to tell two people apart, no more."""
    if value is None:
        return None
    keep = 4 if len(value) > 6 else 0
    return "*" * (len(value) - keep) + value[len(value) - keep :]


def person_json(person: Person, *, personal_data: bool) -> dict[str, Any]:
    out = person.model_dump(mode="json")
    if not personal_data:
        out["id_number"] = mask(person.id_number)
        out["passport"] = mask(person.passport)
    return out


def company_json(registry: Registry, company: Company) -> dict[str, Any]:
    """The company's facts, its directors by key and name, and who signs in what capacity
    (resolved: without listed signatories, its directors as Director)."""
    out = company.model_dump(mode="json", exclude={"signatories", "directors"})
    out["directors"] = [
        {"person": key, "full_name": p.full_name if (p := registry.person(key)) else None}
        for key in company.directors
    ]
    out["signatories"] = [
        {"person": person.key, "full_name": person.full_name, "capacity": capacity}
        for person, capacity in registry.signatories_of(company.key)
    ]
    return out


def person_detail(registry: Registry, person: Person, *, personal_data: bool) -> dict[str, Any]:
    """A person, with the companies they direct or sign for, and in what capacity."""
    out = person_json(person, personal_data=personal_data)
    roles = []
    for company in registry.companies_of(person.key):
        signs = [c for p, c in registry.signatories_of(company.key) if p.key == person.key]
        roles.append(
            {
                "company": company.key,
                "legal_name": company.legal_name,
                "director": person.key in company.directors,
                "signs_as": signs[0] if signs else None,
            }
        )
    out["companies"] = roles
    return out


def registry_json(
    registry: Registry, *, personal_data: bool, query: str | None = None
) -> dict[str, Any]:
    """The whole registry, or with ``query`` the entries it finds (see :func:`search`)."""
    companies, people = (
        (registry.companies, registry.people) if query is None else search(registry, query)
    )
    return {
        "companies": [company_json(registry, c) for c in companies],
        "people": [person_detail(registry, p, personal_data=personal_data) for p in people],
        "personal_data": "full" if personal_data else "masked",
    }


def search(registry: Registry, query: str) -> tuple[list[Company], list[Person]]:
    """What ``query`` names: exact matches on a key or name (case ignored) if there are any,
    otherwise every entry whose key or names contain it."""
    company = registry.find_company(query)
    person = registry.find_person(query)
    if company is not None or person is not None:
        return ([company] if company else []), ([person] if person else [])
    wanted = fold(query)
    companies = [
        c
        for c in registry.companies
        if any(wanted in fold(n) for n in (c.key, c.legal_name, c.trading_as or ""))
    ]
    people = [p for p in registry.people if wanted in fold(p.key) or wanted in fold(p.full_name)]
    return companies, people
