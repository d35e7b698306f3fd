"""``[mail]`` in the fleet file: the template's five accounts load once filled in, bad entries
are problems with the key and the fix, a missing secret is a warning naming the variable."""

from __future__ import annotations

import re

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.warnings import mail_warnings
from tests.fixtures.mail_fleet import imap_account


def uncommented() -> str:
    """The template with its five commented ``[[mail.accounts]]`` switched on."""
    text = template_text()
    start = text.index("# [[mail.accounts]]")
    end = text.index("# Rules: narrow on purpose")
    block = re.sub(r"^# ?", "", text[start:end], flags=re.MULTILINE)
    return text[:start] + block + text[end:]


def problems_of(text: str) -> list[str]:
    fleet, problems = check_fleet_text(text)
    assert fleet is None, "the fleet file should have been refused"
    return [f"{p.key}: {p.message} / fix: {p.fix}" for p in problems]


def test_the_templates_five_accounts_and_rules_load() -> None:
    fleet, problems = check_fleet_text(uncommented())
    assert problems == [] and fleet is not None
    kinds = [(a.name, a.kind, a.owner) for a in fleet.mail.accounts]
    assert [k for _, k, _ in kinds] == ["m365", "m365", "imap", "imap", "imap"]
    assert {owner for _, _, owner in kinds} == {"donna"}
    assert {"vip", "legal", "strategic", "newsletters"} <= {r.name for r in fleet.mail.rules}
    assert fleet.guard.ask_first == ("email.send",), "no mail leaves without a person by default"


def test_a_missing_secret_is_a_warning_naming_the_variable_and_the_machine() -> None:
    fleet, _ = check_fleet_text(uncommented())
    assert fleet is not None
    given = {"MCOS_MAIL_SPECTER_SECRET": "s", "MCOS_MAIL_FIBREFLOW_SECRET": "s"}
    given |= {"MCOS_MAIL_BUILD_PASSWORD": "p", "MCOS_MAIL_OUTDOOR_PASSWORD": "p"}
    [warning] = mail_warnings(fleet, given)
    assert warning.agent == "mail:labs-imap"
    assert "MCOS_MAIL_LABS_PASSWORD" in warning.message and "'mac-mini'" in warning.message
    assert mail_warnings(fleet, given | {"MCOS_MAIL_LABS_PASSWORD": "p"}) == []


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (imap_account().replace('host = "127.0.0.1"', 'host = "mail.example.com"'), "clear text"),
        (imap_account().replace('owner = "donna"', 'owner = "nobody"'), "owner"),
        (imap_account().replace('owner = "donna"', 'owner = "elon"'), "email.send"),
        (imap_account().replace('password_env = "MCOS_MAIL_TEST_PASSWORD"', 'password_env = "pw"'),
         "password_env"),
        (imap_account(password_env="MCOS_DONNA_ANTHROPIC_KEY"), "model credential"),
        (imap_account() + imap_account(), "listed twice"),
        (imap_account().replace('kind = "imap"', 'kind = "pop3"'), "kind"),
        ('[[mail.rules]]\nname = "x"\nmatch = {}\ncategory = "later"\n', "empty"),
        ('[[mail.rules]]\nname = "x"\nmatch = { senders = ["a@b"] }\ncategory = "later"\n'
         'topic = "legal"\n', "topic"),
        ('[[mail.rules]]\nname = "x"\nmatch = { senders = ["a@b"] }\ncategory = "urgent"\n',
         "category"),
        ('[[mail.rules]]\nname = "x"\nmatch = { senders = ["a@b"] }\ncategory = "later"\n'
         'accounts = ["nope"]\n', "unknown mail account"),
    ],
)  # fmt: skip
def test_a_bad_mail_entry_is_a_problem_with_its_key_and_fix(entry: str, expected: str) -> None:
    problems = problems_of(template_text() + "\n" + entry)
    assert any(expected in p for p in problems), problems
    assert all("mail" in p.split(":")[0] for p in problems), problems
