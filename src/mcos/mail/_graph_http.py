"""The wire under :mod:`mcos.mail.graph`: an app-only token from Entra ID, and Graph requests
that wait out throttling and turn every failure into a :class:`MailboxError`.

The token comes from MSAL's client-credentials flow. MSAL is synchronous, so it runs in a
thread; its in-memory token cache lives as long as the :class:`GraphConnection`, so one token
serves every call until it expires. MSAL speaks HTTP through a small adapter over
``httpx2.Client`` (:class:`_MsalHttp`), so the token endpoint is reached with the same TLS trust
(:mod:`mcos.tls`, plus an optional CA file) and timeout as Graph itself.

Messages never carry the client secret: errors name the account and the environment variable.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx2
import msal  # type: ignore[import-untyped]  # msal ships no type information

from mcos.fleet.mail import M365Account
from mcos.mail.message import MailboxError
from mcos.tls import trust_context

log = logging.getLogger("mcos.mail.graph")

DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Throttled or briefly unavailable: waited out (``Retry-After``) and tried again."""
NOT_PROCESSED = frozenset({429, 503})
"""Refused before anything was done: the only statuses a send is tried again after, so a
message is never sent twice because an answer was lost."""
SYNC_GONE_CODES = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})


class SyncStateGone(Exception):
    """Graph no longer knows the delta link (410 Gone, ``syncStateNotFound``): start over."""


def ssl_context(verify: ssl.SSLContext | str | bool) -> ssl.SSLContext:
    """The TLS trust for Graph and Entra: a context as given, the system's CAs (``True``),
    the system's plus a CA file (a path), or no verification at all (``False``)."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return trust_context(verify if isinstance(verify, str) else None)


class _MsalHttp:
    """MSAL's ``http_client`` interface (``post``/``get`` returning a requests-like response)
    over ``httpx2.Client``; ``httpx2.Response`` has the ``status_code``, ``text``, ``headers``
    and ``raise_for_status`` MSAL reads."""

    def __init__(self, client: httpx2.Client) -> None:
        self._client = client

    def post(
        self,
        url: str,
        params: dict[str, str] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        **_: Any,
    ) -> httpx2.Response:
        if isinstance(data, str | bytes):
            return self._client.post(url, params=params, content=data, headers=headers)
        return self._client.post(url, params=params, data=data, headers=headers)

    def get(
        self,
        url: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **_: Any,
    ) -> httpx2.Response:
        return self._client.get(url, params=params, headers=headers)


class GraphConnection:
    """One account's token and HTTP pool to Graph; requests are retried when throttled."""

    def __init__(
        self,
        account: M365Account,
        client_secret: str,
        *,
        login_url: str,
        graph_url: str,
        verify: ssl.SSLContext | str | bool,
        timeout: float,
        max_retries: int = 4,
        max_retry_wait: float = 60.0,
    ) -> None:
        self.account = account
        self.graph_url = graph_url.rstrip("/")
        self._login_url = login_url.rstrip("/")
        self._secret = client_secret
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        context = ssl_context(verify)
        self._sync_http = httpx2.Client(verify=context, timeout=timeout)
        self.http = httpx2.AsyncClient(verify=context, timeout=timeout)
        self._app: msal.ConfidentialClientApplication | None = None
        self._token_lock = asyncio.Lock()

    # -- the token ---------------------------------------------------------------------------

    def _who(self) -> str:
        a = self.account
        return f"mail account {a.name!r} (app {a.client_id} in tenant {a.tenant})"

    def _acquire(self, fresh: bool) -> str:
        """A token from MSAL's cache, else from Entra; runs in a thread (MSAL blocks)."""
        a = self.account
        if self._app is None or fresh:
            host = urlsplit(self._login_url).hostname or ""
            self._app = msal.ConfidentialClientApplication(
                a.client_id,
                client_credential=self._secret,
                authority=f"{self._login_url}/{a.tenant}",
                http_client=_MsalHttp(self._sync_http),
                # Instance discovery asks login.microsoftonline.com about the authority's host:
                # needless for Microsoft's own hosts, impossible for a test server or a sovereign
                # cloud configured here by hand.
                instance_discovery=None if host == urlsplit(DEFAULT_LOGIN_URL).hostname else False,
            )
        result = self._app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        error = str((result or {}).get("error") or "no token")
        description = str((result or {}).get("error_description") or "").split("\n")[0]
        if self._secret:
            description = description.replace(self._secret, "***")
        description = description[:300]
        raise MailboxError(
            "auth",
            f"{self._who()}: Entra ID refused the client secret in "
            f"${a.client_secret_env} ({error}: {description}); check that variable holds a "
            "current secret of the app registration",
        )

    async def token(self, *, fresh: bool = False) -> str:
        """An app-only access token for Graph, reused until MSAL's cache says it expired."""
        async with self._token_lock:
            try:
                return await asyncio.to_thread(self._acquire, fresh)
            except MailboxError:
                raise
            except httpx2.HTTPError as exc:
                raise MailboxError(
                    "network", f"{self._who()}: cannot reach {self._login_url}: {exc}"
                ) from exc
            except ValueError as exc:
                # MSAL's tenant discovery failed: an unknown tenant answers 400.
                message = str(exc).replace(self._secret, "***") if self._secret else str(exc)
                raise MailboxError(
                    "config",
                    f"{self._who()}: {self._login_url} does not know the tenant "
                    f"{self.account.tenant!r}: {message[:300]}",
                ) from exc

    # -- requests ----------------------------------------------------------------------------

    def url(self, path_or_link: str) -> str:
        """An absolute Graph URL; a path is taken under the configured ``graph_url``."""
        if path_or_link.startswith("https://") or path_or_link.startswith("http://"):
            return path_or_link
        return self.graph_url + path_or_link

    async def request(
        self,
        method: str,
        path_or_link: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx2.Response:
        """A successful (2xx) response, else a :class:`MailboxError` (or :class:`SyncStateGone`).

        Throttling (429) and brief unavailability (5xx) wait ``Retry-After`` (capped) and try
        again, a few times; a 401 tries once more with a fresh token. A request that is not
        ``idempotent`` (sending mail) is tried again only when it surely did nothing: after a
        429 or 503, or when the connection could not even be made.
        """
        retried = RETRIED_STATUSES if idempotent else NOT_PROCESSED
        url = self.url(path_or_link)
        refreshed = False
        attempt = 0
        while True:
            token = await self.token(fresh=refreshed and attempt == 0)
            sent = {"Authorization": f"Bearer {token}", **(headers or {})}
            try:
                response = await self.http.request(
                    method, url, params=params, json=json, headers=sent
                )
            except httpx2.HTTPError as exc:
                if not idempotent and not isinstance(exc, httpx2.ConnectError):
                    raise MailboxError(
                        "network",
                        f"{self._who()}: {method} {urlsplit(url).path} failed after it was sent "
                        f"({exc!r}); it may have been carried out, so it is not tried again",
                    ) from exc
                if attempt >= self._max_retries:
                    raise MailboxError(
                        "network", f"{self._who()}: cannot reach Graph ({url}): {exc!r}"
                    ) from exc
                attempt += 1
                await asyncio.sleep(min(2.0**attempt, self._max_retry_wait))
                continue
            if response.is_success:
                return response
            if response.status_code == 401 and not refreshed:
                refreshed, attempt = True, 0
                continue
            if response.status_code in retried and attempt < self._max_retries:
                attempt += 1
                wait = _retry_after(response, default=2.0**attempt)
                log.info("%s: Graph answered %s; again in %.1fs", self._who(), response, wait)
                await asyncio.sleep(min(wait, self._max_retry_wait))
                continue
            raise self._failure(method, url, response, tries=attempt + 1)

    def _failure(
        self, method: str, url: str, response: httpx2.Response, *, tries: int
    ) -> Exception:
        status = response.status_code
        code, message = _graph_error(response)
        what = f"{self._who()}: {method} {urlsplit(url).path} answered {status} {code}: {message}"
        if status == 410 or code.lower() in SYNC_GONE_CODES:
            return SyncStateGone(what)
        if status in (401, 403):
            return MailboxError(
                "auth",
                f"{what}; check the app registration's application permissions (Mail.ReadWrite, "
                f"Mail.Send, admin consent) and the secret in ${self.account.client_secret_env}",
            )
        if status in RETRIED_STATUSES:
            return MailboxError("network", f"{what} (asked {tries} times)")
        if status == 404:
            return MailboxError(
                "config",
                f"{what}; check the mailbox {self.account.mailbox!r} and the folder "
                f"{self.account.folder!r}",
            )
        return MailboxError("protocol", what)

    async def close(self) -> None:
        await self.http.aclose()
        self._sync_http.close()


def _retry_after(response: httpx2.Response, *, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def _graph_error(response: httpx2.Response) -> tuple[str, str]:
    """Graph's ``{"error": {"code", "message"}}``, or what the body says otherwise."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")[:300]
    return str(error or ""), ""
