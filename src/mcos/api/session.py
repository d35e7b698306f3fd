"""The dashboard's session: a server-side session whose secret is an HttpOnly cookie.

A browser cannot attach an ``Authorization`` header to an ``EventSource``, so the dashboard
signs in once with an operator token; the server opens a session (``sessions`` table) and the
cookie holds only that session's random secret, never the token. Signing out ends the session;
revoking the token ends every session it opened. The cookie is ``HttpOnly`` (page scripts cannot
read it), ``SameSite=Strict`` (other sites' pages do not send it) and ``Secure`` whenever the
dashboard is reached over https (the public URL, or a trusted TLS proxy that says so). On top of
that, every state-changing request made with the cookie must carry ``X-CSRF-Token``, an HMAC of
the session secret handed only to a signed-in page, and must come from the configured public
URL's origin when the browser names its origin.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from urllib.parse import urlsplit

from starlette.requests import Request

from mcos.errors import Forbidden

SESSION_COOKIE = "mcos_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def csrf_token(secret: str) -> str:
    """The CSRF token of a session: derived from its secret, so nothing more is stored."""
    return hmac.new(secret.encode(), b"mcos dashboard csrf v2", hashlib.sha256).hexdigest()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, the form a browser's ``Origin`` header takes."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}"


def allowed_origins(public_url: str | None, listen_url: str | None) -> frozenset[str]:
    """The origins the dashboard's pages may come from.

    With a public URL set (``MCOS_PUBLIC_URL``): that one only. Otherwise the URL the server
    listens on; on a loopback address also its other loopback names, since an operator may type
    either ``localhost`` or ``127.0.0.1``.
    """
    if public_url:
        return frozenset({origin_of(public_url)})
    if not listen_url:
        return frozenset()
    parts = urlsplit(listen_url)
    origins = {origin_of(listen_url)}
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        port = f":{parts.port}" if parts.port else ""
        origins |= {origin_of(f"{parts.scheme}://{name}{port}") for name in LOOPBACK_NAMES}
    return frozenset(origins)


def check_origin(request: Request) -> None:
    """Refuse a request that a browser says comes from anywhere but the dashboard's own origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    allowed: frozenset[str] = request.app.state.allowed_origins
    if origin_of(origin) not in allowed:
        where = ", ".join(sorted(allowed)) or "(none: set MCOS_PUBLIC_URL)"
        raise Forbidden(
            f"cross-site request from {origin!r} refused: the dashboard only accepts requests "
            f"from its own pages at {where}",
            field="Origin",
        )


def check_csrf(request: Request, secret: str) -> None:
    """A state-changing request made with the session cookie must prove it comes from our page."""
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        raise Forbidden(
            f"missing {CSRF_HEADER} header: a request signed in by the dashboard's cookie must "
            "send the token that GET /api/v1/dashboard/session returns",
            field=CSRF_HEADER,
        )
    if not hmac.compare_digest(sent, csrf_token(secret)):
        raise Forbidden(f"{CSRF_HEADER} does not match this session", field=CSRF_HEADER)


def cookie_is_secure(request: Request) -> bool:
    """``Secure`` over https: the public URL says so, or the request arrived over TLS (uvicorn
    takes ``X-Forwarded-Proto`` into account from trusted proxies only)."""
    public: str | None = request.app.state.settings.public_url
    return request.url.scheme == "https" or bool(public and public.startswith("https://"))
