"""The MCP tools an agent gets: one set, served over both transports (``/mcp`` and stdio).

Each tool is a thin translation onto :class:`mcos.client.AsyncClient`, that is onto the REST API
with the caller's own token: the policy, the escalation table and the audit trail are the REST
API's, and nothing is reachable here that ``/api/v1`` would refuse the same token. Arguments are
untrusted: their types and bounds are checked here (a tool error naming the field), and the REST
API validates them again. A result carries structured content and one short line of text; a
refused call is a tool error carrying the server's error code, message and field — never a
stack trace.
"""

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from mcos import __version__
from mcos.client import ApiError, AsyncClient, Unreachable
from mcos.domain.kanban import TaskStatus
from mcos.domain.liveness import ReportedStatus
from mcos.inputs import Amount, Count, RowId, Tokens

Connect = Callable[[Context], AbstractAsyncContextManager[AsyncClient]]
"""Opens the calling agent's client for one tool call (per transport), acting as that agent."""

INSTRUCTIONS = """\
Mission Control OS governs the fleet you belong to. Heartbeat when you start and as you work
(with your context gauge), take your tasks from `my_tasks`, and move them along the board as you
go. Before any action with an effect outside your own thinking (a shell command, a file write,
a web request, an email, a payment, a deploy), call `ask_before_acting` with the exact action and
do only what it allows. Raise an incident when something is wrong, report the tokens each model
call used, and flush what matters to memory before your context is compacted."""

TaskId = Annotated[RowId, Field(description="The task's id.")]

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def answer(text: str, data: dict[str, Any]) -> CallToolResult:
    """A result a model reads (one line) and a program parses (the structured content)."""
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def refused(error: ApiError | Unreachable) -> CallToolResult:
    """The server's refusal (or silence) as a tool error: its code, message and the field."""
    status = error.status if isinstance(error, ApiError) else error.answered
    message = error.message if isinstance(error, ApiError) else (error.detail or error.message)
    where = f" (field: {error.field})" if error.field else ""
    body = {"status": status, "code": error.code, "message": message, "field": error.field}
    return CallToolResult(
        content=[TextContent(type="text", text=f"{error.code}: {message}{where}")],
        structured_content={"error": body},
        is_error=True,
    )


def _json(model: BaseModel | None) -> dict[str, Any]:
    """A result as JSON; ``{}`` when the client recorded it without an answer (a lost answer
    replayed: the write is done once)."""
    return {} if model is None else model.model_dump(mode="json")


async def _through(
    connect: Connect, ctx: Context, call: Callable[[AsyncClient], Awaitable[CallToolResult]]
) -> CallToolResult:
    async with connect(ctx) as mc:
        try:
            return await call(mc)
        except (ApiError, Unreachable) as exc:
            return refused(exc)


def _quietly_built() -> MCPServer:
    """The bare server. Building one configures the root logger (``logging.basicConfig``):
    undone, since the process's logging is the control plane's (or the CLI's), not the SDK's."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return MCPServer("mission-control", version=__version__, instructions=INSTRUCTIONS)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def build_server(connect: Connect) -> MCPServer:
    """The MCP server with every tool, each calling the REST API through ``connect``."""
    server = _quietly_built()

    @server.tool(annotations=READ)
    async def my_tasks(
        ctx: Context,
        status: Annotated[
            TaskStatus | None, Field(description="Only tasks in this column; all when omitted.")
        ] = None,
    ) -> CallToolResult:
        """List the tasks assigned to you, oldest first (id, title, status, priority, due)."""

        async def call(mc: AsyncClient) -> CallToolResult:
            tasks = await mc.my_tasks(status)
            lines = [f"#{t.id} [{t.status}] {t.title}" for t in tasks]
            return answer(
                f"{len(tasks)} task(s)" + (": " + "; ".join(lines) if lines else ""),
                {"tasks": [_json(t) for t in tasks]},
            )

        return await _through(connect, ctx, call)

    @server.tool(annotations=READ)
    async def show_task(ctx: Context, task_id: TaskId) -> CallToolResult:
        """Show one task: its description, dependencies, comments and full history."""

        async def call(mc: AsyncClient) -> CallToolResult:
            task = await mc.task(task_id)
            return answer(f"#{task.id} [{task.status}] {task.title}", _json(task))

        return await _through(connect, ctx, call)

    @server.tool(annotations=WRITE)
    async def move_task(
        ctx: Context,
        task_id: TaskId,
        status: Annotated[
            TaskStatus,
            Field(
                description="The column to move it to: in_progress when you start, review when "
                "done for someone to check, done when finished, blocked when stuck."
            ),
        ],
        reason: Annotated[
            str | None, Field(max_length=2_000, description="Why, shown on the card's history.")
        ] = None,
    ) -> CallToolResult:
        """Move one of your tasks along the Kanban board. Illegal moves are refused."""

        async def call(mc: AsyncClient) -> CallToolResult:
            task = await mc.move(task_id, status, reason)
            return answer(f"#{task_id} is now {status}", _json(task))

        return await _through(connect, ctx, call)

    @server.tool(annotations=WRITE)
    async def comment_on_task(
        ctx: Context,
        task_id: TaskId,
        body: Annotated[str, Field(min_length=1, max_length=20_000, description="The comment.")],
    ) -> CallToolResult:
        """Add a comment to a task: progress, findings, or what you need."""

        async def call(mc: AsyncClient) -> CallToolResult:
            comment = await mc.comment(task_id, body)
            return answer(f"commented on #{task_id}", _json(comment))

        return await _through(connect, ctx, call)

    @server.tool(annotations=WRITE)
    async def ask_before_acting(
        ctx: Context,
        kind: Annotated[
            str,
            Field(
                min_length=1,
                max_length=64,
                description="The action: shell.exec, file.write, http.fetch, email.send, "
                "payment.send, deploy.run, git.commit, service.restart, ...",
            ),
        ],
        command: Annotated[
            str | None, Field(max_length=10_000, description="shell.exec: the exact command.")
        ] = None,
        paths: Annotated[
            list[str] | None,
            Field(max_length=100, description="file.*: every path the action touches."),
        ] = None,
        host: Annotated[
            str | None, Field(max_length=255, description="http.fetch: the host.")
        ] = None,
        port: Annotated[
            int | None, Field(strict=True, ge=1, le=65_535, description="http.fetch: the port.")
        ] = None,
        addresses: Annotated[
            list[str] | None,
            Field(max_length=32, description="http.fetch: every IP the host resolved to."),
        ] = None,
        recipient: Annotated[
            str | None, Field(max_length=320, description="Who receives a message or payment.")
        ] = None,
        amount_usd: Annotated[
            Amount | None, Field(description="payment.send: the amount in USD.")
        ] = None,
        files_touched: Annotated[
            Count | None, Field(description="How many files it changes.")
        ] = None,
        target: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=1_000,
                description="deploy.run: the target; git.commit: the repository; "
                "service.*: the service.",
            ),
        ] = None,
        reason: Annotated[
            str, Field(max_length=2_000, description="Why you want to do it; approvers read it.")
        ] = "",
        approval_id: Annotated[
            RowId | None,
            Field(
                description="Carry out an action an approval allowed (the same exact action).",
            ),
        ] = None,
    ) -> CallToolResult:
        """Ask before acting: describe the exact action you are about to take. The answer is
        allow (go ahead), needs_approval (wait for its approval_id with wait_for_approval; do
        not act meanwhile) or deny (do not do it; the reason says why). Ask again with the
        approval_id once approved."""
        action = dict(
            command=command,
            paths=paths,
            host=host,
            port=port,
            addresses=addresses,
            recipient=recipient,
            amount_usd=amount_usd,
            files_touched=files_touched,
            target=target,
            reason=reason,
            approval_id=approval_id,
        )

        async def call(mc: AsyncClient) -> CallToolResult:
            decision = await mc.ask(kind, **action)
            said = {
                "allow": "allowed: go ahead",
                "needs_approval": f"needs approval {decision.approval_id}: wait for it",
                "deny": f"refused: {decision.reason}",
            }[decision.decision]
            return answer(said, _json(decision))

        return await _through(connect, ctx, call)

    @server.tool(annotations=READ)
    async def wait_for_approval(
        ctx: Context,
        approval_id: Annotated[RowId, Field(description="The approval's id.")],
        timeout_seconds: Annotated[
            float, Field(ge=0, le=900, description="How long to wait at most.")
        ] = 60,
    ) -> CallToolResult:
        """Wait until a person (or agent) decides an approval: approved, denied or expired. If
        it is still pending when the time runs out, call again later."""

        async def call(mc: AsyncClient) -> CallToolResult:
            try:
                approval = await mc.wait_for_approval(approval_id, timeout_seconds)
            except TimeoutError:
                approval = await mc.approval(approval_id)
            return answer(f"approval {approval_id} is {approval.status}", _json(approval))

        return await _through(connect, ctx, call)

    @server.tool(annotations=WRITE)
    async def raise_incident(
        ctx: Context,
        severity: Annotated[
            Literal["P0", "P1", "P2", "P3"],
            Field(
                description="P0 all hands (a human confirms), P1 urgent, P2 needs attention, "
                "P3 note for the log. Unconfirmed incidents reach nobody."
            ),
        ],
        title: Annotated[str, Field(min_length=1, max_length=300, description="One line.")],
        body: Annotated[str, Field(max_length=20_000, description="What you saw.")] = "",
    ) -> CallToolResult:
        """Raise an incident; the escalation table decides who must confirm it first."""

        async def call(mc: AsyncClient) -> CallToolResult:
            incident = await mc.raise_incident(severity, title, body)
            said = f"incident {incident.id} raised ({incident.status})" if incident else "raised"
            return answer(said, _json(incident))

        return await _through(connect, ctx, call)

    @server.tool(annotations=WRITE)
    async def report_usage(
        ctx: Context,
        input_tokens: Annotated[Tokens, Field(description="Prompt tokens of the call.")],
        output_tokens: Annotated[Tokens, Field(description="Completion tokens of the call.")],
        model: Annotated[
            str | None, Field(max_length=200, description="The model; yours when omitted.")
        ] = None,
        cache_read_tokens: Annotated[Tokens, Field(description="Tokens read from cache.")] = 0,
        cache_write_tokens: Annotated[Tokens, Field(description="Tokens written to cache.")] = 0,
        latency_ms: Annotated[Count | None, Field(description="How long the call took.")] = None,
        task_id: Annotated[RowId | None, Field(description="The task it was for.")] = None,
    ) -> CallToolResult:
        """Report the tokens one model call used; Mission Control prices it and checks budgets."""

        async def call(mc: AsyncClient) -> CallToolResult:
            priced = await mc.report_usage(
                model,
                input_tokens,
                output_tokens,
                cache_read_tokens=cache_read_tokens,
                cache_write_tokens=cache_write_tokens,
                latency_ms=latency_ms,
                task_id=task_id,
            )
            cost = priced.cost_usd if priced is not None else None
            return answer(f"usage recorded (${cost})", _json(priced))

        return await _through(connect, ctx, call)

    @server.tool(annotations=WRITE)
    async def flush_memory(
        ctx: Context,
        content: Annotated[
            str,
            Field(min_length=1, max_length=100_000, description="What must outlive compaction."),
        ],
        day: Annotated[date | None, Field(description="The note's day, YYYY-MM-DD; today.")] = None,
    ) -> CallToolResult:
        """Write what matters to today's memory note, before your context is compacted."""

        async def call(mc: AsyncClient) -> CallToolResult:
            note = await mc.flush_memory(content, day=day)
            return answer("memory flushed", _json(note))

        return await _through(connect, ctx, call)

    @server.tool(annotations=WRITE)
    async def send_message(
        ctx: Context,
        body: Annotated[str, Field(min_length=1, max_length=20_000, description="The message.")],
        to: Annotated[
            str | None, Field(max_length=64, description="An agent's name (or give channel).")
        ] = None,
        channel: Annotated[str | None, Field(max_length=64, description="A channel.")] = None,
        fleet: Annotated[
            bool, Field(description="To the whole fleet (needs the broadcast capability).")
        ] = False,
        kind: Annotated[
            Literal["chat", "report", "question", "directive"], Field(description="Its kind.")
        ] = "chat",
        task_id: Annotated[RowId | None, Field(description="The task it is about.")] = None,
    ) -> CallToolResult:
        """Send a message to another agent, a channel, or (with broadcast) the whole fleet."""

        async def call(mc: AsyncClient) -> CallToolResult:
            sent = await mc.send_message(
                body, to=to, channel=channel, fleet=fleet, kind=kind, task_id=task_id
            )
            return answer(f"message {sent.id} sent" if sent else "message sent", _json(sent))

        return await _through(connect, ctx, call)

    @server.tool(annotations=WRITE)
    async def heartbeat(
        ctx: Context,
        status: Annotated[
            ReportedStatus, Field(description="working, idle, or compacting your context.")
        ] = ReportedStatus.WORKING,
        context_tokens: Annotated[
            Tokens | None, Field(description="Tokens of your latest prompt (the gauge).")
        ] = None,
        context_window: Annotated[
            int | None,
            Field(
                strict=True, ge=1_000, le=100_000_000, description="Your model's context window."
            ),
        ] = None,
        current_task: Annotated[RowId | None, Field(description="The task you are on.")] = None,
        note: Annotated[str | None, Field(max_length=2_000, description="A short note.")] = None,
    ) -> CallToolResult:
        """Report you are alive, with your context gauge; the answer is the work waiting for
        you (tasks, directives, confirmed incidents) and whether to flush memory."""

        async def call(mc: AsyncClient) -> CallToolResult:
            waiting = await mc.heartbeat(
                status,
                context_tokens=context_tokens,
                context_window=context_window,
                current_task=current_task,
                note=note,
            )
            return answer(f"heartbeat recorded ({status})", _json(waiting))

        return await _through(connect, ctx, call)

    return server
