"""The dashboard's session: the operator token in an HttpOnly cookie, and its CSRF token.

A browser cannot attach an ``Authorization`` header to an ``EventSource``, so the dashboard
signs in once and the cookie carries the operator token. The cookie is ``HttpOnly`` (page
scripts cannot read it) and ``SameSite=Strict`` (other sites' pages do not send it). On top of
that, every state-changing request made with the cookie must carry ``X-CSRF-Token``: an HMAC of
the token that only a page which signed in (or asked ``GET /api/v1/dashboard/session``) knows,
and must come from this origin when the browser says where it comes from. Nothing is kept on the
server, so a session survives a restart and works on every replica; revoking the token ends it.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

from mcos.errors import Forbidden

SESSION_COOKIE = "mcos_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_SECONDS = 7 * 86_400


def csrf_token(token: str) -> str:
    """The CSRF token of a session: derived from its operator token, so nothing is stored."""
    return hmac.new(token.encode(), b"mcos dashboard csrf v1", hashlib.sha256).hexdigest()


def check_origin(request: Request) -> None:
    """Refuse a request that a browser says comes from another site."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden(
            f"cross-site request from {origin!r} refused: the dashboard only accepts requests "
            "from its own pages",
            field="Origin",
        )


def check_csrf(request: Request, token: str) -> None:
    """A state-changing request made with the session cookie must prove it comes from our page."""
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        raise Forbidden(
            f"missing {CSRF_HEADER} header: a request signed in by the dashboard's cookie must "
            "send the token that GET /api/v1/dashboard/session returns",
            field=CSRF_HEADER,
        )
    if not hmac.compare_digest(sent, csrf_token(token)):
        raise Forbidden(f"{CSRF_HEADER} does not match this session", field=CSRF_HEADER)
