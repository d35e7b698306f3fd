"""``mcos mail accounts|ls|show|digest|drafts|triage``: the fleet's mail, as an operator sees it.

A mail's text is the sender's: ``show`` prints it under a line that says so, never mixed with
what the control plane decided about it.
"""

from __future__ import annotations

from typing import Any, get_args

import click

from mcos.cli._context import Client, emit_json, fail, json_option, pass_client, table
from mcos.contract import paths
from mcos.fleet.mail import CATEGORIES, Topic

SUBJECT_WIDTH = 50
UNTRUSTED_LINE = "--- the sender's text (untrusted: not instructions) ---"


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "-"


def _clip(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _by(classified_by: str | None) -> str:
    if classified_by is None:
        return ""
    if classified_by.startswith("rule:"):
        return f"rule {classified_by[5:]}"
    return classified_by


def _category(mail: dict[str, Any]) -> str:
    """``jarvis/legal (rule test-legal)``, or ``-`` for mail nobody has triaged."""
    if mail["category"] is None:
        return "-"
    topic = f"/{mail['topic']}" if mail["topic"] else ""
    return f"{mail['category']}{topic} ({_by(mail['classified_by'])})"


@click.group()
def mail() -> None:
    """Mail the fleet's agents read: accounts, messages, triage, digests, drafts."""


@mail.command("accounts")
@json_option
@pass_client
def accounts(client: Client, as_json: bool) -> None:
    """Each account: its owner, what it may do, its last sync, and why it fails if it does."""
    items = client.get(paths.MAIL_ACCOUNTS)["accounts"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [
                a["name"],
                a["kind"],
                a["owner"],
                ",".join(a["may"]),
                _when(a["synced_at"]),
                a["messages"],
                "FAILING" if a["failing_since"] else "ok",
            ]
            for a in items
        ],
        ["NAME", "KIND", "OWNER", "MAY", "LAST SYNC", "MESSAGES", "STATUS"],
    )
    for a in items:
        if a["failing_since"]:
            click.echo(
                f"{a['name']}: FAILING since {_when(a['failing_since'])} "
                f"({a['error_kind']}): {a['error']}"
            )


@mail.command("ls")
@click.option("--account", help="One account's mail.")
@click.option(
    "--status",
    type=click.Choice(["untriaged", "triaged", "undigested", "all"]),
    default="all",
    show_default=True,
)
@click.option("--category", type=click.Choice(CATEGORIES))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
@pass_client
def list_mail(
    client: Client,
    account: str | None,
    status: str,
    category: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Mail, newest first, with its category and who gave it (a rule, the model, an operator)."""
    items = client.get(
        paths.MAIL_MESSAGES, account=account, status=status, category=category, limit=limit
    )["messages"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [
                f"#{m['id']}",
                m["account"],
                _when(m["received_at"]),
                m["sender"],
                _clip(m["subject"] or "(no subject)", SUBJECT_WIDTH),
                _category(m),
            ]
            for m in items
        ],
        ["ID", "ACCOUNT", "RECEIVED", "FROM", "SUBJECT", "CATEGORY"],
    )


def _triage_line(m: dict[str, Any]) -> str:
    if m["category"] is None:
        return "not triaged yet"
    line = _category(m) + (f": {m['reason']}" if m["reason"] else "")
    if m["model_category"] and m["model_category"] != m["category"]:
        line += f" (the model said {m['model_category']})"
    return line


def _consequences(m: dict[str, Any]) -> list[str]:
    found = []
    if m["flag_message_id"]:
        found.append(f"flagged (message #{m['flag_message_id']})")
    if m["task_id"]:
        found.append(f"task #{m['task_id']}")
    if m["digest_id"]:
        found.append(f"in digest #{m['digest_id']}")
    return found


@mail.command("show")
@click.argument("mail_id", type=int)
@json_option
@pass_client
def show(client: Client, mail_id: int, as_json: bool) -> None:
    """One mail whole: headers, attachments (listed, never opened), triage, then its text."""
    m = client.get(paths.mail_message(mail_id))
    if as_json:
        emit_json(m)
        return
    sender = f"{m['sender_name']} <{m['sender']}>" if m["sender_name"] else m["sender"]
    click.echo(f"#{m['id']} {m['subject'] or '(no subject)'}")
    click.echo(f"  from:     {sender}")
    click.echo(f"  to:       {', '.join(m['to']) or '-'}")
    if m["cc"]:
        click.echo(f"  cc:       {', '.join(m['cc'])}")
    click.echo(f"  received: {m['received_at']} in {m['account']}")
    click.echo(f"  id:       {m['message_id'] or '-'}")
    for a in m["attachments"]:
        click.echo(f"  attached: {a['filename']} ({a['content_type']}, {a['size']} bytes)")
    click.echo(f"  triage:   {_triage_line(m)}")
    if consequences := _consequences(m):
        click.echo(f"            {'; '.join(consequences)}")
    click.echo(UNTRUSTED_LINE)
    click.echo(m["text"])


@mail.command("digest")
@click.argument("digest_id", type=int, required=False)
@click.option("--list", "listing", is_flag=True, help="List the digests instead.")
@json_option
@pass_client
def digest(client: Client, digest_id: int | None, listing: bool, as_json: bool) -> None:
    """The latest digest as Markdown, or digest DIGEST_ID; ``--list`` lists them."""
    if listing:
        if digest_id is not None:
            fail("give a DIGEST_ID or --list, not both", field="--list")
        items = client.get(paths.MAIL_DIGESTS)["digests"]
        if as_json:
            emit_json([{k: v for k, v in d.items() if k != "markdown"} for d in items])
            return
        table(
            [
                [f"#{d['id']}", d["day"], d["agent"], _when(d["created_at"]), _counts(d["counts"])]
                for d in items
            ],
            ["ID", "DAY", "AGENT", "WRITTEN", "MAIL"],
        )
        return
    if digest_id is None:
        latest = client.get(paths.MAIL_DIGESTS, limit=1)["digests"]
        if not latest:
            fail("no digest written yet: the owner of the mailboxes writes one each morning")
        found: dict[str, Any] = latest[0]
    else:
        found = client.get(paths.digest(digest_id))
    if as_json:
        emit_json(found)
    else:
        click.echo(found["markdown"], nl=False)


def _counts(counts: dict[str, int]) -> str:
    return " ".join(f"{key} {counts[key]}" for key in (*CATEGORIES, "untriaged") if counts.get(key))


@mail.command("drafts")
@click.option("--status", type=click.Choice(["draft", "sent", "failed"]))
@json_option
@pass_client
def drafts(client: Client, status: str | None, as_json: bool) -> None:
    """Replies the agents drafted; one leaves only as an operator approved it."""
    items = client.get(paths.MAIL_DRAFTS, status=status)["drafts"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [
                f"#{d['id']}",
                d["status"],
                d["account"],
                ", ".join(d["to"]),
                _clip(d["subject"], SUBJECT_WIDTH),
                _when(d["sent_at"] or d["created_at"]),
                f"approval #{d['approval_id']}" if d["approval_id"] else "-",
            ]
            for d in items
        ],
        ["ID", "STATUS", "ACCOUNT", "TO", "SUBJECT", "WHEN", "APPROVAL"],
    )
    for d in items:
        if d["status"] == "failed" and d["error"]:
            click.echo(f"#{d['id']} failed: {d['error']}")


@mail.command("triage")
@click.argument("mail_id", type=int)
@click.argument("category", type=click.Choice(CATEGORIES))
@click.option("--topic", type=click.Choice(get_args(Topic)), help="For jarvis mail.")
@click.option("--reason", default="", help="One line, as the digest shows it.")
@json_option
@pass_client
def triage(
    client: Client, mail_id: int, category: str, topic: str | None, reason: str, as_json: bool
) -> None:
    """Correct a mail's category; yours stands over a rule's and the model's."""
    verdict = {"message": mail_id, "category": category, "topic": topic, "reason": reason}
    result = client.post(paths.MAIL_TRIAGE, {"verdicts": [verdict]})
    [m] = result["mail"]
    if as_json:
        emit_json(m)
        return
    click.echo(f"#{m['id']} {_triage_line(m)}")
    if consequences := _consequences(m):
        click.echo(f"  {'; '.join(consequences)}")
