"""``mcos mail`` and ``mcos notify``, run as an operator runs them, against a real server.

One server per test (SQLite: the CLI only translates; the services' SQL runs on both backends
in their own tests), several commands checked against it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.mail_fleet import mail_server
from tests.fixtures.server import free_port, running_server
from tests.mail.test_mail_api import item, sync
from tests.notify.receivers import HttpReceiver


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"


def test_an_operator_reads_and_corrects_mail_from_the_cli(tmp_path: Path) -> None:
    with mail_server(tmp_path, _sqlite(tmp_path)) as srv, srv.agent("donna") as donna:
        ids = sync(
            donna,
            [
                item(1, sender="ceo@bigclient.example", subject="Where is my quote?"),
                item(
                    2,
                    subject="Delivery 118 " + "and a very long subject line " * 4,
                    text="Please confirm the delivery date.",
                    attachments=[
                        {"filename": "plan.pdf", "content_type": "application/pdf", "size": 2048}
                    ],
                ),
            ],
            2,
        ).json()["ids"]
        vip, plain = ids
        failed = donna.post(
            "/api/v1/mail/accounts/velo-imap/failed",
            json={"kind": "auth", "message": "LOGIN failed"},
        )
        assert failed.status_code == 200, failed.text

        accounts = srv.mcos("mail", "accounts")
        assert accounts.returncode == 0, "a failing mailbox is shown, not an error of the CLI"
        assert "velo-imap" in accounts.stdout and "read,draft,send" in accounts.stdout
        assert "FAILING since" in accounts.stdout and "(auth): LOGIN failed" in accounts.stdout
        [account] = json.loads(srv.mcos("mail", "accounts", "--json").stdout)
        assert (account["owner"], account["messages"]) == ("donna", 2)

        listed = srv.mcos("mail", "ls").stdout
        assert f"#{vip}" in listed and "operator (rule test-vip)" in listed
        assert "Delivery 118 and a very long" in listed and "…" in listed, "subjects are clipped"
        untriaged = json.loads(srv.mcos("mail", "ls", "--status", "untriaged", "--json").stdout)
        assert [m["id"] for m in untriaged] == [plain]

        shown = srv.mcos("mail", "show", str(plain)).stdout
        header, _, text = shown.partition("the sender's text (untrusted")
        assert "person2@client.example" in header and "plan.pdf (application/pdf" in header
        assert "not triaged yet" in header
        assert "confirm the delivery" in text and "confirm the" not in header, (
            "the text only under the line"
        )

        # The operator's correction stands over the rule's, and over the model's later verdict.
        corrected = srv.mcos("mail", "triage", str(vip), "later", "--reason", "already answered")
        assert f"#{vip} later (operator): already answered" in corrected.stdout
        model = donna.post(
            "/api/v1/mail/triage",
            json={"verdicts": [{"message": vip, "category": "operator", "reason": "VIP"}]},
        )
        assert model.status_code == 200, model.text
        after = json.loads(srv.mcos("mail", "show", str(vip), "--json").stdout)
        assert (after["category"], after["classified_by"]) == ("later", "operator")
        assert after["model_category"] == "operator", "the model's view is kept beside it"
        flagged = json.loads(
            srv.mcos(
                "mail", "triage", str(plain), "jarvis", "--topic", "strategic", "--json"
            ).stdout
        )
        assert (flagged["category"], flagged["topic"]) == ("jarvis", "strategic")
        assert flagged["flag_message_id"], "an operator's jarvis verdict flags it too"
        later = json.loads(srv.mcos("mail", "ls", "--category", "later", "--json").stdout)
        assert [m["id"] for m in later] == [vip]

        assert "no digest written yet" in srv.mcos("mail", "digest", check=False).stderr
        written = donna.post("/api/v1/mail/digests", json={"summary": "A quiet night."}).json()
        digest = srv.mcos("mail", "digest").stdout
        assert digest.startswith("# Inbox digest") and "A quiet night." in digest
        assert f"#{written['id']}" in srv.mcos("mail", "digest", "--list").stdout
        made = donna.post(
            "/api/v1/mail/drafts",
            json={"account": "velo-imap", "reply_to": plain, "subject": "Re: 118", "body": "Hi"},
        )
        assert made.status_code == 201, made.text
        drafts = srv.mcos("mail", "drafts", "--status", "draft").stdout
        assert "Re: 118" in drafts and "person2@client.example" in drafts

        unknown = srv.mcos("mail", "show", "999", check=False)
        assert unknown.returncode == 1
        assert unknown.stderr.startswith("error: no mail #999") and "(field: mail_id)" in (
            unknown.stderr
        )
        topic = srv.mcos("mail", "triage", str(plain), "later", "--topic", "legal", check=False)
        assert topic.returncode == 1 and "a topic is for category 'jarvis' only" in topic.stderr
        bad = srv.mcos("mail", "triage", str(plain), "urgent", check=False)
        assert bad.returncode == 2 and "'urgent' is not one of" in bad.stderr


def test_notify_test_says_whether_it_arrived_and_ls_shows_a_failing_channel(
    tmp_path: Path,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with HttpReceiver() as hook:
        channels = f"""
[[notify]]
name = "owner-hook"
kind = "webhook"
format = "slack"
url = "{hook.url()}"
carries = ["p0"]

[[notify]]
name = "dead-hook"
kind = "webhook"
format = "slack"
url = "{dead}"
carries = ["p0", "approvals"]
"""
        with running_server(tmp_path, _sqlite(tmp_path), fleet_extra=channels) as srv:
            ok = srv.mcos("notify", "test", "owner-hook")
            assert "owner-hook: the test arrived" in ok.stdout
            (got,) = hook.received
            assert "test" in got.json()["text"]

            down = srv.mcos("notify", "test", "dead-hook", check=False)
            assert down.returncode == 1
            assert down.stderr.startswith("error: the test through 'dead-hook' did not arrive")
            as_json = srv.mcos("notify", "test", "dead-hook", "--json", check=False)
            assert as_json.returncode == 1 and json.loads(as_json.stdout)["ok"] is False

            listed = srv.mcos("notify", "ls")
            assert listed.returncode == 0
            assert "dead-hook: FAILING since" in listed.stdout
            assert "owner-hook: FAILING" not in listed.stdout
            overview = json.loads(srv.mcos("notify", "ls", "--json").stdout)
            status = {c["name"]: c["status"] for c in overview["channels"]}
            assert status == {"owner-hook": "ok", "dead-hook": "failing"}

            unknown = srv.mcos("notify", "test", "nobody", check=False)
            assert unknown.returncode == 1 and "no notify channel named 'nobody'" in unknown.stderr
