"""The agent's side of the REST API that the MCP tools call: one method per tool, one error.

Every tool goes through here, so what an MCP client can do is exactly what the same token may do
over ``/api/v1``: the same validation, policy, escalation table and audit trail. The HTTP
transport is the caller's choice: in-process onto the serving app (``/mcp``) or a real
connection to the control plane (``mcos mcp``).
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import httpx2

from mcos.api.auth import AGENT_HEADER

API = "/api/v1"
SETTLED = frozenset({"approved", "denied", "expired", "applied"})
"""Approval statuses that are final: waiting ends on any of them."""


class ApiError(Exception):
    """The control plane's answer to a refused request, in its one error shape."""

    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "field": self.field,
        }


def _client_id() -> str:
    """An idempotency id for one write (the API answers ``duplicate_id`` for a replay)."""
    return f"mcp-{uuid.uuid4().hex}"


class AgentApi:
    """One agent's calls with its bearer token; ``named`` sends the agent in ``X-MCOS-Agent`` (a
    runner token needs it; an agent token accepts its own name and refuses any other)."""

    def __init__(
        self, http: httpx2.AsyncClient, token: str, agent: str, *, named: bool = False
    ) -> None:
        self.http = http
        self.agent = agent
        """The agent every call acts as (the token's own, or the runner's named agent)."""
        self.headers = {"Authorization": f"Bearer {token}"}
        if named:
            self.headers[AGENT_HEADER] = agent

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a 2xx; any other answer raises :class:`ApiError`."""
        try:
            response = await self.http.request(method, API + path, headers=self.headers, **kwargs)
        except httpx2.HTTPError as exc:
            raise ApiError(
                503, "unreachable", f"the control plane did not answer: {exc}", None
            ) from None
        if response.status_code >= 400:
            raise _error_of(response)
        return response.json()

    async def whoami(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self.call("GET", "/tokens/current")
        return answer

    async def my_tasks(self, status: str | None) -> list[dict[str, Any]]:
        params = {"assignee": self.agent} | ({"status": status} if status else {})
        tasks: list[dict[str, Any]] = (await self.call("GET", "/tasks", params=params))["tasks"]
        return tasks

    async def task(self, task_id: int) -> dict[str, Any]:
        task: dict[str, Any] = await self.call("GET", f"/tasks/{task_id}")
        return task

    async def move(self, task_id: int, status: str, reason: str | None) -> dict[str, Any]:
        body = {"id": _client_id(), "status": status, "reason": reason}
        task: dict[str, Any] = await self.call("POST", f"/tasks/{task_id}/move", json=body)
        return task

    async def comment(self, task_id: int, body: str) -> dict[str, Any]:
        sent = {"id": _client_id(), "body": body}
        comment: dict[str, Any] = await self.call("POST", f"/tasks/{task_id}/comments", json=sent)
        return comment

    async def ask(self, action: dict[str, Any]) -> dict[str, Any]:
        """The policy's decision on one exact action; a refusal is an answer, not an error."""
        try:
            decision: dict[str, Any] = await self.call("POST", "/actions", json=action)
        except ApiError as exc:
            if exc.code != "policy_denied":
                raise
            return {"decision": "deny", "reason": exc.message, "code": exc.code}
        return decision

    async def approval(self, approval_id: int) -> dict[str, Any]:
        approval: dict[str, Any] = await self.call("GET", f"/approvals/{approval_id}")
        return approval

    async def wait_for_approval(
        self, approval_id: int, seconds: float, poll: float = 1.0
    ) -> dict[str, Any]:
        """The approval once decided (or expired), or as it stands after ``seconds``."""
        approval = await self.approval(approval_id)
        with anyio.move_on_after(seconds):
            while approval["status"] not in SETTLED:
                await anyio.sleep(poll)
                approval = await self.approval(approval_id)
        return approval

    async def raise_incident(self, severity: str, title: str, body: str) -> dict[str, Any]:
        sent = {"id": _client_id(), "severity": severity, "title": title, "body": body}
        incident: dict[str, Any] = await self.call("POST", "/incidents", json=sent)
        return incident

    async def report_usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        sent = {"id": _client_id()} | usage
        answer: dict[str, Any] = await self.call("POST", f"/agents/{self.agent}/usage", json=sent)
        return answer

    async def flush_memory(self, content: str, day: str | None) -> dict[str, Any]:
        sent = {"id": _client_id(), "content": content} | ({"day": day} if day else {})
        answer: dict[str, Any] = await self.call("POST", f"/agents/{self.agent}/memory", json=sent)
        return answer

    async def send_message(self, message: dict[str, Any]) -> dict[str, Any]:
        sent = {"id": _client_id()} | message
        answer: dict[str, Any] = await self.call("POST", "/messages", json=sent)
        return answer

    async def heartbeat(self, beat: dict[str, Any]) -> dict[str, Any]:
        sent = {"id": _client_id()} | beat
        path = f"/agents/{self.agent}/heartbeat"
        answer: dict[str, Any] = await self.call("POST", path, json=sent)
        return answer


def _error_of(response: httpx2.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(
            response.status_code, str(error["code"]), str(error["message"]), error.get("field")
        )
    except (ValueError, KeyError, TypeError):
        return ApiError(
            response.status_code,
            "http_error",
            f"HTTP {response.status_code} from the control plane",
            None,
        )
