"""What a document template is: its parties, its variable fields, its definitions and clauses.

Templates are TOML files in ``templates/`` (reviewable text; see the README). Loading checks
each one whole: every ``{{ placeholder }}`` names a declared field or a party's fact, every
defined term is used in the body, and every ``when``/``list`` names a field. A bad template
fails at load, naming the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mcos.errors import InvalidInput, McosError

TEMPLATES_DIR = Path(__file__).parent / "templates"
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z_]+)?)\s*\}\}")
PARTY_FACTS = frozenset(
    {"name", "term", "registration_number", "vat_number", "address", "domicilium", "identity"}
)
"""What ``{{ role.fact }}`` may name; the values come from the registry, never the caller."""
BUILT_IN = frozenset({"document", "today"})
"""Placeholders every template has: its own title's defined term, and the date it is rendered."""
HIGH_COURT_DIVISIONS = (
    "Gauteng Division of the High Court of South Africa, Pretoria",
    "Gauteng Local Division of the High Court of South Africa, Johannesburg",
    "Western Cape Division of the High Court of South Africa, Cape Town",
    "KwaZulu-Natal Division of the High Court of South Africa, Pietermaritzburg",
    "KwaZulu-Natal Local Division of the High Court of South Africa, Durban",
    "Eastern Cape Division of the High Court of South Africa, Makhanda",
    "Free State Division of the High Court of South Africa, Bloemfontein",
    "Limpopo Division of the High Court of South Africa, Polokwane",
    "Mpumalanga Division of the High Court of South Africa, Mbombela",
    "North West Division of the High Court of South Africa, Mahikeng",
    "Northern Cape Division of the High Court of South Africa, Kimberley",
)
DEFAULT_COURT = HIGH_COURT_DIVISIONS[1]


class TemplateError(McosError):
    """A template file is malformed; the message names the file and the key."""

    code = "template_invalid"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartyRole(_Strict):
    role: str = Field(pattern=r"^[a-z][a-z_]*$")
    """How fields and placeholders name it (``client``), and the key of ``parties`` in a call."""
    term: str = Field(min_length=1)
    """Its defined term in the document (``Client``; used as "the Client")."""
    kind: Literal["company", "person", "any"] = "company"
    description: str = ""
    signs: bool = True
    """Whether the document carries its signature block(s): one per registry signatory."""
    witnesses: int = Field(0, ge=0, le=2)
    """Witness lines on each of its signature blocks (customary for deeds and suretyships)."""


FieldType = Literal["text", "lines", "date", "zar", "integer", "percent", "choice", "court"]


class FieldSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: FieldType = "text"
    required: bool = True
    description: str = ""
    choices: tuple[str, ...] = ()
    """For ``choice``: the values allowed."""
    default: str | int | None = None

    @model_validator(mode="after")
    def _choices(self) -> FieldSpec:
        if self.type == "choice" and not self.choices:
            raise ValueError(f"field {self.name!r} is a choice; give its choices")
        return self


class Definition(_Strict):
    term: str = Field(min_length=1)
    meaning: str = Field(min_length=1)
    when: str | None = None
    """Only when this field was given (``field=value``: has that value)."""


class Clause(_Strict):
    """A numbered clause: ``heading`` (level 1) or ``text``, with sub-clauses in ``items``."""

    heading: str | None = None
    text: str | None = None
    items: tuple[str | Clause, ...] = ()
    when: str | None = None
    """Only when this field was given; ``field=value``: only when it has that value."""
    unless: str | None = None
    """Only when this field was not given."""
    list: str | None = None
    """A ``lines`` field whose lines become sub-clauses here, one each."""

    @model_validator(mode="after")
    def _something(self) -> Clause:
        if not (self.heading or self.text or self.items or self.list):
            raise ValueError("a clause needs a heading, text, items or a list")
        return self


class DocumentTemplate(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str = Field(min_length=1)
    """The heading on the first page (``INDEPENDENT CONTRACTOR AGREEMENT``)."""
    term: str = Field(min_length=1)
    """The document's defined term (``Agreement``, ``Deed``, ``Notice``, ``letter``)."""
    style: Literal["agreement", "letter"]
    """``agreement``: parties, definitions, the standard law clauses, signature blocks for every
    signing party. ``letter``: letterhead, addressee, numbered paragraphs, the sender signs."""
    description: str = ""
    parties: tuple[PartyRole, ...] = Field(min_length=1)
    fields: tuple[FieldSpec, ...] = ()
    definitions: tuple[Definition, ...] = ()
    clauses: tuple[Clause, ...] = Field(min_length=1)
    subject: str | None = None
    """For a letter: the bold subject line (``RE: ...``)."""
    addressee: str | None = None
    """For a letter: the role it is addressed to."""
    deliver_to: Literal["address", "domicilium"] = "address"
    """For a letter: the addressee's registered address, or its domicilium (a notice)."""

    def party(self, role: str) -> PartyRole:
        return next(p for p in self.parties if p.role == role)

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def summary(self) -> dict[str, object]:
        """What a caller (the API, the agent's tool) needs to fill it in."""
        return {
            "key": self.key,
            "title": self.title,
            "style": self.style,
            "description": self.description,
            "parties": [
                {
                    "role": p.role,
                    "term": p.term,
                    "kind": p.kind,
                    "signs": p.signs,
                    "description": p.description,
                }
                for p in self.parties
            ],
            "fields": [
                {
                    "name": f.name,
                    "type": f.type,
                    "required": f.required and f.default is None,
                    "description": f.description,
                    **({"choices": list(f.choices)} if f.choices else {}),
                    **({"default": f.default} if f.default is not None else {}),
                }
                for f in self.fields
            ],
        }


STANDARD_FIELDS = (
    FieldSpec(
        name="court",
        type="court",
        required=False,
        default=DEFAULT_COURT,
        description="The High Court division whose jurisdiction the parties consent to.",
    ),
)
"""Fields every ``agreement`` template has on top of its own."""


def texts(clauses: tuple[str | Clause, ...]) -> Iterator[str]:
    """Every text of a clause tree: headings, texts and items."""
    for clause in clauses:
        if isinstance(clause, str):
            yield clause
            continue
        yield from (t for t in (clause.heading, clause.text) if t)
        yield from texts(clause.items)


def conditions(clauses: tuple[str | Clause, ...]) -> Iterator[tuple[str, str]]:
    for clause in clauses:
        if isinstance(clause, Clause):
            if clause.when:
                yield "when", clause.when.partition("=")[0]
            if clause.unless:
                yield "unless", clause.unless
            if clause.list:
                yield "list", clause.list
            yield from conditions(clause.items)


def _lint(template: DocumentTemplate, where: str) -> None:
    """Everything a template names must exist, and every defined term must be used."""
    fields = {f.name: f for f in template.fields}
    roles = {p.role for p in template.parties}
    if len(roles) != len(template.parties):
        raise TemplateError(f"{where}: a party role is listed twice", field="parties")
    if template.style == "letter":
        if sum(p.signs for p in template.parties) != 1:
            raise TemplateError(f"{where}: a letter has one signing party", field="parties")
        if template.addressee not in roles:
            raise TemplateError(f"{where}: a letter names its addressee role", field="addressee")
    body = list(texts(template.clauses)) + ([template.subject] if template.subject else [])
    for text in [*body, *(d.meaning for d in template.definitions)]:
        for name in PLACEHOLDER.findall(text):
            head, _, fact = name.partition(".")
            if fact:
                if head not in roles or fact not in PARTY_FACTS:
                    raise TemplateError(
                        f"{where}: placeholder {{{{ {name} }}}} names no party fact; use "
                        f"ROLE.FACT with a role of {sorted(roles)} and a fact of "
                        f"{sorted(PARTY_FACTS)}",
                        field="clauses",
                    )
            elif head not in fields and head not in BUILT_IN:
                raise TemplateError(
                    f"{where}: placeholder {{{{ {name} }}}} is not a declared field",
                    field="fields",
                )
    whens = [("when", d.when.partition("=")[0]) for d in template.definitions if d.when]
    for kind, name in [*conditions(template.clauses), *whens]:
        spec = fields.get(name)
        if spec is None or (kind == "list" and spec.type != "lines"):
            raise TemplateError(
                f"{where}: {kind} = {name!r} needs a declared field"
                + (" of type lines" if kind == "list" else ""),
                field="clauses",
            )
    joined = "\n".join(body)
    terms = [d.term for d in template.definitions]
    if template.style == "agreement":  # a letter names its parties; it defines no terms
        terms += [p.term for p in template.parties]
    for term in terms:
        if not re.search(rf"\b{re.escape(term)}\b", joined):
            raise TemplateError(
                f"{where}: the defined term {term!r} is never used in the clauses; use it or "
                "drop its definition",
                field="definitions",
            )


def parse(text: str, *, where: str) -> DocumentTemplate:
    try:
        raw = tomllib.loads(text)
        template = DocumentTemplate.model_validate(raw)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{where}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise TemplateError(f"{where}: {key}: {first['msg']}", field=key) from None
    if template.style == "agreement":
        own = {f.name for f in template.fields}
        extra = tuple(f for f in STANDARD_FIELDS if f.name not in own)
        template = template.model_copy(update={"fields": template.fields + extra})
    _lint(template, where)
    return template


@cache
def templates() -> dict[str, DocumentTemplate]:
    """The shipped templates, by key (loaded and checked once)."""
    found: dict[str, DocumentTemplate] = {}
    for path in sorted(TEMPLATES_DIR.glob("*.toml")):
        template = parse(path.read_text(encoding="utf-8"), where=path.name)
        if template.key != path.stem:
            raise TemplateError(f"{path.name}: key {template.key!r} must match the file name")
        found[template.key] = template
    return found


def template(key: str) -> DocumentTemplate:
    known = templates()
    if key not in known:
        raise InvalidInput(
            f"no template {key!r}; known ones are {', '.join(sorted(known))}", field="template"
        )
    return known[key]
