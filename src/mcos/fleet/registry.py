"""The entity registry, ``registry.toml`` beside ``fleet.toml``: the companies and people that
documents name, with the facts a document needs.

Pure pydantic models (strict, as :mod:`mcos.fleet.schema`) and the loader. Checks of a single
value (an ID number's checksum, a bank reference that is an account number) are validators;
checks that need the company's country or other entries (registration and VAT numbers, a
director who is not a person here, a key used twice) are in :func:`registry_problems`, so a
bad registry fails at load and under ``mcos fleet check`` with the file, the key and the fix.
A missing file is an empty registry.

Banking details are kept by reference only (``bank_ref``): the file is meant for git, and an
account number in git is an account number on every clone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from mcos.fleet.loader import (
    FleetFileError,
    FleetProblem,
    _from_pydantic,
    _KeyLocator,
    check_toml_text,
)
from mcos.fleet.model import FleetModel
from mcos.fleet.sa_numbers import (
    id_number_problem,
    looks_like_account_number,
    registration_problem,
    vat_problem,
)

REGISTRY_FILENAME = "registry.toml"
KEY_PATTERN = r"^[a-z][a-z0-9-]{0,63}$"
DIRECTOR = "Director"

Key = Annotated[str, Field(pattern=KEY_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
AddressText = Annotated[str, Field(min_length=1, max_length=500)]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]

_ACCOUNT_KEYS = re.compile(r"account|iban|branch|swift|bic|card|routing|sort_code")


class Person(FleetModel):
    key: Key
    """How documents, tools and the ``directors`` lists name this person (lowercase slug)."""
    full_name: Text
    """Full names and surname, as on the identity document."""
    id_number: str | None = None
    """South African identity number (13 digits, checked); personal data, see docs/security.md."""
    passport: str | None = Field(None, pattern=r"^[A-Z0-9]{5,20}$")
    """Passport number, for a person without a South African ID."""
    nationality: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    """ISO 3166 country code, such as ``ZA``."""
    email: Email | None = None
    """Their address for notices in documents."""
    address: AddressText | None = None
    """Their physical address, for documents that need one."""
    capacity: Text | None = None
    """Title or capacity (``Managing Director``, ``Chief Financial Officer``)."""

    @field_validator("id_number")
    @classmethod
    def _sa_id(cls, value: str | None) -> str | None:
        if value is not None:
            problem = id_number_problem(value)
            if problem:
                raise ValueError(problem)
        return value


class Signatory(FleetModel):
    person: Key
    """The key of a person in ``[[people]]``."""
    capacity: Text | None = None
    """In what capacity they sign (``Director``, ``duly authorised``). Unset: ``Director``,
    which holds only for a director of the company."""


class Company(FleetModel):
    key: Key
    """How documents and tools name the company (lowercase slug, such as ``velocity-fibre``)."""
    legal_name: Text
    """The registered name, with its ending: ``Velocity Fibre (Pty) Ltd``."""
    trading_as: Text | None = None
    """The name it trades under, if not its legal name (shown as t/a)."""
    kind: Text
    """``(Pty) Ltd``, ``Ltd``, ``Inc``, ``NPC``, ``CC``, ``Trust`` (a trust's number is the
    Master's reference), ``Inc`` (Delaware) for a foreign one..."""
    country: str = Field("ZA", pattern=r"^[A-Z]{2}$")
    """ISO 3166 code; South African formats are checked only for ``ZA``."""
    registration_number: Text
    """As registered (CIPC's ``2019/123456/07`` in South Africa, checked for ``ZA``)."""
    vat_number: str | None = Field(None, min_length=1, max_length=40)
    """Its VAT number, if registered (10 digits starting with 4 in South Africa)."""
    registered_address: AddressText
    """The registered office, as filed."""
    postal_address: AddressText | None = None
    """A postal address, if different."""
    domicilium_address: AddressText = ""
    """The domicilium citandi et executandi; defaults to the registered address."""
    email: Email | None = None
    """The address for notices under a contract."""
    directors: tuple[Key, ...] = ()
    """Keys of people in ``[[people]]``."""
    signatories: tuple[Signatory, ...] = ()
    """Who signs for the company; unset, its directors sign as ``Director``."""
    bank_ref: str | None = Field(None, min_length=1, max_length=64)
    """A name for the bank account (``fnb-velocity-operating``), never its number: the
    details stay in the bank's or the finance system's records."""

    @model_validator(mode="before")
    @classmethod
    def _domicilium_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("domicilium_address") is None:
            registered = data.get("registered_address")
            if isinstance(registered, str):
                data = {**data, "domicilium_address": registered}
        return data

    @field_validator("bank_ref")
    @classmethod
    def _reference_only(cls, value: str | None) -> str | None:
        if value is not None and (
            looks_like_account_number(value) or not re.fullmatch(KEY_PATTERN, value)
        ):
            shown = "an account number" if looks_like_account_number(value) else repr(value)
            raise ValueError(
                f"bank_ref looks like {shown}, not a reference; banking details are kept by "
                "reference only: name the account with a lowercase slug such as "
                "'fnb-velocity-operating' and keep the number in the bank's records"
            )
        return value


class Registry(FleetModel):
    companies: tuple[Company, ...] = ()
    """Every company a document may name: the operator's own and their counterparties."""
    people: tuple[Person, ...] = ()
    """Directors, signatories and other people documents name."""

    def company(self, key: str) -> Company | None:
        return next((c for c in self.companies if c.key == key), None)

    def person(self, key: str) -> Person | None:
        return next((p for p in self.people if p.key == key), None)

    def find_company(self, name_or_key: str) -> Company | None:
        """The company whose key, legal name or trading name is ``name_or_key`` (case and
        runs of spaces ignored), or ``None``."""
        wanted = fold(name_or_key)
        for company in self.companies:
            names = (company.key, company.legal_name, company.trading_as or "")
            if wanted in {fold(n) for n in names if n}:
                return company
        return None

    def find_person(self, name_or_key: str) -> Person | None:
        """The person whose key or full name is ``name_or_key`` (case ignored), or ``None``."""
        wanted = fold(name_or_key)
        return next((p for p in self.people if wanted in {fold(p.key), fold(p.full_name)}), None)

    def signatories_of(self, company_key: str) -> list[tuple[Person, str]]:
        """Who signs for the company and in what capacity: its ``signatories``, or, when it
        lists none, its directors as ``Director``. Raises ``KeyError`` for an unknown company."""
        company = self.company(company_key)
        if company is None:
            raise KeyError(f"no company {company_key!r} in the registry")
        listed = company.signatories or tuple(Signatory(person=d) for d in company.directors)
        out = []
        for signatory in listed:
            person = self.person(signatory.person)
            if person is not None:  # a loaded registry has no dangling references
                out.append((person, signatory.capacity or DIRECTOR))
        return out

    def companies_of(self, person_key: str) -> list[Company]:
        """The companies ``person_key`` directs or signs for."""
        return [
            c
            for c in self.companies
            if person_key in c.directors or any(s.person == person_key for s in c.signatories)
        ]


def fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def registry_problems(registry: Registry) -> list[FleetProblem]:
    """Checks that span fields and entries: country formats, references, unique keys."""
    problems: list[FleetProblem] = []
    seen_keys: dict[str, str] = {}
    keys = [("people", i, p.key) for i, p in enumerate(registry.people)]
    keys += [("companies", i, c.key) for i, c in enumerate(registry.companies)]
    for section, i, key in keys:
        other = seen_keys.get(key)
        if other is not None:
            problems.append(
                FleetProblem(
                    f"{section}[{i}].key",
                    f"key {key!r} is already used by {other}",
                    "give every company and person its own key",
                )
            )
        else:
            seen_keys[key] = f"{section}[{i}]"
    numbers: dict[tuple[str, str], str] = {}
    people = {p.key for p in registry.people}
    for i, company in enumerate(registry.companies):
        at = f"companies[{i}]"
        label = f"company {company.key!r}"
        number = (company.country, company.registration_number.upper().replace(" ", ""))
        if number in numbers:
            problems.append(
                FleetProblem(
                    f"{at}.registration_number",
                    f"{label}: registration number {company.registration_number!r} is also "
                    f"company {numbers[number]!r}'s",
                    "two companies cannot share a registration number; correct one of them",
                )
            )
        numbers.setdefault(number, company.key)
        if company.country == "ZA":
            for field, problem in (
                (
                    "registration_number",
                    registration_problem(company.registration_number, company.kind),
                ),
                ("vat_number", vat_problem(company.vat_number) if company.vat_number else None),
            ):
                if problem:
                    wrong, _, fix = problem.rpartition("; ")
                    problems.append(FleetProblem(f"{at}.{field}", f"{label}: {wrong}", fix))
        for j, director in enumerate(company.directors):
            if director not in people:
                problems.append(
                    FleetProblem(
                        f"{at}.directors[{j}]",
                        f"{label}: director {director!r} is not a person in the registry",
                        _add_person(director, people),
                    )
                )
        for j, signatory in enumerate(company.signatories):
            if signatory.person not in people:
                problems.append(
                    FleetProblem(
                        f"{at}.signatories[{j}].person",
                        f"{label}: signatory {signatory.person!r} is not a person in the registry",
                        _add_person(signatory.person, people),
                    )
                )
            elif signatory.capacity is None and signatory.person not in company.directors:
                problems.append(
                    FleetProblem(
                        f"{at}.signatories[{j}].capacity",
                        f"{label}: signatory {signatory.person!r} is not a director, so "
                        "signs in no capacity",
                        "add them to `directors`, or give the signatory a capacity such as "
                        "'duly authorised'",
                    )
                )
    return problems


def _add_person(key: str, people: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(people), n=1)
    otherwise = f"add a [[people]] entry with key = {key!r}"
    return f"did you mean {close[0]!r}? otherwise {otherwise}" if close else otherwise


class RegistryFileError(FleetFileError):
    """A registry file that cannot be used; carries every problem found."""

    code = "invalid_registry"


def registry_path(fleet_path: Path | str) -> Path:
    """Where the registry of the fleet at ``fleet_path`` (its file or its folder) is kept."""
    path = Path(fleet_path)
    if path.is_dir():
        return path / REGISTRY_FILENAME
    return path if path.name == REGISTRY_FILENAME else path.parent / REGISTRY_FILENAME


def load_registry(fleet_path: Path | str) -> Registry:
    """Read the registry beside the fleet at ``fleet_path`` (the fleet file, its folder, or
    the registry file itself). A missing file is an empty registry; a bad one raises
    :class:`RegistryFileError` listing every problem."""
    path = registry_path(fleet_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Registry()
    registry, problems = check_registry_text(text)
    if problems:
        raise RegistryFileError(path, problems)
    assert registry is not None
    return registry


def check_registry_text(text: str) -> tuple[Registry | None, list[FleetProblem]]:
    """Parse and validate registry-file text; return the registry or the problems found."""
    return check_toml_text(text, Registry, _explain, registry_problems)


def _explain(err: Any, data: dict[str, Any], locator: _KeyLocator) -> FleetProblem:
    problem = _from_pydantic(err, data, locator, root=Registry)
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden" and _ACCOUNT_KEYS.search(str(loc[-1]).lower()):
        problem = FleetProblem(
            problem.key,
            f"{loc[-1]!r}: banking details are kept by reference only, never an account "
            "number in this file",
            "remove it and set bank_ref to a name for the account, such as "
            "'fnb-velocity-operating'",
            problem.line,
        )
    label = _entity_label(loc, data)
    if label and not problem.message.startswith(label):
        problem = FleetProblem(
            problem.key, f"{label}: {problem.message}", problem.fix, problem.line
        )
    return problem


def _entity_label(loc: tuple[Any, ...], data: dict[str, Any]) -> str | None:
    if len(loc) >= 2 and loc[0] in {"companies", "people"} and isinstance(loc[1], int):
        entries = data.get(loc[0])
        if (
            isinstance(entries, list)
            and loc[1] < len(entries)
            and isinstance(entries[loc[1]], dict)
        ):
            key = entries[loc[1]].get("key")
            if isinstance(key, str):
                return f"{'company' if loc[0] == 'companies' else 'person'} {key!r}"
    return None


def registry_template_text() -> str:
    """The sample registry ``mcos init`` writes: fictional, valid South African entities."""
    from importlib import resources

    return (
        resources.files("mcos.fleet").joinpath("registry_template.toml").read_text(encoding="utf-8")
    )
