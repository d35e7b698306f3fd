"""The runtime's side of the control plane's HTTP API: one shared client, one token per agent.

Questions that need an answer now (may I run this? may I spend? what is my work?) go straight
to the control plane and fail closed when it cannot be reached. Reports (usage, memory notes,
compactions, task progress) go through the durable outbox, so an outage loses none of them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx2  # the HTTP library the provider SDKs use; cheaper than httpx per request

from mcos.errors import McosError
from mcos.runtime.outbox import DeliveryResult, Outbox, Report

UPLOAD_TIMEOUT = 120.0
"""Seconds an upload (a file of up to MCOS_ARTIFACT_MAX_BYTES) may take."""
AGENT_HEADER = "X-MCOS-Agent"
"""The agent a runner token acts as (the control plane checks it runs on the token's machine)."""


def storable(value: Any) -> Any:
    """``value`` with what the control plane refuses to store replaced in its strings (a NUL, a
    lone surrogate, both seen in model output): a report is kept, not refused for a character."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


class Unreachable(McosError):
    """The control plane did not answer (down, restarting), or answered 5xx or 429."""

    code = "control_plane_unreachable"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.answered = status
        """The HTTP status it answered with, or ``None`` when it did not answer at all."""


class ApiError(McosError):
    """The control plane answered with its error shape (a 4xx): the request will not succeed."""

    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(message, field=field, code=code)
        self.status = status


class ControlPlane:
    """HTTP to one control plane, shared by every agent of a runner (one connection pool)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx2.AsyncClient(
            base_url=self.url,
            timeout=timeout,
            limits=httpx2.Limits(max_connections=50, max_keepalive_connections=50),
        )

    async def request(
        self,
        token: str | None,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        *,
        agent: str | None = None,
    ) -> Any:
        """One request; with a runner token, ``agent`` names the agent it acts as."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if agent is not None:
            headers[AGENT_HEADER] = agent
        return await self._send(headers, method, path, json=storable(body), params=params)

    async def upload(
        self,
        token: str | None,
        path: str,
        content: bytes,
        content_type: str,
        params: dict[str, Any],
        *,
        agent: str | None = None,
    ) -> Any:
        """POST raw bytes (a file) with their media type; answers and errors as :meth:`request`."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if agent is not None:
            headers[AGENT_HEADER] = agent
        headers["Content-Type"] = content_type
        return await self._send(
            headers, "POST", path, content=content, params=params, timeout=UPLOAD_TIMEOUT
        )

    async def _send(self, headers: dict[str, str], method: str, path: str, **extra: Any) -> Any:
        try:
            response = await self.http.request(method, path, headers=headers, **extra)
        except httpx2.HTTPError as exc:
            raise Unreachable(f"control plane at {self.url} unreachable: {exc!r}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise Unreachable(
                f"control plane answered HTTP {response.status_code} to {path}: "
                f"{response.text[:300]}",
                status=response.status_code,
            )
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                raise ApiError(
                    response.status_code, error["code"], error["message"], error.get("field")
                )
            except (ValueError, KeyError, TypeError):
                raise ApiError(
                    response.status_code, "http_error", response.text[:300], None
                ) from None
        return response.json() if response.content else None

    async def aclose(self) -> None:
        await self.http.aclose()


@dataclass
class AgentLink:
    """One agent's way to the control plane: the runner's token acting as this agent (named in
    ``X-MCOS-Agent``), and the runner's outbox."""

    name: str
    token: str
    control_plane: ControlPlane
    outbox: Outbox

    async def ask(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Ask now; raises :class:`Unreachable` or :class:`ApiError`."""
        return await self.control_plane.request(
            self.token, method, path, body, params, agent=self.name
        )

    async def upload_artifact(
        self, task_id: int, name: str, content: bytes, content_type: str, note: str = ""
    ) -> dict[str, Any]:
        """Attach ``content`` to the task as the next version of ``name``; the artifact as
        stored (``id``, ``version``, ``sha256``, ``size``…). Raises :class:`Unreachable` or
        :class:`ApiError` (403 not party to the task, 413 too large, 422 a bad name or type)."""
        params = {"name": name} | ({"note": note} if note else {})
        stored: dict[str, Any] = await self.control_plane.upload(
            self.token,
            f"/api/v1/tasks/{task_id}/artifacts",
            content,
            content_type,
            params,
            agent=self.name,
        )
        return stored

    async def report(self, method: str, path: str, body: dict[str, Any]) -> None:
        """Durably queue a report; it reaches the control plane in order, exactly once."""
        await self.outbox.put(self.name, method, path, storable(body))

    async def tell(self, method: str, path: str, body: dict[str, Any]) -> Any | None:
        """Send now if the control plane is up (its refusal comes back to the caller), else queue.

        The body gets a client id first, so a request that was committed but whose answer was
        lost is recorded once when the outbox delivers it again.
        """
        body = {"id": f"{self.name}-{uuid.uuid4().hex[:16]}"} | body
        try:
            return await self.ask(method, path, body)
        except Unreachable:
            await self.report(method, path, body)
            return None


async def deliver(control_plane: ControlPlane, tokens: dict[str, str], report: Report) -> Any:
    """The outbox's delivery callback: send one report with the runner token of its agent's
    machine, acting as that agent."""
    try:
        await control_plane.request(
            tokens.get(report.agent),
            report.method,
            report.path,
            report.body,
            agent=report.agent,
        )
    except Unreachable as exc:
        return DeliveryResult.retry(exc.answered, exc.message)
    except ApiError as exc:
        if exc.code == "duplicate_id":
            return DeliveryResult.duplicate()
        return DeliveryResult.rejected(exc.status, exc.message)
    return DeliveryResult.delivered()
