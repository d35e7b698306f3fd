"""The entity registry: the sample loads; each bad value is refused naming the entry, the field,
the value and the fix; lookups find companies by key and names, and who signs for them.

Bad files are the sample registry with one edit, so each test shows only what is wrong.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from mcos.fleet.loader import FleetProblem
from mcos.fleet.registry import (
    REGISTRY_FILENAME,
    Registry,
    RegistryFileError,
    check_registry_text,
    load_registry,
    registry_template_text,
)
from mcos.fleet.sa_numbers import id_number_problem, luhn_ok, registration_problem

SAMPLE = registry_template_text()


def edited(*replacements: tuple[str, str]) -> str:
    text = SAMPLE
    for old, new in replacements:
        assert text.count(old) == 1, f"sample changed: {old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def only_problem(text: str) -> FleetProblem:
    registry, problems = check_registry_text(text)
    assert registry is None
    assert len(problems) == 1, problems
    return problems[0]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_sample_loads_with_its_companies_people_and_signatories() -> None:
    registry, problems = check_registry_text(SAMPLE)
    assert problems == []
    assert registry is not None
    assert [c.key for c in registry.companies] == [
        "specter-holdings",
        "velocity-fibre",
        "mokoena-splicing",
    ]
    velocity = registry.company("velocity-fibre")
    assert velocity is not None
    assert velocity.legal_name == "Velocity Fibre (Pty) Ltd"
    assert velocity.registration_number == "2019/407215/07"
    assert velocity.country == "ZA"
    assert velocity.domicilium_address == "2 Fibre Park, Lynnwood Road, Pretoria, 0081"
    holdings = registry.company("specter-holdings")
    assert holdings is not None
    assert holdings.domicilium_address == holdings.registered_address  # the default
    signing = [(p.key, capacity) for p, capacity in registry.signatories_of("velocity-fibre")]
    assert signing == [
        ("alex-specter", "Director"),
        ("lindiwe-dlamini", "Director, duly authorised"),
    ]
    # Listing no signatories: the directors sign as Director.
    assert [(p.key, c) for p, c in registry.signatories_of("specter-holdings")] == [
        ("alex-specter", "Director")
    ]
    assert [(p.key, c) for p, c in registry.signatories_of("mokoena-splicing")] == [
        ("pieter-mokoena", "Member")
    ]
    with pytest.raises(KeyError):
        registry.signatories_of("no-such-company")


@pytest.mark.parametrize(
    "query", ["velocity-fibre", "VELOCITY FIBRE", "velocity  fibre (pty) ltd", "Velocity-Fibre"]
)
def test_find_company_matches_key_legal_and_trading_name_ignoring_case(query: str) -> None:
    registry = load_registry_text(SAMPLE)
    found = registry.find_company(query)
    assert found is not None and found.key == "velocity-fibre"


def test_find_company_and_person_return_none_for_a_stranger() -> None:
    registry = load_registry_text(SAMPLE)
    assert registry.find_company("Velocity") is None  # exact names only; the tool searches
    assert registry.find_person("Lindiwe Precious Dlamini") == registry.person("lindiwe-dlamini")
    assert registry.person("nobody") is None
    assert [c.key for c in registry.companies_of("alex-specter")] == [
        "specter-holdings",
        "velocity-fibre",
    ]


def load_registry_text(text: str) -> Registry:
    registry, problems = check_registry_text(text)
    assert registry is not None, problems
    return registry


def test_a_missing_file_is_an_empty_registry_and_a_bad_one_names_the_file(tmp_path: Path) -> None:
    assert load_registry(tmp_path) == Registry()
    assert load_registry(tmp_path / "fleet.toml") == Registry()
    (tmp_path / REGISTRY_FILENAME).write_text(
        edited(("2019/407215/07", "2019/40721/07")), encoding="utf-8"
    )
    with pytest.raises(RegistryFileError) as caught:
        load_registry(tmp_path / "fleet.toml")
    assert caught.value.path == tmp_path / REGISTRY_FILENAME
    assert caught.value.code == "invalid_registry"
    assert str(tmp_path / REGISTRY_FILENAME) in caught.value.message
    assert "companies[1].registration_number" in caught.value.message


def test_a_malformed_registration_number_is_refused_with_the_form() -> None:
    text = edited(("2019/407215/07", "2019/40721/07"))
    problem = only_problem(text)
    assert problem.key == "companies[1].registration_number"
    assert "'velocity-fibre'" in problem.message
    assert "'2019/40721/07'" in problem.message
    assert "YYYY/NNNNNN/NN" in problem.fix
    assert problem.line == line_of(text, "2019/40721/07")


def test_a_registration_year_in_the_future_is_refused() -> None:
    year = datetime.now(UTC).year + 1
    problem = only_problem(edited(("2019/407215/07", f"{year}/407215/07")))
    assert problem.key == "companies[1].registration_number"
    assert f"the year {year}" in problem.message
    assert "year of registration" in problem.fix


def test_an_unknown_entity_type_suffix_is_refused_listing_the_known_ones() -> None:
    problem = only_problem(edited(("2019/407215/07", "2019/407215/99")))
    assert problem.key == "companies[1].registration_number"
    assert "ends in 99" in problem.message
    assert "07 private company" in problem.fix


def test_a_bad_vat_number_is_refused() -> None:
    problem = only_problem(edited(("4620197384", "5620197384")))
    assert problem.key == "companies[1].vat_number"
    assert "'5620197384'" in problem.message
    assert "starting with 4" in problem.fix


def test_a_foreign_company_skips_the_south_african_formats() -> None:
    text = edited(
        ('registration_number = "2019/407215/07"', 'country = "US"\nregistration_number = "7351"'),
        ('vat_number = "4620197384"', 'vat_number = "EU372000041"'),
    )
    registry = load_registry_text(text)
    assert registry.company("velocity-fibre") is not None


def test_an_id_number_with_a_bad_check_digit_is_refused() -> None:
    problem = only_problem(edited(("9102176004088", "9102176004089")))
    assert problem.key == "people[1].id_number"
    assert "person 'lindiwe-dlamini'" in problem.message
    assert "'9102176004089'" in problem.message
    assert "check digit" in problem.message
    assert "ID document" in problem.fix


def test_an_id_number_whose_date_is_no_date_is_refused() -> None:
    # 30 February, with a check digit that passes, so only the date is wrong.
    bad = next(f"910230600408{d}" for d in range(10) if luhn_ok(f"910230600408{d}"))
    problem = only_problem(edited(("9102176004088", bad)))
    assert problem.key == "people[1].id_number"
    assert "910230" in problem.message and "date of birth" in problem.message


def test_an_unknown_director_is_refused_with_a_suggestion() -> None:
    problem = only_problem(edited(('directors = ["alex-specter"]', 'directors = ["alex-spectre"]')))
    assert problem.key == "companies[0].directors[0]"
    assert "'alex-spectre'" in problem.message
    assert "did you mean 'alex-specter'" in problem.fix


def test_a_signatory_who_is_no_director_needs_a_capacity() -> None:
    text = edited(('capacity = "Director, duly authorised"\n', ""))
    text = text.replace(
        'directors = ["alex-specter", "lindiwe-dlamini"]', 'directors = ["alex-specter"]'
    )
    problem = only_problem(text)
    assert problem.key == "companies[1].signatories[1].capacity"
    assert "'lindiwe-dlamini' is not a director" in problem.message
    assert "duly authorised" in problem.fix


def test_a_duplicate_key_is_refused() -> None:
    problem = only_problem(
        edited(('key = "pieter-mokoena"', 'key = "velocity-fibre"')).replace(
            'person = "pieter-mokoena"', 'person = "alex-specter"'
        )
    )
    assert problem.key == "companies[1].key"
    assert "'velocity-fibre' is already used by people[2]" in problem.message


def test_a_duplicate_registration_number_is_refused() -> None:
    problem = only_problem(edited(("2009/045678/23", "2016/218734/07")))
    assert problem.key == "companies[2].registration_number"
    assert "'specter-holdings'" in problem.message


def test_an_account_number_key_is_refused_without_echoing_it() -> None:
    text = edited(('bank_ref = "fnb-velocity-operating"', 'account_number = "62812345678"'))
    problem = only_problem(text)
    assert problem.key == "companies[1].account_number"
    assert "reference only" in problem.message
    assert "bank_ref" in problem.fix
    assert "62812345678" not in problem.message + problem.fix


def test_a_bank_ref_that_looks_like_an_account_number_is_refused() -> None:
    problem = only_problem(edited(('"fnb-velocity-operating"', '"fnb 6281 2345 678"')))
    assert problem.key == "companies[1].bank_ref"
    assert "account number" in problem.message
    assert "6281" not in problem.message + problem.fix


def test_bad_toml_is_refused_with_its_line() -> None:
    problem = only_problem(SAMPLE + "\n[[people]\n")
    assert problem.key == "(syntax)"
    assert problem.line == len(SAMPLE.splitlines()) + 2


def test_number_checks_directly() -> None:
    assert registration_problem("IT 1234/2015", "Family Trust") is None
    assert registration_problem("2019/123456/07", "Family Trust") is not None
    assert registration_problem("2019/123456/07", "(Pty) Ltd", today=date(2018, 1, 1)) is not None
    assert id_number_problem("8504125123086") is None
    assert id_number_problem("850412512308") is not None  # 12 digits
    # 29 February 2000 is a date (2000 was a leap year).
    leap = next(f"000229500008{d}" for d in range(10) if luhn_ok(f"000229500008{d}"))
    assert id_number_problem(leap) is None
