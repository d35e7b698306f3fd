"""The parties of a draft, as the entity registry states them: the only source of their facts.

A draft names its parties by registry key (``{"client": "velocity"}``); :func:`resolve` turns
each into :class:`Party` — legal name, registration and VAT numbers, addresses, signatories and
their capacities — straight from the registry. Nothing the caller writes reaches these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcos.errors import InvalidInput
from mcos.legal.template import DocumentTemplate, PartyRole


@dataclass(frozen=True)
class Signatory:
    name: str
    capacity: str
    id_number: str | None = None


@dataclass(frozen=True)
class Party:
    role: str
    term: str
    key: str
    kind: str
    """``company`` or ``person``."""
    name: str
    """The legal name (a company's) or full name (a person's), exactly as registered."""
    registration_number: str | None
    vat_number: str | None
    id_number: str | None
    address: str
    domicilium: str
    signatories: tuple[Signatory, ...]
    """Who signs for it: a company's registry signatories; a person signs personally."""
    trading_as: str | None = None

    @property
    def identity(self) -> str:
        """How the document introduces it: the name with its registration or ID number."""
        if self.kind == "company":
            number = f", registration number {self.registration_number}"
            return self.name + (number if self.registration_number else "")
        return self.name + (f", identity number {self.id_number}" if self.id_number else "")

    def fact(self, name: str) -> str:
        facts = {
            "name": self.name,
            "term": f"the {self.term}",
            "registration_number": self.registration_number or "",
            "vat_number": self.vat_number or "",
            "address": self.address,
            "domicilium": self.domicilium,
            "identity": self.identity,
        }
        return facts[name]


def one_line(address: Any) -> str:
    """An address from the registry, as one line of text."""
    if address is None:
        return ""
    if isinstance(address, str):
        return " ".join(address.split())
    lines = getattr(address, "lines", None)
    if lines is not None:
        return ", ".join(str(line) for line in lines if str(line).strip())
    return " ".join(str(address).split())


def _from_company(role: PartyRole, company: Any, registry: Any) -> Party:
    signatories = tuple(
        Signatory(person.full_name, capacity, person.id_number)
        for person, capacity in registry.signatories_of(company.key)
    )
    registered = one_line(company.registered_address)
    return Party(
        role=role.role,
        term=role.term,
        key=company.key,
        kind="company",
        name=company.legal_name,
        registration_number=company.registration_number,
        vat_number=company.vat_number,
        id_number=None,
        address=registered,
        domicilium=one_line(company.domicilium_address) or registered,
        signatories=signatories,
        trading_as=company.trading_as,
    )


def _from_person(role: PartyRole, person: Any) -> Party:
    address = one_line(getattr(person, "address", None))
    domicilium = one_line(getattr(person, "domicilium_address", None)) or address
    return Party(
        role=role.role,
        term=role.term,
        key=person.key,
        kind="person",
        name=person.full_name,
        registration_number=None,
        vat_number=None,
        id_number=person.id_number,
        address=address,
        domicilium=domicilium,
        signatories=(Signatory(person.full_name, "in his or her personal capacity"),),
    )


def resolve(template: DocumentTemplate, chosen: dict[str, str], registry: Any) -> list[Party]:
    """Each role of the template, filled from the registry by the key ``chosen`` gives it."""
    roles = {p.role for p in template.parties}
    for given in chosen:
        if given not in roles:
            raise InvalidInput(
                f"template {template.key!r} has no party role {given!r}; its roles are "
                + ", ".join(sorted(roles)),
                field=f"parties.{given}",
            )
    parties = []
    for role in template.parties:
        where = f"parties.{role.role}"
        key = chosen.get(role.role)
        if not key:
            raise InvalidInput(
                f"name the {role.role} ({role.description or role.term}) by its registry key",
                field=where,
            )
        company = registry.company(key) if role.kind != "person" else None
        person = registry.person(key) if role.kind != "company" and company is None else None
        if company is not None:
            party = _from_company(role, company, registry)
        elif person is not None:
            party = _from_person(role, person)
        else:
            wanted = {"company": "company", "person": "person"}.get(role.kind, "company or person")
            raise InvalidInput(
                f"no {wanted} with key {key!r} in the entity registry; a party must be "
                "registered first (registry.toml in the fleet folder)",
                field=where,
            )
        if role.signs and not party.signatories:
            raise InvalidInput(
                f"{party.name} has no signatories in the entity registry, so it cannot sign "
                f"as the {role.term}; add them to registry.toml",
                field=where,
            )
        parties.append(party)
    keys = [p.key for p in parties]
    if len(set(keys)) != len(keys):
        raise InvalidInput("one entity cannot be two parties of the same document", field="parties")
    return parties
