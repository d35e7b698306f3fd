"""The agent loop: wake, heartbeat, pick up work, call the model, run tools, report, sleep.

An agent wakes on its heartbeat schedule, when the runner hears of new work for it on the event
stream (a task, a message, a decided approval, a nudge), or at start. Each wake it heartbeats,
which reports its context gauge and answers with its work; it then works its tasks one at a
time until none is left or the runner stops. State is saved after every step, so a restart
resumes each conversation where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mcos.client import ApiError, Unreachable
from mcos.contract import paths
from mcos.contract.vocab import ORCHESTRATOR, PRIORITY_RANK
from mcos.fleet.schema import Agent, Fleet
from mcos.runtime.briefing import BRIEFING_KIND, briefing_prompt
from mcos.runtime.calls import CoolingDown, ModelCaller, Paused, TaskFailed
from mcos.runtime.client import AgentLink
from mcos.runtime.commands import AgentCommands
from mcos.runtime.compaction import flush_and_compact, needs_compaction
from mcos.runtime.conversation import Conversation, Saved
from mcos.runtime.mailboxes import Mailboxes
from mcos.runtime.providers.base import Provider, ToolCall, TransientProviderError, Turn
from mcos.runtime.service_watch import ServiceWatch
from mcos.runtime.toolbox import Toolbox
from mcos.runtime.workspace import Workspace

log = logging.getLogger("mcos.runtime")

MAX_STEPS_PER_WAKE = 12
"""Model calls on one task before the agent looks at its other work again."""
MAX_STEPS_PER_TASK = 60
"""Model calls on one task, ever, before it is escalated as making no progress."""
COMMENTS_SHOWN = 10
"""A task's latest comments put before the model when it comes back from review."""
COMMENT_CHARS = 4_000
RETRY_SECONDS = 5.0
"""How soon an agent tries again when the control plane did not answer."""


def who(actor: str) -> str:
    """An event actor as a person reads it: ``agent:donna`` is donna, ``operator:x`` an operator."""
    kind, _, name = actor.partition(":")
    if kind == "agent":
        return name
    return "operator" if name in ("", "operator") else f"operator {name}"


class AgentLoop:
    def __init__(
        self,
        fleet: Fleet,
        agent: Agent,
        workspace: Workspace,
        link: AgentLink,
        provider: Provider,
        egress_dir: Path | None = None,
        mailboxes: Mailboxes | None = None,
        services: ServiceWatch | None = None,
    ) -> None:
        """``egress_dir``: where the runner keeps its egress proxies' sockets; ``None`` runs no
        command (an agent loop in a test of other things)."""
        self.fleet, self.agent, self.workspace, self.link = fleet, agent, workspace, link
        self.caller = ModelCaller(fleet, agent, provider, link)
        kept = link.outbox.kept(self.state_key)
        old = workspace.old_state() if kept is None else None
        self.saved = Saved.from_json(kept) if kept is not None else Saved.from_dict(old or {})
        self._old_state = old is not None
        """Read from a state file an older runner left in the workspace: kept now, then removed."""
        self.grants: dict[str, datetime] = {}
        """Capabilities an operator restored, until when (from the latest heartbeat)."""
        self.commands = (
            AgentCommands(fleet, agent, workspace.root, link, egress_dir, self.live_grants)
            if egress_dir is not None
            else None
        )
        self.mailboxes = mailboxes
        """Its mail accounts, read on their schedule by the runner (``None``: it owns none)."""
        self.toolbox = Toolbox(
            agent,
            workspace,
            link,
            self.live_grants,
            fleet=fleet,
            commands=self.commands,
            mailboxes=mailboxes,
            services=services,
            policy_version=lambda: self.policy_version,
        )
        self.policy_version: str | None = None
        """The control plane's ``policy_version`` for this agent, as its last answer gave it."""
        self.notes = ""
        self.soul: str | None = None
        """The identity file as read at this wake (``None``: read at each model call)."""
        self.cooling_until = 0.0
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._beat_at = time.monotonic()
        self._timers: set[asyncio.Task[None]] = set()
        self._waiting_delivery = False

    # -- scheduling ---------------------------------------------------------------------

    def wake(self, reason: str) -> None:
        log.debug("%s: woken (%s)", self.agent.name, reason)
        self._wake.set()

    def stop(self) -> None:
        """Stop this agent alone after its current step, as if its process had died: it sends
        no more heartbeats (``mcos demo`` shows supervision this way)."""
        self._stopped.set()
        self.wake("stop")

    def interval(self) -> float:
        seconds = self.fleet.liveness_for(self.agent).heartbeat_seconds
        return seconds * random.uniform(0.9, 1.0)  # spread a fleet's heartbeats out

    async def run(self, stopping: asyncio.Event) -> None:
        if self._old_state:
            self.save()
            await self.link.committed()
            self.workspace.forget_old_state()
            self._old_state = False
        notes_day = self.today()
        self.notes = self.workspace.recent_notes(notes_day)
        self.wake("start")
        while not (stopping.is_set() or self._stopped.is_set()):
            timeout = self.interval()
            if self.cooling_until > time.monotonic():
                timeout = min(timeout, self.cooling_until - time.monotonic())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(timeout, 0.01))
            except TimeoutError:
                pass
            if stopping.is_set() or self._stopped.is_set():
                break
            self._wake.clear()
            if self.today() != notes_day:  # a new day (the memory rollover): reread the notes
                notes_day = self.today()
                self.notes = self.workspace.recent_notes(notes_day)
            self.soul = self.workspace.soul()  # an operator's edit counts from the next wake
            try:
                await self.step(stopping)
            except Unreachable as exc:
                log.warning(
                    "%s: %s; trying again in %.0f s", self.agent.name, exc.message, RETRY_SECONDS
                )
                self._retry_soon(stopping)
            except Exception:
                log.exception("%s: step failed", self.agent.name)
                self._retry_soon(stopping)
            finally:
                self.save()

    def _wake_when_delivered(self, stopping: asyncio.Event) -> None:
        if self._waiting_delivery:
            return
        self._waiting_delivery = True

        async def later() -> None:
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.link.outbox.delivered_for(self.agent.name), self.interval()
                    )
            finally:
                self._waiting_delivery = False
            if not stopping.is_set():
                self.wake("reports delivered")

        self._start_timer(later())

    def _retry_soon(self, stopping: asyncio.Event) -> None:
        async def later() -> None:
            await asyncio.sleep(RETRY_SECONDS)
            if not stopping.is_set():
                self.wake("retry")

        self._start_timer(later())

    def _start_timer(self, work: Coroutine[Any, Any, None]) -> None:
        timer = asyncio.get_running_loop().create_task(work)
        self._timers.add(timer)  # a task nobody holds may be collected before it runs
        timer.add_done_callback(self._timers.discard)

    def today(self) -> Any:
        return datetime.now(ZoneInfo(self.fleet.fleet.timezone)).date()

    @property
    def state_key(self) -> str:
        return f"state:{self.agent.name}"

    def save(self) -> None:
        """Queue the agent's state as it is now in the runner's outbox, after the reports queued
        before it (committed with them or later, never before), and go on: a restart never
        resumes after a model call whose usage it did not keep. Nothing waits for the disk but
        what acts: :meth:`Toolbox.run` waits for all of it before a tool runs."""
        self.link.keep(self.state_key, self.saved.to_json())

    # -- one wake -----------------------------------------------------------------------

    async def heartbeat(self, status: str, note: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": status,
            "context_tokens": self.saved.gauge(),
            "context_window": self.agent.context_window,
            "outbox_pending": self.link.outbox.pending(),
        }
        if self.saved.current_task is not None:
            body["current_task"] = self.saved.current_task
        if note:
            body["note"] = note[:2000]
        if self.saved.ack_messages:
            body["ack_messages_through"] = self.saved.ack_messages
        if self.saved.ack_incidents:
            body["ack_incidents_through"] = self.saved.ack_incidents
        path = paths.heartbeat(self.agent.name)
        try:
            answer: dict[str, Any] = await self.link.ask("POST", path, body)
        except ApiError as exc:
            if exc.field != "current_task":
                raise
            # The task went to another agent meanwhile (supervision reassigns a silent
            # agent's work): it is not ours to report any more.
            log.info("%s: %s", self.agent.name, exc.message)
            self.saved.current_task = None
            body.pop("current_task")
            answer = await self.link.ask("POST", path, body)
        self._beat_at = time.monotonic()
        self.policy_version = answer.get("policy_version")
        self.grants = {
            g["capability"]: datetime.fromisoformat(g["expires_at"])
            for g in answer.get("grants", ())
        }
        return answer

    def live_grants(self) -> list[str]:
        """The restored capabilities whose time box has not ended: offered for exactly that."""
        now = datetime.now(UTC)
        return [capability for capability, until in self.grants.items() if until > now]

    async def keep_alive(self) -> None:
        """Heartbeat between model calls when a long piece of work has outlasted the interval,
        so the control plane (and its supervision) never takes a busy agent for a dead one."""
        seconds = self.fleet.liveness_for(self.agent).heartbeat_seconds
        if time.monotonic() - self._beat_at >= seconds:
            await self.heartbeat("working" if self.saved.current_task else "idle")

    async def step(self, stopping: asyncio.Event) -> None:
        if self.cooling_until > time.monotonic():
            await self.heartbeat("idle", "cooling down after a 429")
            return
        # Asked before the heartbeat: with nothing of this agent's left in the outbox, the
        # answer reflects every report it made, its finishing moves included.
        delivered = self.link.outbox.pending_for(self.agent.name) == 0
        answer = await self.heartbeat("working" if self.saved.current_task else "idle")
        if answer["liveness"] == "suspended":  # paused by the control plane: no calls
            return
        inbox, acks = self._inbox(answer)
        # Once the control plane no longer shows a settled task in progress, its moves have
        # arrived; one shown in progress after they all arrived was sent back to be done again
        # (a reviewer moved it back from review).
        # (A settled task may still show as assigned: its move to in_progress is a report too.)
        shown = {t["id"] for t in answer["tasks"]}
        self.saved.settled &= set() if delivered else shown
        if self.saved.settled:
            # Undecided until the outbox is empty: a reviewer may have sent one back already.
            # Look again then, not a heartbeat interval later.
            self._wake_when_delivered(stopping)
        tasks = sorted(
            (t for t in answer["tasks"] if t["id"] not in self.saved.settled),
            key=lambda t: (
                t["status"] != "in_progress",
                PRIORITY_RANK.get(t["priority"], 9),
                t["id"],
            ),
        )
        await self._resume_parked(stopping)
        worked = False
        for task in tasks:
            if stopping.is_set():
                return
            if str(task["id"]) in self.saved.parked:
                continue
            try:
                worked = await self.work_on(task, inbox, stopping) or worked
            except CoolingDown as exc:
                self.cooling_until = exc.until
                await self.heartbeat("idle", exc.message)
                return
            except Paused as exc:
                log.info("%s: paused: %s", self.agent.name, exc)
                return
            finally:
                # Once the messages are in a conversation (saved with it), ack them so they
                # are not delivered again; until then a crash delivers them again.
                if not inbox:
                    self._ack(acks)
        if inbox and not stopping.is_set():
            await self._answer_inbox(inbox, stopping)
            self._ack(acks)
        if worked or inbox:
            self.saved.current_task = None
            await self.heartbeat("idle")
        if worked:
            self.wake("more work")  # an answer lists at most 50 tasks: look again

    def _ack(self, acks: tuple[int, int]) -> None:
        self.saved.ack_messages = max(self.saved.ack_messages, acks[0])
        self.saved.ack_incidents = max(self.saved.ack_incidents, acks[1])

    def _inbox(self, answer: dict[str, Any]) -> tuple[list[str], tuple[int, int]]:
        """The messages and incidents for the agent, as prompt lines, and the ids to ack."""
        lines = []
        messages, incidents = 0, 0
        for message in answer["directives"] + answer["messages"]:
            where = f"#{message['channel']}" if message["channel"] else "you"
            kind = message["kind"].upper() if message["kind"] == "directive" else message["kind"]
            lines.append(f"- {kind} from {who(message['sender'])} to {where}: {message['body']}")
            messages = max(messages, message["id"])
        for incident in answer["incidents"]:
            lines.append(
                f"- INCIDENT {incident['severity']} #{incident['id']}: {incident['title']}"
            )
            incidents = max(incidents, incident["id"])
        for incident in answer["confirmations"]:
            lines.append(
                f"- CONFIRMATION NEEDED for incident {incident['severity']} #{incident['id']}: "
                f"{incident['title']} (raised by {incident.get('reporter')})"
            )
        return lines, (messages, incidents)

    # -- working a task -----------------------------------------------------------------

    def system_prompt(self) -> str:
        parts = [(self.soul if self.soul is not None else self.workspace.soul()).strip()]
        if self.notes:
            parts.append("# Your memory notes (yesterday and today)\n\n" + self.notes)
        parts.append(
            "# How you work\n\n"
            f"Today is {self.today().isoformat()} ({self.fleet.fleet.timezone}). You work one "
            "task at a time. Use your tools to do the work; when it is finished, answer with a "
            "short summary of what you did and the task is marked done. Move a task to review "
            "(update_task) when someone must check it, or to blocked when you cannot go on."
        )
        return "\n\n".join(parts)

    async def work_on(
        self, task: dict[str, Any], inbox: list[str], stopping: asyncio.Event
    ) -> bool:
        """Work on one task; ``False`` if it could not start or must wait for the provider.

        ``inbox`` is emptied once its messages are in the task's conversation.
        """
        key = str(task["id"])
        if task["status"] == "assigned" and key not in self.saved.conversations:
            # A report, ahead of every later one of this agent (its usage, comment, moves, and
            # what it tells): a card taken from it meanwhile refuses them all, on the record.
            # Committed during the model call, before the conversation is first saved.
            self.link.queue("POST", paths.move(task["id"]), {"status": "in_progress"})
        conversation = self.saved.resume(key, self.agent.name)
        if conversation is None:
            conversation = Conversation([Turn("user", await self._task_text(task, inbox))])
            self.saved.conversations[key] = conversation
        elif inbox:
            conversation.turns.append(Turn("user", "New messages:\n" + "\n".join(inbox)))
        inbox.clear()
        self.saved.current_task = task["id"]
        log.info("%s: working on task #%s %r", self.agent.name, task["id"], task["title"])
        try:
            await self._drive(task["id"], conversation, stopping)
        except TaskFailed as exc:
            await self.fail(task["id"], str(exc))
        except TransientProviderError as exc:
            log.warning("%s: task #%s waits: %s", self.agent.name, task["id"], exc.message)
            return False
        return True

    async def _task_text(self, task: dict[str, Any], inbox: Sequence[str]) -> str:
        full = task
        if "description" not in task:  # heartbeat answers carry it; other sources may not
            with contextlib.suppress(ApiError):
                full = await self.link.ask("GET", paths.task(task["id"]))
        lines = [f"Task #{task['id']}: {full['title']}", f"Priority: {full['priority']}"]
        if full.get("kind"):
            lines.append(f"Kind: {full['kind']}")
        lines.append(f"From: {full.get('creator')}")
        if full.get("description"):
            lines += ["", full["description"]]
        if full.get("kind") == BRIEFING_KIND and self.agent.role == ORCHESTRATOR:
            lines += ["", await briefing_prompt(self.link)]
        if task.get("status") == "in_progress":
            # In progress before this wake with no conversation: sent back from review (or
            # resumed after a lost state). The comments are the reviewer's word on the work.
            lines += await self._comments(task["id"])
        if inbox:
            lines += ["", "Messages for you:", *inbox]
        return "\n".join(lines)

    async def _comments(self, task_id: int) -> list[str]:
        """The task's latest comments, oldest first, as prompt lines (none if unreadable)."""
        try:
            full = await self.link.ask("GET", paths.task(task_id))
        except ApiError:
            return []
        said = [
            f"- {who(e['actor'])}: {e['data']['body'][:COMMENT_CHARS]}"
            for e in full.get("history", ())
            if e["type"] == "task.commented"
        ][-COMMENTS_SHOWN:]
        if not said:
            return []
        return [
            "",
            "This task was sent back to you. Its comments (the latest last); act on the "
            "reviewer's and produce a new version:",
            *said,
        ]

    async def _drive(
        self, task_id: int, conversation: Conversation, stopping: asyncio.Event
    ) -> None:
        key = str(task_id)
        for _ in range(MAX_STEPS_PER_WAKE):
            if stopping.is_set() or key in self.saved.parked:
                return
            if conversation.steps >= MAX_STEPS_PER_TASK:
                await self.escalate(task_id, f"no result after {conversation.steps} model calls")
                return
            if needs_compaction(self.agent, conversation):
                await self.heartbeat("compacting")
                await flush_and_compact(self, task_id, conversation)
            await self.keep_alive()
            tools = self.toolbox.specs()
            reply = await self.caller.call(
                self.system_prompt(), conversation.turns, tools, task_id=task_id
            )
            conversation.record(reply)
            if not reply.tool_calls:
                # The call's usage is committed with the finishing reports, then the state.
                await self.finish(task_id, reply.text)
                self.save()
                return
            self.save()
            for call in reply.tool_calls:
                result = await self.toolbox.run(call, task_id)
                conversation.turns.append(result.turn)
                conversation.note_outcome(call, result.refused)
                if result.parked is not None:
                    self.saved.parked[key] = result.parked
                if result.failed:
                    conversation.note_failure(call)
                elif call.name == "update_task":
                    conversation.note_move(call.arguments)
                elif (moved := self.toolbox.moves_task_to(call.name)) is not None:
                    conversation.moved_to = moved
            self.save()
            stuck = conversation.repeated_failure(limit=3)
            if stuck:
                await self.escalate(task_id, f"the same failing call three times: {stuck}")
                return

    async def _resume_parked(self, stopping: asyncio.Event) -> None:
        """Carry on tasks whose approval was decided: run the approved call or report the no."""
        for key, parked in list(self.saved.parked.items()):
            if stopping.is_set():
                return
            if key not in self.saved.conversations:
                # Its task was given up (blocked, escalated) after the call was parked: what
                # was asked for is not done, whatever the decision.
                log.warning(
                    "%s: task #%s was given up; approval #%s is not acted on",
                    self.agent.name,
                    key,
                    parked["approval_id"],
                )
                del self.saved.parked[key]
                self.save()
                continue
            outcome = await self.toolbox.resume(parked)
            if outcome is None:
                continue  # still waiting
            turn, refused = outcome
            del self.saved.parked[key]
            conversation = self.saved.conversations[key]
            conversation.turns.append(turn)
            conversation.note_outcome(ToolCall(*parked["call"]), refused)
            self.save()

    async def finish(self, task_id: int, summary: str) -> None:
        """The model answered without a tool call: the work is finished; say so on the card and
        leave it in review for an operator or a reviewer to accept.

        Reports, not questions: they go through the outbox in order, so finishing costs the
        agent no round trip and survives an outage. A card the model already moved itself
        (to review, blocked or done) is left where it put it.
        """
        conversation = self.saved.conversations.pop(str(task_id), None)
        if conversation is not None:  # the gauge shows the last prompt, compacted or not
            self.saved.last_prompt_tokens = conversation.prompt_tokens
        log.info("%s: finished task #%s", self.agent.name, task_id)
        self.saved.settled.add(task_id)
        reports: list[tuple[str, dict[str, Any]]] = []
        if summary.strip():
            reports.append((paths.comments(task_id), {"body": summary.strip()[:20_000]}))
        refused = conversation.refusals if conversation is not None else {}
        if refused:
            # What the work needed was refused: it is not finished, whatever the model says.
            why = "; ".join(f"{name}: {reason}" for name, reason in refused.items())
            reports.append((paths.move(task_id), {"status": "blocked", "reason": why[:2000]}))
            log.info("%s: task #%s blocked: %s", self.agent.name, task_id, why)
        elif conversation is None or conversation.moved_to in (None, "in_progress"):
            # To review, not done: accepting work is an operator's or a reviewer's move.
            reports.append((paths.move(task_id), {"status": "review"}))
        # Queued, not awaited: they share the commit of the state saved next, which no longer
        # holds the task; the outbox numbers them in this order.
        for path, body in reports:
            self.link.queue("POST", path, body)
        self.saved.current_task = None

    async def fail(self, task_id: int, reason: str) -> None:
        self.saved.conversations.pop(str(task_id), None)
        if self.saved.parked.pop(str(task_id), None) is not None:  # never carried out now
            log.warning(
                "%s: task #%s given up with a call waiting for approval", self.agent.name, task_id
            )
        self.saved.settled.add(task_id)
        await self.link.tell(
            "POST", paths.move(task_id), {"status": "blocked", "reason": reason[:2000]}
        )
        self.saved.current_task = None

    async def escalate(self, task_id: int, why: str) -> None:
        """A stuck task is blocked and its supervisor told, rather than retried forever."""
        log.warning("%s: escalating task #%s: %s", self.agent.name, task_id, why)
        await self.fail(task_id, f"escalated: {why}")
        body = f"Task #{task_id} is stuck and blocked: {why}. It needs someone to look at it."
        if self.agent.supervisor != "operator":
            await self.link.tell(
                "POST",
                paths.MESSAGES,
                {"to": self.agent.supervisor, "kind": "report", "body": body, "task_id": task_id},
            )
        await self.link.tell(
            "POST",
            paths.EVENTS,
            {
                "type": "runtime.task_escalated",
                "subject": f"task:{task_id}",
                "data": {
                    "agent": self.agent.name,
                    "task_id": task_id,
                    "reason": why,
                    "supervisor": self.agent.supervisor,
                },
            },
        )

    async def _answer_inbox(self, inbox: list[str], stopping: asyncio.Event) -> None:
        """Messages with no task to attach them to: one turn to read and act on them."""
        conversation = self.saved.resume("inbox", self.agent.name)
        if conversation is None:
            conversation = self.saved.conversations["inbox"] = Conversation([])
        conversation.turns.append(Turn("user", "New messages:\n" + "\n".join(inbox)))
        try:
            await self._drive_inbox(conversation, stopping)
        except (CoolingDown, Paused, TaskFailed, TransientProviderError) as exc:
            log.info("%s: inbox left for later: %s", self.agent.name, exc)

    async def _drive_inbox(self, conversation: Conversation, stopping: asyncio.Event) -> None:
        for _ in range(MAX_STEPS_PER_WAKE):
            if stopping.is_set():
                return
            if needs_compaction(self.agent, conversation):
                await flush_and_compact(self, None, conversation)
            await self.keep_alive()
            reply = await self.caller.call(
                self.system_prompt(), conversation.turns, self.toolbox.specs()
            )
            conversation.record(reply)
            if not reply.tool_calls:
                return
            for call in reply.tool_calls:
                conversation.turns.append((await self.toolbox.run(call, None)).turn)
