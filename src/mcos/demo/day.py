"""The seed's day, scene by scene: the work its agents did, and its four failures, stopped.

Each scene puts real work on the board and scripts only the model's answers; what happens next
(tool calls asked of the policy engine, incidents held by the escalation table, the memory
flush before a compaction, the value ledger crediting finished work) is the control plane's
doing, and each scene narrates the outcome it reads back from the event log.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

from mcos.contract import paths
from mcos.demo.director import Director, Scene
from mcos.demo.finance import vega_variance
from mcos.demo.fleet import EXTERNAL_TASK, QUICK_TO_MISS
from mcos.demo.legal import apex_contract
from mcos.demo.outage import elon_3am
from mcos.demo.story import accepted as _accepted
from mcos.demo.story import data as _data
from mcos.demo.story import task_reaches as _task_reaches
from mcos.fleet.loader import FLEET_FILENAME, FleetFileError, load_fleet
from mcos.runtime.providers.base import ModelRequest
from mcos.runtime.providers.simulated import Step

# -- the day's work ---------------------------------------------------------------------


async def opening(d: Director) -> None:
    await d.narrate(
        "A simulated day at Specter Holdings begins: 23 agents on two machines, every model "
        "reply scripted. The control plane, policy, budgets and this dashboard are real."
    )
    for agent in (a for a in d.fleet.agents if a.external):
        task = await d.call(
            "POST",
            paths.TASKS,
            {
                "title": EXTERNAL_TASK,
                "assignee": agent.name,
                "description": "Write release.md in your workspace: what the fleet did today.",
            },
        )
        await d.narrate(
            f"{agent.label} is not run by the demo: it is the slot for an agent you bring (an "
            f"OpenAI Agents SDK or LangGraph program, an MCP client). Task #{task['id']} waits "
            f"on its card: `mcos agents token {agent.name}`, then run one of examples/ as it."
        )


async def morning_brief(d: Director) -> None:
    after = await d.last_seq()
    task_id = await d.task(
        "jarvis",
        "Morning briefing",
        [
            Step.reply(
                "Good morning. Elon fixed the FibreFlow API crash overnight, before anyone woke. "
                "The decisions waiting for you and every figure below come from the control "
                "plane's records, not from me."
            )
        ],
        kind="briefing",
        priority="high",
        description="Brief the operator on the last day: the figures come from the data.",
    )
    await d.narrate(f"Jarvis writes the morning briefing (task #{task_id}).")

    async def outcome() -> None:
        if await _accepted(d, task_id, after):
            await d.narrate(
                "The morning briefing is ready, and you read it: the Brief view, or `mcos brief` "
                "in a terminal.",
                outcome=True,
            )

    d.watch(outcome())


_UNTRIAGED = re.compile(r"^#(\d+) \S+ \S+ from (\S+): (.*) \[not triaged\]$", re.MULTILINE)


def _simulated_triage(request: ModelRequest) -> dict[str, Any]:
    """The scripted model's verdicts on the mail the latest check_mail listed untriaged: a
    crude guess from the subject, labelled as simulated (the fleet's rules override it)."""
    listed: list[tuple[int, str]] = []
    for turn in reversed(request.turns):
        if turn.role == "tool" and "not triaged yet" in turn.text:
            listed = [(int(i), subject.lower()) for i, _, subject in _UNTRIAGED.findall(turn.text)]
            break
    verdicts = []
    for mail_id, subject in listed:
        if "?" in subject or "urgent" in subject:
            category, why = "operator", "a question for you"
        elif any(w in subject for w in ("newsletter", "webinar", "% off", "promo")):
            category, why = "later", "promotional"
        else:
            category, why = "handled", "routine"
        verdicts.append({"id": mail_id, "category": category, "reason": f"(simulated) {why}"})
    if not verdicts:  # nothing untriaged: the call names no mail (and is told so)
        return {"verdicts": [{"id": 2**31 - 1, "category": "handled", "reason": "(simulated)"}]}
    return {"verdicts": verdicts}


async def donna_digest(d: Director) -> None:
    if not d.fleet.mail.accounts:
        await _scripted_digest(d)
        return
    after = await d.last_seq()
    task_id = await d.task(
        "donna",
        "Inbox digest for today",
        [
            Step.call("check_mail"),
            Step.call("triage_mail", _simulated_triage),
            Step.call(
                "write_digest",
                {
                    "summary": "(simulated) Good morning. The lists below come from the "
                    "triage records: the fleet file's rules decided the marked lines, my "
                    "(scripted) reading the rest."
                },
            ),
            Step.reply("(simulated) Digest written; legal and strategic mail is with Jarvis."),
        ],
        kind="email-triage",
        description="The 07:00 digest across the five mailboxes: prioritise, flag what needs "
        "legal or strategic input.",
    )
    await d.narrate(
        f"07:00: Donna's inbox digest (task #{task_id}) from her five mailboxes, read through "
        "IMAP from the demo's own Dovecot."
    )

    async def outcome() -> None:
        written = await d.wait_for(
            "mail.digest_written", after, lambda e: e["data"].get("agent") == "donna"
        )
        if written is None:
            await d.narrate("Donna's digest was not written in time.", outcome=True)
            return
        counts = _data(written).get("counts", {})
        flagged = await d.call("GET", f"{paths.MAIL_MESSAGES}?category=jarvis&limit=1000")
        tasks = sum(1 for m in flagged["messages"] if m.get("task_id"))
        await d.narrate(
            f"Donna's digest: {counts.get('operator', 0)} need you today, "
            f"{counts.get('jarvis', 0)} flagged to Jarvis ({tasks} legal, routed as tasks), "
            f"{counts.get('handled', 0)} handled, {counts.get('later', 0)} can wait. "
            "Read it in the Mail view; each line opens its mail.",
            outcome=True,
            seq=written["seq"],
        )
        if await _accepted(d, task_id, after):
            await d.narrate(
                "You read the digest and accepted it: 90 minutes of triage credited to the "
                "value ledger.",
                outcome=True,
            )
        await _donna_reply(d)

    d.watch(outcome())


async def _donna_reply(d: Director) -> None:
    """Donna drafts a reply to a mail that needs the operator; it leaves only once approved."""
    waiting = await d.call("GET", f"{paths.MAIL_MESSAGES}?category=operator&limit=50")
    if not waiting["messages"]:
        return
    mail = waiting["messages"][-1]
    after = await d.last_seq()

    def draft_id(request: ModelRequest) -> dict[str, Any]:
        for turn in reversed(request.turns):
            found = re.search(r"^draft #(\d+)", turn.text) if turn.role == "tool" else None
            if found:
                return {"draft_id": int(found.group(1))}
        return {"draft_id": 0}

    task_id = await d.task(
        "donna",
        f"Answer mail #{mail['id']} from {mail['sender_name'] or mail['sender']}",
        [
            Step.call(
                "draft_reply",
                {
                    "reply_to": mail["id"],
                    "body": "(simulated) Thank you; we are on it and will come back to you "
                    "today.\n\nDonna, for the operator",
                },
            ),
            Step.call("send_mail", draft_id),
        ],
        kind="email-triage",
    )

    def asked_to_send(event: dict[str, Any]) -> bool:
        return bool(event["data"].get("subject", {}).get("kind") == "email.send")

    asked = await d.wait_for("approval.requested", after, asked_to_send)
    if asked is None:
        await d.narrate(f"Donna's reply (task #{task_id}) was not drafted in time.", outcome=True)
        return
    await d.narrate(
        f"Donna drafted a reply to {mail['sender']} (saved in the mailbox's Drafts folder). "
        f"Sending waits for you: approval #{_data(asked).get('id')} in the Inbox shows the "
        "exact message; nothing leaves before you approve it (the demo keeps what is sent in "
        "its sent-mail folder).",
        outcome=True,
        seq=asked["seq"],
    )


async def _scripted_digest(d: Director) -> None:
    """Where the demo has no IMAP server (macOS): the digest from a scripted inbox file."""
    d.put_file(
        "donna",
        "inbox/today.md",
        "(simulated mail, 4 of the day's 62)\n"
        "1. Vodacom: fibre backhaul renewal due Friday; price up 8%.\n"
        "2. Contractor (R85k/month): asks for the agreement before Monday.\n"
        "3. Municipality: wayleave approved for the Ridgeway trench.\n"
        "4. Newsletter: 14 vendor promotions.\n",
    )
    after = await d.last_seq()
    today = d.today().isoformat()
    task_id = await d.task(
        "donna",
        "Inbox digest for today",
        [
            Step.call("read_file", {"path": "inbox/today.md"}),
            Step.call(
                "write_file",
                {
                    "path": f"digests/{today}.md",
                    "content": "# Digest (simulated)\n\n- NEEDS LEGAL: contractor agreement "
                    "(Apex)\n- NEEDS DECISION: Vodacom renewal, +8%\n- FYI: Ridgeway wayleave "
                    "approved\n- Ignored: 14 promotions\n",
                },
            ),
            Step.call(
                "send_message",
                {
                    "to": "jarvis",
                    "kind": "report",
                    "body": "(simulated) Digest ready. The contractor agreement needs legal "
                    "input; the Vodacom renewal needs a decision by Friday.",
                },
            ),
            Step.reply(f"Digest written to digests/{today}.md; two items flagged to Jarvis."),
        ],
        kind="email-triage",
        description="The 07:00 digest across the five mailboxes: prioritise, flag what needs "
        "legal or strategic input.",
    )
    await d.narrate(
        f"07:00: Donna's inbox digest (task #{task_id}), from a SCRIPTED inbox file: no IMAP "
        "server can run here, so no mail is read."
    )

    async def outcome() -> None:
        if await _accepted(d, task_id, after):
            await d.narrate(
                "Donna's scripted digest flagged two items to Jarvis (Messages view); you read "
                "it and accepted it: 90 minutes of triage credited to the value ledger.",
                outcome=True,
            )

    d.watch(outcome())


COMMITTEE_TITLE = "(simulated) Sign the R85k/month contractor agreement?"


def _committee_number(request: ModelRequest) -> int:
    """The committee a member's directive names (``Committee #3: (simulated) Sign ...``), or
    the one the opener's ``open_committee`` call just opened (``committee #3 opened``)."""
    directive = re.compile(r"Committee #(\d+): " + re.escape(COMMITTEE_TITLE))
    opened = re.compile(r"^committee #(\d+) opened")
    for turn in reversed(request.turns):
        pattern = directive if turn.role == "user" else opened if turn.role == "tool" else None
        found = pattern.search(turn.text) if pattern else None
        if found:
            return int(found.group(1))
    return 0  # not found: the tool refuses it, and the model reads why


def _position(position: str, reasons: str) -> Callable[[ModelRequest], dict[str, Any]]:
    def arguments(request: ModelRequest) -> dict[str, Any]:
        return {
            "committee_id": _committee_number(request),
            "position": position,
            "reasons": f"(simulated) {reasons}",
        }

    return arguments


async def committee_vote(d: Director) -> None:
    after = await d.last_seq()
    positions = {
        "jarvis": ("for", "The contractor fills the FibreFlow gap for a year; Apex's terms hold."),
        "apex": ("for", "The draft assigns IP to us and caps liability; legally sound."),
        "vega": ("against", "Affordable only if the Q1 activations target is met; wait a month."),
    }
    # Jarvis opens it, so its own directive is not delivered to it: it votes in the same task.
    for member, (position, reasons) in positions.items():
        if member == "jarvis":
            continue
        d.answer(
            COMMITTEE_TITLE,
            [
                Step.call(
                    "give_position",
                    _position(position, reasons),
                ),
                Step.reply("Gave my position to the committee."),
            ],
            agent=member,
        )
    task_id = await d.task(
        "jarvis",
        "Put the contractor agreement to the exec committee",
        [
            Step.call(
                "open_committee",
                {
                    "title": COMMITTEE_TITLE,
                    "question": "(simulated) Apex's draft is ready. Do we sign the 12-month "
                    "agreement at R85,000 a month?",
                    "members": list(positions),
                    "human": True,
                    "quorum": 3,
                    "rule": "majority",
                },
            ),
            Step.call("give_position", _position(*positions["jarvis"])),
            Step.reply("Opened the committee (Apex, Vega, myself and the operator) and voted."),
        ],
        description="Legal and finance must weigh in before we sign; you decide with them.",
    )
    await d.narrate(
        f"Jarvis puts the contractor agreement to the exec committee (task #{task_id})."
    )

    async def outcome() -> None:
        opened = await d.wait_for(
            "committee.opened", after, lambda e: e["data"].get("title") == COMMITTEE_TITLE
        )
        if opened is None:
            await d.narrate("The committee was not opened in time.", outcome=True)
            return
        data = opened["data"]
        committee_id = data["committee"]
        voters = [d.fleet_label(m) for m in data["members"]] + (["you"] if data["human"] else [])
        await d.narrate(
            f"Jarvis opened committee #{committee_id} ({', '.join(voters)}; {data['rule']}, "
            f"quorum {data['quorum']}); each member has a directive.",
            outcome=True,
            seq=opened["seq"],
        )
        mark = opened["seq"]
        for _ in positions:  # one position from each agent member
            event = await d.wait_for(
                "committee.position_given",
                mark,
                lambda e: e["data"].get("committee") == committee_id,
            )
            if event is None:
                break
            mark = event["seq"]
        shown = await d.call("GET", paths.committee(committee_id))
        tally = ", ".join(f"{p['member']} {p['position']}" for p in shown["positions"])
        if shown["status"] == "open":
            await d.narrate(
                f"Committee #{committee_id}: {tally}. Your vote decides it: it waits in your "
                "Inbox (or `mcos committees vote`). The minutes are recorded when it closes.",
                outcome=True,
            )
        else:
            await d.narrate(
                f"Committee #{committee_id} closed: {shown['outcome']} ({tally}).", outcome=True
            )

    d.watch(outcome())


# -- the seed's four failures, each stopped by its guardrail --------------------------------


async def flow_exec(d: Director) -> None:
    after = await d.last_seq()
    task_id = await d.task(
        "flow",
        "Ship the FibreFlow dashboard build to production",
        [
            # Flow has no exec, so run_shell is not offered; the script calls it anyway.
            Step.call(
                "run_shell", {"command": "npm run build && git add -A && git commit -m ship"}
            ),
            Step.call(
                "request_capability",
                {
                    "capability": "exec",
                    "minutes": 30,
                    "reason": "(simulated) to run the production build",
                },
            ),
            Step.call(
                "send_message",
                {
                    "to": "elon",
                    "body": "(simulated) Exec was refused to me: please run the FibreFlow build.",
                },
            ),
            Step.reply("I may not run builds. Asked for exec back and handed the build to Elon."),
        ],
        description="The new dashboard is merged; ship it.",
    )
    await d.narrate(
        f"Flow is asked to ship a build (task #{task_id}). In the seed, Flow ran four "
        "unauthorised production builds; the last swept 3,571 files into a commit."
    )

    async def outcome() -> None:
        refused = await d.wait_for(
            "policy.decided",
            after,
            lambda e: e["data"].get("agent") == "flow" and e["data"].get("outcome") == "deny",
        )
        if refused is None:
            await d.narrate("Flow's command was not seen in time.", outcome=True)
            return
        reason = _data(refused).get("reason", "refused")
        await d.narrate(
            f"REFUSED: Flow's shell command never ran. The control plane said: {reason}",
            outcome=True,
            seq=refused["seq"],
        )
        asked = await d.wait_for(
            "approval.requested", after, lambda e: e["data"].get("agent") == "flow"
        )
        if asked is not None:
            await d.narrate(
                f"Flow asked for exec back (approval #{_data(asked).get('id')}): it waits in "
                "your Inbox. Nothing runs unless you approve.",
                outcome=True,
                seq=asked["seq"],
            )
        if await _task_reaches(d, task_id, ("blocked",), after):
            await d.narrate(
                f"Flow's task #{task_id} is blocked with the refusal on its card: work whose "
                "essential action was refused never ends as done, whatever the model says.",
                outcome=True,
            )

    d.watch(outcome())


async def sentinel_false_p0(d: Director) -> None:
    d.put_file(
        "sentinel",
        "logs/auth.log",
        "(simulated log)\n"
        + "".join(
            f"11:{m:02d}:0{m % 10} sshd: Failed password for admin from 10.0.4.17\n"
            for m in range(12)
        )
        + "note: 10.0.4.17 is the uptime monitor on velo\n",
    )
    after = await d.last_seq()
    task_id = await d.task(
        "sentinel",
        "Review the overnight auth logs",
        [
            Step.call("read_file", {"path": "logs/auth.log"}),
            Step.call(
                "raise_incident",
                {
                    "severity": "P0",
                    "title": "(simulated) Fleet under attack: credential stuffing on velo",
                    "body": "(simulated) Repeated failed admin logins in logs/auth.log.",
                },
            ),
            Step.reply("Raised a P0 for the failed logins."),
        ],
        description="Look for anything unusual in last night's authentication logs.",
    )
    await d.narrate(
        f"Sentinel reviews the auth logs (task #{task_id}). In the seed, Sentinel pushed a "
        "false P0 into every agent's heartbeat and the whole fleet alarmed."
    )

    async def outcome() -> None:
        raised = await d.wait_for(
            "incident.raised", after, lambda e: e["data"].get("reporter") == "sentinel"
        )
        if raised is None:
            await d.narrate("Sentinel's incident was not seen in time.", outcome=True)
            return
        data = _data(raised)
        told = data.get("visible_to") or []
        await d.narrate(
            f"HELD: Sentinel's P0 #{data.get('id')} is {data.get('status', 'held')}. Only "
            f"{', '.join(told) or 'its confirmers'} know of it; the other agents were not "
            "alerted. It needs Jarvis and you: confirm or dismiss it in your Inbox (the "
            "'failed logins' come from the uptime monitor).",
            outcome=True,
            seq=raised["seq"],
        )

    d.watch(outcome())


async def pulse_second_token(d: Director) -> None:
    after = await d.last_seq()
    task_id = await d.task(
        "pulse",
        "Chase this week's overdue invoices",
        [Step.fail(429, "(simulated) rate limited", retry_after=45)],
        description="Send reminders for invoices more than 30 days overdue.",
    )
    await d.narrate(
        f"Pulse works the overdue invoices (task #{task_id}) and hits the provider's rate limit."
    )

    async def outcome() -> None:
        cooled = await d.wait_for(
            "agent.cooling_down", after, lambda e: e["subject"] == "agent:pulse"
        )
        if cooled is None:
            await d.narrate("Pulse's rate limit was not seen in time.", outcome=True)
            return
        await d.narrate(
            "Pulse's one key is cooling down (its card shows it); the agent waits out the "
            "retry-after, then carries on by itself.",
            outcome=True,
            seq=cooled["seq"],
        )
        refusal = second_key_refusal(d)
        await d.narrate(
            "The seed's reflex was a 'failover' key, which doubled the burn. Adding one for "
            f"Pulse to the fleet file is refused: {refusal}",
            outcome=True,
        )

    d.watch(outcome())


def second_key_refusal(d: Director) -> str:
    """Load a copy of the fleet file with a second key for Pulse: the loader's own refusal."""
    source = (d.workspaces.parent / FLEET_FILENAME).read_text(encoding="utf-8")
    line = 'credential = "MCOS_PULSE_ANTHROPIC_KEY"'
    changed = source.replace(line, line + '\nfailover_credential = "MCOS_PULSE_BACKUP_KEY"', 1)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / FLEET_FILENAME
        path.write_text(changed, encoding="utf-8")
        try:
            load_fleet(path)
        except FleetFileError as exc:
            problem = exc.problems[0]
            return f"{problem.key}: {problem.message} (fix: {problem.fix})"
    return "the fleet file accepted it; this is a bug, report it"


async def jarvis_flush(d: Director) -> None:
    after = await d.last_seq()
    task_id = await d.task(
        "jarvis",
        "Read the 40 competitor filings Atlas gathered; brief the exec committee",
        [
            Step.call(
                "write_file",
                {
                    "path": "notes/committee-brief.md",
                    "content": "Decided at 11:00 with the operator: track only the three "
                    "fibre competitors in Gauteng (simulated).\n",
                },
                # The filings fill the context window past Jarvis's flush line.
                prompt_tokens=181_000,
            ),
        ],
        description="A long read: the filings will fill your context window.",
    )
    await d.narrate(
        f"Jarvis reads 40 filings (task #{task_id}) and fills its context window. In the "
        "seed, a compaction wiped decisions made three hours earlier."
    )

    async def outcome() -> None:
        def jarvis(event: dict[str, Any]) -> bool:
            return bool(event["subject"] == "agent:jarvis")

        flushed = await d.wait_for("memory.flushed,budget.refused", after, jarvis)
        compacted = None
        if flushed is not None and flushed["type"] == "memory.flushed":
            compacted = await d.wait_for("memory.compacted", after, jarvis)
        if flushed is None or compacted is None:
            refused = _data(flushed).get("refused")
            why = f": {refused}" if refused else " in time"
            await d.narrate(f"Jarvis's compaction did not happen{why}.", outcome=True)
            return
        order = "before" if flushed["seq"] < compacted["seq"] else "AFTER"
        await d.narrate(
            f"FLUSHED FIRST: Jarvis wrote its notes to memory (event {flushed['seq']}) {order} "
            f"compacting (event {compacted['seq']}); a compaction without a flush is refused. "
            "Jarvis's agent page shows today's notes.",
            outcome=True,
            seq=compacted["seq"],
        )

    d.watch(outcome())


def _people(d: Director, names: list[str]) -> list[str]:
    return ["you" if name == "operator" else d.fleet_label(name) for name in names]


async def scout_goes_silent(d: Director) -> None:
    after = await d.last_seq()
    d.stop_agent(QUICK_TO_MISS)
    task_id = await d.task(
        QUICK_TO_MISS,
        "Qualify the 12 new Ridgeway fibre leads",
        [Step.reply("Qualified the Ridgeway leads: 7 warm, 5 cold; the warm ones are booked.")],
        description="The wayleave is approved: call the 12 households that asked for fibre.",
    )
    await d.narrate(
        f"Scout's process stops (the demo halts its agent loop) just as task #{task_id} "
        "reaches it. Nobody is told; the control plane notices the silence on its own."
    )

    async def outcome() -> None:
        def scout(event: dict[str, Any]) -> bool:
            return bool(event["data"].get("agent") == QUICK_TO_MISS)

        nudged = await d.wait_for("supervision.nudged", after, scout)
        if nudged is None:
            await d.narrate("Scout's silence was not noticed in time.", outcome=True)
            return
        data = _data(nudged)
        await d.narrate(
            f"Scout is {data['liveness']} after {data['silent_seconds']:.0f} s of silence: "
            f"supervision nudged it (attempt {data['attempt']} of {data['max_wake_attempts']}).",
            outcome=True,
            seq=nudged["seq"],
        )
        moved = await d.wait_for("supervision.reassigned", after, scout)
        if moved is not None:
            await d.narrate(
                f"No answer: supervision gave Scout's task #{task_id} to "
                f"{d.fleet_label(moved['data']['to'])} ({moved['data']['reason']}).",
                outcome=True,
                seq=moved["seq"],
            )
        told = await d.wait_for("supervision.escalated", after, scout)
        if told is not None:
            await d.narrate(
                f"Then it told {' and '.join(_people(d, told['data']['told']))}: "
                f"{told['data']['reason']}. "
                "Nothing more happens until Scout is back (it is, when the demo runs again).",
                outcome=True,
                seq=told["seq"],
            )

    d.watch(outcome())


async def closing(d: Director) -> None:
    roi = await d.call("GET", paths.USAGE_ROI)
    today = roi["today"]
    ratio = "n/a" if today["roi"] is None else f"{today['roi']:g}:1"
    await d.narrate(
        f"End of the simulated day: {today['tasks_credited']} tasks credited, "
        f"{today['hours_saved']} hours saved, worth ${today['value_usd']} against "
        f"${today['spend_usd']:.4f} of (simulated) model spend and "
        f"${today['fixed_costs_usd']:.2f} of fixed costs (the day's share of servers and "
        f"networking): ROI {ratio}. "
        "`mcos brief` prints the day; the fleet keeps heartbeating until you stop the demo."
    )


SCENES: tuple[Scene, ...] = (
    Scene(time(2, 55), "clock", "The day begins", opening),
    Scene(time(3, 0), "day", "Elon fixes a crashed service at 3 a.m.", elon_3am),
    Scene(time(6, 30), "day", "The morning briefing", morning_brief),
    Scene(time(7, 0), "day", "Donna's inbox digest", donna_digest),
    Scene(time(8, 15), "day", "Apex drafts a contract for review", apex_contract),
    Scene(time(9, 30), "day", "Vega's variance analysis", vega_variance),
    Scene(time(10, 40), "guardrail", "Flow's exec refused", flow_exec),
    Scene(time(11, 20), "guardrail", "Sentinel's false P0 held", sentinel_false_p0),
    Scene(time(12, 30), "guardrail", "A second key refused", pulse_second_token),
    Scene(time(13, 30), "day", "The exec committee votes", committee_vote),
    Scene(time(14, 30), "guardrail", "Memory flushed before compaction", jarvis_flush),
    Scene(time(15, 30), "day", "Scout goes silent: supervision", scout_goes_silent),
    Scene(time(17, 0), "clock", "The day ends", closing, after_outcomes=True),
)
