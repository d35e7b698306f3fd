"""One HTTP connection pool to a control plane, any token per request: the bottom of the client.

:class:`mcos.client.AsyncClient` sends through it with its one token; the runtime's runner
shares one between all its agents, each request with the runner token acting as one agent
(``X-MCOS-Agent``). Answers come back as raw JSON, errors as :class:`ApiError` or
:class:`Unreachable`; nothing here parses into models, retries, or queues.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx2  # the HTTP library the provider SDKs use; cheaper than httpx per request
import orjson

from mcos.client.connections import Transport
from mcos.client.errors import ApiError, Unreachable, error_of
from mcos.client.outbox import DeliveryResult, Report
from mcos.contract import paths
from mcos.tls import trust_context

AGENT_HEADER = "X-MCOS-Agent"
"""The agent a runner token acts as (the control plane checks it runs on the token's machine)."""
UPLOAD_TIMEOUT = 120.0
"""Seconds an upload (a file of up to MCOS_ARTIFACT_MAX_BYTES) may take."""


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


def new_pool(url: str, timeout: float = 10.0) -> httpx2.AsyncClient:
    """The connection pool a :class:`Wire` sends through (shared by a runner's agents)."""
    return httpx2.AsyncClient(
        base_url=url.rstrip("/"),
        timeout=timeout,
        transport=Transport(
            verify=trust_context(),
            limits=httpx2.Limits(max_connections=50, max_keepalive_connections=50),
        ),
    )


def headers_for(token: str | None, agent: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if agent is not None:
        headers[AGENT_HEADER] = agent
    return headers


async def delivered(sending: Awaitable[Any]) -> DeliveryResult:
    """What came of sending one outbox report: a replay answered ``duplicate_id`` was recorded
    by an earlier delivery whose answer was lost, so it counts as delivered."""
    try:
        await sending
    except Unreachable as exc:
        return DeliveryResult.retry(exc.answered, exc.message)
    except ApiError as exc:
        if exc.code == "duplicate_id":
            return DeliveryResult.duplicate()
        return DeliveryResult.rejected(exc.status, exc.message)
    return DeliveryResult.delivered()


BUNDLE_BYTES = 1024 * 1024
"""A bundle's reports add up to at most this much JSON (the control plane takes 4 MiB)."""
BUNDLE_REPORTS = 500


JSON = {"Content-Type": "application/json"}


def encode(body: Any) -> bytes:
    """A request body as JSON, by orjson (several times cheaper than the standard library's,
    which the HTTP library would use); what the control plane cannot store is mended first."""
    return orjson.dumps(storable(body), option=orjson.OPT_NON_STR_KEYS)


def _chunks(reports: list[Report]) -> list[list[tuple[Report, bytes]]]:
    """``reports`` in order, each as its bundle item's JSON, cut into bundles of at most
    :data:`BUNDLE_BYTES` and :data:`BUNDLE_REPORTS` (a bigger report goes in a bundle of its
    own). Each report is serialised once: the bundle is its items' JSON joined."""
    chunks: list[list[tuple[Report, bytes]]] = [[]]
    size = 0
    for report in reports:
        item = encode(
            {
                "agent": report.agent,
                "method": report.method,
                "path": report.path,
                "body": report.body,
            }
        )
        if chunks[-1] and (size + len(item) > BUNDLE_BYTES or len(chunks[-1]) >= BUNDLE_REPORTS):
            chunks.append([])
            size = 0
        chunks[-1].append((report, item))
        size += len(item) + 1
    return [c for c in chunks if c]


def _result_of(found: dict[str, Any]) -> DeliveryResult:
    """One bundled report's answer, as the one-by-one delivery would have read it."""
    status = int(found["status"])
    if status < 300:
        return DeliveryResult.delivered()
    error = found.get("error") or {}
    if error.get("code") == "duplicate_id":
        return DeliveryResult.duplicate()
    if status >= 500 or status == 429:
        return DeliveryResult.retry()  # tried again alone, where 5xx are counted
    return DeliveryResult.rejected(status, str(error.get("message", "")))


class Wire:
    """HTTP to one control plane over one pool; the token (and agent) are given per request."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, http: httpx2.AsyncClient | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.http = http if http is not None else new_pool(self.url, timeout)
        self._owns_http = http is None
        self.bundles = True
        """Whether :meth:`deliver_many` is worth trying (it is not for a token refused it)."""

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
        """One request; with a runner token, ``agent`` names the agent it acts as.

        The answer's JSON (``None`` for an empty one); raises :class:`ApiError` (4xx) or
        :class:`Unreachable` (no answer, 5xx, 429).
        """
        headers = headers_for(token, agent)
        if body is None:
            response = await self.send(headers, method, path, params=params)
        else:
            response = await self.send(
                headers | JSON, method, path, content=encode(body), params=params
            )
        return orjson.loads(response.content) if response.content else None

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
        headers = headers_for(token, agent) | {"Content-Type": content_type}
        response = await self.send(
            headers, "POST", path, content=content, params=params, timeout=UPLOAD_TIMEOUT
        )
        return orjson.loads(response.content) if response.content else None

    async def send(
        self, headers: dict[str, str], method: str, path: str, **extra: Any
    ) -> httpx2.Response:
        """The successful answer itself (for bytes: a download); errors as :meth:`request`."""
        try:
            response = await self.http.request(method, path, headers=headers, **extra)
        except httpx2.HTTPError as exc:
            raise Unreachable(f"control plane at {self.url} unreachable: {exc!r}") from exc
        if response.status_code >= 400:
            raise error_of(response.status_code, response.content, f"{method} {path}")
        return response

    async def deliver(self, token: str | None, report: Report) -> DeliveryResult:
        """Send one outbox report with ``token``, acting as the report's agent; what came of it
        (a replay answered ``duplicate_id`` was recorded before: it counts as delivered)."""
        return await delivered(
            self.request(token, report.method, report.path, report.body, agent=report.agent)
        )

    async def deliver_many(
        self, token: str | None, reports: list[Report]
    ) -> list[DeliveryResult] | None:
        """Send outbox reports in as few requests as fit (``POST /api/v1/reports``), in order.

        One result per report; ``retry`` for those the control plane left for the one-by-one
        path (an agent's reports after one not applied wait with it). ``None`` when a bundle
        could not be sent at all (unreachable, or a control plane without the route): then
        every report goes the one-by-one way, which waits out an outage.
        """
        if not self.bundles:
            return None
        results: list[DeliveryResult] = []
        waiting: set[str] = set()  # agents with a report left behind: the rest of theirs too
        for chunk in _chunks(reports):
            sending = [(r, item) for r, item in chunk if r.agent not in waiting]
            sent = [r for r, _ in sending]
            answers = await self._bundle(token, [item for _, item in sending]) if sent else []
            if answers is None:
                if not results:
                    return None
                answers = [DeliveryResult.retry()] * len(sent)
            by_seq = {r.seq: a for r, a in zip(sent, answers, strict=True)}
            for report, _ in chunk:
                result = by_seq.get(report.seq, DeliveryResult.retry())
                if result.kind == "retry":
                    waiting.add(report.agent)
                results.append(result)
        return results

    async def _bundle(self, token: str | None, items: list[bytes]) -> list[DeliveryResult] | None:
        """One ``POST /api/v1/reports`` of ``items``: each a report's JSON, from :func:`_chunks`."""
        payload = b'{"reports":[' + b",".join(items) + b"]}"
        try:
            response = await self.send(
                headers_for(token, None) | JSON, "POST", paths.REPORTS, content=payload
            )
            answer = orjson.loads(response.content)
        except ApiError as exc:
            if exc.status in (403, 404, 405):  # not a runtime's token, or an older server
                self.bundles = False
            return None
        except Unreachable:
            return None
        return [_result_of(found) for found in answer["results"]]

    async def aclose(self) -> None:
        """Close the pool, if this wire made it (a shared pool is its owner's to close)."""
        if self._owns_http:
            await self.http.aclose()
