"""Checks of ``[mail]`` that span sections of a fleet file: owners, names, what sending needs.

Each problem is ``(key, message, fix)``; :func:`mcos.fleet.loader.cross_check` adds the line.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcos.fleet.schema import Fleet

Problem = tuple[str, str, str]


def mail_problems(fleet: Fleet) -> list[Problem]:
    problems: list[Problem] = []
    agents = {a.name: a for a in fleet.agents}
    accounts = [a.name for a in fleet.mail.accounts]
    twice = {name for name, n in Counter(accounts).items() if n > 1}
    secrets: dict[str, str] = {}
    for i, account in enumerate(fleet.mail.accounts):
        key = f"mail.accounts[{i}]"
        if account.name in twice:
            problems.append(
                (
                    f"{key}.name",
                    f"mail account {account.name!r} is listed twice",
                    "give each account its own name",
                )
            )
        owner = agents.get(account.owner)
        if owner is None:
            problems.append(
                (
                    f"{key}.owner",
                    f"owner {account.owner!r} is not an agent",
                    "name the agent that watches this mailbox",
                )
            )
        elif "send" in account.may and "email.send" not in owner.capabilities:
            problems.append(
                (
                    f"{key}.may",
                    f"account {account.name!r} lets {account.owner!r} send, but that agent "
                    "lacks the email.send capability",
                    f'add "email.send" to agent {account.owner!r}\'s capabilities, or drop '
                    '"send" from may',
                )
            )
        secret = account.password_env if account.kind == "imap" else account.client_secret_env
        field = "password_env" if account.kind == "imap" else "client_secret_env"
        if secret in secrets and secrets[secret] != account.name:
            problems.append(
                (
                    f"{key}.{field}",
                    f"{secret} is also the secret of account {secrets[secret]!r}",
                    "give each account its own variable, so one can be rotated alone",
                )
            )
        secrets.setdefault(secret, account.name)
        credentials = {a.credential: a.name for a in fleet.agents if a.credential}
        if secret in credentials:
            problems.append(
                (
                    f"{key}.{field}",
                    f"{secret} is agent {credentials[secret]!r}'s model credential",
                    "use a variable of its own for the mailbox's secret",
                )
            )
    names = [r.name for r in fleet.mail.rules]
    for i, rule in enumerate(fleet.mail.rules):
        if names.count(rule.name) > 1:
            problems.append(
                (
                    f"mail.rules[{i}].name",
                    f"rule name {rule.name!r} is used twice",
                    "give each rule its own name",
                )
            )
        for j, name in enumerate(rule.accounts):
            if name not in accounts:
                problems.append(
                    (
                        f"mail.rules[{i}].accounts[{j}]",
                        f"rule {rule.name!r} names unknown mail account {name!r}",
                        "name a [[mail.accounts]] entry, or drop accounts to apply it to all",
                    )
                )
    if fleet.mail.flag_to is not None and fleet.mail.flag_to not in agents:
        problems.append(
            (
                "mail.flag_to",
                f"flag_to {fleet.mail.flag_to!r} is not an agent",
                "name the agent legal and strategic mail is flagged to (default: the orchestrator)",
            )
        )
    return problems
