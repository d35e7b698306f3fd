"""The fake's routes: Entra ID's discovery and token endpoints, and the Graph mail endpoints
a :class:`~mcos.mail.graph.GraphSource` and ``GraphSender`` use, answering in Graph's shapes
(errors as ``{"error": {"code", "message"}}``, Entra's as ``{"error", "error_description"}``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcos.testing._fake_graph_state import (
    DeltaState,
    FakeMessage,
    GraphCall,
    GraphState,
    RecordedSend,
    TokenRequest,
)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
WELL_KNOWN_FOLDERS = ("inbox", "drafts", "sentitems", "deleteditems", "archive", "junkemail")


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_FAILURES = {
    429: ("TooManyRequests", "Application is over its MailboxConcurrency limit."),
    503: ("ServiceNotAvailable", "The service is temporarily unavailable."),
}


def _entra_error(status: int, error: str, description: str) -> JSONResponse:
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [int(description[6:].split(":")[0])] if description[6:7].isdigit() else [],
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": "00000000-0000-0000-0000-000000000000",
    }
    return JSONResponse(body, status_code=status)


async def openid_configuration(request: Request) -> Response:
    state: GraphState = request.app.state.graph
    tenant = request.path_params["tenant"]
    with state.lock:
        known = any(t == tenant for t, _ in state.apps)
    if not known:
        return _entra_error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
    root = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "issuer": f"{root}/{tenant}/v2.0",
            "authorization_endpoint": f"{root}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "tenant_region_scope": "EU",
        }
    )


async def token(request: Request) -> Response:
    """Client credentials only: ``client_id`` + ``client_secret``, scope Graph's ``.default``."""
    state: GraphState = request.app.state.graph
    tenant = request.path_params["tenant"]
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    client_id = form.get("client_id", "")
    if form.get("grant_type") != "client_credentials":
        return _entra_error(400, "unsupported_grant_type", "AADSTS70003: grant type unsupported")
    if form.get("scope", "").split() != [GRAPH_SCOPE]:
        return _entra_error(400, "invalid_scope", f"AADSTS1002012: scope must be {GRAPH_SCOPE}")
    with state.lock:
        expected = state.apps.get((tenant, client_id))
        granted = expected is not None and form.get("client_secret") == expected
        state.token_requests.append(TokenRequest(tenant, client_id, granted))
    if expected is None:
        return _entra_error(
            400,
            "unauthorized_client",
            f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
            f"directory '{tenant}'.",
        )
    if not granted:
        return _entra_error(
            401,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
            "request is the client secret value, not the client secret ID, for a secret added "
            f"to app '{client_id}'.",
        )
    lifetime = int(state.token_lifetime.total_seconds())
    return JSONResponse(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": state.issue_token(tenant),
        }
    )


Handler = Callable[[Request, GraphState, str], Awaitable[Response]]


def _graph(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Throttling, the bearer token and the mailbox checked, the call recorded."""

    async def endpoint(request: Request) -> Response:
        state: GraphState = request.app.state.graph
        try:
            response = await _checked(request, state, handler)
        except GraphError as error:
            throttled = error.status in _FAILURES
            headers = {"retry-after": str(state.throttle_retry_after)} if throttled else {}
            response = JSONResponse(
                {"error": {"code": error.code, "message": error.message}},
                status_code=error.status,
                headers=headers,
            )
        response.headers["request-id"] = state.new_id()[4:40]
        with state.lock:
            state.calls.append(
                GraphCall(
                    request.method,
                    request.url.path,
                    request.url.query,
                    response.status_code,
                    {k: v for k, v in request.headers.items() if k in ("prefer", "content-type")},
                )
            )
        return response

    return endpoint


async def _checked(request: Request, state: GraphState, handler: Handler) -> Response:
    with state.lock:
        if state.throttle_left > 0:
            state.throttle_left -= 1
            status = state.throttle_status
            code, message = _FAILURES.get(status, ("generalException", "An error occurred."))
            raise GraphError(status, code, message)
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    tenant = state.token_tenant(bearer.strip() if scheme.lower() == "bearer" else None)
    if tenant is None:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
    user = request.path_params["user"].lower()
    with state.lock:
        box = state.mailboxes.get(user)
    if box is None or box.tenant != tenant:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
    return await handler(request, state, user)


def _prefer(request: Request) -> dict[str, str]:
    found = {}
    for part in request.headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        found[name.strip().lower()] = value.strip().strip('"')
    return found


async def delta(request: Request, state: GraphState, user: str) -> Response:
    root = str(request.base_url).rstrip("/") + "/v1.0"
    folder = request.path_params["folder"].lower()
    params = request.query_params
    with state.lock:
        if "$skiptoken" in params or "$deltatoken" in params:
            token = params.get("$skiptoken") or params.get("$deltatoken") or ""
            saved = state.deltas.get(token)
            if saved is None or saved.gone or saved.mailbox != user:
                raise GraphError(410, "syncStateNotFound", "The sync state is not found.")
            current = DeltaState(**vars(saved))
        else:
            if folder not in WELL_KNOWN_FOLDERS:
                raise GraphError(404, "ErrorInvalidIdMalformed", f"Id is malformed: {folder}")
            select = tuple(s for s in params.get("$select", "").split(",") if s)
            received_from = _received_filter(params.get("$filter"))
            current = DeltaState(
                user, folder, select, after=0, until=None, received_from=received_from
            )
        until = current.until if current.until is not None else state.seq
    page_size = int(_prefer(request).get("odata.maxpagesize") or 10)
    entries = state.delta_entries(current, until)
    page = entries[current.offset : current.offset + page_size]
    base = f"{root}/users/{user}/mailFolders/{folder}/messages/delta"
    body: dict[str, Any] = {"@odata.context": f"{root}/$metadata#Collection(message)"}
    if current.offset + page_size < len(entries):
        following = DeltaState(
            user,
            folder,
            current.select,
            current.after,
            until,
            current.offset + page_size,
            received_from=current.received_from,
        )
        body["@odata.nextLink"] = f"{base}?$skiptoken={state.save_delta(following)}"
    else:
        since = DeltaState(
            user,
            folder,
            current.select,
            after=until,
            until=None,
            received_from=current.received_from,
        )
        body["@odata.deltaLink"] = f"{base}?$deltatoken={state.save_delta(since)}"
    body["value"] = page
    return JSONResponse(body, headers={"preference-applied": f"odata.maxpagesize={page_size}"})


def _received_filter(text: str | None) -> datetime | None:
    """The one ``$filter`` a message delta takes: ``receivedDateTime ge|gt {instant}``."""
    if not text:
        return None
    found = re.fullmatch(r"receivedDateTime (ge|gt) (\S+)", text.strip())
    if found is None:
        raise GraphError(
            400,
            "ErrorInvalidUrlQueryFilter",
            "The query filter contains one or more invalid nodes.",
        )
    return datetime.fromisoformat(found.group(2).replace("Z", "+00:00"))


def _message(state: GraphState, user: str, message_id: str) -> FakeMessage:
    with state.lock:
        found = state.mailboxes[user].messages.get(message_id)
    if found is None:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found.")
    return found


async def attachments(request: Request, state: GraphState, user: str) -> Response:
    message = _message(state, user, request.path_params["mid"])
    select = [s for s in request.query_params.get("$select", "").split(",") if s]
    value = []
    for index, a in enumerate(message.attachments):
        full = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "id": f"{message.id}-att{index}",
            "name": a.name,
            "contentType": a.content_type,
            "size": a.size,
            "isInline": False,
            "contentBytes": base64.b64encode(a.content).decode(),
        }
        if select:
            full = {k: v for k, v in full.items() if k in select or k in ("id", "@odata.type")}
        if "contentBytes" in full:
            with state.lock:
                state.attachment_contents_served += 1
        value.append(full)
    return JSONResponse({"value": value})


async def list_messages(request: Request, state: GraphState, user: str) -> Response:
    """``$filter=internetMessageId eq '…'`` only: how a reply finds its original."""
    wanted = re.fullmatch(
        r"internetMessageId eq '((?:[^']|'')*)'", request.query_params.get("$filter", "")
    )
    if wanted is None:
        raise GraphError(400, "ErrorInvalidUrlQueryFilter", "only internetMessageId eq '…'")
    target = wanted.group(1).replace("''", "'")
    with state.lock:
        found = [m for m in state.mailboxes[user].messages.values()]
    matches = [{"id": m.id} for m in found if m.internet_message_id == target]
    return JSONResponse({"value": matches})


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise GraphError(400, "BadRequest", f"Unable to read JSON request payload: {exc}") from exc
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "the payload must be a JSON object")
    return body


def _apply(message: FakeMessage, fields: dict[str, Any]) -> None:
    """Graph's writable message fields a client sends (subject, body, recipients)."""

    def addresses(key: str) -> tuple[str, ...]:
        return tuple(str(r["emailAddress"]["address"]) for r in fields.get(key) or [])

    if "subject" in fields:
        message.subject = str(fields["subject"])
    if "body" in fields:
        body = fields["body"]
        message.body, message.body_type = str(body["content"]), str(body["contentType"]).lower()
    if "toRecipients" in fields:
        message.to = addresses("toRecipients")
    if "ccRecipients" in fields:
        message.cc = addresses("ccRecipients")


def _new_draft(state: GraphState, user: str, conversation: str | None = None) -> FakeMessage:
    seq = state.next_seq()
    draft = FakeMessage(
        id=state.new_id(),
        internet_message_id=f"<{state.new_id()[4:20]}@{user.split('@')[1]}>",
        conversation_id=conversation or state.new_id(),
        sender=user,
        sender_name=user.split("@")[0],
        subject="",
        body="",
        received_at=datetime.now(UTC),
        folder="drafts",
        is_draft=True,
        seq=seq,
    )
    with state.lock:
        state.mailboxes[user].messages[draft.id] = draft
    return draft


async def create_draft(request: Request, state: GraphState, user: str) -> Response:
    fields = await _json(request)
    draft = _new_draft(state, user)
    _apply(draft, fields)
    return JSONResponse(draft.to_json(), status_code=201)


async def create_reply(request: Request, state: GraphState, user: str) -> Response:
    original = _message(state, user, request.path_params["mid"])
    fields = await _json(request)
    if fields.get("comment") and (fields.get("message") or {}).get("body"):
        raise GraphError(400, "ErrorInvalidRequest", "specify either comment or message.body")
    draft = _new_draft(state, user, original.conversation_id)
    draft.subject = "RE: " + original.subject
    draft.to = (original.sender,)
    draft.body_type = "html"
    draft.body = f"<p>{fields.get('comment', '')}</p><hr><blockquote>{original.body}</blockquote>"
    draft.in_reply_to = original.internet_message_id
    _apply(draft, fields.get("message") or {})
    return JSONResponse(draft.to_json(), status_code=201)


async def update_message(request: Request, state: GraphState, user: str) -> Response:
    message = _message(state, user, request.path_params["mid"])
    fields = await _json(request)
    with state.lock:
        _apply(message, fields)
    return JSONResponse(message.to_json())


async def send_draft(request: Request, state: GraphState, user: str) -> Response:
    message = _message(state, user, request.path_params["mid"])
    if not message.is_draft:
        raise GraphError(400, "ErrorInvalidRequest", "only a draft can be sent")
    with state.lock:
        message.is_draft, message.folder = False, "sentitems"
        state.sent.append(
            RecordedSend(user, "send", message.to_json(), True, in_reply_to=message.in_reply_to)
        )
    return Response(status_code=202)


async def send_mail(request: Request, state: GraphState, user: str) -> Response:
    body = await _json(request)
    message = body.get("message")
    if not isinstance(message, dict) or not message.get("toRecipients"):
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
    with state.lock:
        state.sent.append(
            RecordedSend(user, "sendMail", message, bool(body.get("saveToSentItems", True)))
        )
    return Response(status_code=202)


def create_app(state: GraphState, *, on_startup: Callable[[], None] | None = None) -> Starlette:
    """The fake's ASGI app over ``state``; ``on_startup`` runs once it serves."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            on_startup()
        yield

    users = "/v1.0/users/{user}"
    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
            Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
            Route(users + "/mailFolders/{folder}/messages/delta", _graph(delta)),
            Route(users + "/messages", _graph(list_messages), methods=["GET"]),
            Route(users + "/messages", _graph(create_draft), methods=["POST"]),
            Route(users + "/messages/{mid}", _graph(update_message), methods=["PATCH"]),
            Route(users + "/messages/{mid}/attachments", _graph(attachments)),
            Route(users + "/messages/{mid}/createReply", _graph(create_reply), methods=["POST"]),
            Route(users + "/messages/{mid}/send", _graph(send_draft), methods=["POST"]),
            Route(users + "/sendMail", _graph(send_mail), methods=["POST"]),
        ],
    )
    app.state.graph = state
    return app
