"""/api/v1/mail: stored once, ruled by the fleet file, flagged, digested, sent only as approved."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcos.mail.message import OutgoingMail
from tests.fixtures.mail_fleet import item, mail_app
from tests.fixtures.server import ControlPlane, error_of


@pytest.fixture
def srv(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ControlPlane]:
    with mail_app(tmp_path, database_url, monkeypatch) as app:
        yield app


def sync(client: httpx.Client, items: list[dict[str, Any]], last: int, **extra: Any) -> Any:
    body = {"items": items, "cursor": {"uidvalidity": 7, "last_uid": last}} | extra
    return client.post("/api/v1/mail/accounts/velo-imap/sync", json=body)


def test_a_batch_is_stored_once_with_its_cursor_and_rules_classify_it(srv: ControlPlane) -> None:
    with srv.agent("donna") as donna, srv.client() as op:
        first = sync(
            donna,
            [
                item(1),
                item(2, sender="ceo@bigclient.example", subject="Where is my quote?"),
                item(3, sender="weekly@news.example"),
            ],
            3,
        )
        assert first.status_code == 200, first.text
        assert first.json()["stored"] == 3 and first.json()["classified_by_rules"] == 2
        again = sync(donna, [item(2), item(3), item(4)], 4).json()
        assert (again["stored"], again["duplicates"]) == (1, 2)
        # A new UIDVALIDITY: the same mail under new keys is recognised by its Message-ID.
        reset = sync(donna, [item(1, key="8:1"), item(5, key="8:5")], 5, reset=True).json()
        assert (reset["stored"], reset["duplicates"]) == (1, 1)
        account = op.get("/api/v1/mail/accounts").json()["accounts"][0]
        assert account["cursor"] == {"uidvalidity": 7, "last_uid": 5}
        assert account["messages"] == 5
        mail = op.get("/api/v1/mail/messages").json()["messages"]
        assert len(mail) == 5
        by_sender = {m["sender"]: m for m in mail}
        vip = by_sender["ceo@bigclient.example"]
        assert (vip["category"], vip["classified_by"]) == ("operator", "rule:test-vip")
        assert by_sender["weekly@news.example"]["category"] == "later"
        untriaged = donna.get("/api/v1/mail/messages?status=untriaged").json()["messages"]
        assert {m["sender"] for m in untriaged} == {
            "person1@client.example",
            "person4@client.example",
            "person5@client.example",
        }


def test_bad_reports_are_refused_naming_the_field(srv: ControlPlane) -> None:
    with srv.agent("donna") as donna, srv.agent("elon") as elon, srv.client() as op:
        assert sync(elon, [item(1)], 1).status_code == 403  # not Elon's mailbox
        assert sync(op, [item(1)], 1).status_code == 403  # only the owner's runner reports
        unknown = donna.post("/api/v1/mail/accounts/nope/sync", json={"items": [], "cursor": {}})
        assert unknown.status_code == 404 and error_of(unknown)["field"] == "account"
        bad = sync(donna, [item(1, received_at="yesterday")], 1)
        assert bad.status_code == 422 and "received_at" in error_of(bad)["field"]
        nul = sync(donna, [item(1, text="a\x00b")], 1)
        assert nul.status_code == 422
        assert op.get("/api/v1/mail/messages").json()["messages"] == []
        # A display name longer than its column is cut, not a failed batch (PostgreSQL checks).
        long_name = sync(donna, [item(2, sender_name="N" * 480)], 2)
        assert long_name.status_code == 200, long_name.text
        [stored] = op.get("/api/v1/mail/messages").json()["messages"]
        assert stored["sender_name"] == "N" * 200


def test_legal_mail_is_flagged_to_jarvis_and_routed_as_a_task(srv: ControlPlane) -> None:
    with srv.agent("donna") as donna, srv.agent("jarvis") as jarvis, srv.agent("elon") as elon:
        with srv.agent("apex") as apex:  # routing gives work to a live agent of the role
            assert apex.post("/api/v1/agents/apex/heartbeat", json={}).status_code == 200
        summons = item(1, subject="Summons: case 2026/118", text="You are hereby summoned.")
        stored = sync(donna, [summons, item(2)], 2).json()
        legal_id, plain_id = stored["ids"]
        mail = donna.get(f"/api/v1/mail/messages/{legal_id}").json()
        assert (mail["category"], mail["topic"]) == ("jarvis", "legal")
        assert mail["flag_message_id"] and mail["task_id"]
        task = jarvis.get(f"/api/v1/tasks/{mail['task_id']}").json()
        assert task["assignee"] == "apex" and task["kind"] == "legal-document"
        inbox = jarvis.get("/api/v1/messages").json()["messages"]
        flag = next(m for m in inbox if m["id"] == mail["flag_message_id"])
        assert flag["sender"] == "agent:donna" and f"#{legal_id}" in flag["body"]
        # Jarvis reads the mail flagged to him, and Apex the one behind his task; Elon neither.
        assert jarvis.get(f"/api/v1/mail/messages/{legal_id}").status_code == 200
        assert jarvis.get(f"/api/v1/mail/messages/{plain_id}").status_code == 404
        with srv.agent("apex") as apex:
            assert apex.get(f"/api/v1/mail/messages/{legal_id}").status_code == 200
        assert elon.get(f"/api/v1/mail/messages/{legal_id}").status_code == 404
        assert elon.get("/api/v1/mail/messages").json()["messages"] == []


def test_the_model_triages_but_a_rule_has_the_last_word(srv: ControlPlane) -> None:
    with srv.agent("donna") as donna, srv.agent("jarvis") as jarvis:
        ids = sync(
            donna,
            [item(1, sender="ceo@bigclient.example"), item(2), item(3, subject="Board pack")],
            3,
        ).json()["ids"]
        verdicts = [
            {"message": ids[0], "category": "later", "reason": "just a follow-up"},
            {"message": ids[1], "category": "handled", "reason": "answered from the FAQ"},
            {"message": ids[2], "category": "jarvis", "topic": "strategic", "reason": "board"},
        ]
        result = donna.post("/api/v1/mail/triage", json={"verdicts": verdicts})
        assert result.status_code == 200, result.text
        assert result.json()["overridden_by_rules"] == [ids[0]]
        vip = donna.get(f"/api/v1/mail/messages/{ids[0]}").json()
        assert (vip["category"], vip["model_category"]) == ("operator", "later")
        strategic = donna.get(f"/api/v1/mail/messages/{ids[2]}").json()
        assert strategic["flag_message_id"] and strategic["task_id"] is None
        # Only the owner triages; a topic is only for jarvis; unknown mail is named.
        other = jarvis.post("/api/v1/mail/triage", json={"verdicts": verdicts[1:2]})
        assert other.status_code == 403
        topic = donna.post(
            "/api/v1/mail/triage",
            json={"verdicts": [{"message": ids[1], "category": "later", "topic": "legal"}]},
        )
        assert topic.status_code == 422 and error_of(topic)["field"].endswith("topic")
        missing = donna.post(
            "/api/v1/mail/triage", json={"verdicts": [{"message": 999, "category": "later"}]}
        )
        assert missing.status_code == 404 and error_of(missing)["field"] == "verdicts[0].message"


def test_the_digest_lists_every_new_mail_by_section_and_only_once(srv: ControlPlane) -> None:
    with srv.agent("donna") as donna, srv.client() as op:
        ids = sync(
            donna,
            [
                item(1, sender="ceo@bigclient.example", subject="Quote overdue"),
                item(2, subject="Letter of demand: R85,000"),
                item(3, sender="weekly@news.example", subject="Vendor promos"),
                item(4, subject="Meeting moved"),
            ],
            4,
        ).json()["ids"]
        donna.post(
            "/api/v1/mail/triage",
            json={"verdicts": [{"message": ids[3], "category": "handled", "reason": "confirmed"}]},
        )
        written = donna.post("/api/v1/mail/digests", json={"summary": "A quiet night."})
        assert written.status_code == 201, written.text
        digest = written.json()
        assert digest["counts"] | {} == {
            "operator": 1,
            "jarvis": 1,
            "handled": 1,
            "later": 1,
            "untriaged": 0,
        }
        text = digest["markdown"]
        assert text.index("## Needs you today") < text.index("Quote overdue")
        assert text.index("## Flagged to Jarvis") < text.index("Letter of demand")
        assert f"/#/mail/{ids[0]}" in text and "A quiet night." in text
        assert "→ task #" in text
        second = donna.post("/api/v1/mail/digests", json={}).json()
        assert "Quote overdue" not in second["markdown"]
        assert op.get(f"/api/v1/mail/digests/{digest['id']}").json()["markdown"] == text
        assert [d["id"] for d in op.get("/api/v1/mail/digests").json()["digests"]] == [
            second["id"],
            digest["id"],
        ]
        with srv.agent("elon") as elon:
            assert elon.post("/api/v1/mail/digests", json={}).status_code == 403


def _send_action(draft: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "kind": "email.send",
        "recipient": draft["to"][0],
        "recipients": draft["to"] + draft["cc"],
        "draft": draft["id"],
        "subject": draft["subject"],
        "body_sha256": draft["body_sha256"],
    } | changes


def test_a_mail_leaves_only_as_approved(srv: ControlPlane) -> None:
    with srv.agent("donna") as donna, srv.client() as op:
        [mail_id] = sync(donna, [item(1)], 1).json()["ids"]
        made = donna.post(
            "/api/v1/mail/drafts",
            json={
                "account": "velo-imap",
                "reply_to": mail_id,
                "subject": "Re: Question 1",
                "body": "Thanks, we will send it Friday.",
            },
        )
        assert made.status_code == 201, made.text
        draft = made.json()
        assert draft["to"] == ["person1@client.example"]
        expected = OutgoingMail(
            sender="donna@velo.example",
            to=("person1@client.example",),
            subject="Re: Question 1",
            body="Thanks, we will send it Friday.",
            in_reply_to="<m1@example>",
        )
        assert draft["body_sha256"] == expected.body_sha256()
        # An action that does not describe the draft exactly is refused, and recorded.
        forged = donna.post(
            "/api/v1/actions", json=_send_action(draft, recipients=["attacker@evil.example"])
        )
        assert forged.status_code == 403 and error_of(forged)["code"] == "policy_denied"
        other_hash = hashlib.sha256(b"something else").hexdigest()
        assert (
            donna.post("/api/v1/actions", json=_send_action(draft, body_sha256=other_hash))
        ).status_code == 403
        # Unapproved: sending waits for a person, and reporting it sent is refused.
        asked = donna.post("/api/v1/actions", json=_send_action(draft)).json()
        assert asked["decision"] == "needs_approval"
        approval = op.get(f"/api/v1/approvals/{asked['approval_id']}").json()
        assert approval["mail"]["body"] == "Thanks, we will send it Friday."
        assert approval["mail"]["matches_approval"] is True
        unnamed = donna.post(
            f"/api/v1/mail/drafts/{draft['id']}/sent", json={"body_sha256": draft["body_sha256"]}
        )
        assert unnamed.status_code == 403 and "needs an approval" in error_of(unnamed)["message"]
        early = donna.post(
            f"/api/v1/mail/drafts/{draft['id']}/sent",
            json={"body_sha256": draft["body_sha256"], "approval_id": asked["approval_id"]},
        )
        assert early.status_code == 403 and "not applied" in error_of(early)["message"]
        # Approved: carried out once, for this draft only; sent once, with its hash only.
        ok = op.post(f"/api/v1/approvals/{asked['approval_id']}/approve", json={})
        assert ok.status_code == 200, ok.text
        carry = _send_action(draft) | {"approval_id": asked["approval_id"]}
        assert donna.post("/api/v1/actions", json=carry).json()["decision"] == "allow"
        assert donna.post("/api/v1/actions", json=carry).status_code == 409
        wrong = donna.post(
            f"/api/v1/mail/drafts/{draft['id']}/sent",
            json={"body_sha256": other_hash, "approval_id": asked["approval_id"]},
        )
        assert wrong.status_code == 403
        sent = donna.post(
            f"/api/v1/mail/drafts/{draft['id']}/sent",
            json={
                "body_sha256": draft["body_sha256"],
                "approval_id": asked["approval_id"],
                "sent_ref": "<sent1@velo.example>",
            },
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["status"] == "sent"
        twice = donna.post(
            f"/api/v1/mail/drafts/{draft['id']}/sent",
            json={"body_sha256": draft["body_sha256"], "approval_id": asked["approval_id"]},
        )
        assert twice.status_code == 403
        refusals = op.get("/api/v1/events?types=mail.send_failed").json()["events"]
        assert len(refusals) == 4 and all(e["data"]["refused"] for e in refusals)
        denied = op.get("/api/v1/events?types=policy.decided").json()["events"]
        assert any(e["data"].get("rule") == "email_draft" for e in denied)


def test_drafts_need_the_accounts_draft_permission(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.mail_fleet import RULES, imap_account

    with (
        mail_app(tmp_path, database_url, monkeypatch, imap_account(may='["read"]'), RULES) as srv,
        srv.agent("donna") as donna,
    ):
        refused = donna.post(
            "/api/v1/mail/drafts",
            json={"account": "velo-imap", "to": ["a@b.example"], "subject": "x", "body": "y"},
        )
        assert refused.status_code == 403 and "draft" in error_of(refused)["message"]
