"""The checker refuses a draft whose parties, numbers or signatories disagree with the registry."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Any

import docx
import pytest

from mcos.errors import InvalidInput
from mcos.fleet.registry import Registry
from mcos.legal.render import DraftRefused, check_draft, render

CONTRACT = "independent-contractor-agreement"
PARTIES = {"client": "velocity-fibre", "contractor": "mokoena-splicing"}
FIELDS: dict[str, Any] = {
    "effective_date": "2026-03-01",
    "services": ["Splice fibre"],
    "monthly_fee": 80000,
}


def refused(registry: Registry, **fields: Any) -> DraftRefused:
    with pytest.raises(DraftRefused) as caught:
        render(CONTRACT, PARTIES, FIELDS | fields, registry, today=date(2026, 2, 2))
    return caught.value


def test_a_party_name_not_in_the_registry_is_refused_naming_the_parties(
    registry: Registry,
) -> None:
    error = refused(registry, place_of_work="the yard of Acme Civils (Pty) Ltd in Rosslyn")
    [found] = error.disagreements
    assert (found.rule, found.found) == ("party_name", "Acme Civils (Pty) Ltd")
    assert "it is not in the entity registry" in found.message
    assert "the Client: Velocity Fibre (Pty) Ltd (2019/407215/07)" in found.message
    assert error.status == 422 and error.code == "draft_refused"


def test_a_misspelt_party_gets_the_registrys_name(registry: Registry) -> None:
    [found] = refused(registry, place_of_work="Velocity Fibres (Pty) Ltd, Irene").disagreements
    assert "the registry's name is 'Velocity Fibre (Pty) Ltd'" in found.message


def test_a_wrong_registration_number_is_refused_with_the_registrys(registry: Registry) -> None:
    error = refused(registry, place_of_work="the site of Velocity Fibre (Pty) Ltd (2019/407215/08)")
    [found] = error.disagreements
    assert (found.rule, found.found) == ("registration_number", "2019/407215/08")
    assert found.message == (
        "registration number 2019/407215/08 is given for Velocity Fibre (Pty) Ltd, but the "
        "registry's is 2019/407215/07"
    )
    assert found.message in error.message


def test_a_registration_number_of_no_party_is_refused(registry: Registry) -> None:
    [found] = refused(registry, place_of_work="erf 2011/000001/07, Irene").disagreements
    assert found.message.startswith(
        "registration number 2011/000001/07 belongs to no party of this document (it is no "
        "company's in the registry)"
    )


def test_an_identity_number_of_nobody_in_the_document_is_refused(registry: Registry) -> None:
    [found] = refused(registry, place_of_work="care of ID 8001015009087").disagreements
    assert found.rule == "id_number" and found.found == "8001015009087"


def test_registry_facts_in_the_right_place_pass(registry: Registry) -> None:
    draft = render(
        CONTRACT,
        PARTIES,
        FIELDS | {"place_of_work": "Velocity Fibre (Pty) Ltd's Irene office, Velocity Fibre"},
        registry,
        today=date(2026, 2, 2),
    )
    assert draft.filename == "independent-contractor-agreement-velocity-fibre-mokoena-splicing.docx"


def edited(content: bytes, replace: dict[str, str]) -> bytes:
    """The .docx with whole paragraphs replaced, as a person editing it in Word would."""
    document = docx.Document(io.BytesIO(content))
    for paragraph in document.paragraphs:
        if paragraph.text in replace:
            new = replace[paragraph.text]
            for run in paragraph.runs[1:]:
                run.text = ""
            paragraph.runs[0].text = new
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.fixture
def good(registry: Registry) -> bytes:
    return render(CONTRACT, PARTIES, FIELDS, registry, today=date(2026, 2, 2)).content


def test_an_uploaded_draft_that_agrees_has_no_disagreement(good: bytes, registry: Registry) -> None:
    assert check_draft(good, CONTRACT, PARTIES, registry) == []


def test_a_signatory_who_is_not_one_is_refused_with_the_registrys_signatories(
    good: bytes, registry: Registry
) -> None:
    bad = edited(good, {"Name: Pieter Mokoena": "Name: Thabo Nkosi"})
    found = check_draft(bad, CONTRACT, PARTIES, registry)
    assert [(d.rule, d.found) for d in found] == [
        ("signatory", "Thabo Nkosi"),
        ("signature", "Mokoena Splicing CC"),
    ]
    assert found[0].message == (
        "Thabo Nkosi is not a signatory of Mokoena Splicing CC; its registry signatories are: "
        "Pieter Mokoena (Member)"
    )


def test_a_signatory_in_the_wrong_capacity_is_refused(good: bytes, registry: Registry) -> None:
    bad = edited(good, {"Capacity: Member": "Capacity: Chief Executive Officer"})
    [found] = check_draft(bad, CONTRACT, PARTIES, registry)
    assert found.message == (
        "Pieter Mokoena signs for Mokoena Splicing CC as 'Member' in the registry, not "
        "'Chief Executive Officer'"
    )


def test_a_missing_signature_block_and_a_block_for_a_stranger_are_refused(
    good: bytes, registry: Registry
) -> None:
    bad = edited(
        good, {"For and on behalf of: Mokoena Splicing CC": "For and on behalf of: Nobody CC"}
    )
    found = {(d.rule, d.found): d.message for d in check_draft(bad, CONTRACT, PARTIES, registry)}
    assert set(found) == {
        ("party_name", "Nobody CC"),
        ("signature", "Nobody CC"),
        ("signature", "Mokoena Splicing CC"),
    }
    assert found[("signature", "Mokoena Splicing CC")] == (
        "there is no signature block for Mokoena Splicing CC (the Contractor); its registry "
        "signatories are: Pieter Mokoena (Member)"
    )


def zip_with_broken_xml() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<not xml")
    return out.getvalue()


@pytest.mark.parametrize("content", [b"plain text", zip_with_broken_xml()], ids=["text", "zip"])
def test_a_file_that_is_not_a_docx_is_the_callers_error(registry: Registry, content: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"not a readable \.docx"):
        check_draft(content, CONTRACT, PARTIES, registry)


@pytest.mark.parametrize(
    ("parties", "fields", "field", "says"),
    [
        ({"client": "velocity-fibre", "contractor": "acme"}, FIELDS, "parties.contractor",
         "no company or person with key 'acme' in the entity registry"),
        ({"client": "velocity-fibre"}, FIELDS, "parties.contractor", "name the contractor"),
        ({**PARTIES, "witness": "alex-specter"}, FIELDS, "parties.witness", "no party role"),
        ({"client": "alex-specter", "contractor": "mokoena-splicing"}, FIELDS, "parties.client",
         "no company with key 'alex-specter'"),
        ({"client": "velocity-fibre", "contractor": "velocity-fibre"}, FIELDS, "parties",
         "two parties"),
        (PARTIES, {**FIELDS, "monthly_fee": "lots"}, "fields.monthly_fee", "non-negative number"),
        (PARTIES, {**FIELDS, "effective_date": "1 March"}, "fields.effective_date", "YYYY-MM-DD"),
        (PARTIES, {k: v for k, v in FIELDS.items() if k != "services"}, "fields.services",
         "needs field 'services'"),
        (PARTIES, {**FIELDS, "colour": "red"}, "fields.colour", "has no field 'colour'"),
        (PARTIES, {**FIELDS, "court": "Supreme Court of Narnia"}, "fields.court", "one of"),
    ],
)  # fmt: skip
def test_bad_parties_and_fields_are_refused_naming_the_field(
    registry: Registry, parties: dict[str, str], fields: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        render(CONTRACT, parties, fields, registry, today=date(2026, 2, 2))
    assert caught.value.field == field
    assert says in caught.value.message
